// One simulated run: a cluster, clients, a nemesis and repair for a seed's parameters, then
// healing, repair until nothing moves, the checker, and a read-modify-write of every key. The
// same seed gives the same run, event for event.
import { createHash } from 'node:crypto';
import { SimCluster, addCounts } from './cluster.ts';
import { digestOf } from '../../storage/core/ring-merge.ts';
import { History, actorsOf, check, story, type FinalState, type Verdict } from './checker.ts';
import { draw, type Parameters } from './swarm.ts';
import {
  finalState,
  newExercised,
  readModifyWriteAll,
  recordGroundTruth,
  runWorkload,
  sample,
  settle,
  type Exercised,
} from './workload.ts';

export interface SimResult {
  readonly seed: number;
  readonly parameters: Parameters;
  readonly verdict: Verdict;
  readonly attempted: number;
  readonly failed: number;
  readonly repairRounds: number;
  readonly simulatedMs: number;
  readonly messages: number;
  readonly exercised: Exercised;
  /** digest of the run's observable history: equal for equal seeds */
  readonly trace: string;
  /** what the nemesis did, in order */
  readonly faults: readonly string[];
}

/** The simulated cluster a seed's drawn parameters describe: its size, network, disks and clocks. */
export function clusterFor(seed: number, p: Parameters): Promise<SimCluster> {
  return SimCluster.create({
    seed,
    nodes: p.nodes,
    partitions: p.partitions,
    faults: { drop: p.faults.network.drop, duplicate: p.faults.network.duplicate, minDelayMs: 1, maxDelayMs: p.faults.network.maxDelayMs },
    localHandoffEveryMs: p.faults.repairEveryMs ? 0 : 2000,
    hintMaxAgeMs: p.faults.hintMaxAgeMs,
    disk: p.faults.disk,
    clockSkewMs: p.faults.clockSkewMs,
    maxActors: p.maxActors,
    readHedgeMs: p.readHedgeMs,
  });
}

export async function simulate(seed: number, parameters: Parameters = draw(seed)): Promise<SimResult> {
  const p = parameters;
  const cluster = await clusterFor(seed, p);
  const history = new History();
  const exercised = newExercised();
  recordGroundTruth(cluster, history);
  const nemesis = await runWorkload(cluster, history, p, exercised);
  const simulatedMs = cluster.scheduler.now;
  const keys = Array.from({ length: p.workload.keys }, (_, i) => `k${i}`);
  let verdict: Verdict;
  let rounds = 0;
  let final: FinalState = { reads: new Map() };
  try {
    rounds = await settle(cluster, nemesis, p.faults.reclaimGraceMs, exercised);
    sample(cluster, keys, exercised);
    final = await finalState(cluster, keys);
    const compacting = p.faults.reclaimGraceMs <= 10_000;
    const atRest: string[] = [];
    for (const [key, set] of final.reads) {
      exercised.maxFinalActors = Math.max(exercised.maxFinalActors, actorsOf(set));
      // once repair has waited out a short grace, a quiet key names only its siblings' actors
      if (compacting && actorsOf(set) > new Set(set.map((v) => v.dot.actor)).size)
        atRest.push(`'${key}' still names ${actorsOf(set)} actors for ${set.length} siblings after compaction`);
    }
    cluster.onMint = null;
    const pruned = p.maxActors !== undefined;
    const unwritable = await readModifyWriteAll(cluster, keys, pruned ? 2 : 1);
    verdict = check(history, { ...final, unwritable }, { converge: p.converge, pruned });
    verdict = { ...verdict, violations: [...verdict.violations, ...atRest] };
    // SIM_STORY=k0 prints that key's whole history as the checker saw it
    if (process.env.SIM_STORY) process.stderr.write(story(history, final, process.env.SIM_STORY).join('\n') + '\n');
  } catch (e) {
    // a cluster that does not settle is a failure of the run, reported with what the nemesis did
    const v = check(history, { reads: new Map() });
    verdict = { ...v, violations: [`the cluster did not settle: ${(e as Error).message}`, ...describeCluster(cluster)] };
  }
  const { setsRefusedByLease = 0, ...counts } = cluster.nodeCounts();
  // no simulated set is forged: one refused for a counter above its node's advertised lease is a real write made unavailable
  if (setsRefusedByLease > 0)
    verdict = {
      ...verdict,
      violations: [...verdict.violations, `${setsRefusedByLease} real sets were refused for a counter above their node's advertised lease`],
    };
  addCounts(exercised.paths, counts);
  addCounts(exercised.paths, clientCounts(history));
  exercised.paths.diskTransactionsFailed = cluster.diskErrors;
  exercised.maxActors = Math.max(exercised.maxActors, verdict.maxActors);
  exercised.maxSiblings = Math.max(exercised.maxSiblings, verdict.maxSiblings);
  const trace = createHash('md5');
  for (const w of history.writes.values()) trace.update(`${w.id}:${w.outcome}:${w.dot ? `${w.dot.actor}:${w.dot.counter}` : ''};`);
  for (const [k, set] of final.reads) trace.update(`${k}=${set.map((v) => `${v.dot.actor}:${v.dot.counter}`).join(',')};`);
  return {
    seed,
    parameters: p,
    verdict,
    attempted: history.writes.size,
    failed: [...history.writes.values()].filter((w) => w.outcome !== 'ok').length,
    repairRounds: rounds,
    simulatedMs,
    messages: cluster.network.delivered,
    exercised,
    trace: trace.digest('hex'),
    faults: nemesis.log,
  };
}

/** What the clients did that the checker's claims turn on: writes over reads, deletes, reads that found siblings. */
function clientCounts(history: History): Record<string, number> {
  const writes = [...history.writes.values()];
  return {
    writesOverReads: writes.filter((w) => !w.deleted && w.readId !== null).length,
    blindWrites: writes.filter((w) => !w.deleted && w.readId === null).length,
    deletesOverReads: writes.filter((w) => w.deleted && w.readId !== null).length,
    blindDeletes: writes.filter((w) => w.deleted && w.readId === null).length,
    readsWithSiblings: [...history.reads.values()].filter((r) => r.set.length > 1).length,
  };
}

/** Each node's view of the ring, for a run that did not settle. */
function describeCluster(cluster: SimCluster): string[] {
  return cluster.ids.map((id) => {
    if (!cluster.isRunning(id)) return `${id}: down`;
    const ring = cluster.node(id).ring;
    if (!ring) return `${id}: no ring`;
    const left = ring.transfers.filter((t) => !t.done);
    return `${id}: ring version ${ring.version} (${digestOf(ring).hash.slice(0, 6)}), members ${ring.members.map((m) => m.id + (m.leaving ? `(${m.leaving})` : '')).join(',')}${ring.next ? `, changing, ${left.length} transfers left: ${left.slice(0, 4).map((t) => `p${t.partition}→${t.to} from ${t.from || 'all'}`).join(' ')}` : ''}`;
  });
}
