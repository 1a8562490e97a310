// Faults at the network layer, Jepsen style: five storage nodes (N=3), each in its own network
// namespace (test/helpers/netns.ts), and clients in the root namespace that read and write back
// with the read's context, write blind, and delete over a read. Meanwhile the nemesis partitions
// the cluster 2|3 with blackhole routes and heals it, makes a bridge (two pairs that cannot reach
// each other, one node that reaches both) with prohibit routes and heals it, isolates one node
// (its link down) and heals it, joins a sixth node in a new namespace and makes another leave,
// and three times SIGKILLs the first primary of a key right after a W=3 write through it was
// acknowledged, then restarts it. Then every hint is replayed, one anti-entropy pass runs over
// every key range (the repair workers' code, run here), and the simulator's checker judges what
// the clients saw against the final state (read with R=N) and each primary's own versions;
// last, a read-modify-write of every key must leave one version.
//
// Needs root and iproute2 (CI has both); without them it fails saying what is missing. Run by
// `npm run test:netns` (about a minute). SEED=<n> repeats the nemesis's and the clients' choices;
// NODE_OUTPUT=1 shows the nodes' logs.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { StoreError } from '../../client/src/core/errors.ts';
import { contextOf, type SiblingSet } from '../../client/src/core/siblings.ts';
import type { Reply, Request } from '../../client/src/protocol/messages.ts';
import { DynamoClient } from '../../client/src/client.ts';
import { memoryCandidates } from '../../storage/repair/reclaim.ts';
import { RepairTicker } from '../../storage/repair/ticker.ts';
import type { NodeStatus } from '../../client/src/status.ts';
import { WsTransport } from '../../client/src/transport/ws-transport.ts';
import { check, History } from '../sim/checker.ts';
import { SeededRandom } from '../sim/random.ts';
import { TEST_SECRET } from '../helpers/cluster.ts';
import { NetnsCluster, NetnsNetwork } from '../helpers/netns.ts';
import { waitFor } from '../helpers/wait.ts';

const SEED = Number(process.env.SEED ?? Date.now() % 2 ** 31);
const KEYS = 24;
const CLIENTS = 4;
/** writes acknowledged while a fault holds, once the cluster shows it */
const WRITES_UNDER_FAULT = 2000;
/** writes acknowledged after a recovery or a ring change shows, before the next step */
const WRITES_AFTER_HEAL = 100;
const CLIENT_TIMEOUT_MS = 3000;
/** coordinators SIGKILLed right after a W=3 write through them */
const KILLS = 3;

test('nodes in their own network namespaces: under partitions, an isolated node, a join, a leave and a SIGKILLed coordinator, no acknowledged write is lost and replicas converge', { timeout: 240_000 }, async () => {
  const began = performance.now();
  const random = new SeededRandom(SEED);
  process.stdout.write(`# seed ${SEED} (SEED=${SEED} repeats the choices of the nemesis and the clients)\n`);
  const dataDir = mkdtempSync(join(tmpdir(), 'dynamo-netns-'));
  let net: NetnsNetwork | undefined;
  let cluster: NetnsCluster | undefined;
  let client: DynamoClient | undefined;
  let direct: WsTransport | undefined;
  let running = true;
  let passed = false;
  let clients: Promise<void>[] = [];
  try {
    net = await NetnsNetwork.create();
    process.stdout.write(`# network: ${net.method}\n`);
    cluster = new NetnsCluster(net, { dataDir, secret: TEST_SECRET, output: process.env.NODE_OUTPUT === '1' ? 'inherit' : 'file' });
    const c = cluster;
    for (let i = 0; i < 5; i++) await c.addNode(true);
    await Promise.all(c.nodes.map((n) => c.startNode(n.id)));
    client = await DynamoClient.connect({ seeds: c.seeds, cluster: c.cluster, secret: TEST_SECRET, timeoutMs: CLIENT_TIMEOUT_MS });
    const cl = client;
    process.stdout.write(
      `# ${c.nodes.map((n) => `${n.id} in ${n.host.ns} at ${n.address}`).join(', ')}; the clients in the root namespace at ${net.hostIp}\n`,
    );

    // ---- clients: read and write back with the read's context, write blind, delete over a read
    const history = new History();
    const keys = Array.from({ length: KEYS }, (_, i) => `k${i}`);
    let seq = 0;
    let phase = { acked: 0 };
    const failures = new Map<string, number>();
    /** coordinators whose requests timed out or could not be sent lately, avoided for a while */
    const suspects = new Map<string, number>();
    const coordinatorOf = (key: string) => {
      const route = cl.route(key);
      const now = performance.now();
      return route.find((n) => (suspects.get(n) ?? 0) <= now) ?? route[0]!;
    };
    const ask = async (node: string, m: Request): Promise<Reply | null> => {
      try {
        return await cl.request(node, m);
      } catch (e) {
        const err = e instanceof StoreError ? e : null;
        const reason = `${m.type} ${err?.code ?? 'error'}`;
        failures.set(reason, (failures.get(reason) ?? 0) + 1);
        // the transport's own failures (not a coordinator's quorum error): the node is not answering
        if (err && ((err.code === 'TIMEOUT' && !('needed' in err.details)) || (err.code === 'UNAVAILABLE' && 'sent' in err.details)))
          suspects.set(node, performance.now() + 2000);
        return null;
      }
    };
    const write = async (key: string, via: string, read: { id: string; set: SiblingSet } | null, deleted: boolean, w = 0) => {
      const id = `w${seq++}`;
      const during = phase;
      const context = read && read.set.length > 0 ? contextOf(read.set) : null;
      const record = history.attempt(id, key, deleted, read?.id ?? null, context);
      const reply = await ask(via, { type: 'put', key, value: Buffer.from(JSON.stringify({ id })), deleted, context, w, pw: 0 });
      if (reply?.type === 'putReply') {
        record.outcome = 'ok';
        record.dot = reply.dot;
        if (during === phase) during.acked++;
      } else record.outcome = 'failed';
      return reply;
    };
    const read = async (key: string, via: string, r = 0) => {
      const reply = await ask(via, { type: 'get', key, r, pr: 0 });
      if (reply?.type !== 'getReply') return null;
      return { id: history.read(key, reply.set).id, set: reply.set };
    };
    const clientLoop = async (rng: SeededRandom) => {
      while (running) {
        const key = rng.pick(keys);
        const roll = rng.float();
        const via = coordinatorOf(key);
        if (roll < 0.3) {
          await write(key, via, null, false);
        } else {
          const got = await read(key, via);
          if (!got) {
            await new Promise((r) => setTimeout(r, 20));
            continue;
          }
          // deletes only over a read that found something: a blind delete removes what its coordinator holds, which only the simulator can see
          if (roll >= 0.85 && got.set.length > 0) await write(key, coordinatorOf(key), got, true);
          else await write(key, coordinatorOf(key), got, false);
        }
      }
    };
    clients = Array.from({ length: CLIENTS }, (_, i) => clientLoop(random.fork(i + 1)));

    // ---- the nemesis: each step acts, then waits (bounded) until the cluster shows the fault or
    // the recovery and enough writes begun during the step were acknowledged
    const log: string[] = [];
    const members = () => cl.ring.members.map((m) => m.id);
    // status by node id through the processes' own addresses: a node that left the ring is no longer in the client's
    direct = new WsTransport({ cluster: c.cluster, secret: TEST_SECRET, addressOf: (id) => c.node(id).address });
    const d = direct;
    const status = async (id: string): Promise<NodeStatus> => {
      const r = await d.request(id, { type: 'status' }, CLIENT_TIMEOUT_MS);
      if (r.type !== 'statusReply') throw new Error(`${id} answered ${r.type} to status`);
      return JSON.parse(r.json) as NodeStatus;
    };
    const statuses = (ids: readonly string[]) => Promise.all(ids.map(async (id) => [id, await status(id)] as const));
    /** Throws, saying who disagrees, until every observer sees every target as reachable or not. */
    const sees = async (observers: readonly string[], targets: readonly string[], reachable: boolean) => {
      const wrong: string[] = [];
      for (const [o, s] of await statuses(observers))
        for (const t of targets) if (t !== o && s.unreachable.includes(t) === reachable) wrong.push(`${o}->${t}`);
      if (wrong.length > 0) throw new Error(`${wrong.join(', ')} still ${reachable ? 'unreachable' : 'reachable'}`);
    };
    const allReachable = () => sees(members(), members(), true);
    /**
     * Acts, waits (bounded) until the cluster shows it, then holds it until `after` more writes
     * were acknowledged, so every fault is held under load however fast the machine is.
     */
    const step = async (what: string, act: () => Promise<unknown> | void, until: () => Promise<void>, after = WRITES_AFTER_HEAL) => {
      const current = { acked: 0 };
      phase = current;
      const started = performance.now();
      await act();
      await waitFor(`${what}: the cluster to show it`, async () => {
        await until();
        return true;
      }, 90_000, 200);
      const shown = performance.now();
      const before = current.acked;
      await waitFor(`${what}: ${after} writes acknowledged once it showed`, async () => {
        if (current.acked < before + after) throw new Error(`${current.acked - before} so far`);
        return true;
      }, 90_000, 50);
      const seconds = ((performance.now() - started) / 1000).toFixed(1);
      log.push(`${what} (${current.acked} acked, ${seconds} s)`);
      process.stdout.write(
        `# ${what}: shown after ${((shown - started) / 1000).toFixed(1)} s; ${current.acked} writes begun and acknowledged during it, over ${seconds} s\n`,
      );
    };
    /** A ring change through any running member; waits until every member shows it committed. */
    const ringChange = async (request: Extract<Request, { type: 'change' }>): Promise<void> => {
      const via = random.pick(members().filter((m) => m !== request.node && c.running(m)));
      const reply = await cl.request(via, request);
      assert.equal(reply.type, 'changeReply', JSON.stringify(reply));
      const planned = reply.type === 'changeReply' ? reply.version : 0;
      await waitFor(`the ${request.kind} of ${request.node} to commit`, async () => {
        await cl.refreshRing();
        if (cl.ring.version <= planned || cl.ring.next !== null)
          throw new Error(`the client's ring is at ${cl.ring.version}${cl.ring.next ? ', changing' : ''}`);
        const behind = (await statuses(members()))
          .filter(([, s]) => s.changing || (s.ringVersion ?? 0) < cl.ring.version)
          .map(([id, s]) => `${id} at ${s.ringVersion}${s.changing ? ' changing' : ''}`);
        if (behind.length > 0) throw new Error(`${behind.join(', ')}`);
        return true;
      }, 120_000, 250);
    };

    await step('warm-up', () => undefined, allReachable);

    const shuffled = [...members()];
    for (let i = shuffled.length - 1; i > 0; i--) {
      const j = random.int(i + 1);
      [shuffled[i], shuffled[j]] = [shuffled[j]!, shuffled[i]!];
    }
    const [sideA, sideB] = [shuffled.slice(0, 2), shuffled.slice(2)];
    await step(`partition ${sideA.join(',')} | ${sideB.join(',')} (blackhole routes)`, () => net!.partition(sideA, sideB), async () => {
      await sees(sideA, sideB, false);
      await sees(sideB, sideA, false);
    }, WRITES_UNDER_FAULT);
    await step('heal the partition', () => net!.heal(), allReachable);

    // a bridge: two pairs that cannot reach each other, and one node that reaches both. Gossip
    // carries heartbeats through the middle node, so a pair's view of the other flaps (a relayed
    // beat clears the suspicion a failed request raised): the step waits until every node of a
    // pair has seen every node of the other unreachable at least once, and counts how often
    const [left, middle, right] = [shuffled.slice(3, 5), shuffled[2]!, shuffled.slice(0, 2)];
    const crossing = [...left.flatMap((a) => right.map((b) => [a, b] as const)), ...right.flatMap((a) => left.map((b) => [a, b] as const))];
    const seenDown = new Set<string>();
    let polls = 0;
    let downViews = 0;
    let sampling = true;
    // looks at the pairs' views all through the step, not only until the condition first holds
    const sampler = (async () => {
      while (sampling) {
        const views = await statuses([...left, ...right]).catch(() => null);
        if (views) {
          polls++;
          for (const [a, b] of crossing) {
            if (!new Map(views).get(a)!.unreachable.includes(b)) continue;
            seenDown.add(`${a}->${b}`);
            downViews++;
          }
        }
        await new Promise((r) => setTimeout(r, 200));
      }
    })();
    try {
      await step(
        `bridge ${left.join(',')} | ${middle} | ${right.join(',')} (prohibit routes between the pairs)`,
        () => net!.partition(left, right, 'prohibit'),
        async () => {
          await sees([middle], [...left, ...right], true);
          const never = crossing.filter(([a, b]) => !seenDown.has(`${a}->${b}`)).map(([a, b]) => `${a}->${b}`);
          if (never.length > 0) throw new Error(`${never.join(', ')} not yet seen unreachable`);
        },
        WRITES_UNDER_FAULT,
      );
    } finally {
      sampling = false;
      await sampler;
    }
    process.stdout.write(
      `#   across the bridge, a node of one pair saw one of the other unreachable in ${downViews} of ${polls * crossing.length} looks (${polls} polls, 200 ms apart)\n`,
    );
    await step('heal the bridge', () => net!.heal(), allReachable);

    const lonely = random.pick(members());
    await step(
      `isolate ${lonely} (link down)`,
      () => net!.isolate(lonely),
      () =>
        sees(
          members().filter((m) => m !== lonely),
          [lonely],
          false,
        ),
      WRITES_UNDER_FAULT,
    );
    await step(`heal ${lonely}`, () => net!.heal(), async () => {
      await status(lonely);
      await allReachable();
    });

    const newcomer = await c.addNode(false);
    await step(`join ${newcomer.id} (a new namespace)`, async () => {
      await c.startNode(newcomer.id);
      await ringChange({
        type: 'change',
        kind: 'join',
        node: newcomer.id,
        address: newcomer.address,
        weight: 1,
        by: '',
        expectedVersion: 0,
      });
    }, allReachable);

    const leaver = random.pick(members().filter((m) => m !== newcomer.id));
    await step(
      `leave of ${leaver}`,
      () => ringChange({ type: 'change', kind: 'leave', node: leaver, address: '', weight: 1, by: '', expectedVersion: 0 }),
      allReachable,
    );

    // the first primary of a key coordinates a W=3 write over a full read, and dies as soon as it is acknowledged
    let victim = '';
    for (let k = 0; k < KILLS; k++) {
      const hot = random.pick(keys.filter((key) => cl.view.primaries(cl.view.partitionOf(key))[0] !== victim));
      victim = cl.view.primaries(cl.view.partitionOf(hot))[0]!;
      const v = victim;
      let killedAfter = '';
      await step(`SIGKILL ${v} right after a W=3 write of '${hot}' through it`, async () => {
        await waitFor(`a W=3 write of '${hot}' through ${v} acknowledged`, async () => {
          const got = await read(hot, v, 3);
          if (!got) throw new Error(`no R=3 read of '${hot}' through ${v}`);
          const reply = await write(hot, v, got, false, 3);
          if (reply?.type !== 'putReply') throw new Error(`the W=3 write through ${v} failed`);
          await c.signal(v, 'SIGKILL');
          killedAfter = `${reply.acks} acks for ${reply.dot.actor}:${reply.dot.counter}`;
          return true;
        }, 30_000, 100);
      }, () => sees(members().filter((m) => m !== v), [v], false), WRITES_UNDER_FAULT);
      process.stdout.write(`#   ${v} was killed once the write was acknowledged with ${killedAfter}\n`);
      await step(`restart ${v}`, () => c.startNode(v), async () => {
        await status(v);
        await allReachable();
      });
    }

    running = false;
    await Promise.all(clients);
    const workloadSeconds = (performance.now() - began) / 1000;

    // ---- heal: hints replayed, one anti-entropy sweep, then the final state
    const processes = c.nodes.filter((n) => c.running(n.id)).map((n) => n.id);
    await waitFor('every hint replayed', async () => {
      const held = (await statuses(processes)).filter(([, s]) => s.hints > 0).map(([id, s]) => `${id} holds ${s.hints}`);
      if (held.length > 0) throw new Error(held.join(', '));
      return true;
    }, 60_000, 250);
    const replayed = (await statuses(processes)).reduce((n, [, s]) => n + s.repair.hintsReplayed, 0);
    const ticker = new RepairTicker({
      transport: cl.transport,
      view: () => cl.view,
      timeoutMs: 5000,
      candidates: memoryCandidates(),
      now: () => Date.now(),
      reclaimGraceMs: 24 * 3600_000,
    });
    const sweep = await ticker.sweep();
    assert.equal(sweep.partitions, cl.ring.partitions);

    const written = [...new Set([...history.writes.values()].map((w) => w.key))];
    const finals = new Map<string, SiblingSet>();
    const primaries = new Map<string, Map<string, SiblingSet>>();
    const hintsLeft: string[] = [];
    for (const key of written) {
      finals.set(key, await waitFor(`an R=3 read of '${key}'`, async () => (await cl.get(key, { r: 3 })).siblings, 30_000, 250));
      const own = new Map<string, SiblingSet>();
      for (const node of cl.view.primaries(cl.view.partitionOf(key))) {
        const r = await cl.request(node, { type: 'inspect', key });
        assert.equal(r.type, 'inspectReply');
        if (r.type === 'inspectReply') own.set(node, r.own);
      }
      primaries.set(key, own);
      for (const copy of await cl.replicas(key))
        if (copy.hintFor !== null) hintsLeft.push(`${copy.node} holds a hint of '${key}' for ${copy.hintFor}`);
    }
    const verdict = check(history, { reads: finals, primaries, hintsLeft }, { converge: true });
    // deletes that failed (timed out, say) yet were applied: the checker knows them by their past
    const ackedDots = new Set(history.acknowledged().flatMap((w) => (w.dot ? [`${w.dot.actor}:${w.dot.counter}`] : [])));
    const unacknowledgedTombstones = new Set<string>();
    for (const set of [
      ...[...history.reads.values()].map((r) => r.set),
      ...finals.values(),
      ...[...primaries.values()].flatMap((m) => [...m.values()]),
    ]) {
      for (const v of set)
        if (v.deleted && !ackedDots.has(`${v.dot.actor}:${v.dot.counter}`)) unacknowledgedTombstones.add(`${v.dot.actor}:${v.dot.counter}`);
    }

    // a read-modify-write over a full read ends with one version
    const unwritable: string[] = [];
    for (const [key, set] of finals) {
      await cl.put(key, Buffer.from(JSON.stringify({ id: `final-${key}` })), { context: contextOf(set), w: 3 });
      const after = await cl.get(key, { r: 3 });
      if (after.siblings.length !== 1) unwritable.push(`${key}: ${after.siblings.length} versions`);
    }

    const seconds = ((performance.now() - began) / 1000).toFixed(0);
    process.stdout.write(
      `# faults: ${log.join(', ')}\n` +
        `# ${history.writes.size} writes attempted (${history.reads.size} reads), ${verdict.acknowledged} acknowledged, ${verdict.found} found as siblings, the rest superseded by later writes over their context, ${verdict.lost} lost; ` +
        `${[...history.writes.values()].filter((w) => w.deleted && w.outcome !== 'ok').length} deletes not acknowledged, ${unacknowledgedTombstones.size} of them seen applied; ` +
        `at most ${verdict.maxSiblings} siblings and ${verdict.maxActors} actors on a key; ${replayed} hints replayed (counted since each node's last start); anti-entropy: ${sweep.rootsEqual ? 'every pair of replicas already agreed' : `compared ${sweep.keysCompared} keys, sent ${sweep.keysSent}`}; ` +
        `client failures: ${[...failures].map(([k, n]) => `${k} ${n}`).join(', ') || 'none'}; workload ${workloadSeconds.toFixed(0)} s, ${seconds} s in all\n`,
    );
    if (verdict.violations.length > 0) {
      const dump = join(tmpdir(), `dynamo-netns-${SEED}-${process.pid}.json`);
      writeFileSync(
        dump,
        JSON.stringify(
          {
            seed: SEED,
            log,
            writes: [...history.writes.values()],
            reads: [...history.reads.values()],
            finals: [...finals],
            primaries: [...primaries].map(([k, m]) => [k, [...m]]),
          },
          jsonReplacer,
        ),
      );
      process.stdout.write(
        `# ${verdict.violations.length} violations, the first: \n#   ${verdict.violations.slice(0, 12).join('\n#   ')}\n# the history and final state are in ${dump}\n`,
      );
    }
    assert.deepEqual(verdict.violations.slice(0, 20), []);
    assert.equal(verdict.lost, 0);
    assert.ok(verdict.acknowledged >= 300, `only ${verdict.acknowledged} writes were acknowledged`);
    assert.deepEqual(unwritable, []);
    passed = true;
  } finally {
    running = false;
    await Promise.all(clients);
    client?.close();
    direct?.close();
    if (!passed && cluster) {
      for (const n of cluster.nodes) {
        const lines = cluster.problems(n.id);
        if (lines.length > 0) process.stdout.write(`# ${n.id}'s last warnings:\n#   ${lines.join('\n#   ')}\n`);
      }
    }
    await net?.heal().catch(() => undefined);
    await cluster?.stop().catch(() => undefined);
    const left = net?.destroy() ?? [];
    rmSync(dataDir, { recursive: true, force: true });
    if (net)
      left.push(
        ...execFileSync('ip', ['netns', 'list'], { encoding: 'utf8' })
          .split('\n')
          .filter((l) => l.startsWith(`dynamo-t${process.pid}-`)),
      );
    if (left.length > 0) process.stdout.write(`# left behind: ${left.join(', ')}\n`);
    // (after a failure, its own error is the one reported)
    if (passed) assert.deepEqual(left, [], 'network namespaces, veths or the bridge of this run are left behind');
  }
});

/** Versions as JSON: maps as entries, values as text. */
function jsonReplacer(_key: string, value: unknown): unknown {
  if (value instanceof Map) return Object.fromEntries(value);
  if (value instanceof Uint8Array) return Buffer.from(value).toString('utf8');
  if (value && typeof value === 'object' && (value as { type?: string }).type === 'Buffer')
    return Buffer.from((value as { data: number[] }).data).toString('utf8');
  return value;
}
