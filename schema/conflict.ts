// A conditional write's refusal as GraphQL clients see it: error code CONFLICT, with the key's
// current siblings and a signed context in `extensions`, in the shape a get returns them, so a
// client can merge and write again with that context in one round trip.
import type { ConflictError } from '../client/src/core/errors.ts';
import { contextOf, type Version } from '../client/src/core/siblings.ts';
import { formatDot } from '../client/src/core/version-vector.ts';
import type { GatewayContext } from './context.ts';
import { decodeValue } from './values.ts';

export interface SiblingJson {
  readonly value: unknown;
  readonly deleted: boolean;
  readonly dot: string;
  readonly writtenAt: string;
}

export interface ConflictExtensions {
  readonly key: string;
  /** what the coordinator held, as Versions.siblings gives it */
  readonly siblings: readonly SiblingJson[];
  /** covers every sibling above, as Versions.context: write with it to supersede them */
  readonly context: string | null;
}

/** Thrown by the put and delete resolvers; gateway/yoga.ts turns it into the GraphQL error. */
export class WriteConflict extends Error {
  override readonly name = 'WriteConflict';
  readonly code = 'CONFLICT';
  readonly extensions: ConflictExtensions;
  constructor(
    message: string,
    extensions: ConflictExtensions,
  ) {
    super(message);
    this.extensions = extensions;
  }
}

export function siblingJson(v: Version): SiblingJson {
  return {
    value: v.deleted ? null : decodeValue(v.value),
    deleted: v.deleted,
    dot: formatDot(v.dot),
    writtenAt: new Date(v.writtenAt).toISOString(),
  };
}

export function writeConflict(ctx: GatewayContext, e: ConflictError): WriteConflict {
  return new WriteConflict(e.message, {
    key: e.key,
    siblings: e.siblings.map(siblingJson),
    context: e.siblings.length > 0 ? ctx.contexts.sign(e.key, contextOf(e.siblings)) : null,
  });
}
