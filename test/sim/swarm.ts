// Swarm testing: every seed draws its own cluster, workload and fault mix, so the same compute
// covers far more combinations than one fixed profile (Groce et al., "Swarm Testing"; the way
// FoundationDB's simulator and TigerBeetle's VOPR choose their faults). Each fault kind is on or
// off for a seed, and its rate is drawn when it is on. A replay prints what was drawn.
import { SeededRandom } from './random.ts';

export interface Parameters {
  readonly nodes: number;
  readonly partitions: number;
  readonly workload: WorkloadParameters;
  readonly faults: FaultParameters;
  /** require every primary of every key to hold the same set after repair, and no hint left */
  readonly converge: boolean;
  /**
   * actors a key's history names at most (client/src/core/siblings.ts bound); the default when
   * absent. Below the default, pruning happens, versions may come back as siblings (counted, not
   * failed) and a read-modify-write may take two rounds to leave one version.
   */
  readonly maxActors?: number;
  /** how long a read waits for the R replicas it asked first before asking the rest (0: all N at once) */
  readonly readHedgeMs: number;
}

export interface WorkloadParameters {
  readonly clients: number;
  readonly opsPerClient: number;
  readonly keys: number;
  /** shares of each operation: read-modify-write, blind write, read-modify-delete, blind delete, read */
  readonly mix: {
    readonly rmw: number;
    readonly blind: number;
    readonly rmwDelete: number;
    readonly blindDelete: number;
    readonly read: number;
  };
  /** write and read quorums to pick from (0: the cluster default) */
  readonly w: readonly number[];
  readonly r: readonly number[];
  /** pause between one client's operations, up to this many ms */
  readonly thinkMs: number;
}

export interface FaultParameters {
  /** the nemesis acts this often (0: never) */
  readonly everyMs: number;
  /** at most this many nodes down or cut off at once */
  readonly maxFaulty: number;
  readonly network: { readonly drop: number; readonly duplicate: number; readonly maxDelayMs: number };
  /** the nemesis may change the network's loss, doubling and delay as it goes */
  readonly networkChanges: boolean;
  readonly crashes: boolean;
  readonly isolation: boolean;
  readonly splits: boolean;
  /** at most one disk is lost per run: wiped, rolled back to a backup, or its node removed or replaced */
  readonly diskLoss: 'none' | 'wipe' | 'restore' | 'any';
  /** the probability that one disk transaction fails, when failures are on (the nemesis turns them on and off) */
  readonly diskErrorRate: number;
  readonly disk: { readonly commitMaxMs: number; readonly syncMaxMs: number };
  /** ring changes: joins, leaves, removes and replaces, and changes while the claimant is cut off */
  readonly ringChanges: boolean;
  /** hints older than this are expired (handed on); long when the path is off */
  readonly hintMaxAgeMs: number;
  /** tombstones and history of keys quiet this long are reclaimed */
  readonly reclaimGraceMs: number;
  /** repair (hint replay, anti-entropy, expiry, reclaim) runs this often during the run (0: only after) */
  readonly repairEveryMs: number;
  /** wall clocks up to this far apart */
  readonly clockSkewMs: number;
}

/** Draws a seed's parameters. */
export function draw(seed: number): Parameters {
  const r = new SeededRandom(seed).fork(31337);
  const on = (p = 0.5) => r.chance(p);
  const between = (lo: number, hi: number) => lo + r.float() * (hi - lo);
  const int = (lo: number, hi: number) => lo + r.int(hi - lo + 1);

  const nodes = int(4, 6);
  const longHistory = on(0.25);
  const keys = longHistory ? int(1, 2) : int(2, 12);
  const clients = int(2, 5);
  const opsPerClient = longHistory ? int(150, 300) : int(20, 60);
  const weights = [r.float() * 3 + 0.5, r.float() * 1.5, r.float(), r.float() * 0.5, r.float()];
  const total = weights.reduce((a, b) => a + b, 0);
  const [rmw, blind, rmwDelete, blindDelete, read] = weights.map((x) => x / total) as [number, number, number, number, number];
  const diskLoss = r.pick(['none', 'wipe', 'restore', 'any', 'any'] as const);
  const ringChanges = on(0.5);
  const faults: FaultParameters = {
    everyMs: r.pick([60, 120, 250, 500]),
    maxFaulty: int(1, 2),
    network: on(0.7)
      ? { drop: r.float() * 0.05, duplicate: r.float() * 0.03, maxDelayMs: between(2, 20) }
      : { drop: 0, duplicate: 0, maxDelayMs: between(1, 4) },
    networkChanges: on(),
    crashes: on(0.7),
    isolation: on(),
    splits: on(0.4),
    diskLoss,
    diskErrorRate: on(0.4) ? between(0.01, 0.2) : 0,
    disk: { commitMaxMs: r.pick([0.1, 1, 3]), syncMaxMs: r.pick([0.5, 5, 20, 60]) },
    ringChanges,
    hintMaxAgeMs: on(0.4) ? between(300, 3000) : 24 * 3600_000,
    // longer than the nodes' drop grace (2 s), as docs/repair.md requires
    reclaimGraceMs: on(0.6) ? between(2500, 6000) : 3600_000,
    repairEveryMs: r.pick([0, 1000, 2000, 4000]),
    clockSkewMs: on() ? between(0, 600_000) : 0,
  };
  // with a disk that may be lost, a write acknowledged by one replica could be lost with it
  const w = diskLoss === 'none' ? r.pick([[0], [0, 1], [0, 1, 3], [2, 3]]) : r.pick([[0], [2], [2, 3]]);
  return {
    nodes,
    partitions: r.pick([16, 64]),
    workload: {
      clients,
      opsPerClient,
      keys,
      mix: { rmw, blind, rmwDelete, blindDelete, read },
      w,
      r: r.pick([[0], [0, 1], [1, 2, 3]]),
      thinkMs: r.pick([5, 20, 50]),
    },
    faults,
    converge: true,
    // drawn last, so the draws before it are those of earlier runs of the same seed
    readHedgeMs: r.pick([0, 5, 30]),
  };
}

/** The fixed profiles, beside the swarm: a seed's parameters with a known shape. */
export const PROFILES = {
  /** the swarm with keys' histories bounded to 6 actors, so that pruning happens */
  tight: (seed: number): Parameters => ({ ...draw(seed), maxActors: 6 }),
  /** the storage core's oracle: crashes, restarts, isolation, a lossy network, no repair during the run */
  oracle: (): Parameters => ({
    nodes: 5,
    partitions: 64,
    workload: {
      clients: 4,
      opsPerClient: 40,
      keys: 6,
      mix: { rmw: 0.55, blind: 0.15, rmwDelete: 0.1, blindDelete: 0.05, read: 0.15 },
      w: [0, 0, 1, 3],
      r: [0, 0, 1],
      thinkMs: 20,
    },
    faults: {
      ...CALM_FAULTS,
      everyMs: 150,
      maxFaulty: 2,
      network: { drop: 0.01, duplicate: 0.01, maxDelayMs: 8 },
      crashes: true,
      isolation: true,
    },
    converge: true,
    readHedgeMs: 5,
  }),
  /** one key, many writers, thousands of operations: bounded history and siblings */
  long: (): Parameters => ({
    nodes: 5,
    partitions: 16,
    workload: {
      clients: 4,
      opsPerClient: 600,
      keys: 2,
      mix: { rmw: 0.6, blind: 0.15, rmwDelete: 0.05, blindDelete: 0.05, read: 0.15 },
      w: [0, 2, 3],
      r: [0, 2, 3],
      thinkMs: 10,
    },
    faults: {
      ...CALM_FAULTS,
      everyMs: 200,
      maxFaulty: 1,
      crashes: true,
      isolation: true,
      diskErrorRate: 0.05,
      network: { drop: 0.01, duplicate: 0.01, maxDelayMs: 5 },
      disk: { commitMaxMs: 1, syncMaxMs: 20 },
      repairEveryMs: 2000,
      reclaimGraceMs: 1000,
    },
    converge: true,
    readHedgeMs: 20,
  }),
} satisfies Record<string, (seed: number) => Parameters>;

export const CALM_FAULTS: FaultParameters = {
  everyMs: 0,
  maxFaulty: 0,
  network: { drop: 0, duplicate: 0, maxDelayMs: 3 },
  networkChanges: false,
  crashes: false,
  isolation: false,
  splits: false,
  diskLoss: 'none',
  diskErrorRate: 0,
  disk: { commitMaxMs: 0.2, syncMaxMs: 0.5 },
  ringChanges: false,
  hintMaxAgeMs: 24 * 3600_000,
  reclaimGraceMs: 3600_000,
  repairEveryMs: 0,
  clockSkewMs: 0,
};

/** One line per group of parameters, for a replay. */
export function describe(p: Parameters): string[] {
  const f = p.faults;
  const w = p.workload;
  const pct = (x: number) => `${(x * 100).toFixed(1)}%`;
  const on = Object.entries({
    crashes: f.crashes,
    isolation: f.isolation,
    splits: f.splits,
    'network changes': f.networkChanges,
    'ring changes': f.ringChanges,
  })
    .filter(([, v]) => v)
    .map(([k]) => k);
  return [
    `cluster: ${p.nodes} nodes, Q=${p.partitions}, N=3${p.maxActors ? `, histories bounded to ${p.maxActors} actors` : ''}; reads ${p.readHedgeMs ? `ask R replicas, the rest after ${p.readHedgeMs} ms` : 'ask all N'}`,
    `workload: ${w.clients} clients × ${w.opsPerClient} ops on ${w.keys} keys; mix rmw ${pct(w.mix.rmw)}, blind ${pct(w.mix.blind)}, rmw-delete ${pct(w.mix.rmwDelete)}, blind delete ${pct(w.mix.blindDelete)}, read ${pct(w.mix.read)}; W from [${w.w}], R from [${w.r}]`,
    `nemesis: every ${f.everyMs} ms, at most ${f.maxFaulty} faulty; ${on.join(', ') || 'no node faults'}; disk loss: ${f.diskLoss}; disk errors: ${f.diskErrorRate ? pct(f.diskErrorRate) + ' of transactions when on' : 'off'}`,
    `network: drop ${pct(f.network.drop)}, duplicate ${pct(f.network.duplicate)}, delay up to ${f.network.maxDelayMs.toFixed(1)} ms`,
    `disks: commit within ${f.disk.commitMaxMs} ms, sync within ${f.disk.syncMaxMs} ms; clocks up to ${(f.clockSkewMs / 1000).toFixed(0)} s apart`,
    `repair: every ${f.repairEveryMs || '(after the run only)'} ms; hint age cap ${f.hintMaxAgeMs.toFixed(0)} ms; reclaim grace ${f.reclaimGraceMs.toFixed(0)} ms`,
  ];
}
