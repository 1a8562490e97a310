// Preference lists: who holds a key, and who stands in when a holder is unreachable.
//
// Two faces, as riak_core_apl has: pure functions of (ring, reachable nodes) that tests call,
// and RingView, which indexes one ring so the request path pays for a lookup, not a walk.
import { partitionOfPosition, ringPosition, type Place } from './hash.ts';
import { segmentOfPosition } from './merkle.ts';
import { walkOwners, type NodeId, type Ring } from './ring.ts';

export interface Target {
  readonly node: NodeId;
  /** true when the node is one of the key's N primaries */
  readonly primary: boolean;
  /** for a fallback: the unreachable primary whose replica it holds as a hint */
  readonly hintFor?: NodeId;
  /** a replica the key range is moving to during a change: it gets the write, its ack does not count */
  readonly pending?: boolean;
}

/**
 * Sloppy quorum: the N primaries that are up, and for each one that is down the next
 * reachable fallback clockwise, annotated with the primary it stands in for.
 */
export function sloppyTargets(walk: readonly NodeId[], n: number, isUp: (node: NodeId) => boolean): Target[] {
  const primaries = walk.slice(0, n);
  const fallbacks = walk.slice(n).filter(isUp);
  const targets: Target[] = [];
  let next = 0;
  for (const p of primaries) {
    if (isUp(p)) targets.push({ node: p, primary: true });
    else if (next < fallbacks.length) targets.push({ node: fallbacks[next++]!, primary: false, hintFor: p });
  }
  return targets;
}

/** Keys whose places a RingView keeps. */
const PLACES_KEPT = 4096;

/** Indexes one ring: the partition of a key and each partition's walk order, computed once. */
export class RingView {
  readonly #walks: (readonly NodeId[] | undefined)[];
  readonly #primaries: (readonly NodeId[] | undefined)[];
  readonly #nextWalks: (readonly NodeId[] | undefined)[];
  /** each partition's targets while all its primaries are up and no change is under way */
  readonly #upTargets: (readonly Target[] | undefined)[];
  readonly #places = new Map<string, Place>();

  readonly n: number;

  readonly ring: Ring;
  constructor(ring: Ring) {
    this.ring = ring;
    this.n = ring.n;
    this.#walks = new Array(ring.partitions);
    this.#primaries = new Array(ring.partitions);
    this.#nextWalks = new Array(ring.partitions);
    this.#upTargets = new Array(ring.partitions);
  }

  partitionOf(key: string): number {
    return this.place(key).partition;
  }

  /**
   * The key's partition and Merkle segment, from one hash. A request asks for a key's place
   * several times (the coordinator, the replica's read and write, the replicas' checks), so
   * the places of recent keys are kept; the cache is emptied when it fills.
   */
  place(key: string): Place {
    let place = this.#places.get(key);
    if (place === undefined) {
      const position = ringPosition(key);
      place = {
        partition: partitionOfPosition(position, this.ring.partitions),
        segment: segmentOfPosition(position, this.ring.partitions),
      };
      if (this.#places.size >= PLACES_KEPT) this.#places.clear();
      this.#places.set(key, place);
    }
    return place;
  }

  /** All members owning partitions, clockwise from the partition: the first n are its primaries. */
  walk(partition: number): readonly NodeId[] {
    return (this.#walks[partition] ??= walkOwners(this.ring.owners, partition, this.ring.members.length));
  }

  /** The first n distinct owners clockwise (found without walking the whole ring). */
  primaries(partition: number): readonly NodeId[] {
    return (this.#primaries[partition] ??= walkOwners(this.ring.owners, partition, this.n));
  }

  isPrimary(node: NodeId, partition: number): boolean {
    return this.primaries(partition).includes(node);
  }

  /** During a change: the replicas the key range will have once it commits. */
  nextPrimaries(partition: number): readonly NodeId[] {
    const next = this.ring.next;
    if (!next) return this.primaries(partition);
    return (this.#nextWalks[partition] ??= walkOwners(next, partition, this.n));
  }

  /** Replicas the key range is moving to, not yet among its primaries. */
  pending(partition: number): NodeId[] {
    if (!this.ring.next) return [];
    const now = this.primaries(partition);
    return this.nextPrimaries(partition).filter((x) => !now.includes(x));
  }

  /** Whether a node holds (or is receiving) the key range as a replica. */
  replicates(node: NodeId, partition: number): boolean {
    return this.isPrimary(node, partition) || this.pending(partition).includes(node);
  }

  /** Sloppy targets for the partition, plus any replica it is moving to (marked pending). */
  targets(partition: number, isUp: (node: NodeId) => boolean): readonly Target[] {
    const primaries = this.primaries(partition);
    const allUp = primaries.every(isUp);
    // the common case, kept: every primary up, nothing moving
    if (allUp && !this.ring.next) return (this.#upTargets[partition] ??= primaries.map((node) => ({ node, primary: true })));
    // the whole walk is only needed when a primary is down
    const targets = allUp ? primaries.map((node) => ({ node, primary: true })) : sloppyTargets(this.walk(partition), this.n, isUp);
    for (const node of this.pending(partition)) targets.push({ node, primary: false, pending: true });
    return targets;
  }

  /** The key ranges for which a node holds a primary replica. */
  partitionsReplicatedBy(node: NodeId): number[] {
    const out: number[] = [];
    for (let p = 0; p < this.ring.partitions; p++) if (this.isPrimary(node, p)) out.push(p);
    return out;
  }
}
