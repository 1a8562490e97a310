// Simulated clients, repair during the run, and the end of a run: healing, repair until nothing
// moves, the final state read the way a client reads it, and a read-modify-write of every key.
//
// Clients read-then-write with the context they were given, write blind, and delete with and
// without a context, each through a random node (the node forwards puts to a coordinator).
// Every value, deletes included, carries the id of its write, so the checker can tell which
// write a version is; the coordinator keeps no value for a delete, so a tombstone is known by
// the dot its coordinator minted for it (the ground truth the cluster records).
import { StoreError } from '../../client/src/core/errors.ts';
import { contextOf, type SiblingSet } from '../../client/src/core/siblings.ts';
import { digestOf } from '../../storage/core/ring-merge.ts';
import type { VersionVector } from '../../client/src/core/version-vector.ts';
import type { Reply, Request } from '../../client/src/protocol/messages.ts';
import type { Transport } from '../../client/src/runtime.ts';
import type { SweepReport } from '../../storage/repair/ticker.ts';
import { actorsOf, valueId, type FinalState, type History } from './checker.ts';
import { addCounts, type SimCluster } from './cluster.ts';
import { Nemesis } from './nemesis.ts';
import type { SeededRandom } from './random.ts';
import type { FaultParameters, WorkloadParameters } from './swarm.ts';

const CLIENT_TIMEOUT_MS = 2000;

/** What a run exercised, for the summary. */
export interface Exercised {
  /**
   * How often the run took each path the checker's claims cover: the nemesis's faults, ring
   * changes that committed, the nodes' repair and membership work (cluster.ts), and what the
   * clients did. A claim over paths no seed took is no claim.
   */
  readonly paths: Record<string, number>;
  maxActors: number;
  maxSiblings: number;
  /** the most actors any key names once the run is over and repair (with compaction) is done */
  maxFinalActors: number;
}

export function newExercised(): Exercised {
  return { paths: { ringChanges: 0 }, maxActors: 0, maxSiblings: 0, maxFinalActors: 0 };
}

/** Records every version the cluster's nodes mint, and every key a node reclaims, into the history (ground truth for the checker). */
export function recordGroundTruth(cluster: SimCluster, history: History): void {
  cluster.onMint = (node, m) => {
    history.minted({ writeId: valueId(m.request.value) ?? '', key: m.key, node, version: m.version, held: m.held.map((v) => v.dot) });
  };
  cluster.onReclaim = (_node, key, set) => history.reclaimed(key, set.map((v) => v.dot));
}

/** Counts ring changes that committed: the rings, by version, that ended a change. */
export function countCommits(cluster: SimCluster, exercised: Exercised): () => void {
  const seen = new Set<number>();
  let last = cluster.initialRing.version;
  return () => {
    const ring = cluster.ring();
    if (ring.version !== last && ring.next === null && ring.version > last && !seen.has(ring.version)) {
      seen.add(ring.version);
      exercised.paths.ringChanges!++;
    }
    last = Math.max(last, ring.version);
  };
}

/** Samples every running node's stored sets for the keys: the largest history and sibling count. */
export function sample(cluster: SimCluster, keys: Iterable<string>, exercised: Exercised): void {
  for (const node of cluster.running()) {
    if (!node.ring) continue;
    for (const key of keys) {
      const set = node.replica.read(key);
      exercised.maxActors = Math.max(exercised.maxActors, actorsOf(set));
      exercised.maxSiblings = Math.max(exercised.maxSiblings, set.length);
    }
  }
}

export interface RunOptions {
  readonly workload: WorkloadParameters;
  readonly faults: FaultParameters;
}

/** Runs the clients, the nemesis and repair until every client is done; returns the nemesis. */
export async function runWorkload(cluster: SimCluster, history: History, o: RunOptions, exercised: Exercised): Promise<Nemesis> {
  const random = cluster.random.fork(77);
  const keys = Array.from({ length: o.workload.keys }, (_, i) => `k${i}`);
  let finished = 0;
  for (let c = 0; c < o.workload.clients; c++) {
    const client = new SimClient(`client${c}`, cluster.client(`client${c}`), cluster, history, random.fork(c), o.workload);
    void client.run(keys).finally(() => finished++);
  }
  const done = () => finished === o.workload.clients;
  const nemesis = new Nemesis(cluster, random.fork(999), o.faults);
  const commits = countCommits(cluster, exercised);
  if (o.faults.everyMs > 0) {
    const act = () => {
      if (done()) return;
      nemesis.act();
      commits();
      sample(cluster, keys, exercised);
      cluster.scheduler.at(o.faults.everyMs, act);
    };
    cluster.scheduler.at(o.faults.everyMs, act);
  }
  if (o.faults.repairEveryMs > 0) {
    const repair = cluster.repairer(o.faults.reclaimGraceMs);
    const round = () => {
      if (done()) return;
      void repairRound(cluster, repair, false)
        .catch(() => undefined)
        .finally(() => cluster.scheduler.at(o.faults.repairEveryMs, round));
    };
    cluster.scheduler.at(o.faults.repairEveryMs, round);
  }
  await cluster.scheduler.runUntil(done, 3_600_000, 'workload completion');
  commits();
  return nemesis;
}


/** One round of repair as the workers would run it: hint replay, expiry, and a sweep (anti-entropy, then reclamation). */
export async function repairRound(cluster: SimCluster, repair: ReturnType<SimCluster['repairer']>, all: boolean): Promise<SweepReport> {
  await repair.replayAll();
  const members = cluster.ring().members.map((m) => m.id).filter((id) => cluster.isRunning(id));
  await repair.expire(members).catch(() => 0);
  const view = cluster.running().find((n) => n.ring)?.view;
  const partitions = all || !view ? undefined : [cluster.random.fork(cluster.scheduler.steps).int(view.ring.partitions)];
  return repair.sweep(partitions);
}

/**
 * After the run: heals the network, restarts every node that should run, lets ring changes
 * finish, then repairs (hint replay, expiry, anti-entropy, reclamation) until nothing moves.
 * Returns how many repair rounds it took, or throws when the cluster does not settle.
 */
export async function settle(cluster: SimCluster, nemesis: Nemesis | null, reclaimGraceMs: number, exercised: Exercised): Promise<number> {
  if (nemesis) {
    await cluster.scheduler.drive(nemesis.finished());
    addCounts(exercised.paths, { ...nemesis.counts });
  }
  cluster.network.healAll();
  cluster.network.faults = { drop: 0, duplicate: 0, minDelayMs: 1, maxDelayMs: 3 };
  cluster.diskFaults.rate = 0;
  // a node the nemesis removed or replaced stays down, unless the ring kept it (a change decided
  // on the losing side of a fork)
  const members = () => new Set(cluster.ring().members.map((m) => m.id));
  for (const id of cluster.ids) if (!nemesis?.gone.has(id) || members().has(id)) await cluster.scheduler.drive(cluster.start(id));
  const commits = countCommits(cluster, exercised);
  await cluster.scheduler.runUntil(
    () => {
      const ring = cluster.ring();
      for (const m of ring.members) if (!cluster.isRunning(m.id)) void cluster.start(m.id);
      const digest = digestOf(ring).hash;
      return (
        ring.next === null &&
        ring.members.every(
          (m) => cluster.isRunning(m.id) && cluster.node(m.id).ring !== null && digestOf(cluster.node(m.id).ring!).hash === digest,
        )
      );
    },
    300_000,
    'ring changes to finish and every member to hold the same ring',
  );
  commits();
  await cluster.scheduler.run(cluster.scheduler.now + 5000);
  // old owners make their last pass and drop the ranges they no longer replicate (until they
  // have, reclamation leaves those ranges alone)
  const stale = () =>
    cluster
      .running()
      .some(
        (n) =>
          n.ring && Array.from({ length: n.ring.partitions }, (_, p) => p).some((p) => !n.view.isPrimary(n.id, p) && n.replica.holds(p)),
      );
  for (const deadline = cluster.scheduler.now + 300_000; stale(); ) {
    if (cluster.scheduler.now > deadline)
      throw new Error('old owners did not drop the key ranges they no longer replicate within 300 s of simulated time');
    await cluster.scheduler.run(cluster.scheduler.now + 500);
  }
  const repair = cluster.repairer(reclaimGraceMs);
  let rounds = 0;
  const quiet = async () => {
    while (rounds < 8) {
      rounds++;
      const sweep = await cluster.scheduler.drive(repairRound(cluster, repair, true));
      if (sweep.keysSent === 0 && cluster.running().every((n) => n.replica.hintCount === 0)) return;
    }
  };
  await quiet();
  // a short grace is waited out, so reclamation runs on what the run left
  if (reclaimGraceMs <= 10_000) {
    await cluster.scheduler.run(cluster.scheduler.now + reclaimGraceMs + 100);
    await quiet();
  }
  return rounds;
}

/** Each key read as a client reads it (R=N through a member), each primary's own set, and the hints left. */
export async function finalState(cluster: SimCluster, keys: Iterable<string>): Promise<FinalState> {
  const ring = cluster.ring();
  const client = cluster.client('final-reader');
  const reads = new Map<string, SiblingSet>();
  const primaries = new Map<string, Map<string, SiblingSet>>();
  let i = 0;
  for (const key of keys) {
    const via = ring.members[i++ % ring.members.length]!.id;
    const reply = await cluster.scheduler.drive(client.request(via, { type: 'get', key, r: ring.n, pr: 0 }, 5000));
    if (reply.type !== 'getReply') throw new Error(`the final read of '${key}' through ${via} failed: ${JSON.stringify(reply)}`);
    reads.set(key, reply.set);
    const view = cluster.node(via).view;
    primaries.set(key, new Map(view.primaries(view.partitionOf(key)).map((n) => [n, cluster.node(n).replica.readOwn(key)])));
  }
  const hintsLeft = cluster
    .running()
    .flatMap((node) =>
      [...node.replica.hints()].map(
        (h) =>
          `${node.id}${ring.members.some((m) => m.id === node.id) ? '' : ' (not a member)'} holds a hint for ${h.owner} of '${h.key}' (${h.set.length} versions${ring.members.some((m) => m.id === h.owner) ? '' : `; ${h.owner} is not a member`})`,
      ),
    );
  return { reads, primaries, hintsLeft };
}

/**
 * A client reads every key in full (R=N), writes back one value with the context (W=N), and
 * reads again, up to `rounds` times: exactly one version must then remain, whatever the key
 * went through. Returns the keys for which that failed, with why.
 */
export async function readModifyWriteAll(cluster: SimCluster, keys: Iterable<string>, rounds = 1): Promise<string[]> {
  const ring = cluster.ring();
  const client = cluster.client('final-writer');
  const failed: string[] = [];
  let i = 0;
  for (const key of keys) {
    const via = ring.members[i++ % ring.members.length]!.id;
    const ask = (m: Request) => cluster.scheduler.drive(client.request(via, m, 5000));
    let why = '';
    for (let round = 1; round <= rounds; round++) {
      const read = await ask({ type: 'get', key, r: ring.n, pr: 0 });
      if (read.type !== 'getReply') {
        why = `the read failed (${JSON.stringify(read)})`;
        break;
      }
      const put = await ask({
        type: 'put',
        key,
        value: Buffer.from('{"id":"merged"}'),
        deleted: false,
        context: contextOf(read.set),
        w: ring.n,
        pw: 0,
      });
      if (put.type !== 'putReply') {
        why = `the write over ${read.set.length} siblings failed (${put.type === 'error' ? `${put.code}: ${put.message}` : put.type})`;
        break;
      }
      const after = await ask({ type: 'get', key, r: ring.n, pr: 0 });
      why =
        after.type === 'getReply' && after.set.length === 1
          ? ''
          : `${after.type === 'getReply' ? after.set.length : 'no'} versions after writing over ${read.set.length} (round ${round})`;
      if (!why) break;
    }
    if (why) failed.push(`'${key}': ${why}`);
  }
  return failed;
}

class SimClient {
  #seq = 0;

  readonly name: string;
  readonly transport: Transport;
  readonly cluster: SimCluster;
  readonly history: History;
  readonly random: SeededRandom;
  readonly o: WorkloadParameters;
  constructor(
    name: string,
    transport: Transport,
    cluster: SimCluster,
    history: History,
    random: SeededRandom,
    o: WorkloadParameters,
  ) {
    this.name = name;
    this.transport = transport;
    this.cluster = cluster;
    this.history = history;
    this.random = random;
    this.o = o;
  }

  async run(keys: readonly string[]): Promise<void> {
    const { mix } = this.o;
    for (let i = 0; i < this.o.opsPerClient; i++) {
      const key = this.random.pick(keys);
      let roll = this.random.float();
      if ((roll -= mix.rmw) < 0) await this.readThenWrite(key, false);
      else if ((roll -= mix.blind) < 0) await this.write(key, null, null, false);
      else if ((roll -= mix.rmwDelete) < 0) await this.readThenWrite(key, true);
      else if ((roll -= mix.blindDelete) < 0) await this.write(key, null, null, true);
      else await this.read(key);
      await new Promise<void>((resolve) => this.cluster.scheduler.at(this.random.float() * this.o.thinkMs, resolve));
    }
  }

  async read(key: string): Promise<{ id: string; set: SiblingSet } | null> {
    const reply = await this.#send({ type: 'get', key, r: this.random.pick(this.o.r), pr: 0 });
    if (reply?.type !== 'getReply') return null;
    return this.history.read(key, reply.set);
  }

  async readThenWrite(key: string, deleted: boolean): Promise<void> {
    const read = await this.read(key);
    if (read) await this.write(key, read.id, contextOf(read.set), deleted);
  }

  async write(key: string, readId: string | null, context: VersionVector | null, deleted: boolean): Promise<void> {
    const id = `${this.name}-${this.#seq++}`;
    const record = this.history.attempt(id, key, deleted, readId, context);
    const value = Buffer.from(JSON.stringify({ id }));
    const reply = await this.#send({ type: 'put', key, value, deleted, context, w: this.random.pick(this.o.w), pw: 0 });
    if (reply?.type === 'putReply') {
      record.outcome = 'ok';
      record.dot = reply.dot;
    } else {
      record.outcome = 'failed';
    }
  }

  async #send(request: Request): Promise<Reply | null> {
    const to = this.random.pick(this.cluster.ids);
    try {
      return await this.transport.request(to, request, CLIENT_TIMEOUT_MS);
    } catch (e) {
      if (e instanceof StoreError) return null;
      throw e;
    }
  }
}
