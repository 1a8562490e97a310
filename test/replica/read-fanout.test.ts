// Whom a read asks (coordinator/read.ts): R of the key's targets first, this node's own copy
// among them and the others in turn; the rest when one of those fails or after the hedge time;
// all N at once with a hedge time of 0. The real coordinator over a transport that records each
// request and answers as each case says.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { MemoryEngine } from '../../storage/engine/memory.ts';
import { Replica } from '../../storage/replica.ts';
import { Coordinator } from '../../storage/coordinator.ts';
import { firstAsked } from '../../storage/coordinator/read.ts';
import type { Target } from '../../client/src/core/preference.ts';
import { Identity } from '../../storage/identity.ts';
import { RingView } from '../../client/src/core/preference.ts';
import { createRing } from '../../client/src/core/ring.ts';
import { StoreError } from '../../client/src/core/errors.ts';
import type { Reply, Request } from '../../client/src/protocol/messages.ts';
import { silentLogger } from '../../client/src/runtime.ts';
import { realClock } from '../../storage/real-runtime.ts';

const members = ['n1', 'n2', 'n3', 'n4'].map((id, i) => ({ id, address: `h:${i + 1}`, weight: 1 }));
const view = new RingView(createRing(members, 8, 3));
/** keys n1 is a primary of */
const KEYS = Array.from({ length: 200 }, (_, i) => `k${i}`).filter((k) => view.primaries(view.partitionOf(k)).includes('n1'));
const others = (key: string) => view.primaries(view.partitionOf(key)).filter((n) => n !== 'n1');

/** A replica's answer to a read, or a failure, or no answer until the test says. */
type Behaviour = 'answer' | 'fail' | 'hang';

async function coordinator(readHedgeMs: number, behave: (node: string) => Behaviour) {
  const engine = new MemoryEngine();
  const identity = await Identity.open(engine.meta, 'n1', 'c', { float: Math.random });
  const asked: { node: string; keys: readonly string[]; at: number }[] = [];
  const c = new Coordinator({
    self: 'n1',
    config: { r: 2, w: 2, maxSiblings: 100, maxActors: 64, requestTimeoutMs: 2000, readHedgeMs },
    view: () => view,
    replica: new Replica(engine, (k) => view.place(k), { maxBytes: 1 << 30, maxAgeMs: 86_400_000 }),
    identity,
    transport: {
      request: (to: string, m: Request) => {
        assert.equal(m.type, 'replicaReadMany');
        const keys = m.type === 'replicaReadMany' ? m.keys : [];
        asked.push({ node: to, keys, at: performance.now() });
        const b = behave(to);
        if (b === 'fail') return Promise.reject(new StoreError('UNAVAILABLE', 'refused', { sent: false }));
        if (b === 'hang') return new Promise<Reply>(() => undefined);
        return Promise.resolve({ type: 'replicaReadManyReply', sets: keys.map(() => []) } satisfies Reply);
      },
    },
    clock: realClock,
    liveness: { isUp: () => true, success: () => undefined, failure: () => undefined, down: () => [] },
    logger: silentLogger,
    track: () => undefined,
  });
  return { c, asked };
}

test('with a hedge time, a read asks its own copy and one other replica for R=2, turning to the next replica each read, and never the third while both answer', async () => {
  const { c, asked } = await coordinator(50, () => 'answer');
  const key = KEYS[0]!;
  for (let i = 0; i < 6; i++) assert.equal((await c.get(key, 2, 0)).replies, 2);
  await new Promise((r) => setTimeout(r, 80)); // past the hedge time: nothing more is asked
  assert.equal(asked.length, 6, 'one remote request per read');
  const [a, b] = others(key);
  assert.deepEqual(
    asked.map((x) => x.node).sort(),
    [a, a, a, b, b, b].sort(),
    'the reads spread over both other replicas',
  );
  assert.equal(c.widenedReads, 0);
});

test('a replica that fails a read has its keys asked of the next replica at once', async () => {
  const key = KEYS[0]!;
  const [a, b] = others(key);
  const { c, asked } = await coordinator(10_000, (node) => (node === a ? 'fail' : 'answer'));
  for (let i = 0; i < 2; i++) assert.equal((await c.get(key, 2, 0)).replies, 2);
  // one read asked b first; the other asked a, which failed, and then b
  assert.deepEqual(asked.map((x) => x.node).sort(), [a, b, b].sort());
  assert.equal(c.widenedReads, 1);
});

test('a replica that does not answer within the hedge time has its keys asked of the rest', async () => {
  const key = KEYS[0]!;
  const [a, b] = others(key);
  const { c, asked } = await coordinator(30, (node) => (node === a ? 'hang' : 'answer'));
  const started = performance.now();
  const replies = await Promise.all([c.get(key, 2, 0), c.get(key, 2, 0)]);
  assert.deepEqual(replies.map((r) => r.replies), [2, 2]);
  const late = asked.filter((x) => x.at - started >= 25);
  assert.deepEqual(late.map((x) => x.node), [b], 'after the hedge time, the read waiting on a asked b');
  assert.equal(c.widenedReads, 1);
});

test('with a hedge time of 0 a read asks all N at once, and a multi-get asks each replica once for all its keys', async () => {
  const { c, asked } = await coordinator(0, () => 'answer');
  const keys = KEYS.slice(0, 8);
  const replies = await Promise.all(c.getMany(keys, 2, 0));
  assert.equal(replies.length, keys.length);
  const nodes = asked.map((x) => x.node);
  assert.equal(new Set(nodes).size, nodes.length, 'one request per replica');
  for (const key of keys)
    for (const node of others(key)) assert.ok(asked.some((x) => x.node === node && x.keys.includes(key)), `${key} was asked of ${node}`);
});

test('a multi-get with a hedge time asks R per key, each replica once, and the reads of its keys spread over the others', async () => {
  const { c, asked } = await coordinator(50, () => 'answer');
  const keys = KEYS.slice(0, 12);
  await Promise.all(c.getMany(keys, 2, 0));
  const nodes = asked.map((x) => x.node);
  assert.equal(new Set(nodes).size, nodes.length, 'one request per replica');
  assert.equal(
    asked.reduce((n, x) => n + x.keys.length, 0),
    keys.length,
    'each key asked of one other replica',
  );
  assert.ok(nodes.length >= 2, `the keys' reads went to ${nodes.length} other replicas`);
});

test('a read at PR asks enough primaries first, and R=N asks every target at once', async () => {
  const { c, asked } = await coordinator(10_000, () => 'answer');
  const key = KEYS[0]!;
  assert.equal((await c.get(key, 3, 0)).replies, 3);
  assert.deepEqual(asked.map((x) => x.node).sort(), [...others(key)].sort());
  asked.length = 0;
  assert.equal((await c.get(key, 1, 3)).replies >= 1, true);
  assert.deepEqual(asked.map((x) => x.node).sort(), [...others(key)].sort(), 'PR=3 asks all three primaries');
});

/** firstAsked as first written, with arrays for each step: the model the allocation-free one is held to. */
function naiveFirstAsked(targets: readonly Target[], r: number, pr: number, self: string, turn: number): Target[] {
  const own = targets.filter((t) => t.node === self);
  const others = targets.filter((t) => t.node !== self);
  const start = others.length === 0 ? 0 : turn % others.length;
  const inTurn = [...others.slice(start), ...others.slice(0, start)];
  const first = [...own, ...inTurn].slice(0, r);
  for (const t of inTurn) {
    if (first.filter((f) => f.primary).length >= pr) break;
    if (t.primary && !first.includes(t)) first.push(t);
  }
  return first;
}

test('the targets a read asks first are those of the naive model: own copy, then the others in turn, then primaries for PR', () => {
  const nodes = ['n1', 'n2', 'n3', 'n4', 'n5', 'n6'];
  fc.assert(
    fc.property(
      fc.uniqueArray(fc.record({ node: fc.constantFrom(...nodes), primary: fc.boolean() }), {
        selector: (t) => t.node,
        minLength: 1,
        maxLength: 5,
      }),
      fc.integer({ min: 1, max: 5 }),
      fc.integer({ min: 0, max: 5 }),
      fc.constantFrom(...nodes),
      fc.nat(1000),
      (targets, r, pr, self, turn) => {
        assert.deepEqual(firstAsked(targets, r, pr, self, turn), naiveFirstAsked(targets, r, pr, self, turn));
      },
    ),
    { numRuns: 5000 },
  );
});
