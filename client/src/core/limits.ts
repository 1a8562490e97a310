// Size limits, enforced where data enters: the client library, the node, the gateway.
import { StoreError } from './errors.ts';

export const MAX_KEY_BYTES = 1024;
export const MAX_VALUE_BYTES = 1024 * 1024;
/** Above this a coordinator refuses new writes to a key until a client merges its siblings. */
export const DEFAULT_MAX_SIBLINGS = 100;
/**
 * Siblings a replica accepts in a set it receives. The coordinator's limit is soft: writes
 * racing through different coordinators can each pass it by one, so a replica allows twice
 * as many (at least 64 more), and a forged set still cannot grow a key without bound.
 */
export function receivedSiblingsLimit(maxSiblings: number): number {
  return Math.max(2 * maxSiblings, maxSiblings + 64);
}
/** One frame on the wire; a sibling set at the sibling cap with full-size values fits. */
export const MAX_FRAME_BYTES = 128 * 1024 * 1024;
/** Keys in one multi-get frame. */
export const MAX_MGET_KEYS = 1000;
/** Actors a key's history names at most (see siblings.ts bound), unless more actors made siblings. */
export const MAX_ACTORS_PER_KEY = 64;

/** Throws a StoreError unless `key` is a well-formed string of 1..1024 UTF-8 bytes. */
export function checkKey(key: unknown): asserts key is string {
  if (typeof key !== 'string') throw new StoreError('BAD_REQUEST', 'key must be a string');
  if (key.length === 0) throw new StoreError('BAD_REQUEST', 'key must not be empty');
  if (!key.isWellFormed()) throw new StoreError('BAD_REQUEST', 'key is not well-formed UTF-16 (lone surrogate)');
  const bytes = Buffer.byteLength(key, 'utf8');
  if (bytes > MAX_KEY_BYTES) {
    throw new StoreError('KEY_TOO_LARGE', `key is ${bytes} bytes of UTF-8; the limit is ${MAX_KEY_BYTES}`, { bytes, limit: MAX_KEY_BYTES });
  }
}

export function checkValue(value: Uint8Array): void {
  if (value.byteLength > MAX_VALUE_BYTES) {
    throw new StoreError('VALUE_TOO_LARGE', `value is ${value.byteLength} bytes; the limit is ${MAX_VALUE_BYTES}`, {
      bytes: value.byteLength,
      limit: MAX_VALUE_BYTES,
    });
  }
}

/** Throws unless 1 ≤ q ≤ n (and an integer); `what` names the parameter in the message. */
export function checkQuorum(what: string, q: number, n: number, min = 1): void {
  if (!Number.isInteger(q) || q < min || q > n) {
    throw new StoreError('BAD_REQUEST', `${what} must be an integer from ${min} to N=${n}, got ${q}`);
  }
}
