// Counters: a key holding a PN-counter that merges itself (docs/types.md).
import { counterValue } from '../client/src/core/crdt/counter.ts';
import { builder } from './builder.ts';
import { readTyped, updateTyped } from './typed.ts';

builder.queryFields((t) => ({
  counter: t.field({
    type: 'Int',
    description:
      'The value of a counter: the sum of every increment its replicas have seen, its siblings joined. 0 for a key never written or deleted. BAD_REQUEST when the key holds a plain value or another type.',
    args: {
      key: t.arg.string({ required: true }),
      r: t.arg.int({ description: 'Replicas that must answer (1..N); the cluster default when omitted.' }),
    },
    resolve: async (_root, args, ctx) => {
      const c = await readTyped(ctx, args.key, 'counter', args.r);
      return c ? counterValue(c.state) : 0;
    },
  }),
}));

builder.mutationFields((t) => ({
  counterIncrement: t.field({
    type: 'Int',
    description:
      "Adds `by` (negative to subtract) at the key's coordinating replica, which joins every version it holds first; concurrent increments through other replicas are never lost. Returns the value after the increment as that replica sees it. Needs read and write scope.",
    args: {
      key: t.arg.string({ required: true }),
      by: t.arg.int({ required: true }),
      w: t.arg.int({ description: 'Replicas that must have the write on disk (1..N); the cluster default when omitted.' }),
    },
    resolve: async (_root, args, ctx) => counterValue((await updateTyped(ctx, args.key, { type: 'counter', by: args.by }, args.w)).state),
  }),
}));
