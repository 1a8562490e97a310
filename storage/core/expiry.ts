// Expiry of values written with a time to live (docs/design.md, Expiry).
//
// The coordinator that makes a version with a TTL stores its absolute expiry time in the
// version (`expiresAt`, its own wall clock plus the TTL), so the time travels with the version
// and is the same on every replica: Merkle trees agree, and no replica decides anything alone.
//
// Whether a version has expired is judged only where a client's read is answered, by that
// coordinator's wall clock: an expired version is shown as deleted (its dot and past are kept,
// so the read's context still covers it). The coordinator then turns it into a tombstone through
// the ordinary write path: a delete over a context that covers the expired versions and no live
// one (expiryDelete). A version written later, or a live sibling, is never covered, so it
// survives; a replica never drops an expired version by itself.
import { StoreError } from './errors.ts';
import { contextCovers, history, type SiblingSet, type Version } from './siblings.ts';
import { EMPTY_VV, join, type VersionVector } from './version-vector.ts';

/** The longest TTL a write may ask for: 10 years (365-day years), in seconds. */
export const MAX_TTL_SECONDS = 10 * 365 * 24 * 3600;

/** Throws a StoreError unless `ttl` is a whole number of seconds from 1 to MAX_TTL_SECONDS. */
export function checkTtl(ttl: unknown): asserts ttl is number {
  if (typeof ttl !== 'number' || !Number.isInteger(ttl) || ttl < 1 || ttl > MAX_TTL_SECONDS) {
    throw new StoreError('BAD_REQUEST', `ttlSeconds must be a whole number of seconds from 1 to ${MAX_TTL_SECONDS} (10 years), got ${String(ttl)}`);
  }
}

/** The expiry time of a version written at `wallNow` (ms) with a TTL in seconds. */
export function expiryTime(wallNow: number, ttlSeconds: number): number {
  return wallNow + ttlSeconds * 1000;
}

/** A live version whose expiry time has come by the clock reading `now` (ms since 1970). */
export function isExpired(v: Version, now: number): boolean {
  return !v.deleted && v.expiresAt !== undefined && now >= v.expiresAt;
}

export function hasExpired(set: SiblingSet, now: number): boolean {
  return set.some((v) => isExpired(v, now));
}

/**
 * The set as a client sees it at `now`: each expired version shown as a deleted one (no
 * value), keeping its dot, past and expiry, so the context of the read still covers it and a
 * write with that context replaces it. The set itself when nothing has expired.
 */
export function visibleAt(set: SiblingSet, now: number): SiblingSet {
  if (!hasExpired(set, now)) return set;
  return set.map((v) => (isExpired(v, now) ? { ...v, deleted: true, value: new Uint8Array(0) } : v));
}

export interface ExpiryDelete {
  /** the context of the delete that turns the expired versions into a tombstone */
  readonly context: VersionVector;
  /** the expired versions that context covers */
  readonly expired: readonly Version[];
}

/**
 * The delete that turns the expired versions of `set` into one tombstone, or null when there is
 * none to make. Its context is the join of the expired versions' histories, taken one version at
 * a time (in dot order) and only while it covers no version that is still live: a vector cannot
 * name one dot alone, so an expired (A,5) claims every earlier dot of A, and a live blind write
 * (A,3) beside it would be covered too. Such an expired version is left for later; it still
 * reads as deleted, and the next write with a read's context replaces it.
 * Tombstones already in the set may be covered: replacing a delete by a delete loses nothing.
 */
export function expiryDelete(set: SiblingSet, now: number): ExpiryDelete | null {
  const live = set.filter((v) => !v.deleted && !isExpired(v, now));
  let context: VersionVector = EMPTY_VV;
  const expired: Version[] = [];
  for (const v of set) {
    if (!isExpired(v, now)) continue;
    const next = join(context, history(v));
    if (live.some((l) => contextCovers(next, l))) continue;
    context = next;
    expired.push(v);
  }
  return expired.length === 0 ? null : { context, expired };
}
