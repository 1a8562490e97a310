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
import { coversDot, equalDots, compareDots, join, leq, withDot, EMPTY_VV, type Dot, type VersionVector } from './version-vector.ts';

export interface Version {
  readonly dot: Dot;
  /** the context the write was made over */
  readonly past: VersionVector;
  readonly deleted: boolean;
  /** coordinator's wall clock in ms, for display only: it never decides anything */
  readonly writtenAt: number;
  readonly value: Uint8Array;
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

/** The maximal versions of both sets: what a replica holds after receiving another's state. */
export function merge(a: SiblingSet, b: SiblingSet): SiblingSet {
  if (b.length === 0) return a;
  if (a.length === 0) return b;
  const all: Version[] = [...a];
  for (const v of b) if (!all.some((x) => equalDots(x.dot, v.dot))) all.push(v);
  return all.filter((v) => !all.some((x) => supersedes(x, v))).sort(byDot);
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

/** Same versions (by dot) on both sides. */
export function sameSet(a: SiblingSet, b: SiblingSet): boolean {
  return a.length === b.length && a.every((v, i) => equalDots(v.dot, b[i]!.dot));
}

/** True when `b` holds something `a` lacks: sending b to a's holder would change it. */
export function missesFrom(a: SiblingSet, b: SiblingSet): boolean {
  return !sameSet(merge(a, b), a);
}

function byDot(a: Version, b: Version): number {
  return compareDots(a.dot, b.dot);
}
