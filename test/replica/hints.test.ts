// The replica's hint store on the real engine: LMDB shows a write or a delete to readers only
// after its transaction commits, so everything the replica decides in one synchronous step must
// see its own pending changes.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LmdbEngine } from '../../storage/engine/lmdb.ts';
import { Replica } from '../../storage/replica.ts';
import { RingView } from '../../client/src/core/preference.ts';
import { createRing } from '../../client/src/core/ring.ts';
import type { SiblingSet, Version } from '../../client/src/core/siblings.ts';

const view = new RingView(createRing([{ id: 'n1', address: 'a:1', weight: 1 }], 8, 1));
const LIMITS = { maxBytes: 1 << 30, maxAgeMs: 86_400_000 };

function version(actor: string, counter: number, value: string): Version {
  return { dot: { actor, counter }, past: new Map(), deleted: false, writtenAt: 0, value: Buffer.from(value) };
}

function withLmdb(body: (open: () => LmdbEngine) => Promise<void>): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'replica-'));
  return body(() => LmdbEngine.open(dir, 'sync')).finally(() => rmSync(dir, { recursive: true, force: true }));
}

test('lmdb: a hinted write for the same owner and key that lands while the hint is being deleted is kept, indexed and read', () =>
  withLmdb(async (open) => {
    let engine = open();
    let replica = new Replica(engine, (k) => view.place(k), LIMITS);
    const first: SiblingSet = [version('n2@e', 1, 'first')];
    await replica.storeHint('n3', 'k', first, 1);
    assert.equal(replica.hintCount, 1);

    // the delivery of `first` is acknowledged: its deletion goes to disk, and before it commits
    // a new write for n3 arrives at this fallback
    const deleted = replica.deleteHintIf('n3', 'k', [first[0]!.dot]);
    const second = replica.storeHint('n3', 'k', [version('n2@e', 2, 'second')], 2);
    assert.equal(await deleted, true);
    await second;

    const check = (r: Replica, when: string) => {
      assert.equal(r.hintCount, 1, `${when}: one hint is held`);
      assert.deepEqual(r.hintOwners('k'), ['n3'], `${when}: the key's hint is indexed`);
      assert.deepEqual(r.read('k').map((v) => Buffer.from(v.value).toString()), ['second'], `${when}: a read sees it`);
      assert.deepEqual(
        [...r.hints()].map((h) => h.set.map((v) => Buffer.from(v.value).toString())),
        [['second']],
        `${when}: replay sees it`,
      );
    };
    check(replica, 'at once');
    await engine.close();
    engine = open();
    replica = new Replica(engine, (k) => view.place(k), LIMITS);
    check(replica, 'after a restart');
    await engine.close();
  }));

test('lmdb: a fallback that coordinates a key computes over the hint it holds, even one still on its way to disk', () =>
  withLmdb(async (open) => {
    const engine = open();
    const replica = new Replica(engine, (k) => view.place(k), LIMITS);
    void replica.storeHint('n3', 'k', [version('n1@e', 1, 'pending')], 1);
    const staged = replica.stageHint('n3', 'k', 2, (current) => [...current, version('n1@e', 2, 'next')]);
    assert.deepEqual(staged.set.map((v) => Buffer.from(v.value).toString()), ['pending', 'next']);
    assert.deepEqual(replica.read('k').map((v) => v.dot.counter), [1, 2]);
    await staged.durable;
    await engine.close();
  }));

test('lmdb: the owners a replica holds hints for are found by seeking, before and after their writes commit and after a reopen', () =>
  withLmdb(async (open) => {
    const seed = Number(process.env.SEED ?? Date.now() % 100_000);
    let state = seed;
    const next = (n: number) => ((state = (state * 1_103_515_245 + 12_345) % 2 ** 31) % n);
    let engine = open();
    let replica = new Replica(engine, (k) => view.place(k), LIMITS);
    assert.deepEqual(replica.hintedOwners(), []);
    const owners = ['n10', 'n2', 'n3', 'n3x', 'n4'];
    const writes: Promise<unknown>[] = [];
    for (let i = 0; i < 60; i++)
      writes.push(replica.storeHint(owners[next(owners.length)]!, `k${next(40)}`, [version('n1@e', i + 1, 'v')], i));
    // the naive model: every hint walked, its owners kept in order
    const naive = (r: Replica) => [...new Set([...r.hints()].map((h) => h.owner))];
    assert.deepEqual(replica.hintedOwners(), naive(replica), `seed ${seed}: before the writes commit`);
    await Promise.all(writes);
    assert.deepEqual(replica.hintedOwners(), naive(replica), `seed ${seed}: after they commit`);
    await engine.close();
    engine = open();
    replica = new Replica(engine, (k) => view.place(k), LIMITS);
    assert.deepEqual(replica.hintedOwners(), naive(replica), `seed ${seed}: after a reopen`);
    assert.ok(replica.hintedOwners().length >= 3);
    await engine.close();
  }));
