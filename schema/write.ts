// Writes: WriteResult, and the put and delete mutations.
import { ConflictError } from '../client/src/core/errors.ts';
import { checkTtl, MAX_TTL_SECONDS } from '../client/src/core/expiry.ts';
import { checkKey, checkQuorum, checkValue } from '../client/src/core/limits.ts';
import { formatDot } from '../client/src/core/version-vector.ts';
import type { WriteResult as StoreWrite } from '../client/src/client.ts';
import type { PutCondition } from '../client/src/protocol/messages.ts';
import { requireRead, requireWrite } from './access.ts';
import { builder } from './builder.ts';
import { writeConflict } from './conflict.ts';
import type { GatewayContext } from './context.ts';
import { encodeValue } from './values.ts';

interface WriteShape {
  readonly key: string;
  readonly context: string;
  readonly acks: number;
  readonly dot: string;
}

export const WriteResult = builder.objectRef<WriteShape>('WriteResult').implement({
  description: 'An acknowledged write.',
  fields: (t) => ({
    key: t.exposeString('key'),
    context: t.exposeString('context', { description: 'What this write has seen: write again with it to supersede this version only.' }),
    acks: t.exposeInt('acks', { description: 'Replicas that had the write on disk when the answer was sent (at least w).' }),
    dot: t.exposeString('dot', { description: 'The version this write created.' }),
  }),
});

const CONDITION_NOTE =
  'Checked by the coordinating replica over what it holds, in the step that writes; a refusal is the error CONFLICT with the current siblings and context in its extensions. Not a compare-and-set across replicas: see docs/graphql.md.';

export const WriteCondition = builder.enumType('WriteCondition', {
  description: `When a put may go on. ${CONDITION_NOTE}`,
  values: {
    CURRENT: {
      value: 'current' as const,
      description:
        'Only if the context covers every version the key holds (tombstones too). Without a context: only if the key holds none.',
    },
    ABSENT: {
      value: 'absent' as const,
      description:
        'Only if the key holds no live version: create, never overwrite. Tombstones do not count, and the new value replaces them.',
    },
  },
});

export const DeleteCondition = builder.enumType('DeleteCondition', {
  description: `When a delete may go on. ${CONDITION_NOTE}`,
  values: {
    CURRENT: { value: 'current' as const, description: 'Only if the context covers every version the key holds (tombstones too).' },
  },
});

/** The store's write, with a failed condition turned into the GraphQL CONFLICT error. */
async function write(ctx: GatewayContext, run: Promise<StoreWrite>): Promise<WriteShape> {
  try {
    return result(ctx, await run);
  } catch (e) {
    throw e instanceof ConflictError ? writeConflict(ctx, e) : e;
  }
}

function conditional(condition: PutCondition | null | undefined) {
  return condition ? { condition } : {};
}

function prepare(
  ctx: GatewayContext,
  key: string,
  context: string | null | undefined,
  w: number | null | undefined,
  condition: PutCondition | null | undefined,
) {
  checkKey(key);
  requireWrite(ctx, key);
  // a conditional write answers with the key's current values when it is refused, and whether
  // it is refused tells what the key holds: it needs read scope on the key as well
  if (condition) requireRead(ctx, key);
  if (w != null) checkQuorum('w', w, ctx.client.defaults.n);
  return { context: context == null ? null : ctx.contexts.verify(key, context), w: w ?? 0 };
}

function result(ctx: GatewayContext, r: StoreWrite): WriteShape {
  return { key: r.key, context: ctx.contexts.sign(r.key, r.context), acks: r.acks, dot: formatDot(r.dot) };
}

builder.mutationFields((t) => ({
  put: t.field({
    type: WriteResult,
    description:
      'Writes a value. With the context of a read it supersedes exactly the siblings that read returned; without one it is a blind write and becomes a sibling of whatever exists.',
    args: {
      key: t.arg.string({ required: true }),
      value: t.arg({ type: 'JSON', required: true, description: 'Any JSON value, at most 1 MiB encoded.' }),
      context: t.arg.string({ description: 'From get, getMany, put or delete on this same key.' }),
      w: t.arg.int({ description: 'Replicas that must have the write on disk (1..N); the cluster default when omitted.' }),
      condition: t.arg({
        type: WriteCondition,
        description: 'Write only if the key is as the context says (CURRENT) or holds no value (ABSENT).',
      }),
      ttlSeconds: t.arg.int({
        description:
          `Seconds until the value expires (1..${MAX_TTL_SECONDS}, 10 years), by the coordinating replica's clock; ` +
          'it then reads as absent and is deleted. See docs/graphql.md, Expiry.',
      }),
    },
    resolve: async (_root, args, ctx) => {
      const { context, w } = prepare(ctx, args.key, args.context, args.w, args.condition);
      if (args.ttlSeconds != null) checkTtl(args.ttlSeconds);
      const bytes = encodeValue(args.value);
      checkValue(bytes);
      const ttl = args.ttlSeconds != null ? { ttlSeconds: args.ttlSeconds } : {};
      return write(ctx, ctx.client.put(args.key, bytes, { context, w, ...conditional(args.condition), ...ttl }));
    },
  }),
  delete: t.field({
    type: WriteResult,
    description:
      'Deletes by writing a tombstone. With a context it supersedes exactly what that read saw. Without one it deletes what the coordinating replica holds at that moment; concurrent writes it has not seen survive as siblings.',
    args: {
      key: t.arg.string({ required: true }),
      context: t.arg.string(),
      w: t.arg.int(),
      condition: t.arg({ type: DeleteCondition, description: 'Delete only if the key is as the context says (CURRENT).' }),
    },
    resolve: async (_root, args, ctx) => {
      const { context, w } = prepare(ctx, args.key, args.context, args.w, args.condition);
      return write(ctx, ctx.client.delete(args.key, { context, w, ...conditional(args.condition) }));
    },
  }),
}));
