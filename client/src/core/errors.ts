// Errors that cross a boundary (the wire, the client library, the gateway) carry a stable
// code. The codes and their numbers are part of the protocol: only append.
import type { SiblingSet } from './siblings.ts';

export const ERROR_CODES = {
  INTERNAL: 1,
  BAD_REQUEST: 2,
  PROTOCOL: 3,
  UNAUTHORIZED: 4,
  QUORUM_NOT_MET: 5,
  TIMEOUT: 6,
  BAD_CONTEXT: 7,
  KEY_TOO_LARGE: 8,
  VALUE_TOO_LARGE: 9,
  TOO_MANY_SIBLINGS: 10,
  UNAVAILABLE: 11,
  SHUTTING_DOWN: 12,
  FRAME_TOO_LARGE: 13,
  OVERLOADED: 14,
  STALE_RING: 15,
  BAD_CLUSTER: 16,
  DISK_ERROR: 17,
  CONFLICT: 18,
  /** the caller's role may not send this request (client/src/auth/roles.ts) */
  FORBIDDEN: 19,
} as const;

export type ErrorCode = keyof typeof ERROR_CODES;

const BY_NUMBER = new Map<number, ErrorCode>(Object.entries(ERROR_CODES).map(([k, v]) => [v, k as ErrorCode]));

export function errorCodeOf(n: number): ErrorCode {
  return BY_NUMBER.get(n) ?? 'INTERNAL';
}

export type ErrorDetails = Readonly<Record<string, string | number | boolean>>;

/** An error whose code and details are meant for the caller. */
export class StoreError extends Error {
  override readonly name = 'StoreError';
  readonly code: ErrorCode;
  readonly details: ErrorDetails;
  constructor(
    code: ErrorCode,
    message: string,
    details: ErrorDetails = {},
  ) {
    super(message);
    this.code = code;
    this.details = details;
  }
}

/** How a quorum fell short, as data: "needed 2, got 1". */
export interface QuorumShortfall {
  readonly needed: number;
  readonly got: number;
  readonly primaryNeeded: number;
  readonly primaryGot: number;
}

export function quorumError(kind: 'read' | 'write', s: QuorumShortfall, timedOut: boolean): StoreError {
  const primaries = s.primaryNeeded > 0 ? `; primaries needed ${s.primaryNeeded}, got ${s.primaryGot}` : '';
  const applied = kind === 'write' ? '; the write may still have been applied on the replicas that answered' : '';
  const code = timedOut && s.got < s.needed ? 'TIMEOUT' : 'QUORUM_NOT_MET';
  const why = timedOut ? 'timed out' : 'quorum not met';
  return new StoreError(
    code,
    `${kind} ${why}: needed ${s.needed} replicas, got ${s.got}${primaries}${applied}`,
    { ...s, maybeApplied: kind === 'write' },
  );
}

/**
 * Why a quorum failed, for metrics: the time ran out first; too many replicas failed or could
 * not be reached for the count to be met; or enough answered but too few primaries (pr, pw).
 */
export const QUORUM_FAILURE_REASONS = ['timeout', 'replicas_unavailable', 'primaries_unavailable'] as const;
export type QuorumFailureReason = (typeof QUORUM_FAILURE_REASONS)[number];

export function quorumFailureReason(s: QuorumShortfall, timedOut: boolean): QuorumFailureReason {
  if (timedOut) return 'timeout';
  return s.got < s.needed ? 'replicas_unavailable' : 'primaries_unavailable';
}

/**
 * A conditional put refused by its coordinator (core/condition.ts): the key holds versions
 * the writer's context does not cover, or a live one where it asked for none. Carries what the
 * coordinator held, so the writer can merge and write back with its context in one round trip.
 * On the wire it is the `conflict` reply, not an error reply: the set does not fit one.
 */
export class ConflictError extends StoreError {
  readonly key: string;
  readonly siblings: SiblingSet;
  constructor(
    key: string,
    siblings: SiblingSet,
    message: string,
  ) {
    super('CONFLICT', message, { siblings: siblings.length });
    this.key = key;
    this.siblings = siblings;
  }
}
