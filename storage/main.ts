// A storage node process: configuration, the LMDB engine, the node, its server, and a
// graceful shutdown on SIGTERM or SIGINT (stop taking requests, finish those in flight,
// flush, exit).
import { createRing } from './core/ring.ts';
import { MAX_ACTORS_PER_KEY } from './core/limits.ts';
import { DEFAULT_PHI } from './core/phi.ts';
import { DEFAULT_GOSSIP } from './membership/gossip.ts';
import { DEFAULT_TRANSFER } from './membership/transfers.ts';
import { configOrExit, loadStorageConfig, type StorageConfig } from './config.ts';
import { LmdbEngine } from './engine/lmdb.ts';
import { StorageNode } from './node.ts';
import { cryptoRandom, jsonLogger, realClock } from './real-runtime.ts';
import { NodeServer } from './transport/server.ts';
import { WsTransport } from './transport/ws-transport.ts';
import { Counter, Gauge, Registry, collectDefaultMetrics } from 'prom-client';
import { RepairQueues } from '../jobs/queues.ts';
import { evictionProblem, redisConnection } from '../jobs/redis.ts';

async function startStorageNode(config: StorageConfig): Promise<{ stop: () => Promise<void>; port: number }> {
  const logger = jsonLogger(`storage:${config.id}`, config.logLevel);
  const bootstrap = config.members.length > 0 ? createRing(config.members, config.partitions, config.n) : null;
  const engine = LmdbEngine.open(config.dataDir, config.durability, config.commitDelayMs);
  const transport = new WsTransport({
    self: config.id,
    cluster: config.cluster,
    secret: config.secret,
    tls: config.tls?.client,
    addressOf: (id) => node.addressOf(id),
  });
  const node: StorageNode = await StorageNode.open({
    config: {
      ...config,
      maxActors: MAX_ACTORS_PER_KEY,
      hints: { maxBytes: config.hintMaxBytes, maxAgeMs: config.hintMaxAgeMs },
      gossip: { ...DEFAULT_GOSSIP, intervalMs: config.gossipIntervalMs, phi: { ...DEFAULT_PHI, threshold: config.phiThreshold } },
      transfer: { ...DEFAULT_TRANSFER, maxBytesPerSecond: config.transferBytesPerSecond, dropGraceMs: config.dropGraceMs },
      // without the repair workers the node delivers its own hints
      localHandoffEveryMs: config.repairRedisUrl ? 0 : 2000,
    },
    bootstrap,
    engine,
    transport,
    clock: realClock,
    random: cryptoRandom,
    logger,
  });
  const server = new NodeServer({
    host: config.host,
    port: config.port,
    cluster: config.cluster,
    secret: config.secret,
    acceptSecrets: config.acceptSecrets,
    tls: config.tls?.server,
    handler: node.handle,
    onPeer: (peer) => transport.heardFrom(peer),
    logger,
    routes: (app) => {
      app.get('/health', (_req, res) => void res.json({ status: 'ok', node: config.id }));
      app.get('/metrics', async (_req, res) => {
        res.header('content-type', metrics.contentType);
        res.send(await metrics.metrics());
      });
      app.get('/ready', (_req, res) => {
        const s = node.status();
        if (s.accepting) res.json({ status: 'ready', ...s });
        else res.status(503).json({ status: 'draining', ...s });
      });
    },
  });
  const metrics = nodeMetrics(node);
  const queues = config.repairRedisUrl ? await repairQueues(node, config.repairRedisUrl, config.repairQueuePrefix, logger) : null;
  const port = await server.listen();
  node.start();
  logger.info('listening', { host: config.host, port, tls: config.tls !== null, dataDir: config.dataDir, ringVersion: node.ring?.version ?? null });

  let stopping: Promise<void> | null = null;
  const stop = () =>
    (stopping ??= (async () => {
      logger.info('shutting down: draining requests in flight');
      server.stopListening();
      await node.drain();
      await server.closeConnections();
      transport.close();
      await queues?.close();
      await engine.close();
      logger.info('stopped cleanly');
    })());
  return { stop, port };
}

/** Queues a replay of the hints this node holds for a peer whenever that peer answers again. */
async function repairQueues(node: StorageNode, url: string, prefix: string, logger: ReturnType<typeof jsonLogger>): Promise<{ close: () => Promise<void> }> {
  const redis = redisConnection(url, { maxRetriesPerRequest: 1 });
  redis.on('error', (e) => logger.warn('repair queue unreachable; hints stay on disk until it is back', { error: e.message }));
  const problem = await evictionProblem(redis).catch(() => null);
  if (problem) logger.error(problem);
  const queues = new RepairQueues(redis, prefix);
  node.onPeerReturn((peer) => {
    if (!node.hintOwners().includes(peer)) return;
    queues.replay(node.id, peer, 'owner reachable again').catch((e: unknown) => logger.warn('could not queue a hint replay', { owner: peer, error: String(e) }));
  });
  return {
    close: async () => {
      await queues.close();
      redis.disconnect();
    },
  };
}

/** Prometheus metrics of one node. */
function nodeMetrics(node: StorageNode): Registry {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  const gauge = (name: string, help: string, value: () => number) => new Gauge({ name, help, registers: [registry], collect() { this.set(value()); } });
  const counter = (name: string, help: string, value: () => number) =>
    new Counter({ name, help, registers: [registry], collect() { this.reset(); this.inc(value()); } });
  gauge('dynamo_hints_stored', 'Hints this node holds for unreachable replicas', () => node.replica.hintCount);
  gauge('dynamo_hint_bytes', 'Bytes of hints this node holds', () => node.replica.hintBytes);
  gauge('dynamo_hint_oldest_age_seconds', 'Age of the oldest hint this node holds (0 without hints)', () => {
    const oldest = node.replica.oldestHintAt;
    return oldest === null ? 0 : Math.max(0, (Date.now() - oldest) / 1000);
  });
  counter('dynamo_hints_replayed_total', 'Hints delivered and deleted', () => node.repair.counters.hintsReplayed);
  counter('dynamo_hints_expired_total', 'Hints past their age cap handed to their keys\' primaries and deleted', () => node.repair.counters.hintsExpired);
  counter('dynamo_keys_repaired_total', 'Sibling sets merged in by anti-entropy', () => node.repair.counters.keysRepaired);
  counter('dynamo_tombstones_reclaimed_total', 'Tombstones reclaimed', () => node.repair.counters.tombstonesReclaimed);
  counter('dynamo_corrupt_records_total', 'Records on disk that failed their checksum (never served; repaired from other replicas)', () => node.corruptRecords);
  counter('dynamo_histories_compacted_total', 'Quiet keys whose versions\' histories were compacted', () => node.repair.counters.historiesCompacted);
  counter('dynamo_merkle_mismatches_total', 'Merkle trees found to disagree with the data', () => node.repair.counters.treeMismatches);
  gauge('dynamo_ring_version', 'Ring version this node holds', () => node.ring?.version ?? 0);
  gauge('dynamo_unreachable_peers', 'Peers this node cannot reach', () => node.gossip.down().length);
  return registry;
}

async function main(): Promise<void> {
  const config = configOrExit(() => loadStorageConfig(process.argv.slice(2), process.env));
  const { stop } = await startStorageNode(config);
  const shutdown = () => {
    void stop().then(
      () => process.exit(0),
      (e: unknown) => {
        process.stderr.write(`shutdown failed: ${String(e)}\n`);
        process.exit(1);
      },
    );
  };
  process.once('SIGTERM', shutdown);
  process.once('SIGINT', shutdown);
}

main().catch((e: unknown) => {
  process.stderr.write(`storage node failed to start: ${e instanceof Error ? e.message : String(e)}\n`);
  process.exit(1);
});
