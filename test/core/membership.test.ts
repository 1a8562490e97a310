// Ring changes, ring merge and the phi-accrual detector, as pure logic.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { createRing, partitionCounts, walkOwners, type Member, type Ring } from '../../client/src/core/ring.ts';
import { claimantOf, commitIfComplete, completeTransfer, planChange, type Change } from '../../storage/core/ring-change.ts';
import { mergeRings, validateRing, digestOf } from '../../storage/core/ring-merge.ts';
import { PhiAccrual } from '../../storage/core/phi.ts';

const member = (i: number, weight = 1): Member => ({ id: `n${String(i).padStart(2, '0')}`, address: `127.0.0.1:${7000 + i}`, weight });
const cluster = (k: number) => createRing(Array.from({ length: k }, (_, i) => member(i + 1)), 64, 3);

const changeCase = fc.record({
  nodes: fc.integer({ min: 4, max: 12 }),
  kind: fc.constantFrom('join', 'leave', 'remove', 'replace'),
  which: fc.nat(),
});

function applyCase(c: { nodes: number; kind: string; which: number }): { before: Ring; planned: Ring; change: Change } {
  const before = cluster(c.nodes);
  const target = before.members[c.which % before.members.length]!.id;
  const change: Change =
    c.kind === 'join' ? { kind: 'join', member: member(50) }
    : c.kind === 'replace' ? { kind: 'replace', node: target, by: member(51) }
    : { kind: c.kind as 'leave' | 'remove', node: target };
  return { before, planned: planChange(before, change, 3), change };
}

test('a planned change copies exactly the key ranges whose replicas change, one copy per new replica, from the replica it replaces', () => {
  fc.assert(
    fc.property(changeCase, (c) => {
      const { before, planned } = applyCase(c);
      validateRing(planned);
      assert.equal(planned.version, before.version + 1);
      for (let p = 0; p < 64; p++) {
        const old = walkOwners(before.owners, p, 3);
        const next = walkOwners(planned.next!, p, 3);
        const arriving = next.filter((x) => !old.includes(x));
        const copies = planned.transfers.filter((t) => t.partition === p);
        assert.deepEqual(copies.map((t) => t.to).sort(), arriving.sort());
        const sources = copies.map((t) => t.from).filter((f) => f !== '');
        assert.equal(new Set(sources).size, sources.length, 'each leaving replica sends to one new one');
        for (const s of sources) assert.ok(old.includes(s) && !next.includes(s));
        if (c.kind === 'remove' || c.kind === 'replace')
          assert.ok(
            copies.every((t) => t.from !== before.members[c.which % before.members.length]!.id),
            'a dead node sends nothing',
          );
      }
    }),
    { numRuns: 200 },
  );
});

test('a change commits only when every copy is confirmed; then the new owners are current and leavers are gone', () => {
  fc.assert(
    fc.property(changeCase, (c) => {
      const { before, planned, change } = applyCase(c);
      let r = planned;
      for (const [i, t] of planned.transfers.entries()) {
        assert.notEqual(r.next, null, 'not committed before the last copy');
        r = completeTransfer(r, t.partition, t.to);
        if (i < planned.transfers.length - 1) {
          assert.ok(r.next);
          assert.equal(completeTransfer(r, t.partition, t.to), r, 'confirming twice changes nothing');
        }
      }
      r = commitIfComplete(r);
      assert.equal(r.next, null);
      assert.deepEqual(r.owners, planned.next);
      assert.ok(r.members.every((m) => !m.leaving));
      const counts = partitionCounts(r);
      if (change.kind === 'join') {
        assert.ok(Math.abs(counts.get('n50')! - 64 / (c.nodes + 1)) < 1, `newcomer owns ${counts.get('n50')}`);
        for (let p = 0; p < 64; p++) if (r.owners[p] !== before.owners[p]) assert.equal(r.owners[p], 'n50');
      }
      if (change.kind === 'replace') {
        assert.deepEqual(r.owners, before.owners.map((o) => (o === change.node ? 'n51' : o)));
      }
      if (change.kind === 'leave' || change.kind === 'remove') {
        assert.ok(!r.owners.includes(change.node));
        for (let p = 0; p < 64; p++) if (before.owners[p] !== change.node) assert.equal(r.owners[p], before.owners[p]);
      }
    }),
    { numRuns: 200 },
  );
});

test('changes are refused with a clear error: one at a time, stale versions, known ids and addresses, too few nodes', () => {
  const ring = cluster(5);
  const planned = planChange(ring, { kind: 'join', member: member(9) }, 3);
  assert.throws(() => planChange(planned, { kind: 'leave', node: 'n01' }, 3), /a change is in progress \(\d+ of \d+ transfers left\)/);
  assert.throws(() => planChange(ring, { kind: 'leave', node: 'n01' }, 3, 7), /at version 1, not 7/);
  assert.throws(
    () => planChange(ring, { kind: 'join', member: { ...member(9), address: ring.members[0]!.address } }, 3),
    /already in the ring \(node n01\)/,
  );
  assert.throws(() => planChange(ring, { kind: 'join', member: member(1) }, 3), /n01 is already a member/);
  assert.throws(() => planChange(ring, { kind: 'remove', node: 'n99' }, 3), /n99 is not a member/);
  assert.throws(() => planChange(cluster(3), { kind: 'leave', node: 'n01' }, 3), /fewer than N=3/);
  assert.equal(claimantOf(ring), 'n01');
  assert.equal(claimantOf(planChange(ring, { kind: 'leave', node: 'n01' }, 3)), 'n02');
});

test('ring merge is a lattice join: commutative, associative, idempotent; the newest ring wins everywhere', () => {
  const rings = (() => {
    const out: Ring[] = [cluster(5)];
    let r = out[0]!;
    r = planChange(r, { kind: 'join', member: member(6) }, 3);
    out.push(r);
    for (const t of r.transfers) {
      r = completeTransfer(r, t.partition, t.to);
      out.push(r);
    }
    // a divergent ring of the same version (what a split claimant would make)
    out.push(planChange(out[0]!, { kind: 'join', member: member(7) }, 3));
    return out;
  })();
  const ring = fc.constantFrom(...rings);
  fc.assert(
    fc.property(ring, ring, ring, (a, b, c) => {
      const d = (x: Ring) => digestOf(x).hash;
      assert.equal(d(mergeRings(a, b)), d(mergeRings(b, a)));
      assert.equal(d(mergeRings(mergeRings(a, b), c)), d(mergeRings(a, mergeRings(b, c))));
      assert.equal(d(mergeRings(a, a)), d(a));
      assert.ok(mergeRings(a, b).version === Math.max(a.version, b.version));
    }),
  );
  // gossip among nodes holding any of these rings converges on one
  fc.assert(
    fc.property(
      fc.array(ring, { minLength: 2, maxLength: 8 }),
      fc.array(fc.tuple(fc.nat(), fc.nat()), { maxLength: 60 }),
      (start, exchanges) => {
        const views = [...start];
        for (const [i, j] of exchanges) {
          const a = i % views.length;
          const b = j % views.length;
          views[a] = views[b] = mergeRings(views[a]!, views[b]!);
        }
        // then a full round of everyone with everyone
        for (let a = 0; a < views.length; a++)
          for (let b = 0; b < views.length; b++) views[a] = views[b] = mergeRings(views[a]!, views[b]!);
        assert.equal(new Set(views.map((v) => digestOf(v).hash)).size, 1);
      },
    ),
  );
});

test('a malformed ring is refused', () => {
  const ring = cluster(4);
  assert.throws(() => validateRing({ ...ring, owners: ring.owners.slice(1) }), /wrong length/);
  assert.throws(() => validateRing({ ...ring, owners: ring.owners.map((o, i) => (i === 3 ? 'ghost' : o)) }), /ghost is not a member/);
  assert.throws(() => validateRing(ring, 128), /this cluster has 128/);
  assert.throws(() => validateRing({ ...ring, transfers: [{ partition: 1, to: 'n01', from: '', done: false }] }), /no change in progress/);
});

test('phi accrual: steady heartbeats keep phi low; silence past the usual interval and the tolerated pause raises it past 8', () => {
  const d = new PhiAccrual();
  let t = 0;
  for (let i = 0; i < 30; i++) d.heartbeat((t += 1000));
  assert.ok(d.phi(t + 500) < 1);
  assert.ok(d.phi(t + 2500) < 8, 'a pause within the tolerance is not a failure');
  assert.ok(d.isAvailable(t + 2500));
  assert.ok(d.phi(t + 6000) > 8, `phi after 6 s of silence is ${d.phi(t + 6000)}`);
  d.heartbeat(t + 7000);
  assert.ok(d.isAvailable(t + 7000), 'one heartbeat and it is back');
  fc.assert(fc.property(fc.integer({ min: 0, max: 20000 }), fc.integer({ min: 0, max: 20000 }), (a, b) => {
    const [x, y] = a < b ? [a, b] : [b, a];
    assert.ok(d.phi(t + 7000 + x) <= d.phi(t + 7000 + y), 'phi never falls as silence grows');
  }));
});
