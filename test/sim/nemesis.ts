// The nemesis: faults drawn from the seed's parameters (swarm.ts), one act at a time. It crashes
// and restarts nodes, isolates one or splits the cluster, cuts one off from gossip alone (it
// still serves requests on the ring it has), makes the network lossy, doubling and slow, loses at most one disk (wiped, rolled back to a backup, or its node removed or
// replaced), makes disk transactions fail for a while, and changes the ring: joins, leaves,
// removes and replaces, also while the claimant is cut off (and then asks the claimant for a
// change of its own, as an operator on its side of the cut would).
import { claimantOf } from '../../storage/core/ring-change.ts';
import type { ChangeKind, Reply } from '../../client/src/protocol/messages.ts';
import type { MemoryDisk } from '../../storage/engine/memory.ts';
import type { SimCluster } from './cluster.ts';
import type { SeededRandom } from './random.ts';
import type { FaultParameters } from './swarm.ts';

/** How often the nemesis did each thing, for the run's summary. */
export interface NemesisCounts {
  crashes: number;
  restarts: number;
  wipes: number;
  restores: number;
  isolations: number;
  splits: number;
  /** a node cut off from gossip alone */
  gossipCuts: number;
  networkChanges: number;
  /** periods in which disk transactions failed */
  diskFaultPeriods: number;
  ringChangesAsked: number;
  /** changes that planned (the claimant took them) */
  ringChangesPlanned: number;
  /** ring versions two changes were planned at (a claimant cut off and another member deciding) */
  ringForks: number;
}

export class Nemesis {
  readonly #down = new Set<string>();
  readonly #cutOff = new Set<string>();
  #split = false;
  #diskLost = false;
  /** a node being stopped cleanly for its backup */
  #stopping: string | null = null;
  #backup: { readonly id: string; readonly disk: MemoryDisk } | null = null;
  /** nodes removed from the ring or replaced: never restarted */
  readonly #gone = new Set<string>();
  /** the ring change under way, if any */
  #changing: Promise<void> | null = null;
  #nextId: number;
  readonly log: string[] = [];
  readonly counts: NemesisCounts = {
    crashes: 0,
    restarts: 0,
    wipes: 0,
    restores: 0,
    isolations: 0,
    splits: 0,
    gossipCuts: 0,
    networkChanges: 0,
    diskFaultPeriods: 0,
    ringChangesAsked: 0,
    ringChangesPlanned: 0,
    ringForks: 0,
  };
  readonly #plannedAt = new Set<number>();

  readonly cluster: SimCluster;
  readonly random: SeededRandom;
  readonly f: FaultParameters;
  constructor(
    cluster: SimCluster,
    random: SeededRandom,
    f: FaultParameters,
  ) {
    this.cluster = cluster;
    this.random = random;
    this.f = f;
    this.#nextId = cluster.ids.length + 1;
  }

  #note(what: string): void {
    this.log.push(`${this.cluster.scheduler.now.toFixed(0).padStart(6)} ms  ${what}`);
  }

  /** Members of the current ring that are running and not cut off. */
  #healthy(): string[] {
    const ring = this.cluster.ring();
    return ring.members
      .map((m) => m.id)
      .filter((id) => this.cluster.isRunning(id) && !this.#down.has(id) && !this.#cutOff.has(id) && id !== this.#stopping);
  }

  get #faulty(): number {
    return this.#down.size + this.#cutOff.size;
  }

  act(): void {
    const c = this.cluster;
    const f = this.f;
    const healthy = this.#healthy();
    const canFault = this.#faulty < f.maxFaulty && healthy.length > 0;
    const roll = this.random.float();
    if (roll < 0.2 && f.crashes && canFault) {
      const id = this.random.pick(healthy);
      c.crash(id);
      this.#down.add(id);
      this.counts.crashes++;
      this.#note(`crash ${id}`);
    } else if (roll < 0.26 && canFault && !this.#diskLost && (f.diskLoss === 'wipe' || f.diskLoss === 'any')) {
      const id = this.random.pick(healthy);
      c.wipe(id);
      this.#down.add(id);
      this.#diskLost = true;
      this.counts.wipes++;
      this.#note(`wipe ${id}`);
    } else if (
      roll < 0.3 &&
      canFault &&
      !this.#diskLost &&
      (f.diskLoss === 'restore' || f.diskLoss === 'any') &&
      !this.#backup &&
      !this.#stopping
    ) {
      const id = this.random.pick(healthy);
      this.#down.add(id);
      this.#stopping = id;
      this.#note(`stop ${id} cleanly and copy its disk`);
      void c.stop(id).then(() => {
        this.#backup = { id, disk: c.backup(id) };
        this.#stopping = null;
      });
    } else if (roll < 0.3 && canFault && !this.#diskLost && this.#backup && healthy.includes(this.#backup.id)) {
      const { id, disk } = this.#backup;
      c.restore(id, disk);
      this.#down.add(id);
      this.#backup = null;
      this.#diskLost = true;
      this.counts.restores++;
      this.#note(`restore ${id} from its backup`);
    } else if (roll < 0.36 && f.isolation && canFault) {
      const id = this.random.pick(healthy);
      this.#cutOff.add(id);
      if (f.ringChanges && this.random.chance(0.4)) {
        // it keeps coordinating on the ring it has while the others change theirs
        c.network.deafen(id);
        this.counts.gossipCuts++;
        this.#note(`cut ${id} off from gossip`);
      } else {
        c.network.partition(
          [id],
          c.ids.filter((i) => i !== id),
        );
        this.counts.isolations++;
        this.#note(`isolate ${id}`);
      }
    } else if (roll < 0.41 && f.splits && !this.#split && this.#cutOff.size === 0) {
      const shuffled = [...c.ids].sort(() => this.random.float() - 0.5);
      const cut = 1 + this.random.int(Math.floor(c.ids.length / 2));
      c.network.partition(shuffled.slice(0, cut), shuffled.slice(cut));
      this.#split = true;
      this.counts.splits++;
      this.#note(`split ${shuffled.slice(0, cut).join(',')} | ${shuffled.slice(cut).join(',')}`);
    } else if (roll < 0.47 && f.networkChanges) {
      c.network.faults = {
        drop: this.random.float() * 0.05,
        duplicate: this.random.float() * 0.03,
        minDelayMs: 1,
        maxDelayMs: 2 + this.random.float() * 40,
      };
      this.counts.networkChanges++;
      this.#note(`network ${JSON.stringify(c.network.faults)}`);
    } else if (roll < 0.53 && f.diskErrorRate > 0) {
      c.diskFaults.rate = c.diskFaults.rate > 0 ? 0 : f.diskErrorRate;
      if (c.diskFaults.rate > 0) this.counts.diskFaultPeriods++;
      this.#note(
        c.diskFaults.rate > 0 ? `disk writes fail (${(f.diskErrorRate * 100).toFixed(1)}% of transactions)` : 'disk writes succeed again',
      );
    } else if (roll < 0.61 && f.ringChanges && !this.#changing) {
      this.#ringChange();
    } else if (roll < 0.82 && this.#restartable().length > 0) {
      const id = this.random.pick(this.#restartable());
      this.#down.delete(id);
      this.counts.restarts++;
      this.#note(`restart ${id}`);
      void c.start(id).catch((e: unknown) => {
        this.#down.add(id);
        this.#note(`${id} failed to start: ${(e as Error).message}`);
      });
    } else if (this.#cutOff.size > 0 || this.#split) {
      c.network.healAll();
      this.#cutOff.clear();
      this.#split = false;
      this.#note('heal');
    }
  }

  /** Resolves once the ring change the nemesis started, if any, has been asked for and answered. */
  async finished(): Promise<void> {
    await this.#changing;
  }

  #restartable(): string[] {
    return [...this.#down].filter((id) => id !== this.#stopping && !this.#gone.has(id));
  }

  /** Nodes removed or replaced: they stay down. */
  get gone(): ReadonlySet<string> {
    return this.#gone;
  }

  #ringChange(): void {
    const c = this.cluster;
    const ring = c.ring();
    if (ring.next) return;
    const staying = ring.members.filter((m) => !m.leaving).map((m) => m.id);
    const healthy = this.#healthy();
    const claimant = claimantOf(ring);
    const kinds: ChangeKind[] = ['join'];
    if (staying.length > 4) kinds.push('leave');
    if (!this.#diskLost && staying.length > 4) kinds.push('remove');
    if (!this.#diskLost) kinds.push('replace');
    const kind = this.random.pick(kinds);
    const newId = () => {
      let id: string;
      do id = `n${this.#nextId++}`;
      while (c.ids.includes(id));
      return id;
    };
    // sometimes the claimant is cut off first: the next member decides a remove or replace of it,
    // and the claimant, asked by an operator on its side, decides a join of its own
    const isolateClaimant = (kind === 'remove' || kind === 'replace') && this.random.chance(0.3) && this.#cutOff.size === 0 && !this.#split;
    const target = kind === 'join' ? newId() : isolateClaimant ? claimant : this.random.pick(staying);
    const vias = healthy.filter((h) => h !== target);
    if (vias.length === 0) return;
    const via = this.random.pick(vias);
    if (kind === 'remove' || kind === 'replace') this.#diskLost = true;
    const by = kind === 'replace' ? newId() : '';
    const ask = async (at: string, k: ChangeKind, node: string, replacement = ''): Promise<Reply | null> => {
      this.counts.ringChangesAsked++;
      // each operator request has its own endpoint: a new endpoint of one name ends the old one's requests
      const reply = await c
        .client(`operator-${this.counts.ringChangesAsked}`)
        .request(
          at,
          {
            type: 'change',
            kind: k,
            node,
            address: `sim:${(replacement || node).slice(1)}`,
            weight: 1,
            by: replacement,
            expectedVersion: 0,
          },
          5000,
        )
        .catch(() => null);
      if (reply?.type === 'changeReply') {
        this.counts.ringChangesPlanned++;
        if (this.#plannedAt.has(reply.version)) this.counts.ringForks++;
        this.#plannedAt.add(reply.version);
      }
      this.#note(
        `${k} ${node}${replacement ? ` by ${replacement}` : ''} via ${at}: ${reply?.type === 'changeReply' ? `planned at ring version ${reply.version}` : reply?.type === 'error' ? reply.message : 'no answer'}`,
      );
      return reply;
    };
    this.#changing = (async () => {
      try {
        if (isolateClaimant) {
          c.network.partition([claimant], c.ids.filter((i) => i !== claimant));
          this.#cutOff.add(claimant);
          this.#note(`isolate the claimant ${claimant}`);
          await new Promise<void>((r) => c.scheduler.at(6000, r)); // long enough for the others to suspect it
        }
        if (kind === 'join') await c.add(target);
        // a node crashed and then removed or replaced is a disk lost for good: only in seeds whose
        // writes all waited for two replicas (swarm.ts draws W=1 only without disk loss)
        const loseDisk = this.f.diskLoss !== 'none';
        if (kind === 'replace') {
          if (!isolateClaimant && c.isRunning(target) && loseDisk) {
            c.crash(target);
            this.#down.add(target);
            this.#note(`crash ${target} (to be replaced)`);
          }
          await c.add(by);
        }
        if (kind === 'remove' && !isolateClaimant && this.random.chance(0.5) && c.isRunning(target) && loseDisk) {
          c.crash(target);
          this.#down.add(target);
          this.#note(`crash ${target} (to be removed)`);
        }
        const asked = ask(via, kind, target, by);
        if (isolateClaimant) {
          // an operator on the claimant's side of the cut asks it for a change of its own
          const joiner = newId();
          await c.add(joiner);
          await ask(claimant, 'join', joiner);
        }
        const planned = (await asked)?.type === 'changeReply';
        // a node removed or replaced is never started again; one whose removal was refused may be
        if (planned && (kind === 'remove' || kind === 'replace')) this.#gone.add(target);
        if (!planned && (kind === 'remove' || kind === 'replace')) this.#diskLost = false;
      } finally {
        this.#changing = null;
      }
    })().catch((e: unknown) => this.#note(`${kind} of ${target} could not go on: ${(e as Error).message}`));
  }
}
