// Ring membership for operators: the ring as a node sees it, and the changes (join, leave,
// remove, replace). All of it needs the admin scope.
import { StoreError } from '../client/src/core/errors.ts';
import type { ChangeKind } from '../client/src/protocol/messages.ts';
import type { MemberStatus, NodeStatus } from '../client/src/status.ts';
import { requireAdmin } from './access.ts';
import { Admin } from './admin.ts';
import { builder } from './builder.ts';
import type { GatewayContext } from './context.ts';

type RingShape = NodeStatus & { readonly ringVersion: number; readonly claimant: string; readonly seenBy: string };

const RingMember = builder.objectRef<MemberStatus>('RingMember').implement({
  fields: (t) => ({
    id: t.exposeString('id'),
    address: t.exposeString('address'),
    weight: t.exposeInt('weight'),
    leaving: t.exposeString('leaving', { nullable: true, description: '"leave" or "remove" while the node\'s key ranges move away.' }),
    partitions: t.exposeInt('partitions'),
    reachable: t.exposeBoolean('reachable', { description: 'As the reporting node sees it.' }),
    phi: t.exposeFloat('phi', { description: "The reporting node's suspicion of this one (8 and above: unreachable)." }),
  }),
});

const RingState = builder.objectRef<RingShape>('RingState').implement({
  fields: (t) => ({
    seenBy: t.exposeString('seenBy', { description: 'The node that reported this view.' }),
    version: t.exposeInt('ringVersion'),
    claimant: t.exposeString('claimant', { description: 'The node that decides ring changes.' }),
    changing: t.exposeBoolean('changing'),
    transfersLeft: t.exposeInt('transfersLeft', { description: 'Key-range copies the change in progress still waits for.' }),
    transfersTotal: t.exposeInt('transfersTotal'),
    members: t.field({ type: [RingMember], resolve: (r) => r.members }),
  }),
});

const RingChange = builder.objectRef<{ version: number; transfers: number; claimant: string }>('RingChange').implement({
  fields: (t) => ({
    version: t.exposeInt('version', { description: 'The ring version the change was planned at.' }),
    transfers: t.exposeInt('transfers', { description: 'Key-range copies before it commits.' }),
    claimant: t.exposeString('claimant'),
  }),
});

builder.objectField(Admin, 'ring', (t) =>
  t.field({
    type: RingState,
    args: { node: t.arg.string({ description: 'Whose view; the first node that answers when omitted.' }) },
    resolve: async ({ ctx }, args) => {
      const ids = args.node ? [args.node] : ctx.client.ring.members.map((m) => m.id);
      for (const id of ids) {
        try {
          const s = await ctx.client.status(id);
          if (s.ringVersion !== null && s.claimant !== null) return { ...s, ringVersion: s.ringVersion, claimant: s.claimant, seenBy: id };
        } catch {
          // try the next node
        }
      }
      throw new StoreError('UNAVAILABLE', 'no node answered');
    },
  }),
);

async function change(
  ctx: GatewayContext,
  kind: ChangeKind,
  node: string,
  o: { address?: string | null; weight?: number | null; by?: string | null; expectedVersion?: number | null },
) {
  requireAdmin(ctx);
  return ctx.client.changeRing({
    kind,
    node,
    address: o.address ?? undefined,
    weight: o.weight ?? undefined,
    by: o.by ?? undefined,
    expectedVersion: o.expectedVersion ?? undefined,
  });
}

const expectedVersion = { description: 'Refuse the change if the ring is no longer at this version.' };

builder.mutationFields((t) => ({
  joinNode: t.field({
    type: RingChange,
    description: 'Adds a running node (started with --seeds) to the ring. Admin only.',
    args: {
      id: t.arg.string({ required: true }),
      address: t.arg.string({ required: true }),
      weight: t.arg.int(),
      expectedVersion: t.arg.int(expectedVersion),
    },
    resolve: (_r, a, ctx) => change(ctx, 'join', a.id, a),
  }),
  leaveNode: t.field({
    type: RingChange,
    description: 'The node hands its key ranges and hints on, then leaves the ring. Admin only.',
    args: { id: t.arg.string({ required: true }), expectedVersion: t.arg.int(expectedVersion) },
    resolve: (_r, a, ctx) => change(ctx, 'leave', a.id, a),
  }),
  removeNode: t.field({
    type: RingChange,
    description: 'Takes a dead node out of the ring; the other replicas copy its key ranges. Admin only.',
    args: { id: t.arg.string({ required: true }), expectedVersion: t.arg.int(expectedVersion) },
    resolve: (_r, a, ctx) => change(ctx, 'remove', a.id, a),
  }),
  replaceNode: t.field({
    type: RingChange,
    description: "A new node takes exactly a dead node's partitions. Admin only.",
    args: {
      id: t.arg.string({ required: true }),
      by: t.arg.string({ required: true }),
      address: t.arg.string({ required: true }),
      weight: t.arg.int(),
      expectedVersion: t.arg.int(expectedVersion),
    },
    resolve: (_r, a, ctx) => change(ctx, 'replace', a.id, a),
  }),
}));
