// The cluster as the gateway sees it: quorum defaults, partitions, and each node's state.
import { partitionCounts } from '../client/src/core/ring.ts';
import { builder } from './builder.ts';
import type { GatewayContext } from './context.ts';

interface NodeShape {
  readonly id: string;
  readonly address: string;
  readonly status: string;
  readonly partitions: number;
  readonly weight: number;
}

interface ClusterShape {
  readonly n: number;
  readonly r: number;
  readonly w: number;
  readonly partitions: number;
  readonly ringVersion: number;
  readonly nodes: readonly NodeShape[];
}

const STATUS_TIMEOUT_MS = 1000;

export const ClusterNode = builder.objectRef<NodeShape>('ClusterNode').implement({
  fields: (t) => ({
    id: t.exposeString('id'),
    address: t.exposeString('address'),
    status: t.exposeString('status', {
      description: '"up" when the cluster reaches the node; "unreachable" when neither the gateway nor any node does.',
    }),
    partitions: t.exposeInt('partitions', { description: 'Partitions the node owns.' }),
    weight: t.exposeInt('weight'),
  }),
});

export const Cluster = builder.objectRef<ClusterShape>('Cluster').implement({
  fields: (t) => ({
    n: t.exposeInt('n', { description: 'Replicas per key.' }),
    r: t.exposeInt('r', { description: 'Default read quorum.' }),
    w: t.exposeInt('w', { description: 'Default write quorum.' }),
    partitions: t.exposeInt('partitions'),
    ringVersion: t.exposeInt('ringVersion'),
    nodes: t.field({ type: [ClusterNode], resolve: (c) => c.nodes }),
  }),
});

/** Asks every node for its status; a node is up if it answers, or if a node that answers reaches it. */
export async function clusterState(ctx: GatewayContext): Promise<ClusterShape> {
  const { client } = ctx;
  const ring = client.ring;
  const answers = await Promise.all(
    ring.members.map(async (m) => {
      try {
        return await Promise.race([
          client.status(m.id),
          new Promise<never>((_, reject) => setTimeout(() => reject(new Error('timeout')), STATUS_TIMEOUT_MS).unref()),
        ]);
      } catch {
        return null;
      }
    }),
  );
  const seenDown = (id: string) => answers.every((a) => a === null || a.unreachable.includes(id));
  const counts = partitionCounts(ring);
  return {
    ...client.defaults,
    partitions: ring.partitions,
    ringVersion: ring.version,
    nodes: ring.members.map((m, i) => ({
      id: m.id,
      address: m.address,
      weight: m.weight,
      partitions: counts.get(m.id) ?? 0,
      status: answers[i] !== null || !seenDown(m.id) ? 'up' : 'unreachable',
    })),
  };
}

builder.queryFields((t) => ({
  cluster: t.field({ type: Cluster, resolve: (_root, _args, ctx) => clusterState(ctx) }),
}));
