// Operator fields: node internals and hints. Every field here needs the admin scope
// (the ADMIN_TOKEN, or an API key or JWT with admin: true).
import { requireAdmin } from './access.ts';
import { builder } from './builder.ts';
import type { GatewayContext } from './context.ts';
import type { NodeStatus } from '../client/src/status.ts';
import type { ReplicaCopy as ReplicaCopyShape } from '../client/src/client.ts';
import { Sibling } from './versions.ts';

interface NodeStatusShape {
  readonly id: string;
  readonly reachable: boolean;
  readonly detail: NodeStatus | null;
}

interface HintShape {
  readonly owner: string;
  readonly key: string;
  readonly storedAt: number;
  readonly siblings: number;
}

interface HintListShape {
  readonly node: string;
  readonly total: number;
  readonly hints: readonly HintShape[];
}

const NodeStatus = builder.objectRef<NodeStatusShape>('NodeStatus').implement({
  fields: (t) => ({
    id: t.exposeString('id'),
    reachable: t.exposeBoolean('reachable', { description: 'Whether the gateway reached the node just now.' }),
    detail: t.field({
      type: 'JSON',
      nullable: true,
      description: "The node's own report: actor, counter, ring version, peers it cannot reach, hint bytes, requests in flight.",
      resolve: (s) => s.detail,
    }),
  }),
});

const Hint = builder.objectRef<HintShape>('Hint').implement({
  fields: (t) => ({
    owner: t.exposeString('owner', { description: 'The unreachable replica this hint is held for.' }),
    key: t.exposeString('key'),
    storedAt: t.string({ resolve: (h) => new Date(h.storedAt).toISOString() }),
    siblings: t.exposeInt('siblings'),
  }),
});

const HintList = builder.objectRef<HintListShape>('HintList').implement({
  fields: (t) => ({
    node: t.exposeString('node', { description: 'The node holding the hints.' }),
    total: t.exposeInt('total'),
    hints: t.field({ type: [Hint], resolve: (l) => l.hints }),
  }),
});

const ReplicaCopy = builder.objectRef<ReplicaCopyShape>('ReplicaCopy').implement({
  description: "One node's copy of a key, read without repair: its own data, or a hint it keeps for another owner.",
  fields: (t) => ({
    node: t.exposeString('node'),
    primary: t.exposeBoolean('primary', { description: "The node is one of the key's N primaries." }),
    reachable: t.exposeBoolean('reachable', { description: 'False when the node did not answer; then versions is empty.' }),
    hintFor: t.exposeString('hintFor', { nullable: true, description: 'The owner a hint is kept for; null for the node\'s own data.' }),
    versions: t.field({ type: [Sibling], resolve: (c) => c.set }),
  }),
});

export interface AdminShape {
  readonly ctx: GatewayContext;
}

export const Admin = builder.objectRef<AdminShape>('Admin').implement({
  description: 'Operator fields; every one needs the admin scope.',
  fields: (t) => ({
    nodes: t.field({
      type: [NodeStatus],
      resolve: async ({ ctx }) =>
        Promise.all(
          ctx.client.ring.members.map(async (m) => {
            try {
              return { id: m.id, reachable: true, detail: await ctx.client.status(m.id) };
            } catch {
              return { id: m.id, reachable: false, detail: null };
            }
          }),
        ),
    }),
    replicas: t.field({
      type: [ReplicaCopy],
      description: "Where a key's copies are: every member's own versions of it and the hints it keeps for it, read without repair (a read would repair them).",
      args: { key: t.arg.string({ required: true }) },
      resolve: ({ ctx }, args) => ctx.client.replicas(args.key),
    }),
    hints: t.field({
      type: [HintList],
      description: 'Hints each node holds for unreachable replicas.',
      args: { node: t.arg.string({ description: 'Only this node.' }), limit: t.arg.int({ defaultValue: 100 }) },
      resolve: async ({ ctx }, args) => {
        const ids = args.node ? [args.node] : ctx.client.ring.members.map((m) => m.id);
        const limit = Math.max(0, Math.min(args.limit ?? 100, 10_000));
        const lists = await Promise.all(
          ids.map(async (id) => {
            try {
              const reply = await ctx.client.hints(id, limit);
              return { node: id, total: reply.total, hints: reply.hints };
            } catch {
              return null;
            }
          }),
        );
        return lists.filter((l): l is HintListShape => l !== null);
      },
    }),
  }),
});

builder.queryFields((t) => ({
  admin: t.field({
    type: Admin,
    nullable: true,
    description: 'Operator fields. Needs a credential with the admin scope (the ADMIN_TOKEN, or an admin API key or JWT).',
    resolve: (_root, _args, ctx) => {
      requireAdmin(ctx);
      return { ctx };
    },
  }),
}));
