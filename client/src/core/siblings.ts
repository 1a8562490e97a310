// Sibling sets: a key's stored state.
//
// Each version carries the dot that created it and the context (`past`) it was written
// over: a dotted version vector. A key holds a set of versions none of which supersedes
// another, where a supersedes b when a was written over b's dot and over everything b was
// written over. (With untrimmed contexts the second half follows from the first; asking for
// it is what keeps a trimmed context from forgetting what b had overwritten.)
//
// Two operations change a set, and both keep only maximal versions, so applying them again
// changes nothing and an overwritten version can never come back:
//   applyWrite: a new version replaces exactly the siblings its context covers;
//   merge:      the union of two replicas' sets, minus what either side has superseded.
// Tombstones are versions with `deleted`: a delete is a write and follows the same rules.
//
// A key's history is bounded (bound()): past the limit, the entries of actors that made none
// of the siblings are dropped from every version's past at once, in one deterministic order, so
// a read-modify-write still covers whole histories and converges. Dropping entries only ever
// makes a version cover less, so it can never lose a write; the cost is that an overwritten
// version whose actor was dropped can come back as a sibling, which the next read-modify-write
// removes. With stable actors (docs/design.md) a key's history stays far below the limit, and
// reclamation compacts quiet keys, so this is a last resort.
import {
  coversDot,
  equalDots,
  equalVV,
  compareDots,
  join,
  leq,
  meet,
  withDot,
  EMPTY_VV,
  type ActorId,
  type Dot,
  type VersionVector,
} from './version-vector.ts';
import { MAX_ACTORS_PER_KEY } from './limits.ts';

export interface Version {
  readonly dot: Dot;
  /** the context the write was made over */
  readonly past: VersionVector;
  readonly deleted: boolean;
  /** coordinator's wall clock in ms, for display only: it never decides anything */
  readonly writtenAt: number;
  readonly value: Uint8Array;
  /**
   * for a value written with a TTL: when it expires, in ms since 1970 by its coordinator's wall
   * clock. Part of the version, the same on every replica (core/expiry.ts); absent otherwise.
   */
  readonly expiresAt?: number;
}

/** Sorted by dot, no version covering another. */
export type SiblingSet = readonly Version[];

export const EMPTY_SET: SiblingSet = [];

/**
 * As a vector, v's history claims every dot of v's actor up to v's counter. That is true of
 * a whole replica state, because the coordinator that made v held every earlier dot of its
 * own for the key and sent its whole resulting set on; so contexts are built with it. Whether
 * one version supersedes another is decided by supersedes() instead.
 */
export function history(v: Version): VersionVector {
  return withDot(v.past, v.dot);
}

/** True when a context has seen all of v: v's dot and everything v was written over. */
export function contextCovers(context: VersionVector, v: Version): boolean {
  return coversDot(context, v.dot) && leq(v.past, context);
}

/**
 * a supersedes b: b is a different version that a's writer had seen, together with all b
 * had seen. a's own dot is a single event, not a range: a blind write (A,5) does not cover
 * an earlier blind write (A,3), so both stay siblings.
 */
export function supersedes(a: Version, b: Version): boolean {
  return !equalDots(a.dot, b.dot) && coversDot(a.past, b.dot) && leq(b.past, a.past);
}

/** A new version written over its `past`: the siblings that context covers are replaced. */
export function applyWrite(set: SiblingSet, version: Version): SiblingSet {
  const kept = set.filter((s) => !contextCovers(version.past, s) && !equalDots(s.dot, version.dot));
  kept.push(version);
  return kept.sort(byDot);
}

/**
 * The maximal versions of both sets: what a replica holds after receiving another's state.
 * Two copies of one version (one dot) keep the past both agree on: a version's past only ever
 * loses entries (bound(), compaction), so the smaller one is the newer. They keep the delete
 * too: a version only ever goes from live to deleted (an expired one, core/expiry.ts), so a
 * live copy can never bring back one that expired.
 */
export function merge(a: SiblingSet, b: SiblingSet, maxActors = MAX_ACTORS_PER_KEY): SiblingSet {
  if (b.length === 0 || a === b) return a;
  if (a.length === 0) return b;
  // the same versions on both sides (replicas that agree): a as it is, as the general case would give
  if (sameSet(a, b)) return a;
  const all: Version[] = [...a];
  for (const v of b) {
    const i = all.findIndex((x) => equalDots(x.dot, v.dot));
    if (i < 0) all.push(v);
    else all[i] = sameCopy(all[i]!, v);
  }
  const out = bound(maximal(all).sort(byDot), maxActors);
  // the very versions of one side (a write that supersedes what a replica held): that side's
  // set itself, so what is known of it (its encoding: protocol/shapes.ts) is kept
  return sameMembers(out, b) ? b : sameMembers(out, a) ? a : out;
}

/** One version from two copies of its dot: the past both agree on, deleted when either copy is. */
function sameCopy(a: Version, b: Version): Version {
  let out = a;
  if (!equalVV(a.past, b.past)) out = { ...out, past: meet(a.past, b.past) };
  if (b.deleted && !a.deleted) out = { ...out, deleted: true, value: b.value };
  return out;
}

function sameMembers(a: SiblingSet, b: SiblingSet): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/**
 * Keeps a set's history to at most `maxActors` actors (more only when that many made
 * siblings): the actors that made siblings stay, then `prefer` (a coordinator names the
 * actors of the versions its write replaced, so the write still covers them), then those with
 * the highest counters; the others are dropped from every version's past. A version whose past
 * loses entries may now be superseded by a sibling whose writer had seen it, as it always
 * could be by what it covered.
 */
export function bound(set: SiblingSet, maxActors: number, prefer: Iterable<ActorId> = []): SiblingSet {
  const counters = actorCounters(set);
  if (counters.size <= maxActors) return set;
  const kept = new Set<ActorId>(set.map((v) => v.dot.actor));
  for (const a of prefer) if (kept.size < maxActors && counters.has(a)) kept.add(a);
  const others = [...counters].filter(([a]) => !kept.has(a)).sort(([a, an], [b, bn]) => bn - an || (a < b ? -1 : a > b ? 1 : 0));
  for (const [a] of others) {
    if (kept.size >= maxActors) break;
    kept.add(a);
  }
  const pruned = maximal(
    set.map((v) => ([...v.past.keys()].every((a) => kept.has(a)) ? v : { ...v, past: new Map([...v.past].filter(([a]) => kept.has(a))) })),
  );
  // a version superseded after the pruning took its dot's actor out of the siblings: bound again
  return pruned.length < set.length ? bound(pruned, maxActors, prefer) : pruned;
}

/** Every actor a set names (its dots and pasts), with the highest counter named for it. */
export function actorCounters(set: SiblingSet): Map<ActorId, number> {
  const out = new Map<ActorId, number>();
  const see = (a: ActorId, n: number) => out.set(a, Math.max(out.get(a) ?? 0, n));
  for (const v of set) {
    see(v.dot.actor, v.dot.counter);
    for (const [a, n] of v.past) see(a, n);
  }
  return out;
}

function maximal(set: readonly Version[]): Version[] {
  return set.filter((v) => !set.some((x) => supersedes(x, v)));
}

/** The context a reader receives: every dot any sibling has seen. */
export function contextOf(set: SiblingSet): VersionVector {
  let vv = EMPTY_VV;
  for (const v of set) vv = join(vv, history(v));
  return vv;
}

export function isLive(set: SiblingSet): boolean {
  return set.some((v) => !v.deleted);
}

/** Same versions on both sides: the same dots, with the same pasts, deleted alike. */
export function sameSet(a: SiblingSet, b: SiblingSet): boolean {
  return (
    a.length === b.length &&
    a.every((v, i) => equalDots(v.dot, b[i]!.dot) && v.deleted === b[i]!.deleted && equalVV(v.past, b[i]!.past))
  );
}

/** True when `b` holds something `a` lacks: sending b to a's holder would change it. */
export function missesFrom(a: SiblingSet, b: SiblingSet, maxActors = MAX_ACTORS_PER_KEY): boolean {
  return !sameSet(merge(a, b, maxActors), a);
}

function byDot(a: Version, b: Version): number {
  return compareDots(a.dot, b.dot);
}
