// Repair for operators: hints waiting on each node, the last anti-entropy sweep of each key
// range, totals, the queues, and starting a sweep. Needs the admin scope.
import { StoreError } from '../client/src/core/errors.ts';
import { requireAdmin } from './access.ts';
import { Admin } from './admin.ts';
import { builder } from './builder.ts';
import type { GatewayContext } from './context.ts';

interface NodeHints {
  node: string;
  hints: number | null;
  hintBytes: number | null;
  hintsReplayed: number | null;
  hintsExpired: number | null;
  keysRepaired: number | null;
}

const NodeRepair = builder.objectRef<NodeHints>('NodeRepair').implement({
  fields: (t) => ({
    node: t.exposeString('node'),
    hintsPending: t.int({
      nullable: true,
      description: 'Hints the node holds for unreachable replicas (null: the node did not answer).',
      resolve: (n) => n.hints,
    }),
    hintBytes: t.exposeInt('hintBytes', { nullable: true }),
    hintsReplayed: t.exposeInt('hintsReplayed', { nullable: true, description: 'Since the node started.' }),
    hintsExpired: t.exposeInt('hintsExpired', { nullable: true }),
    keysRepaired: t.exposeInt('keysRepaired', {
      nullable: true,
      description: 'Sibling sets anti-entropy merged into this node since it started.',
    }),
  }),
});

const PartitionSweep = builder
  .objectRef<{
    partition: number;
    finishedAt: string;
    durationMs: number;
    pairs: number;
    keysCompared: number;
    keysRepaired: number;
    rootsEqual: boolean;
    reclaimed: number;
  }>('PartitionSweep')
  .implement({
    fields: (t) => ({
      partition: t.exposeInt('partition'),
      finishedAt: t.exposeString('finishedAt'),
      durationMs: t.exposeInt('durationMs'),
      pairs: t.exposeInt('pairs', { description: 'Replica pairs compared.' }),
      keysCompared: t.exposeInt('keysCompared'),
      keysRepaired: t.exposeInt('keysRepaired', { description: 'Sibling sets sent between replicas.' }),
      rootsEqual: t.exposeBoolean('rootsEqual', { description: 'Every pair agreed afterwards.' }),
      tombstonesReclaimed: t.exposeInt('reclaimed'),
    }),
  });

const QueueCounts = builder.objectRef<{ name: string; counts: Record<string, number> }>('QueueCounts').implement({
  fields: (t) => ({
    name: t.exposeString('name'),
    waiting: t.int({ resolve: (q) => (q.counts.waiting ?? 0) + (q.counts['waiting-children'] ?? 0) + (q.counts.prioritized ?? 0) }),
    active: t.int({ resolve: (q) => q.counts.active ?? 0 }),
    delayed: t.int({ resolve: (q) => q.counts.delayed ?? 0 }),
    failed: t.int({ resolve: (q) => q.counts.failed ?? 0 }),
    completed: t.int({ resolve: (q) => q.counts.completed ?? 0 }),
  }),
});

const RepairTotals = builder
  .objectRef<{
    keysCompared: number;
    keysRepaired: number;
    partitionsSwept: number;
    hintsReplayed: number;
    hintsExpired: number;
    tombstonesReclaimed: number;
  }>('RepairTotals')
  .implement({
    fields: (t) => ({
      keysCompared: t.exposeInt('keysCompared'),
      keysRepaired: t.exposeInt('keysRepaired'),
      partitionsSwept: t.exposeInt('partitionsSwept'),
      hintsReplayed: t.exposeInt('hintsReplayed'),
      hintsExpired: t.exposeInt('hintsExpired'),
      tombstonesReclaimed: t.exposeInt('tombstonesReclaimed'),
    }),
  });

const RepairStatus = builder.objectRef<{ ctx: GatewayContext }>('RepairStatus').implement({
  description: 'Hinted handoff and anti-entropy, as the nodes and the repair queues report them.',
  fields: (t) => ({
    nodes: t.field({
      type: [NodeRepair],
      resolve: ({ ctx }) =>
        Promise.all(
          ctx.client.ring.members.map(async (m): Promise<NodeHints> => {
            try {
              const s = await ctx.client.status(m.id);
              return {
                node: m.id,
                hints: s.hints,
                hintBytes: s.hintBytes,
                hintsReplayed: s.repair.hintsReplayed,
                hintsExpired: s.repair.hintsExpired,
                keysRepaired: s.repair.keysRepaired,
              };
            } catch {
              return { node: m.id, hints: null, hintBytes: null, hintsReplayed: null, hintsExpired: null, keysRepaired: null };
            }
          }),
        ),
    }),
    lastSweeps: t.field({
      type: [PartitionSweep],
      description: 'The last completed sweep of each key range.',
      resolve: ({ ctx }) => repairOf(ctx).stats.lastSweeps(),
    }),
    totals: t.field({ type: RepairTotals, resolve: ({ ctx }) => repairOf(ctx).stats.totals() }),
    queues: t.field({
      type: [QueueCounts],
      resolve: async ({ ctx }) => {
        const { queues } = repairOf(ctx);
        return Promise.all([queues.handoff, queues.antiEntropy].map(async (q) => ({ name: q.name, counts: await q.getJobCounts() })));
      },
    }),
  }),
});

function repairOf(ctx: GatewayContext) {
  if (!ctx.repair) throw new StoreError('UNAVAILABLE', 'the gateway was started without the repair Redis (REDIS_URL)');
  if (!ctx.repair.queues.reachable)
    throw new StoreError('UNAVAILABLE', 'the repair Redis is not reachable now; repair status and sweeps wait for it');
  return ctx.repair;
}

builder.objectField(Admin, 'repair', (t) => t.field({ type: RepairStatus, resolve: ({ ctx }) => ({ ctx }) }));

builder.mutationFields((t) => ({
  startSweep: t.boolean({
    description: 'Queues an anti-entropy sweep of one key range, or of all. Admin only.',
    args: { partition: t.arg.int({ description: 'The key range (0..Q-1); all when omitted.' }) },
    resolve: async (_r, args, ctx) => {
      requireAdmin(ctx);
      const { queues } = repairOf(ctx);
      const q = ctx.client.ring.partitions;
      if (args.partition != null && (args.partition < 0 || args.partition >= q))
        throw new StoreError('BAD_REQUEST', `partition must be 0..${q - 1}`);
      await queues.sweep('requested through GraphQL', args.partition == null ? undefined : [args.partition]);
      return true;
    },
  }),
}));
