// Who this node is on disk, and the counter its dots are drawn from.
//
// The meta store records the node id, the cluster it belongs to and the node's epoch. A new
// data directory gets a new epoch, and so does a start after a crash (no clean-shutdown mark),
// so a node whose disk was wiped comes back as a new actor and can never hand out a dot it
// handed out before. A directory restored from a backup is the same danger: the node finds
// out at start, when a peer has heard a generation of it at least as high as the directory's
// from another run (restoredFrom), and `newEpoch` forces a new actor by hand.
//
// Counters are leased: the lease is written before any dot under it is used, and writes
// become durable in issue order, so after a crash the node resumes above every dot that was
// ever durable, and nothing leaves the node before it is durable.
//
// Fallback actor: a node coordinating a key as a fallback (all primaries unreachable) signs
// with `<actor>.h<generation>`. Its dots live in its hint store, which forgets them once the
// hints are handed back; the generation moves on whenever hints are deleted, so an actor
// never coordinates a key without holding every dot it made for that key.
import { Reader, Writer } from './protocol/codec.ts';
import type { Store } from './engine/engine.ts';
import { randomId, type Random } from './runtime.ts';
import type { ActorId } from './core/version-vector.ts';

const LEASE_BLOCK = 100_000;
const NODE_KEY = ['node'];
const LEASE_KEY = ['lease'];
const HINT_GENERATION_KEY = ['hint-generation'];
const GENERATION_KEY = ['generation'];
const CLEAN_KEY = ['clean-shutdown'];

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
  #counter: number;
  #leased: number;
  #hintGeneration: number;

  private constructor(meta: Store, id: NodeIdentity, counter: number, hintGeneration: number, generation: number, random: Random) {
    this.#meta = meta;
    this.#id = id;
    this.#random = random;
    this.#generation = generation;
    this.life = randomId(random, 8);
    this.#counter = counter;
    this.#leased = counter;
    this.#hintGeneration = hintGeneration;
    this.#extend();
  }

  /** Reads (or, for a new directory, creates) the identity; refuses another node's or cluster's directory. */
  static async open(meta: Store, nodeId: string, cluster: string, random: Random, newEpoch = false): Promise<Identity> {
    const stored = meta.get(NODE_KEY);
    let id: NodeIdentity;
    if (stored) {
      id = JSON.parse(Buffer.from(stored).toString('utf8')) as NodeIdentity;
      if (id.nodeId !== nodeId || id.cluster !== cluster) {
        throw new IdentityError(
          `data directory belongs to node '${id.nodeId}' of cluster '${id.cluster}', not node '${nodeId}' of cluster '${cluster}'`,
        );
      }
    }
    // after a crash, writes this node sent on may never have reached its own disk: it goes on
    // as a new actor rather than make dots that would claim to follow them
    const unclean = stored !== undefined && meta.get(CLEAN_KEY) === undefined;
    if (!stored || newEpoch || unclean) {
      id = { nodeId, cluster, epoch: randomId(random, 8) };
      await meta.put(NODE_KEY, Buffer.from(JSON.stringify(id)));
    }
    const counter = readNumber(meta.get(LEASE_KEY));
    const hintGeneration = readNumber(meta.get(HINT_GENERATION_KEY));
    const generation = readNumber(meta.get(GENERATION_KEY)) + 1;
    await meta.put(GENERATION_KEY, writeNumber(generation));
    await meta.remove(CLEAN_KEY);
    return new Identity(meta, id!, counter, hintGeneration, generation, random);
  }

  /** Records a clean shutdown (everything flushed): the next start keeps this actor. */
  async markClean(): Promise<void> {
    await this.#meta.put(CLEAN_KEY, Buffer.from([1]));
  }

  /**
   * Becomes a new actor. Called before the node forgets data it replicated (a key range it
   * handed off), so that should it ever coordinate those keys again it does so as an actor
   * that never made a dot for them.
   */
  async renewEpoch(): Promise<void> {
    this.#id = { ...this.#id, epoch: randomId(this.#random, 8) };
    await this.#meta.put(NODE_KEY, Buffer.from(JSON.stringify(this.#id)));
  }

  get generation(): number {
    return this.#generation;
  }

  /**
   * The directory is older than the node (a restored backup): peers heard `heard` from an
   * earlier run. Goes on as a new actor, so no dot of the lost runs is handed out again, with
   * a generation above the one heard, so peers take this run's heartbeats as the newest.
   * False when this run is already past `heard`.
   */
  async restoredFrom(heard: number): Promise<boolean> {
    if (heard < this.#generation) return false;
    this.#generation = heard + 1;
    await Promise.all([this.renewEpoch(), this.#meta.put(GENERATION_KEY, writeNumber(this.#generation))]);
    return true;
  }

  get nodeId(): string {
    return this.#id.nodeId;
  }

  get epoch(): string {
    return this.#id.epoch;
  }

  get actor(): ActorId {
    return `${this.#id.nodeId}@${this.#id.epoch}`;
  }

  get fallbackActor(): ActorId {
    return `${this.actor}.h${this.#hintGeneration}`;
  }

  /** The highest counter handed out so far. */
  get counter(): number {
    return this.#counter;
  }

  /** The next dot counter. Its lease write is issued before the caller's own writes. */
  next(): number {
    this.#counter++;
    if (this.#counter > this.#leased - LEASE_BLOCK / 2) this.#extend();
    return this.#counter;
  }

  /** Called in the same turn as any hint deletion (see the header). */
  nextHintGeneration(): void {
    this.#hintGeneration++;
    void this.#meta.put(HINT_GENERATION_KEY, writeNumber(this.#hintGeneration));
  }

  #extend(): void {
    this.#leased = this.#counter + LEASE_BLOCK;
    void this.#meta.put(LEASE_KEY, writeNumber(this.#leased));
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
