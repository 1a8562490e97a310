// Writes: WriteResult, and the put and delete mutations.
import { checkKey, checkQuorum, checkValue } from '../storage/core/limits.ts';
import { formatDot } from '../storage/core/version-vector.ts';
import type { WriteResult as StoreWrite } from '../storage/client.ts';
import { requireWrite } from './access.ts';
import { builder } from './builder.ts';
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

function prepare(ctx: GatewayContext, key: string, context: string | null | undefined, w: number | null | undefined) {
  checkKey(key);
  requireWrite(ctx, key);
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
    },
    resolve: async (_root, args, ctx) => {
      const { context, w } = prepare(ctx, args.key, args.context, args.w);
      const bytes = encodeValue(args.value);
      checkValue(bytes);
      return result(ctx, await ctx.client.put(args.key, bytes, { context, w }));
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
    },
    resolve: async (_root, args, ctx) => {
      const { context, w } = prepare(ctx, args.key, args.context, args.w);
      return result(ctx, await ctx.client.delete(args.key, { context, w }));
    },
  }),
}));
