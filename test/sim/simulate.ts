// One simulated run: a cluster, clients and a nemesis for a seed, then healing, repair until
// convergence, and the checker. The same seed gives the same run, event for event.
import { createHash } from 'node:crypto';
import { SimCluster } from './cluster.ts';
import { History, check, type Verdict } from './checker.ts';
import { converge, finalStates, healAndQuiesce, runWorkload, type WorkloadOptions } from './workload.ts';
import type { Faults } from './network.ts';

export interface Profile {
  readonly nodes: number;
  readonly faults: Faults;
  readonly workload: WorkloadOptions;
  /** require every replica of every key to hold the same set after repair */
  readonly converge: boolean;
}

export const PROFILES = {
  /** the storage core's oracle: crashes, restarts, isolation, a lossy network */
  oracle: {
    nodes: 5,
    faults: { drop: 0.01, duplicate: 0.01, minDelayMs: 1, maxDelayMs: 8 },
    workload: { clients: 4, opsPerClient: 40, keys: 6, nemesisEveryMs: 150, maxFaulty: 2 },
    converge: false,
  },
  /** everything: also wiped disks, a node started on a backup of its disk, split clusters, a network that changes, repair during and after */
  faults: {
    nodes: 5,
    faults: { drop: 0.02, duplicate: 0.02, minDelayMs: 1, maxDelayMs: 15 },
    workload: { clients: 5, opsPerClient: 40, keys: 8, nemesisEveryMs: 120, maxFaulty: 2, diskLosses: 1, restores: true, splits: true, repairEveryMs: 2000 },
    converge: true,
  },
} satisfies Record<string, Profile>;

export interface SimResult {
  readonly seed: number;
  readonly verdict: Verdict;
  readonly attempted: number;
  readonly failed: number;
  readonly repairRounds: number;
  readonly simulatedMs: number;
  readonly messages: number;
  /** digest of the run's observable history: equal for equal seeds */
  readonly trace: string;
  /** what the nemesis did, in order */
  readonly faults: readonly string[];
}

export async function simulate(seed: number, profile: Profile): Promise<SimResult> {
  const cluster = await SimCluster.create({ seed, nodes: profile.nodes, faults: profile.faults, localHandoffEveryMs: profile.workload.repairEveryMs ? 0 : 2000 });
  const history = new History();
  const faults = await runWorkload(cluster, history, profile.workload);
  const simulatedMs = cluster.scheduler.now;
  await healAndQuiesce(cluster);
  const repaired = profile.converge ? await converge(cluster) : { rounds: 0 };
  const keys = new Set([...history.writes.values()].map((w) => w.key));
  const { finals, replicas } = finalStates(cluster, keys);
  const verdict = check(history, finals, replicas, profile.converge);
  const trace = createHash('md5');
  for (const w of history.writes.values()) trace.update(`${w.id}:${w.outcome}:${w.dot ? `${w.dot.actor}:${w.dot.counter}` : ''};`);
  for (const [k, set] of finals) trace.update(`${k}=${set.map((v) => `${v.dot.actor}:${v.dot.counter}`).join(',')};`);
  return {
    seed,
    verdict,
    attempted: history.writes.size,
    failed: [...history.writes.values()].filter((w) => w.outcome !== 'ok').length,
    repairRounds: repaired.rounds,
    simulatedMs,
    messages: cluster.network.delivered,
    trace: trace.digest('hex'),
    faults,
  };
}
