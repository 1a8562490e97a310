// Smaller defects of the paths that move data between replicas, each kept fixed: on real LMDB
// where the engine's visibility matters, with the real coordinator where routing does.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LmdbEngine } from '../../storage/engine/lmdb.ts';
import { MemoryEngine } from '../../storage/engine/memory.ts';
import { Replica } from '../../storage/replica.ts';
import { RepairService } from '../../storage/repair/service.ts';
import { Coordinator } from '../../storage/coordinator.ts';
import { Identity } from '../../storage/identity.ts';
import { RingView } from '../../client/src/core/preference.ts';
import { createRing } from '../../client/src/core/ring.ts';
import { leafHash } from '../../client/src/core/merkle.ts';
import { StoreError } from '../../client/src/core/errors.ts';
import { encodeSet } from '../../client/src/protocol/codec.ts';
import type { Version } from '../../client/src/core/siblings.ts';
import type { Reply, Request } from '../../client/src/protocol/messages.ts';
import { silentLogger } from '../../client/src/runtime.ts';
import { realClock } from '../../storage/real-runtime.ts';

const members = ['n1', 'n2', 'n3', 'n4'].map((id, i) => ({ id, address: `h:${i + 1}`, weight: 1 }));
const view = new RingView(createRing(members, 8, 3));
const LIMITS = { maxBytes: 1 << 30, maxAgeMs: 86_400_000 };
const clock = realClock;

function version(counter: number, deleted = false): Version {
  return {
    dot: { actor: 'n2@e', counter },
    past: new Map(),
    deleted,
    writtenAt: 0,
    value: deleted ? new Uint8Array() : Buffer.from(`v${counter}`),
  };
}

async function withLmdb(body: (engine: LmdbEngine, replica: Replica) => Promise<void>): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'defects-'));
  const engine = LmdbEngine.open(dir, 'sync');
  try {
    await body(engine, new Replica(engine, (k) => view.place(k), LIMITS));
  } finally {
    await engine.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

test('lmdb: a key range is dropped whole, writes still on their way to disk included', () =>
  withLmdb(async (_engine, replica) => {
    const keys = Array.from({ length: 40 }, (_, i) => `drop-${i}`).filter((k) => view.partitionOf(k) === view.partitionOf('drop-0'));
    await replica.mergeIn(keys[0]!, [version(1)]);
    const late = keys.slice(1).map((k) => replica.mergeIn(k, [version(2)])); // not yet committed
    const removed = await replica.drop(view.partitionOf('drop-0'));
    await Promise.all(late);
    assert.equal(removed, keys.length);
    assert.equal(replica.holds(view.partitionOf('drop-0')), false, 'nothing of the range is left');
  }));

test('lmdb: the reclaim and compaction listings take the leaf hash and the versions from the same state, a pending write included', () =>
  withLmdb(async (engine, replica) => {
    const identity = await Identity.open(engine.meta, 'n1', 'c', { float: Math.random });
    const service = new RepairService({ self: 'n1', replica, identity, clock, logger: silentLogger, view: () => view });
    const key = 'gone';
    await replica.mergeIn(key, [version(1, true)]);
    const pending = replica.mergeIn(key, [version(3, true)]); // the listing sees it before its commit
    const partition = view.partitionOf(key);
    for (const type of ['tombstones', 'quietKeys'] as const) {
      const reply = await (type === 'tombstones'
        ? service.handlers.tombstones({ type, partition, limit: 100 }, null)
        : service.handlers.quietKeys({ type, partition, limit: 100 }, null));
      const listed = reply.keys.find((k) => k.key === key)!;
      const held = replica.readOwn(key);
      assert.deepEqual(listed.dots, held.map((v) => v.dot), `${type}: the versions held now`);
      assert.ok(Buffer.from(listed.leaf).equals(leafHash(key, encodeSet(held))), `${type}: the leaf of those versions`);
    }
    await pending;
  }));

test('reclaiming removes only tombstones: a key that holds a live version is kept, whatever the request says', async () => {
  const replica = new Replica(new MemoryEngine(), (k) => view.place(k), LIMITS);
  await replica.mergeIn('live', [version(5)]);
  assert.equal(await replica.removeIf('live', [version(5).dot]), false);
  assert.equal(replica.readOwn('live').length, 1);
  await replica.mergeIn('dead', [version(6, true)]);
  assert.equal(await replica.removeIf('dead', [version(6).dot]), true);
});

test('a put handed to a coordinator whose connection dropped after sending is not handed to a second (it could be applied twice)', async () => {
  const engine = new MemoryEngine();
  const identity = await Identity.open(engine.meta, 'n4', 'c', { float: Math.random });
  const key = Array.from({ length: 50 }, (_, i) => `k${i}`).find((k) => !view.primaries(view.partitionOf(k)).includes('n4'))!;
  const asked: string[] = [];
  const answers: Record<string, () => Promise<Reply>> = {
    // the first primary took the put, then the connection was lost before its answer
    first: () => Promise.reject(new StoreError('UNAVAILABLE', 'connection lost with the request in flight', { sent: true })),
    // a primary that refused the connection: the put never left, so the next may take it
    refused: () => Promise.reject(new StoreError('UNAVAILABLE', 'refused', { sent: false })),
  };
  const coordinator = (first: keyof typeof answers) =>
    new Coordinator({
      self: 'n4',
      config: { r: 2, w: 2, maxSiblings: 100, maxActors: 64, requestTimeoutMs: 500, readHedgeMs: 20 },
      view: () => view,
      replica: new Replica(engine, (k) => view.place(k), LIMITS),
      identity,
      transport: {
        request: async (to: string, _m: Request) => {
          asked.push(to);
          if (asked.length === 1) return answers[first]!();
          return { type: 'putReply', acks: 2, dot: { actor: `${to}@e`, counter: 1 }, context: new Map() } satisfies Reply;
        },
      },
      clock,
      liveness: { isUp: () => true, success: () => undefined, failure: () => undefined, down: () => [] },
      logger: silentLogger,
      track: () => undefined,
    });
  const put = { type: 'put' as const, key, value: Buffer.from('x'), deleted: false, context: null, w: 2, pw: 0 };
  await assert.rejects(
    coordinator('first').put(put),
    (e: unknown) => e instanceof StoreError && e.code === 'UNAVAILABLE' && e.details.sent === true,
  );
  assert.equal(asked.length, 1, 'the put went to one coordinator only');
  asked.length = 0;
  const reply = await coordinator('refused').put(put);
  assert.equal(reply.type, 'putReply');
  assert.equal(asked.length, 2, 'a put that never left goes to the next primary');
});
