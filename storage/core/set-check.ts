// What a replica checks of a sibling set it receives from the wire, before it merges it in.
//
// Every set a node sends was made by applyWrite, merge and bound (siblings.ts), so it has
// their invariants: sorted by dot with no dot twice, no member superseding another, and at most
// `maxActors` actors named unless more actors made siblings. A set without them did not come
// from a replica: merging it would keep duplicates or versions that should be gone (merge()
// takes an empty side's set as it is), or let one message grow a key without bound. So the
// receiver refuses it whole and changes nothing.
//
// Counters are checked where the receiver can know them: the dots of its own actors (the
// current epoch's, every incarnation; identity.ts) are all at or below the highest counter it
// has handed out, so a set naming one above it, as a dot or in a past, is forged. Such a past
// would make the node's own next writes look already seen, and be dropped. Other nodes'
// actors are checked against the leases those nodes advertised (leases.ts): a counter above
// the last lease heard plus one block is forged; an actor no lease was heard for is not judged
// (docs/security.md, Advertised leases).
import { StoreError } from '../../client/src/core/errors.ts';
import { MAX_VALUE_BYTES } from '../../client/src/core/limits.ts';
import { actorCounters, supersedes, type SiblingSet } from '../../client/src/core/siblings.ts';
import { compareDots, formatDot, type ActorId } from '../../client/src/core/version-vector.ts';

export interface SetLimits {
  /** siblings a received set may have */
  readonly maxSiblings: number;
  /** actors a received set may name, unless more actors made its siblings */
  readonly maxActors: number;
}

/** What the receiver knows of its own actors' counters. */
export interface OwnCounters {
  /** true for an actor of this node's current epoch (any incarnation) */
  readonly owns: (actor: ActorId) => boolean;
  /** the highest counter this node has handed out */
  readonly counter: number;
}

/** The highest counter of another node's actor the receiver takes (HeardLeases.limit), or undefined when it knows none. */
export type CounterLimit = (actor: ActorId) => number | undefined;

/** Why a received set cannot have come from a replica, or null when it could have. */
export function setProblem(set: SiblingSet, limits: SetLimits, own?: OwnCounters, others?: CounterLimit): string | null {
  if (set.length > limits.maxSiblings) return `${set.length} siblings, more than the ${limits.maxSiblings} a replica accepts`;
  for (let i = 1; i < set.length; i++) {
    const order = compareDots(set[i - 1]!.dot, set[i]!.dot);
    if (order === 0) return `dot ${formatDot(set[i]!.dot)} appears twice`;
    if (order > 0) return `siblings are not sorted by dot (${formatDot(set[i - 1]!.dot)} before ${formatDot(set[i]!.dot)})`;
  }
  for (const a of set) {
    if (a.value.byteLength > MAX_VALUE_BYTES)
      return `version ${formatDot(a.dot)} has a ${a.value.byteLength}-byte value; the limit is ${MAX_VALUE_BYTES}`;
    for (const b of set) if (supersedes(a, b)) return `version ${formatDot(a.dot)} supersedes its sibling ${formatDot(b.dot)}`;
  }
  const counters = actorCounters(set);
  const siblingActors = new Set(set.map((v) => v.dot.actor)).size;
  if (counters.size > Math.max(limits.maxActors, siblingActors)) {
    return `the set names ${counters.size} actors; at most ${limits.maxActors} (or its siblings' ${siblingActors}) are kept`;
  }
  if (own) {
    for (const [actor, n] of counters) {
      if (own.owns(actor) && n > own.counter)
        return `names dot ${actor}:${n} of this node, which has handed out counters up to ${own.counter} only`;
    }
  }
  if (others) {
    for (const [actor, n] of counters) {
      if (own?.owns(actor)) continue;
      const limit = others(actor);
      if (limit !== undefined && n > limit)
        return `names dot ${actor}:${n}, above the counters its node has leased and advertised (up to ${limit}, one lease block included)`;
    }
  }
  return null;
}

/** Throws BAD_REQUEST, naming what is wrong, unless the set could have come from a replica. */
export function checkSet(set: SiblingSet, limits: SetLimits, own?: OwnCounters, others?: CounterLimit): void {
  const problem = setProblem(set, limits, own, others);
  if (problem !== null) throw new StoreError('BAD_REQUEST', `refused a sibling set: ${problem}`);
}
