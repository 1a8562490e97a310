// Local health (core/awareness.ts) and how the gossiper's liveness view uses it: a node whose
// own rounds run late waits longer before it thinks ill of anyone, and needs more timed-out
// requests in a row before it suspects a peer; a request that cannot reach a peer still counts at once.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { StoreError } from '../../client/src/core/errors.ts';
import { LocalHealth } from '../../storage/core/awareness.ts';
import { DEFAULT_GOSSIP, Gossiper } from '../../storage/membership/gossip.ts';
import type { Reply, Request } from '../../client/src/protocol/messages.ts';
import { silentLogger, type Clock, type Timer } from '../../client/src/runtime.ts';

test('the score rises with each late round and falls with each timely one, within 0 and max', () => {
  const h = new LocalHealth({ max: 3, timeoutsToSuspect: 2 });
  assert.equal(h.score, 0);
  assert.equal(h.multiplier, 1);
  assert.equal(h.timeoutsToSuspect, 2);
  h.round(0, 1000);
  assert.equal(h.score, 0, 'never below 0');
  for (let i = 0; i < 5; i++) h.round(600, 1000);
  assert.equal(h.score, 3, 'never above max');
  assert.equal(h.multiplier, 4);
  assert.equal(h.timeoutsToSuspect, 5);
  h.round(250, 1000);
  assert.equal(h.score, 2, 'a quarter interval late is on time');
  h.round(251, 1000);
  assert.equal(h.score, 3);
});

/** A clock moved by hand; timers are not needed by what is tested here. */
class ManualClock implements Clock {
  t = 0;
  now(): number {
    return this.t;
  }
  wallNow(): number {
    return this.t;
  }
  after(): Timer {
    return { cancel() {} };
  }
}

function gossiper(clock: ManualClock, answer: (to: string) => Promise<Reply>): Gossiper {
  return new Gossiper({
    self: 'n1',
    cluster: 'dev',
    generation: () => 1,
    life: 'life0001',
    options: DEFAULT_GOSSIP,
    clock,
    random: { float: () => 0 },
    transport: { request: (to: string, _m: Request) => answer(to) },
    logger: silentLogger,
    ring: () => null,
    adopt: () => undefined,
    seeds: () => ['n2'],
    partitions: () => undefined,
  });
}

test('a healthy node suspects a peer after one timed-out request or one that cannot reach it; an answer clears it', () => {
  const clock = new ManualClock();
  const g = gossiper(clock, () => Promise.reject(new Error('unused')));
  g.success('n2');
  assert.ok(g.isUp('n2'));
  g.failure('n2', 'timeout');
  assert.ok(!g.isUp('n2'), 'one timeout');
  g.success('n2');
  assert.ok(g.isUp('n2'));
  g.failure('n2', 'unreachable');
  assert.ok(!g.isUp('n2'), 'could not reach it');
  g.success('n3');
  g.failure('n3');
  assert.ok(!g.isUp('n3'), 'a failure of no kind counts as unreachable');
});

test('a node whose own rounds run late tolerates longer silences and needs more timeouts before it suspects a peer', async () => {
  const clock = new ManualClock();
  const g = gossiper(clock, () => Promise.reject(new StoreError('TIMEOUT', 'late')));
  g.success('n2');
  // healthy: rounds on time, and a peer silent for 6 s (beyond the 2 s tolerated pause and the usual second) is down
  for (let i = 0; i < 3; i++) {
    await g.tick();
    clock.t += DEFAULT_GOSSIP.intervalMs;
  }
  assert.equal(g.health.score, 0);
  g.success('n2');
  clock.t += 6000;
  assert.ok(!g.isUp('n2'), 'healthy node: a 6 s silence is a failure');

  // the node stalls: each round starts 3 s late
  const slow = new ManualClock();
  const h = gossiper(slow, () => Promise.reject(new StoreError('TIMEOUT', 'late')));
  h.success('n2');
  for (let i = 0; i < 3; i++) {
    await h.tick();
    slow.t += DEFAULT_GOSSIP.intervalMs + 3000;
  }
  await h.tick();
  assert.equal(h.health.score, 3);
  h.success('n2');
  slow.t += 6000;
  assert.ok(h.isUp('n2'), 'slow node: the same silence is its own slowness');
  assert.equal(h.health.timeoutsToSuspect, 4);
  for (let i = 1; i < 4; i++) h.failure('n2', 'timeout');
  assert.ok(h.isUp('n2'), 'three timeouts in a row');
  h.success('n2');
  for (let i = 1; i < 4; i++) h.failure('n2', 'timeout');
  assert.ok(h.isUp('n2'), 'the answer between them cleared the earlier ones');
  h.failure('n2', 'timeout');
  assert.ok(!h.isUp('n2'), 'four in a row');
  h.success('n2');
  h.failure('n2', 'unreachable');
  assert.ok(!h.isUp('n2'), 'unreachable: at once, however slow this node is');
});
