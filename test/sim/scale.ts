// Cost at scale, by simulation: for clusters of the given sizes, how partitions balance, how
// many gossip rounds a ring change takes to reach every node, and how many messages one client
// request costs (gossip excluded).
import { partitionCounts } from '../../client/src/core/ring.ts';
import { SimCluster } from './cluster.ts';

export interface ScaleRow {
  nodes: number;
  seeds: number;
  partitions: number;
  /** fewest and most partitions a node owns, and the ideal share */
  minOwned: number;
  maxOwned: number;
  ideal: number;
  convergenceRounds: number;
  messagesPerPut: number;
  messagesPerGet: number;
  gossipMessagesPerNodeRound: number;
  wallSeconds: number;
}

export async function scaleRow(nodes: number, seeds = 3, seed = 7): Promise<ScaleRow> {
  const started = performance.now();
  const partitions = nodes <= 100 ? 1024 : 4096;
  const c = await SimCluster.create({ seed, nodes, partitions, seeds });
  await c.scheduler.run(c.scheduler.now + 3000);
  const counts = [...partitionCounts(c.initialRing).values()];

  // a ring change, counted in gossip rounds until every node holds it
  const t0 = c.scheduler.now;
  const reply = await c.scheduler.drive(
    c
      .client('operator')
      .request(
        'n1',
        { type: 'change', kind: 'leave', node: c.ids[nodes - 1]!, address: '', weight: 1, by: '', expectedVersion: 0 },
        10_000,
      ),
  );
  if (reply.type !== 'changeReply') throw new Error(`change refused: ${JSON.stringify(reply)}`);
  await c.scheduler.runUntil(() => c.running().every((n) => (n.ring?.version ?? 0) >= reply.version), 600_000, 'ring convergence');
  const rounds = Math.ceil((c.scheduler.now - t0) / 1000);
  await c.scheduler.runUntil(() => c.running().every((n) => n.ring?.next === null), 600_000, 'the change committing');
  // steady gossip over five rounds
  const gossipCount = () => (c.network.counts.get('gossip') ?? 0) + (c.network.counts.get('gossipReply') ?? 0);
  const g0 = gossipCount();
  await c.scheduler.run(c.scheduler.now + 5000);
  const gossipPerNodeRound = (gossipCount() - g0) / nodes / 5;

  // client requests through random nodes
  const client = c.client('bench');
  const foreground = () => [...c.network.counts].filter(([t]) => !/gossip|ringPush|transfer|change/.test(t)).reduce((s, [, n]) => s + n, 0);
  const requests = 200;
  let before = foreground();
  for (let i = 0; i < requests; i++) {
    await c.scheduler.drive(
      client.request(
        c.ids[i % (nodes - 1)]!,
        { type: 'put', key: `scale-${i}`, value: Buffer.from('v'), deleted: false, context: null, w: 2, pw: 0 },
        5000,
      ),
    );
  }
  const perPut = (foreground() - before) / requests;
  before = foreground();
  for (let i = 0; i < requests; i++)
    await c.scheduler.drive(client.request(c.ids[(i * 7) % (nodes - 1)]!, { type: 'get', key: `scale-${i}`, r: 2, pr: 0 }, 5000));
  const perGet = (foreground() - before) / requests;
  return {
    nodes,
    seeds,
    partitions,
    minOwned: Math.min(...counts),
    maxOwned: Math.max(...counts),
    ideal: partitions / nodes,
    convergenceRounds: rounds,
    messagesPerPut: perPut,
    messagesPerGet: perGet,
    gossipMessagesPerNodeRound: gossipPerNodeRound,
    wallSeconds: (performance.now() - started) / 1000,
  };
}

export async function scaleReport(sizes: number[]): Promise<string[]> {
  const lines = [
    '| nodes | seeds | Q | partitions per node (min / max / ideal) | rounds to converge after a change | messages per put | messages per get | gossip messages per node per round | wall time |',
    '| --- | --- | --- | --- | --- | --- | --- | --- | --- |',
  ];
  for (const n of sizes) {
    for (const seeds of [3, 0]) {
      const r = await scaleRow(n, seeds);
      lines.push(
        `| ${r.nodes} | ${r.seeds || 'none'} | ${r.partitions} | ${r.minOwned} / ${r.maxOwned} / ${r.ideal.toFixed(1)} | ${r.convergenceRounds} | ${r.messagesPerPut.toFixed(1)} | ${r.messagesPerGet.toFixed(1)} | ${r.gossipMessagesPerNodeRound.toFixed(1)} | ${r.wallSeconds.toFixed(0)} s |`,
      );
      process.stderr.write(`${lines[lines.length - 1]}
`);
    }
  }
  return lines;
}
