// A whole cluster in one process: real StorageNodes over the simulated network, memory
// engines whose writes become durable after a simulated delay, one seeded generator.
import { createRing, type Member, type Ring } from '../../client/src/core/ring.ts';
import { DEFAULT_GOSSIP } from '../../storage/membership/gossip.ts';
import { DEFAULT_TRANSFER } from '../../storage/membership/transfers.ts';
import { RepairTicker } from '../../storage/repair/ticker.ts';
import { memoryCandidates } from '../../storage/repair/reclaim.ts';
import { MemoryDisk, MemoryEngine, type WriteFault } from '../../storage/engine/memory.ts';
import type { Mint } from '../../storage/coordinator.ts';
import type { SiblingSet } from '../../client/src/core/siblings.ts';
import { StorageNode, type NodeConfig } from '../../storage/node.ts';
import { silentLogger, type Logger, type Transport } from '../../client/src/runtime.ts';
import { MAX_ACTORS_PER_KEY, DEFAULT_MAX_SIBLINGS } from '../../client/src/core/limits.ts';
import { SimNetwork, type Faults, CALM } from './network.ts';
import { SeededRandom } from './random.ts';
import { Scheduler } from './scheduler.ts';

export interface SimOptions {
  readonly seed: number;
  readonly nodes: number;
  /** how many of the first nodes are seeds (default: all) */
  readonly seeds?: number;
  /** gossip rounds in simulated ms */
  readonly gossipIntervalMs?: number;
  readonly partitions?: number;
  readonly n?: number;
  readonly r?: number;
  readonly w?: number;
  readonly faults?: Faults;
  readonly requestTimeoutMs?: number;
  /** a read's wait for the R replicas it asked first before asking the rest (0: all at once) */
  readonly readHedgeMs?: number;
  /** hint store cap per node (0 keeps no hints) */
  readonly hintMaxBytes?: number;
  /** nodes deliver their own hints this often (0: only the repair ticker does) */
  readonly localHandoffEveryMs?: number;
  /** hints older than this are handed to the key's primaries by the expiry pass */
  readonly hintMaxAgeMs?: number;
  /** actors a key's history names at most (default MAX_ACTORS_PER_KEY) */
  readonly maxActors?: number;
  /** wall clocks up to this far apart (default five minutes) */
  readonly clockSkewMs?: number;
  /** the disks: longest delay before a transaction commits and before it is synced, in ms */
  readonly disk?: { readonly commitMaxMs: number; readonly syncMaxMs: number };
  /** how long a node keeps a key range it no longer replicates (default 2 s) */
  readonly dropGraceMs?: number;
}

/** Disk write failures, changed as the run goes: the probability that one transaction fails. */
export interface DiskFaults {
  rate: number;
}

interface Slot {
  node: StorageNode | null;
  starting?: boolean;
  /** a clean shutdown under way: a start waits for it, as a process manager would */
  stopping?: Promise<void>;
  engine: MemoryEngine;
}

export class SimCluster {
  readonly scheduler = new Scheduler();
  readonly random: SeededRandom;
  readonly network: SimNetwork;
  /** the ring the cluster was created with */
  readonly initialRing: Ring;
  readonly ids: string[];
  readonly #slots = new Map<string, Slot>();
  readonly #config: (id: string) => NodeConfig;
  readonly #members: Member[];
  readonly diskFaults: DiskFaults = { rate: 0 };
  /** transactions failed on engines no longer in use (crashed or replaced) */
  #failedBefore = 0;
  /** work counted by node processes no longer running */
  readonly #countsBefore: Record<string, number> = {};
  /** told of every version any node makes */
  onMint: ((node: string, mint: Mint) => void) | null = null;
  /** told of every key a node forgets by reclaiming it, with what it held */
  onReclaim: ((node: string, key: string, set: SiblingSet) => void) | null = null;

  readonly options: SimOptions;
  private constructor(options: SimOptions) {
    this.options = options;
    this.random = new SeededRandom(options.seed);
    this.network = new SimNetwork(this.scheduler, this.random.fork(1));
    this.network.faults = options.faults ?? CALM;
    const members: Member[] = Array.from({ length: options.nodes }, (_, i) => ({
      id: `n${i + 1}`,
      address: `sim:${i + 1}`,
      weight: 1,
    }));
    const n = options.n ?? 3;
    this.initialRing = createRing(members, options.partitions ?? 64, n);
    this.ids = members.map((m) => m.id);
    this.#members = members;
    const seeds = members.slice(0, options.seeds ?? members.length);
    this.#config = (id) => ({
      id,
      cluster: 'sim',
      r: options.r ?? 2,
      w: options.w ?? 2,
      maxSiblings: DEFAULT_MAX_SIBLINGS,
      maxActors: options.maxActors ?? MAX_ACTORS_PER_KEY,
      requestTimeoutMs: options.requestTimeoutMs ?? 200,
      readHedgeMs: options.readHedgeMs ?? 0,
      hints: { maxBytes: options.hintMaxBytes ?? 64 * 1024 * 1024, maxAgeMs: options.hintMaxAgeMs ?? 24 * 3600_000 },
      seeds: seeds.filter((m) => m.id !== id),
      gossip: { ...DEFAULT_GOSSIP, intervalMs: options.gossipIntervalMs ?? 1000 },
      transfer: { ...DEFAULT_TRANSFER, dropGraceMs: options.dropGraceMs ?? 2000 },
      localHandoffEveryMs: options.localHandoffEveryMs ?? 2000,
    });
  }

  static async create(options: SimOptions): Promise<SimCluster> {
    const c = new SimCluster(options);
    for (const id of c.ids) {
      c.#slots.set(id, { node: null, engine: c.#engine(id) });
      await c.scheduler.drive(c.start(id));
    }
    return c;
  }

  #skew(id: string): number {
    return this.random.fork(5000 + this.ids.indexOf(id)).float();
  }

  #engine(id: string, disk?: MemoryDisk): MemoryEngine {
    const r = this.random.fork(1000 + this.#slots.size + this.ids.indexOf(id));
    const timing = this.options.disk ?? { commitMaxMs: 0.2, syncMaxMs: 0.5 };
    return new MemoryEngine(disk, {
      schedule: (ms, fn) => void this.scheduler.at(ms, fn, id),
      now: () => this.scheduler.now,
      commitDelay: () => r.float() * timing.commitMaxMs,
      syncDelay: () => r.float() * timing.syncMaxMs,
      fault: (): WriteFault => (this.diskFaults.rate > 0 && r.chance(this.diskFaults.rate) ? (r.chance(0.5) ? 'commit' : 'sync') : 'none'),
    });
  }

  /** SIM_LOG=n1,n3 (or 'all') prints those nodes' logs with the simulated time; printing schedules nothing, so a run stays the same. */
  #logger(id: string): Logger {
    const wanted = process.env.SIM_LOG?.split(',') ?? [];
    if (!wanted.includes(id) && !wanted.includes('all')) return silentLogger;
    const line = (level: string) => (msg: string, fields?: Record<string, unknown>) =>
      process.stderr.write(
        `${this.scheduler.now.toFixed(1).padStart(9)} ms ${id} ${level} ${msg}${fields ? ' ' + JSON.stringify(fields) : ''}\n`,
      );
    return { info: line('info'), warn: line('warn'), error: line('error') };
  }

  /** Transactions the engines failed so far. */
  get diskErrors(): number {
    let n = this.#failedBefore;
    for (const s of this.#slots.values()) n += s.engine.failures.commit + s.engine.failures.sync;
    return n;
  }

  /** What every node process so far did on the paths the checker's claims cover. */
  nodeCounts(): Record<string, number> {
    const total = { ...this.#countsBefore };
    for (const node of this.running()) addCounts(total, countsOf(node));
    return total;
  }

  #gone(slot: Slot): void {
    if (slot.node) addCounts(this.#countsBefore, countsOf(slot.node));
    slot.node = null;
  }

  #replaceEngine(slot: Slot, engine: MemoryEngine): void {
    this.#failedBefore += slot.engine.failures.commit + slot.engine.failures.sync;
    slot.engine = engine;
  }

  node(id: string): StorageNode {
    const n = this.#slots.get(id)?.node;
    if (!n) throw new Error(`node ${id} is not running`);
    return n;
  }

  isRunning(id: string): boolean {
    return this.#slots.get(id)?.node != null;
  }

  running(): StorageNode[] {
    return [...this.#slots.values()].flatMap((s) => (s.node ? [s.node] : []));
  }

  /** Starts (or restarts) a node; the simulation must be running for this to complete. */
  async start(id: string): Promise<void> {
    const slot = this.#slots.get(id)!;
    if (slot.stopping) await slot.stopping;
    if (slot.node || slot.starting) return;
    this.#logger(id).info('sim: starting');
    slot.starting = true;
    const engine = slot.engine;
    // a start can fail (a disk write refused while the node opens): the process exits, and a
    // later start tries again on the same disk, as a process manager would
    const node = await StorageNode.open({
      config: this.#config(id),
      bootstrap: this.#members.some((m) => m.id === id) ? this.initialRing : null,
      engine,
      transport: this.network.transport(id),
      // wall clocks up to five minutes apart; the monotonic clock starts at 0 with each process,
      // as performance.now() does, so nothing read from it may be kept across a restart
      clock: this.scheduler.clock(id, (this.#skew(id) - 0.5) * (this.options.clockSkewMs ?? 600_000), -this.scheduler.now),
      random: this.random.fork(2000 + this.ids.indexOf(id) + this.scheduler.steps),
      logger: this.#logger(id),
      onMint: (mint) => this.onMint?.(id, mint),
      onReclaim: (key, set) => this.onReclaim?.(id, key, set),
    }).finally(() => (slot.starting = false));
    if (slot.engine !== engine) return; // the disk was replaced while it opened
    slot.node = node;
    this.network.attach(id, node.handle);
    node.start();
  }

  /** A new node process that knows only the seeds (it waits to be joined). */
  async add(id: string): Promise<void> {
    if (this.#slots.has(id)) throw new Error(`node ${id} exists`);
    this.ids.push(id);
    this.#slots.set(id, { node: null, engine: this.#engine(id) });
    await this.start(id);
  }

  /** The process dies: timers and pending requests vanish, writes not yet durable are lost. */
  crash(id: string): void {
    const slot = this.#slots.get(id)!;
    if (!slot.node) return;
    this.network.detach(id);
    this.scheduler.cancelOwned(id);
    this.#replaceEngine(slot, slot.engine.crash());
    this.#gone(slot);
    slot.stopping = undefined; // a shutdown cut short: nothing to wait for
  }

  /** A clean shutdown: requests in flight finish, writes are flushed, the clean mark is written. */
  async stop(id: string): Promise<void> {
    const slot = this.#slots.get(id)!;
    const node = slot.node;
    if (!node) return;
    if (slot.stopping) return slot.stopping;
    this.#logger(id).info('sim: stopping cleanly');
    slot.stopping = (async () => {
      await node.drain();
      if (slot.node !== node) return; // crashed meanwhile
      this.network.detach(id);
      // the process closes its engine, flushing every write it issued, and exits; the next
      // process opens the disk afresh
      const engine = slot.engine;
      await engine.close();
      this.scheduler.cancelOwned(id);
      if (slot.engine === engine) this.#replaceEngine(slot, engine.crash());
      this.#gone(slot);
      this.#logger(id).info('sim: stopped cleanly');
    })().finally(() => (slot.stopping = undefined));
    return slot.stopping;
  }

  /** A copy of a node's disk as it is now (take it while the node is stopped, as an operator would). */
  backup(id: string): MemoryDisk {
    return this.#slots.get(id)!.engine.durableCopy();
  }

  /** The node dies and its disk is replaced by a copy of an earlier backup. */
  restore(id: string, backup: MemoryDisk): void {
    this.crash(id);
    const slot = this.#slots.get(id)!;
    this.#replaceEngine(slot, this.#engine(id, backup.copy()));
  }

  /** The node's disk is lost too: it comes back empty, under a new epoch. */
  wipe(id: string): void {
    this.crash(id);
    const slot = this.#slots.get(id)!;
    this.#replaceEngine(slot, this.#engine(id));
  }

  /** The newest ring any running node holds. */
  ring(): Ring {
    let best: Ring | null = null;
    for (const n of this.running()) if (n.ring && (!best || n.ring.version > best.version)) best = n.ring;
    return best ?? this.initialRing;
  }

  /** A client endpoint on the network. */
  client(name: string): Transport {
    return this.network.transport(name);
  }

  /** Repair (handoff, anti-entropy, reclamation) driven by tick, from an endpoint of its own, as the workers would. */
  repairer(reclaimGraceMs = 60_000): RepairTicker {
    const transport = this.client('repair-worker');
    return new RepairTicker({
      transport,
      view: () => this.running()[0]!.view,
      timeoutMs: 2000,
      candidates: memoryCandidates(),
      now: () => this.scheduler.now,
      reclaimGraceMs,
    });
  }
}

/** One node process's counters of the paths that can lose or bring back a write. */
function countsOf(node: StorageNode): Record<string, number> {
  const repair = node.repair.counters;
  return {
    putsForwarded: node.coordinator.putsForwarded,
    readRepairs: node.coordinator.readRepairs,
    widenedReads: node.coordinator.widenedReads,
    historyPrunes: node.coordinator.historyPrunes,
    hintWrites: node.replica.hintWrites,
    hintsReplayed: repair.hintsReplayed,
    hintsExpired: repair.hintsExpired,
    keysRepaired: repair.keysRepaired,
    tombstonesReclaimed: repair.tombstonesReclaimed,
    historiesCompacted: repair.historiesCompacted,
    copiesPlaced: node.transfers.copiesPlaced,
    keysDropped: node.transfers.keysDropped,
    keysSentBeforeDrop: node.transfers.keysSentBeforeDrop,
    incarnationsMoved: node.identity.incarnationsMoved,
    epochsRenewed: node.identity.epochsRenewed,
    diskWritesRefused: node.replica.diskErrors,
    setsJudgedByLease: node.setsJudgedByLease,
    // no set of a simulated run is forged: each one refused here is a real set the bound was wrong for
    setsRefusedByLease: node.setsRefusedByLease,
  };
}

export function addCounts(into: Record<string, number>, add: Readonly<Record<string, number>>): void {
  for (const [k, v] of Object.entries(add)) into[k] = (into[k] ?? 0) + v;
}
