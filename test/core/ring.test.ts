import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { createHash } from 'node:crypto';
import { createRing, partitionCounts, rebalance, targetCounts, walkFrom, type Member } from '../../client/src/core/ring.ts';
import { RingView, sloppyTargets } from '../../client/src/core/preference.ts';
import { partitionOf, ringPosition } from '../../client/src/core/hash.ts';

const members = (count: number, weights: number[] = []): Member[] =>
  Array.from({ length: count }, (_, i) => ({ id: `n${i + 1}`, address: `127.0.0.1:${7001 + i}`, weight: weights[i] ?? 1 }));

test('5 nodes, Q=64: no node owns more than ceil(Q/5)+1 partitions, and every preference list is N distinct nodes', () => {
  const ring = createRing(members(5), 64, 3);
  const counts = [...partitionCounts(ring).values()];
  assert.ok(Math.max(...counts) <= Math.ceil(64 / 5) + 1, `counts ${counts}`);
  assert.equal(counts.reduce((a, b) => a + b), 64);
  const view = new RingView(ring);
  for (let p = 0; p < 64; p++) assert.equal(new Set(view.primaries(p)).size, 3);
});

test('a key lands in the partition its 128-bit MD5 position falls in (checked with exact BigInt arithmetic)', () => {
  fc.assert(
    fc.property(fc.string({ minLength: 1, maxLength: 40 }), fc.constantFrom(1, 2, 64, 1024, 4096), (key, q) => {
      const pos = BigInt('0x' + createHash('md5').update(key, 'utf8').digest('hex'));
      const exact = Number((pos * BigInt(q)) >> 128n);
      assert.equal(partitionOf(key, q), exact);
    }),
  );
});

const SEED = Number(process.env.RING_SEED ?? Date.now() % 2 ** 31);

test(`a key's ring position is the MD5 of its UTF-8 bytes as node:crypto hashes it, for any string: astral, lone surrogates, long (seed ${SEED})`, () => {
  // any UTF-16 code units: lone surrogates too
  const units = fc.array(fc.integer({ min: 0, max: 0xffff }), { maxLength: 60 }).map((u) => String.fromCharCode(...u));
  const key = fc.oneof(
    units,
    fc.string({ unit: 'binary', maxLength: 100 }),
    fc.string({ unit: 'grapheme', maxLength: 100 }),
    fc.string({ maxLength: 300 }),
  );
  fc.assert(
    fc.property(key, (k) => assert.deepEqual(Array.from(ringPosition(k)), [...createHash('md5').update(k, 'utf8').digest()])),
    { seed: SEED, numRuns: 5000 },
  );
});

const ringCase = fc.record({
  nodes: fc.integer({ min: 1, max: 24 }),
  weights: fc.array(fc.integer({ min: 1, max: 4 }), { maxLength: 24 }),
  q: fc.constantFrom(32, 64, 128, 256),
  n: fc.integer({ min: 1, max: 5 }),
});

test('placement follows weight: every member owns at least one partition and its share rounded down or up', () => {
  fc.assert(
    fc.property(ringCase, ({ nodes, weights, q, n }) => {
      fc.pre(nodes <= q);
      const ms = members(nodes, weights);
      const ring = createRing(ms, q, n);
      const counts = partitionCounts(ring);
      const target = targetCounts(ms, q);
      const total = ms.reduce((s, m) => s + m.weight, 0);
      for (const m of ms) {
        assert.equal(counts.get(m.id), target.get(m.id));
        const exact = (q * m.weight) / total;
        assert.ok(counts.get(m.id)! >= 1);
        // where every share is at least one, quotas are the share rounded down or up
        const unconstrained = ms.every((x) => (q * x.weight) / total >= 1);
        if (unconstrained) assert.ok(Math.abs(counts.get(m.id)! - exact) < 1, `${m.id}: ${counts.get(m.id)} for a share of ${exact}`);
      }
    }),
  );
});

test('adding a node moves only the partitions it takes; removing one moves only its own', () => {
  fc.assert(
    fc.property(ringCase, ({ nodes, weights, q, n }) => {
      fc.pre(nodes + 1 <= q && nodes >= 2);
      const ms = members(nodes + 1, weights);
      const before = createRing(ms.slice(0, nodes), q, n);
      const added = rebalance(before, ms, n);
      const newcomer = ms[nodes]!.id;
      for (let p = 0; p < q; p++) {
        if (added.owners[p] !== before.owners[p]) assert.equal(added.owners[p], newcomer, `partition ${p} moved to a non-newcomer`);
      }
      assert.equal(partitionCounts(added).get(newcomer), targetCounts(ms, q).get(newcomer));
      assert.equal(added.version, before.version + 1);

      const leaver = ms[0]!.id;
      const removed = rebalance(added, ms.slice(1), n);
      for (let p = 0; p < q; p++) {
        if (removed.owners[p] !== added.owners[p]) assert.equal(added.owners[p], leaver, `partition ${p} of a staying node moved`);
      }
      assert.ok(!removed.owners.includes(leaver));
    }),
  );
});

test('preference lists: the first N distinct owners clockwise, then every other member as a fallback', () => {
  fc.assert(
    fc.property(ringCase, fc.integer({ min: 0, max: 255 }), ({ nodes, weights, q, n }, start) => {
      fc.pre(nodes <= q);
      const ring = createRing(members(nodes, weights), q, n);
      const p = start % q;
      // naive model: walk every partition once, keep first appearances
      const naive: string[] = [];
      for (let i = 0; i < q; i++) {
        const o = ring.owners[(p + i) % q]!;
        if (!naive.includes(o)) naive.push(o);
      }
      assert.deepEqual(walkFrom(ring, p), naive);
      assert.equal(naive.length, nodes);
    }),
  );
});

test('sloppy targets: each unreachable primary is replaced by the next reachable fallback, hinted for it', () => {
  fc.assert(
    fc.property(fc.integer({ min: 3, max: 10 }), fc.array(fc.boolean(), { minLength: 10, maxLength: 10 }), (count, upFlags) => {
      const walk = Array.from({ length: count }, (_, i) => `n${i}`);
      const isUp = (node: string) => upFlags[Number(node.slice(1))]!;
      const targets = sloppyTargets(walk, 3, isUp);
      const primariesUp = walk.slice(0, 3).filter(isUp);
      const primariesDown = walk.slice(0, 3).filter((x) => !isUp(x));
      const fallbacksUp = walk.slice(3).filter(isUp);
      assert.deepEqual(targets.filter((t) => t.primary).map((t) => t.node), primariesUp);
      const standIns = targets.filter((t) => !t.primary);
      assert.deepEqual(standIns.map((t) => t.node), fallbacksUp.slice(0, primariesDown.length));
      assert.deepEqual(standIns.map((t) => t.hintFor), primariesDown.slice(0, standIns.length));
      assert.ok(targets.every((t) => isUp(t.node)));
    }),
  );
});

test('RingView targets: the same as sloppy targets plus pending replicas, whatever was asked before (kept lists never leak)', () => {
  const reachability = fc.array(fc.array(fc.boolean(), { minLength: 8, maxLength: 8 }), { minLength: 1, maxLength: 6 });
  fc.assert(
    fc.property(fc.integer({ min: 3, max: 8 }), reachability, fc.boolean(), (count, rounds, changing) => {
      const ring = createRing(members(count), 32, 3);
      const next = changing ? rebalance(ring, members(count + 1), 3).owners : null;
      const view = new RingView({ ...ring, next });
      for (const upFlags of [Array<boolean>(8).fill(true), ...rounds, Array<boolean>(8).fill(true)]) {
        const isUp = (node: string) => upFlags[Number(node.slice(1)) - 1] ?? true;
        for (let p = 0; p < 32; p++) {
          const walk = walkFrom(ring, p);
          const nextPrimaries = next ? [...new Set(Array.from({ length: 32 }, (_, i) => next[(p + i) % 32]!))].slice(0, 3) : [];
          const pending = nextPrimaries.filter((x) => !walk.slice(0, 3).includes(x));
          const expected = [...sloppyTargets(walk, 3, isUp), ...pending.map((node) => ({ node, primary: false, pending: true }))];
          assert.deepEqual(view.targets(p, isUp), expected);
        }
      }
    }),
  );
});

test('bad member sets are refused with a clear error', () => {
  assert.throws(() => createRing(members(3), 2, 3), /at least the number of nodes/);
  assert.throws(() => createRing(members(3), 48, 3), /power of two/);
  assert.throws(() => createRing([...members(2), { id: 'n1', address: 'x:1', weight: 1 }], 64, 3), /unique/);
  assert.throws(() => createRing(members(2, [0]), 64, 3), /weight/);
});
