// Simulated clients and a nemesis. Clients read-then-write with the context they were given,
// write blind, and delete with and without a context, each through a random node (the node
// forwards puts to a coordinator). The nemesis crashes and restarts nodes, wipes a disk, starts
// a node on an older copy of its disk (a restored backup), cuts nodes off or splits the cluster
// in two, and makes the network lossy, doubling and slow.
import { StoreError } from '../../storage/core/errors.ts';
import { contextOf, merge, type SiblingSet } from '../../storage/core/siblings.ts';
import { equalDots, type VersionVector } from '../../storage/core/version-vector.ts';
import type { Reply, Request } from '../../storage/protocol/messages.ts';
import type { MemoryDisk } from '../../storage/engine/memory.ts';
import type { Transport } from '../../storage/runtime.ts';
import type { History } from './checker.ts';
import type { SimCluster } from './cluster.ts';
import type { SeededRandom } from './random.ts';

export interface WorkloadOptions {
  readonly clients: number;
  readonly opsPerClient: number;
  readonly keys: number;
  /** the nemesis acts every this many ms; 0 turns it off */
  readonly nemesisEveryMs: number;
  /** at most this many nodes down or cut off at once */
  readonly maxFaulty: number;
  /**
   * disks the nemesis may lose, by wiping one or by starting a node on an older copy of its disk
   * (a restored backup); writes then use W >= 2, so each acknowledged write outlives one loss
   */
  readonly diskLosses?: number;
  /** the nemesis may split the cluster in two and change the network's loss, doubling and delay */
  readonly splits?: boolean;
  /** the nemesis may stop a node cleanly, copy its disk, and later start it on that copy (one of the disk losses) */
  readonly restores?: boolean;
  /** the repair ticker replays hints this often during the run (0: never) */
  readonly repairEveryMs?: number;
}

const CLIENT_TIMEOUT_MS = 2000;

/** Runs the clients and the nemesis until every client is done; returns what the nemesis did, with the simulated time of each act. */
export async function runWorkload(cluster: SimCluster, history: History, options: WorkloadOptions): Promise<string[]> {
  const random = cluster.random.fork(77);
  let finished = 0;
  for (let c = 0; c < options.clients; c++) {
    const client = new SimClient(`client${c}`, cluster.client(`client${c}`), cluster, history, random.fork(c));
    client.wipes = (options.diskLosses ?? 0) > 0;
    void client.run(options).finally(() => finished++);
  }
  const nemesis = options.nemesisEveryMs > 0 ? new Nemesis(cluster, random.fork(999), options) : null;
  const act = () => {
    if (finished === options.clients) return;
    nemesis?.act();
    cluster.scheduler.at(options.nemesisEveryMs, act);
  };
  if (nemesis) cluster.scheduler.at(options.nemesisEveryMs, act);
  if (options.repairEveryMs) {
    const repair = cluster.repairer();
    const replay = () => {
      if (finished === options.clients) return;
      void repair.replayAll().finally(() => cluster.scheduler.at(options.repairEveryMs!, replay));
    };
    cluster.scheduler.at(options.repairEveryMs, replay);
  }
  await cluster.scheduler.runUntil(() => finished === options.clients, 3_600_000, 'workload completion');
  return nemesis?.log ?? [];
}

/**
 * After healing: hints replayed and anti-entropy swept until nothing moves (bounded), as the
 * repair workers would do on their schedules.
 */
export async function converge(cluster: SimCluster, rounds = 6): Promise<{ rounds: number; keysSent: number }> {
  const repair = cluster.repairer();
  let keysSent = 0;
  for (let i = 1; i <= rounds; i++) {
    await cluster.scheduler.drive(repair.replayAll());
    const sweep = await cluster.scheduler.drive(repair.sweep());
    keysSent += sweep.keysSent;
    if (sweep.keysSent === 0 && cluster.running().every((n) => n.replica.hintCount === 0)) return { rounds: i, keysSent };
  }
  return { rounds, keysSent };
}

/** Heals everything, restarts every node and lets in-flight work finish. */
export async function healAndQuiesce(cluster: SimCluster, settleMs = 5000): Promise<void> {
  cluster.network.healAll();
  cluster.network.faults = { drop: 0, duplicate: 0, minDelayMs: 1, maxDelayMs: 3 };
  for (const id of cluster.ids) await cluster.scheduler.drive(cluster.start(id));
  await cluster.scheduler.run(cluster.scheduler.now + settleMs);
}

/** Each key's state merged across every node (own data and hints), and each replica's own. */
export function finalStates(cluster: SimCluster, keys: Iterable<string>): {
  finals: Map<string, SiblingSet>;
  replicas: Map<string, Map<string, SiblingSet>>;
} {
  const finals = new Map<string, SiblingSet>();
  const replicas = new Map<string, Map<string, SiblingSet>>();
  for (const key of keys) {
    let all: SiblingSet = [];
    const perNode = new Map<string, SiblingSet>();
    for (const node of cluster.running()) {
      const set = node.replica.read(key);
      all = merge(all, set);
      if (node.view.isPrimary(node.id, node.view.partitionOf(key))) perNode.set(node.id, node.replica.readOwn(key));
    }
    finals.set(key, all);
    replicas.set(key, perNode);
  }
  return { finals, replicas };
}

class SimClient {
  #seq = 0;
  wipes = false;

  constructor(
    readonly name: string,
    readonly transport: Transport,
    readonly cluster: SimCluster,
    readonly history: History,
    readonly random: SeededRandom,
  ) {}

  async run(options: WorkloadOptions): Promise<void> {
    for (let i = 0; i < options.opsPerClient; i++) {
      const key = `k${this.random.int(options.keys)}`;
      const roll = this.random.float();
      if (roll < 0.55) await this.readThenWrite(key, false);
      else if (roll < 0.7) await this.write(key, null, false);
      else if (roll < 0.8) await this.readThenWrite(key, true);
      else if (roll < 0.85) await this.write(key, null, true);
      else await this.read(key);
      // think time between operations
      await new Promise<void>((resolve) => this.cluster.scheduler.at(this.random.float() * 20, resolve));
    }
  }

  async read(key: string): Promise<SiblingSet | null> {
    const reply = await this.#send({ type: 'get', key, r: this.random.pick([0, 0, 1]), pr: 0 });
    if (reply?.type !== 'getReply') return null;
    this.history.read(key, reply.set);
    return reply.set;
  }

  async readThenWrite(key: string, deleted: boolean): Promise<void> {
    const set = await this.read(key);
    if (set) await this.write(key, contextOf(set), deleted);
  }

  async write(key: string, context: VersionVector | null, deleted: boolean): Promise<void> {
    const id = `${this.name}-${this.#seq++}`;
    const record = this.history.attempt(id, key, deleted, context);
    const value = deleted ? new Uint8Array(0) : Buffer.from(JSON.stringify({ id }));
    // with disks that may be wiped, a write acknowledged by one replica could be lost with it
    const w = this.random.pick(this.wipes ? [0, 0, 3] : [0, 0, 1, 3]);
    const reply = await this.#send({ type: 'put', key, value, deleted, context, w, pw: 0 });
    if (reply?.type === 'putReply') {
      record.outcome = 'ok';
      record.dot = reply.dot;
      record.past = this.#pastOf(key, reply.dot) ?? context ?? undefined;
    } else {
      record.outcome = 'failed';
    }
  }

  /** Looks up, with the simulator's omniscience, the context the new version was written over. */
  #pastOf(key: string, dot: { actor: string; counter: number }): VersionVector | undefined {
    for (const node of this.cluster.running()) {
      const v = node.replica.read(key).find((s) => equalDots(s.dot, dot));
      if (v) return v.past;
    }
    return undefined;
  }

  async #send(request: Request): Promise<Reply | null> {
    const candidates = this.cluster.ids;
    const to = this.random.pick(candidates);
    try {
      return await this.transport.request(to, request, CLIENT_TIMEOUT_MS);
    } catch (e) {
      if (e instanceof StoreError) return null;
      throw e;
    }
  }
}

class Nemesis {
  readonly #down = new Set<string>();
  readonly #cutOff = new Set<string>();
  #split = false;
  #lossesLeft: number;
  readonly #wiped: string[] = [];
  /** a node being stopped cleanly for its backup */
  #stopping: string | null = null;
  #backup: { readonly id: string; readonly disk: MemoryDisk } | null = null;
  readonly log: string[] = [];

  constructor(
    readonly cluster: SimCluster,
    readonly random: SeededRandom,
    readonly options: WorkloadOptions,
  ) {
    this.#lossesLeft = options.diskLosses ?? 0;
  }

  #note(what: string): void {
    this.log.push(`${this.cluster.scheduler.now.toFixed(0).padStart(6)} ms  ${what}`);
  }

  act(): void {
    const faulty = this.#down.size + this.#cutOff.size;
    const healthy = this.cluster.ids.filter((i) => !this.#down.has(i) && !this.#cutOff.has(i));
    const roll = this.random.float();
    const c = this.cluster;
    if (roll < 0.25 && faulty < this.options.maxFaulty) {
      const id = this.random.pick(healthy);
      c.crash(id);
      this.#down.add(id);
      this.#note(`crash ${id}`);
    } else if (roll < 0.32 && faulty < this.options.maxFaulty && this.#lossesLeft > 0 && !this.#wiped.some((id) => this.#down.has(id))) {
      const id = this.random.pick(healthy);
      c.wipe(id);
      this.#wiped.push(id);
      this.#down.add(id);
      this.#lossesLeft--;
      this.#note(`wipe ${id}`);
    } else if (roll < 0.36 && faulty < this.options.maxFaulty && this.options.restores && this.#lossesLeft > 0 && !this.#backup && !this.#stopping) {
      const id = this.random.pick(healthy);
      this.#down.add(id);
      this.#stopping = id;
      this.#note(`stop ${id} cleanly and copy its disk`);
      void c.stop(id).then(() => {
        this.#backup = { id, disk: c.backup(id) };
        this.#stopping = null;
      });
    } else if (roll < 0.36 && faulty < this.options.maxFaulty && this.#lossesLeft > 0 && this.#backup && healthy.includes(this.#backup.id)) {
      const { id, disk } = this.#backup;
      c.restore(id, disk);
      this.#down.add(id);
      this.#backup = null;
      this.#lossesLeft--;
      this.#note(`restore ${id} from its backup`);
    } else if (roll < 0.42 && faulty < this.options.maxFaulty) {
      const id = this.random.pick(healthy);
      c.network.partition([id], c.ids.filter((i) => i !== id));
      this.#cutOff.add(id);
      this.#note(`isolate ${id}`);
    } else if (roll < 0.5 && this.options.splits && !this.#split && this.#cutOff.size === 0) {
      const shuffled = [...c.ids].sort(() => this.random.float() - 0.5);
      const cut = 1 + this.random.int(Math.floor(c.ids.length / 2));
      c.network.partition(shuffled.slice(0, cut), shuffled.slice(cut));
      this.#split = true;
      this.#note(`split ${shuffled.slice(0, cut).join(',')} | ${shuffled.slice(cut).join(',')}`);
    } else if (roll < 0.58 && this.options.splits) {
      c.network.faults = {
        drop: this.random.float() * 0.05,
        duplicate: this.random.float() * 0.03,
        minDelayMs: 1,
        maxDelayMs: 2 + this.random.float() * 40,
      };
      this.#note(`network ${JSON.stringify(c.network.faults)}`);
    } else if (roll < 0.8 && [...this.#down].some((i) => i !== this.#stopping)) {
      const id = this.random.pick([...this.#down].filter((i) => i !== this.#stopping));
      this.#down.delete(id);
      void c.start(id);
      this.#note(`restart ${id}`);
    } else if (this.#cutOff.size > 0 || this.#split) {
      c.network.healAll();
      this.#cutOff.clear();
      this.#split = false;
      this.#note('heal');
    }
  }
}
