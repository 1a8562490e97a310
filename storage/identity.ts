// Who this node is on disk, the actors it writes as, and the counter its dots are drawn from.
//
// Actors are per key range, as Riak's are per vnode: the node writes the keys of partition p
// as `<node>@<epoch>` and, once it has had to forget data of that range, as
// `<node>@<epoch>.<incarnation>`. A node makes a dot for a key only while it holds every dot it
// made before for that key (or what superseded them); whatever breaks that moves an actor on:
//   - the epoch, for the whole node, when the data directory is new, when it turns out to be a
//     restored backup (peers heard a later run of it), or by hand (`--new-epoch`);
//   - the incarnation of one key range, when the node forgets data of that range: it drops the
//     range after a ring change moved it, it hands back hints holding dots it made as a
//     fallback and does not hold itself, or it finds a corrupt record there.
// Nothing else does: a crash does not, because a coordinator sends a new version on only
// after it is on its own disk (coordinator.ts), so no dot of a crashed node exists anywhere
// its disk does not have it; a failed disk write does not, for the same reason.
//
// Counters are per node, never per key, and leased: a lease is on disk before any counter
// under it is handed out, so after a crash the node resumes above every dot it ever made. A
// lease write that fails is tried again; counters past the last durable lease are refused.
import { StoreError } from '../client/src/core/errors.ts';
import { LEASE_BLOCK } from './core/leases.ts';
import { Reader, Writer } from '../client/src/protocol/codec.ts';
import type { Store } from './engine/engine.ts';
import { randomId, type Random } from '../client/src/runtime.ts';
import type { ActorId } from '../client/src/core/version-vector.ts';

const NODE_KEY = ['node'];
const LEASE_KEY = ['lease'];
const GENERATION_KEY = ['generation'];
/** the lives of the runs started on this data directory, newest last */
const RUNS_KEY = ['runs'];
/** the life of the last run that stopped cleanly */
const STOPPED_KEY = ['stopped'];
const KNOWN_RUNS = 64;
/** meta keys [INCARNATION, partition]: how many times the node forgot data of that key range */
const INCARNATION = 'incarnation';
/** meta keys [MINTED, partition]: the incarnation under which the node last made a dot in that key range */
const MINTED = 'minted';

export interface NodeIdentity {
  readonly nodeId: string;
  readonly cluster: string;
  readonly epoch: string;
}

export class IdentityError extends Error {
  override readonly name = 'IdentityError';
}

export class Identity {
  readonly #meta: Store;
  #id: NodeIdentity;
  readonly #random: Random;
  /** how many times this data directory has been opened: heartbeats carry it, so a restart is never mistaken for an old beat */
  #generation: number;
  /** random per open: tells this run's heartbeats from another run's */
  readonly life: string;
  #runs: string[];
  /** whether the run before this one stopped cleanly (true for a new directory) */
  readonly previousRunStoppedCleanly: boolean;
  #counter: number;
  /** the highest counter a durable lease covers */
  #durableLease: number;
  /** the lease write on its way, if any */
  #extending: Promise<void> | null = null;
  readonly #incarnations = new Map<number, number>();
  /** key ranges where the current actor made a dot, and the write recording it */
  readonly #minted = new Map<number, Promise<void>>();
  /** the key ranges of #minted whose record is on disk */
  readonly #mintedDurable = new Set<number>();
  /** since open: new epochs taken, and key ranges whose actor moved on */
  epochsRenewed = 0;
  incarnationsMoved = 0;

  private constructor(meta: Store, id: NodeIdentity, counter: number, generation: number, random: Random) {
    this.#meta = meta;
    this.#id = id;
    this.#random = random;
    this.#generation = generation;
    this.life = randomId(random, 8);
    const runs = meta.get(RUNS_KEY);
    const before = runs ? (JSON.parse(Buffer.from(runs).toString('utf8')) as string[]) : [];
    const stopped = meta.get(STOPPED_KEY);
    this.previousRunStoppedCleanly =
      before.length === 0 || (stopped !== undefined && Buffer.from(stopped).toString('utf8') === before.at(-1));
    this.#runs = [...before, this.life].slice(-KNOWN_RUNS);
    this.#counter = counter;
    this.#durableLease = counter;
    for (const e of meta.range({ start: [INCARNATION], end: [`${INCARNATION}\u0000`] }))
      this.#incarnations.set(Number(e.key[1]), readNumber(e.value));
    for (const e of meta.range({ start: [MINTED], end: [`${MINTED}\u0000`] })) {
      const p = Number(e.key[1]);
      if (readNumber(e.value) === (this.#incarnations.get(p) ?? 0) && new TextDecoder().decode(e.value.subarray(8)) === id.epoch) {
        this.#minted.set(p, Promise.resolve());
        this.#mintedDurable.add(p);
      }
    }
  }

  /** Reads (or, for a new directory, creates) the identity; refuses another node's or cluster's directory. */
  static async open(meta: Store, nodeId: string, cluster: string, random: Random, newEpoch = false): Promise<Identity> {
    const stored = meta.get(NODE_KEY);
    let id: NodeIdentity | undefined;
    if (stored) {
      id = JSON.parse(Buffer.from(stored).toString('utf8')) as NodeIdentity;
      if (id.nodeId !== nodeId || id.cluster !== cluster) {
        throw new IdentityError(
          `data directory belongs to node '${id.nodeId}' of cluster '${id.cluster}', not node '${nodeId}' of cluster '${cluster}'`,
        );
      }
    }
    if (!id || newEpoch) {
      id = { nodeId, cluster, epoch: randomId(random, 8) };
      await meta.put(NODE_KEY, Buffer.from(JSON.stringify(id)));
    }
    const counter = readNumber(meta.get(LEASE_KEY));
    const generation = readNumber(meta.get(GENERATION_KEY)) + 1;
    await meta.put(GENERATION_KEY, writeNumber(generation));
    const identity = new Identity(meta, id, counter, generation, random);
    await meta.put(RUNS_KEY, Buffer.from(JSON.stringify(identity.#runs)));
    await identity.#extend();
    return identity;
  }

  /**
   * Becomes a new actor for every key range: the data directory is older than the node, or a
   * start could not rule that out. Peers that hold dots of the old actors keep them.
   */
  async renewEpoch(): Promise<void> {
    this.#id = { ...this.#id, epoch: randomId(this.#random, 8) };
    this.#minted.clear();
    this.#mintedDurable.clear();
    this.epochsRenewed++;
    await this.#meta.put(NODE_KEY, Buffer.from(JSON.stringify(this.#id)));
  }

  /**
   * Moves the actor of one key range on: called, and waited for, before the node forgets data
   * of that range, so that it never again makes a dot there under an actor whose earlier dots
   * it may no longer hold.
   */
  async newIncarnation(partition: number): Promise<void> {
    const n = (this.#incarnations.get(partition) ?? 0) + 1;
    this.#incarnations.set(partition, n);
    this.#minted.delete(partition);
    this.#mintedDurable.delete(partition);
    this.incarnationsMoved++;
    await this.#meta.put([INCARNATION, partition], writeNumber(n));
  }

  /**
   * Records, once per actor, that the actor is about to make a dot in a key range; resolves
   * once that is on disk. Whether it ever did tells whether forgetting versions of the range
   * (handing hints back) can leave it claiming dots it no longer holds.
   */
  minting(partition: number): Promise<void> {
    let recorded = this.#minted.get(partition);
    if (!recorded) {
      const w = new Writer(24);
      w.u64(this.#incarnations.get(partition) ?? 0);
      w.bytes(Buffer.from(this.#id.epoch));
      recorded = this.#meta.put([MINTED, partition], w.result());
      this.#minted.set(partition, recorded);
      const mine = recorded;
      mine.then(
        () => {
          if (this.#minted.get(partition) === mine) this.#mintedDurable.add(partition);
        },
        () => {
          if (this.#minted.get(partition) === mine) this.#minted.delete(partition);
        },
      );
    }
    return recorded;
  }

  /** Whether the current actor of a key range may have made a dot there. */
  hasMinted(partition: number): boolean {
    return this.#minted.has(partition);
  }

  /** Records that this run stopped cleanly: called last, once every write of the run is issued. */
  stoppedCleanly(): Promise<void> {
    return this.#meta.put(STOPPED_KEY, Buffer.from(this.life));
  }

  get generation(): number {
    return this.#generation;
  }

  /**
   * A peer heard a run of this node that this data directory does not know: the directory is
   * older than the node (a restored backup). Goes on as a new actor, so no dot of the lost runs
   * is handed out again, with a generation above the one heard, so peers take this run's
   * heartbeats as the newest. False when the run is known (started here, or already taken into
   * account). Runs are told apart by their random life, not their generation: a restored copy
   * started more often than the lost runs can be ahead of them in generation.
   */
  async restoredFrom(heard: { readonly generation: number; readonly life: string }): Promise<boolean> {
    if (this.knowsRun(heard.life)) return false;
    this.#generation = Math.max(this.#generation, heard.generation + 1);
    this.#runs = [...this.#runs, heard.life].slice(-KNOWN_RUNS);
    await Promise.all([
      this.renewEpoch(),
      this.#meta.put(GENERATION_KEY, writeNumber(this.#generation)),
      this.#meta.put(RUNS_KEY, Buffer.from(JSON.stringify(this.#runs))),
    ]);
    return true;
  }

  /**
   * Whether a run (by its life) was started on this data directory, or is one this node already
   * took a new epoch for. A peer that heard a run of this node that the directory does not know
   * heard a run started on another copy of it: a later one, when this copy is a restored backup.
   */
  knowsRun(life: string): boolean {
    return life === this.life || this.#runs.includes(life);
  }

  get nodeId(): string {
    return this.#id.nodeId;
  }

  get epoch(): string {
    return this.#id.epoch;
  }

  /** The actor this node writes the keys of a key range as. */
  actorFor(partition: number): ActorId {
    const n = this.#incarnations.get(partition) ?? 0;
    return n === 0 ? `${this.#id.nodeId}@${this.#id.epoch}` : `${this.#id.nodeId}@${this.#id.epoch}.${n}`;
  }

  /** The node's actor for key ranges it never had to forget (for status reports). */
  get actor(): ActorId {
    return `${this.#id.nodeId}@${this.#id.epoch}`;
  }

  /** Whether an actor is this node's under its current epoch, in any key range's incarnation. */
  owns(actor: ActorId): boolean {
    const base = this.actor;
    return actor === base || (actor.startsWith(`${base}.`) && /^\d+$/.test(actor.slice(base.length + 1)));
  }

  /** The highest counter a durable lease covers: what this node's heartbeat advertises (core/leases.ts). */
  get lease(): number {
    return this.#durableLease;
  }

  /** The highest counter handed out so far. */
  get counter(): number {
    return this.#counter;
  }

  /**
   * The next dot counter. Half-way through a lease the next one is written; a counter a durable
   * lease does not cover is refused (only possible while lease writes keep failing).
   */
  next(): number {
    if (this.#counter + 1 > this.#durableLease) {
      void this.#extend();
      throw new StoreError('DISK_ERROR', 'this node cannot lease dot counters: its disk writes are failing');
    }
    this.#counter++;
    if (this.#counter > this.#durableLease - LEASE_BLOCK / 2) void this.#extend();
    return this.#counter;
  }

  /**
   * Whether a dot may be made in the key range at once: a durable lease covers the next counter
   * and the record that the range's actor mints is on disk, so leased() and minting() would
   * both resolve without writing anything. A coordinator skips waiting on them then.
   */
  mayMint(partition: number): boolean {
    return this.#counter < this.#durableLease && this.#mintedDurable.has(partition);
  }

  /**
   * Resolves once a durable lease covers the next counter, writing one when needed; rejects
   * when the disk refuses it. A coordinator waits for this before it makes a dot.
   */
  async leased(): Promise<void> {
    if (this.#counter < this.#durableLease) return;
    await this.#extend();
    if (this.#counter >= this.#durableLease)
      throw new StoreError('DISK_ERROR', 'this node cannot lease dot counters: its disk writes are failing');
  }

  /** Writes the next lease; a failed write leaves the durable lease where it was, to be tried again. */
  #extend(): Promise<void> {
    this.#extending ??= (async () => {
      const lease = this.#counter + LEASE_BLOCK;
      try {
        await this.#meta.put(LEASE_KEY, writeNumber(lease));
        this.#durableLease = Math.max(this.#durableLease, lease);
      } catch {
        // the next counter that needs it asks again
      } finally {
        this.#extending = null;
      }
    })();
    return this.#extending;
  }
}

function readNumber(b: Uint8Array | undefined): number {
  return b ? new Reader(Buffer.from(b)).u64() : 0;
}

function writeNumber(n: number): Buffer {
  const w = new Writer(8);
  w.u64(n);
  return w.result();
}
