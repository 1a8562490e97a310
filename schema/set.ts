// Sets: a key holding an add-wins set of JSON values that merges itself (docs/types.md).
import { members, type Orswot } from '../client/src/core/crdt/orswot.ts';
import { builder } from './builder.ts';
import { canonicalAll, readTyped, updateTyped } from './typed.ts';

/** The members as JSON values, in the order of their canonical text. */
function membersOf(s: Orswot | undefined): unknown[] {
  return s ? members(s).map((m) => JSON.parse(m) as unknown) : [];
}

const MEMBERS_NOTE = 'Members are JSON values, equal when equal as JSON (object keys in any order).';

builder.queryFields((t) => ({
  set: t.field({
    type: ['JSON'],
    description: `The members of a set, its siblings joined, ordered by their canonical JSON text. Empty for a key never written or deleted. ${MEMBERS_NOTE}`,
    args: {
      key: t.arg.string({ required: true }),
      r: t.arg.int({ description: 'Replicas that must answer (1..N); the cluster default when omitted.' }),
    },
    resolve: async (_root, args, ctx) => membersOf((await readTyped(ctx, args.key, 'set', args.r))?.state),
  }),
}));

builder.mutationFields((t) => ({
  setAdd: t.field({
    type: ['JSON'],
    description: `Adds members at the key's coordinating replica. Add wins: a remove through another replica that had not seen this add does not take the member away. Returns the set after the change as that replica sees it. ${MEMBERS_NOTE}`,
    args: {
      key: t.arg.string({ required: true }),
      members: t.arg({ type: ['JSON'], required: true }),
      w: t.arg.int({ description: 'Replicas that must have the write on disk (1..N); the cluster default when omitted.' }),
    },
    resolve: async (_root, args, ctx) =>
      membersOf((await updateTyped(ctx, args.key, { type: 'set', add: canonicalAll(args.members, 'members'), remove: [] }, args.w)).state),
  }),
  setRemove: t.field({
    type: ['JSON'],
    description:
      "Removes members at the key's coordinating replica: the adds of them that replica has seen. An add it has not seen (concurrent, through another replica) keeps its member. Removing a member that is not there changes nothing. Returns the set after the change as that replica sees it.",
    args: {
      key: t.arg.string({ required: true }),
      members: t.arg({ type: ['JSON'], required: true }),
      w: t.arg.int({ description: 'Replicas that must have the write on disk (1..N); the cluster default when omitted.' }),
    },
    resolve: async (_root, args, ctx) =>
      membersOf((await updateTyped(ctx, args.key, { type: 'set', add: [], remove: canonicalAll(args.members, 'members') }, args.w)).state),
  }),
}));
