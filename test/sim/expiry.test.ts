// Expiry in the simulator, with wall clocks a minute apart: clients write blind, with and
// without TTLs (some shorter than the skew), and read, through random nodes, while the network
// drops, duplicates and partitions and nodes crash; repair runs throughout. The expiry checker
// (expiry-check.ts) judges from what clients did and when: no read shows a value past its
// expiry on every clock, a full read loses no acknowledged value that no clock can call expired
// yet and no value without a TTL, and once every TTL is past and repair is done no expired value
// is live anywhere: read repair, hinted handoff and anti-entropy never bring one back.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { StoreError } from '../../client/src/core/errors.ts';
import type { Reply, Request } from '../../client/src/protocol/messages.ts';
import { SimCluster } from './cluster.ts';
import { judgeExpiry, liveIds, TtlHistory, UNANSWERED_SLACK_MS, type TtlVerdict } from './expiry-check.ts';
import { newExercised, repairRound, settle } from './workload.ts';

const SKEW_MS = 60_000;
const MAX_TTL_S = 90;
const KEYS = Array.from({ length: 6 }, (_, i) => `t${i}`);
const CLIENTS = 4;
const OPS = 40;

interface Run {
  readonly verdict: TtlVerdict;
  readonly acknowledged: number;
  readonly withTtl: number;
  /** expired versions the nodes' reads turned into tombstones (counted by the nodes, for the summary only) */
  readonly expiredVersions: number;
  readonly readsShowingExpiry: number;
  readonly faults: number;
}

async function runSeed(seed: number): Promise<Run> {
  const c = await SimCluster.create({
    seed,
    nodes: 5,
    clockSkewMs: SKEW_MS,
    faults: { drop: 0.03, duplicate: 0.02, minDelayMs: 1, maxDelayMs: 30 },
    localHandoffEveryMs: 2000,
  });
  await c.scheduler.runUntil(() => c.running().every((n) => n.status().identityConfirmed), 10_000, 'nodes confirmed');
  const history = new TtlHistory();
  let readsShowingExpiry = 0;
  let faults = 0;
  const random = c.random.fork(4242);
  const ask = async (client: string, request: Request): Promise<Reply | null> => {
    try {
      return await c.client(client).request(random.pick(c.ids), request, 2000);
    } catch (e) {
      if (e instanceof StoreError) return null;
      throw e;
    }
  };

  // ---- clients
  let finished = 0;
  for (let i = 0; i < CLIENTS; i++) {
    const name = `client${i}`;
    const r = random.fork(i);
    void (async () => {
      for (let op = 0; op < OPS; op++) {
        const key = r.pick(KEYS);
        const roll = r.float();
        const sentAt = c.scheduler.now;
        if (roll < 0.65) {
          const ttl = roll < 0.4 ? 1 + r.int(MAX_TTL_S) : null;
          const id = `${name}-${op}`;
          const w = {
            id,
            key,
            ttlMs: ttl === null ? null : ttl * 1000,
            sentAt,
            answeredAt: 0,
            outcome: 'pending' as 'pending' | 'ok' | 'failed',
          };
          history.writes.set(id, w);
          const reply = await ask(name, {
            type: 'put',
            key,
            value: Buffer.from(JSON.stringify({ id })),
            deleted: false,
            context: null,
            w: 1 + r.int(3),
            pw: 0,
            ...(ttl === null ? {} : { ttlSeconds: ttl }),
          });
          w.answeredAt = c.scheduler.now;
          w.outcome = reply?.type === 'putReply' ? 'ok' : 'failed';
        } else {
          const reply = await ask(name, { type: 'get', key, r: 1 + r.int(3), pr: 0 });
          if (reply?.type === 'getReply') {
            history.read(key, sentAt, c.scheduler.now, reply.set);
            if (reply.set.some((v) => v.deleted && v.expiresAt !== undefined)) readsShowingExpiry++;
          }
        }
        await new Promise<void>((resolve) => c.scheduler.at(r.float() * 1500, resolve));
      }
    })().finally(() => finished++);
  }

  // ---- faults and repair while the clients run
  const nemesis = random.fork(999);
  const crashed = new Set<string>();
  const act = () => {
    if (finished === CLIENTS) return;
    const roll = nemesis.float();
    faults++;
    if (roll < 0.2) {
      const side = c.ids.filter(() => nemesis.float() < 0.4);
      c.network.partition(side, c.ids.filter((id) => !side.includes(id)));
    } else if (roll < 0.4) c.network.healAll();
    else if (roll < 0.5 && crashed.size < 1) {
      const id = nemesis.pick(c.ids);
      crashed.add(id);
      c.crash(id);
    } else if (roll < 0.7 && crashed.size > 0) {
      for (const id of crashed) void c.start(id);
      crashed.clear();
    } else faults--;
    c.scheduler.at(3000, act);
  };
  c.scheduler.at(3000, act);
  const repair = c.repairer(60_000);
  const round = () => {
    if (finished === CLIENTS) return;
    void repairRound(c, repair, false)
      .catch(() => undefined)
      .finally(() => c.scheduler.at(5000, round));
  };
  c.scheduler.at(5000, round);
  await c.scheduler.runUntil(() => finished === CLIENTS, 3_600_000, 'the clients');

  // ---- a full read of every key once everything is healed and repaired
  const fullReads = async () => {
    for (const [i, key] of KEYS.entries()) {
      const sentAt = c.scheduler.now;
      const via = c.ids[i % c.ids.length]!;
      const reply = await c.scheduler.drive(c.client('checker').request(via, { type: 'get', key, r: 3, pr: 0 }, 5000));
      assert.equal(reply.type, 'getReply', `seed ${seed}: the full read of '${key}' failed: ${JSON.stringify(reply)}`);
      if (reply.type === 'getReply') history.read(key, sentAt, c.scheduler.now, reply.set, true);
    }
  };
  await settle(c, null, 60_000, newExercised());
  await fullReads();

  // ---- every TTL past on every clock: reads delete what expired, repair spreads it, nothing comes back
  const lastAnswer = Math.max(...[...history.writes.values()].map((w) => w.answeredAt));
  await c.scheduler.run(lastAnswer + MAX_TTL_S * 1000 + SKEW_MS + UNANSWERED_SLACK_MS + 1000);
  const finalAt = c.scheduler.now;
  await fullReads();
  await c.scheduler.run(c.scheduler.now + 5000);
  await settle(c, null, 60_000, newExercised());
  await fullReads();
  const ring = c.ring();
  const view = c.node(ring.members[0]!.id).view;
  const primaries = new Map(
    KEYS.map((key) => [key, new Map(view.primaries(view.partitionOf(key)).map((n) => [n, c.node(n).replica.readOwn(key)]))]),
  );
  const verdict = judgeExpiry(history, { at: finalAt, primaries }, SKEW_MS);
  const writes = [...history.writes.values()];
  return {
    verdict,
    acknowledged: writes.filter((w) => w.outcome === 'ok').length,
    withTtl: writes.filter((w) => w.ttlMs !== null).length,
    expiredVersions: c.running().reduce((n, node) => n + node.coordinator.expiredVersions, 0),
    readsShowingExpiry,
    faults,
  };
}

test('expiry under clock skew, faults and repair: nothing shows past its time, nothing live is lost, nothing expired comes back', async () => {
  const from = Number(process.env.SIM_SEED ?? 9100);
  const seeds = Array.from({ length: Number(process.env.SIM_SEEDS ?? 20) }, (_, i) => from + i);
  const totals = { acknowledged: 0, withTtl: 0, expiredVersions: 0, readsShowingExpiry: 0, judgedBySkew: 0, faults: 0 };
  const failures: string[] = [];
  for (const seed of seeds) {
    const r = await runSeed(seed);
    totals.acknowledged += r.acknowledged;
    totals.withTtl += r.withTtl;
    totals.expiredVersions += r.expiredVersions;
    totals.readsShowingExpiry += r.readsShowingExpiry;
    totals.judgedBySkew += r.verdict.judgedBySkew;
    totals.faults += r.faults;
    if (r.verdict.violations.length > 0)
      failures.push(`seed ${seed} (SIM_SEED=${seed} SIM_SEEDS=1 replays it):\n  ${r.verdict.violations.slice(0, 8).join('\n  ')}`);
  }
  process.stdout.write(
    `# expiry, seeds ${seeds[0]}..${seeds.at(-1)}, clocks up to ${SKEW_MS / 1000} s apart: ${totals.acknowledged} writes acknowledged (${totals.withTtl} with a TTL), ` +
      `${totals.faults} faults, ${totals.readsShowingExpiry} client reads showed an expired version, ${totals.expiredVersions} expired versions turned into tombstones, ` +
      `${totals.judgedBySkew} full-read judgements inside the skew window, ${failures.length} seeds failed\n`,
  );
  assert.deepEqual(failures, []);
  // a claim over paths no seed took is no claim
  assert.ok(totals.expiredVersions > 0 && totals.readsShowingExpiry > 0 && totals.withTtl > 0, JSON.stringify(totals));
});

test('a value nobody reads after it expires becomes a tombstone on every replica: each node walks its ranges and reads such keys', async () => {
  const c = await SimCluster.create({ seed: 9300, nodes: 5, clockSkewMs: SKEW_MS, localHandoffEveryMs: 2000 });
  await c.scheduler.runUntil(() => c.running().every((n) => n.status().identityConfirmed), 10_000, 'nodes confirmed');
  const put = (id: string, ttlSeconds?: number) =>
    c.scheduler.drive(
      c
        .client('writer')
        .request(
          'n1',
          {
            type: 'put',
            key: 'quiet',
            value: Buffer.from(JSON.stringify({ id })),
            deleted: false,
            context: null,
            w: 3,
            pw: 0,
            ...(ttlSeconds ? { ttlSeconds } : {}),
          },
          5000,
        ),
    );
  assert.equal((await put('short', 5)).type, 'putReply');
  assert.equal((await put('forever')).type, 'putReply');
  const view = c.node('n1').view;
  const primaries = view.primaries(view.partitionOf('quiet'));
  const held = () => primaries.map((n) => liveIds(c.node(n).replica.readOwn('quiet')).sort().join(','));
  assert.deepEqual(held(), primaries.map(() => 'forever,short'));
  // no client reads: past the TTL on every clock, and a walk or two later
  await c.scheduler.run(c.scheduler.now + 5000 + SKEW_MS + 25_000);
  assert.deepEqual(held(), primaries.map(() => 'forever'), 'the expired sibling is a tombstone on every primary; the other is kept');
  for (const n of primaries) assert.equal(c.node(n).replica.readOwn('quiet').length, 2, 'the tombstone is the version itself');
  assert.ok(c.running().reduce((k, n) => k + n.expiryScan.keysRead, 0) > 0);
});
