// Expiry of values written with a time to live (docs/design.md, Expiry).
//
// The coordinator that makes a version with a TTL stores its absolute expiry time in the
// version (`expiresAt`, its own wall clock plus the TTL), so the time travels with the version
// and is the same on every replica: Merkle trees agree, and no replica decides anything alone.
//
// Whether a version has expired is judged only where a client's read is answered, by that
// coordinator's wall clock. There the expired version becomes a tombstone of itself: the same
// dot, past, write time and expiry time, deleted and with no value (expireAt). The read answers
// with it, and read repair writes it to every replica that still holds the live copy. Two copies
// of one dot merge to the deleted one wherever they meet (siblings.ts merge), so a stale live
// copy, in a hint, on a replica that was down, or sent by anti-entropy, can never bring the value
// back, and every replica ends with the same bytes. Only the expired version changes: its
// siblings, and anything written later, are untouched, and the read's context still covers it,
// so a write with that context replaces the tombstone as it would any other.
//
// A delete over a context was not used for this: a version vector cannot name one dot alone,
// and an expired blind write (A,5) claims every earlier dot of A, so a delete over its context
// would also remove a live blind write (A,3) beside it.
import { StoreError } from './errors.ts';
import type { SiblingSet, Version } from './siblings.ts';

/** The longest TTL a write may ask for: 10 years (365-day years), in seconds. */
export const MAX_TTL_SECONDS = 10 * 365 * 24 * 3600;

/** Throws a StoreError unless `ttl` is a whole number of seconds from 1 to MAX_TTL_SECONDS. */
export function checkTtl(ttl: unknown): asserts ttl is number {
  if (typeof ttl !== 'number' || !Number.isInteger(ttl) || ttl < 1 || ttl > MAX_TTL_SECONDS) {
    const limit = `from 1 to ${MAX_TTL_SECONDS} (10 years)`;
    throw new StoreError('BAD_REQUEST', `ttlSeconds must be a whole number of seconds ${limit}, got ${String(ttl)}`);
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
 * The set with each version expired by `now` turned into its own tombstone: deleted, no value,
 * everything else kept. The set itself when nothing has expired.
 */
export function expireAt(set: SiblingSet, now: number): SiblingSet {
  if (!hasExpired(set, now)) return set;
  return set.map((v) => (isExpired(v, now) ? { ...v, deleted: true, value: new Uint8Array(0) } : v));
}
