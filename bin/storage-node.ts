// A storage node process: configuration, the LMDB engine, the node, its server, and a
// graceful shutdown on SIGTERM or SIGINT (stop taking requests, finish those in flight,
// flush, exit).
import { createRing } from '../client/src/core/ring.ts';
import { MAX_ACTORS_PER_KEY } from '../client/src/core/limits.ts';
import { DEFAULT_PHI } from '../storage/core/phi.ts';
import { DEFAULT_GOSSIP } from '../storage/membership/gossip.ts';
import { DEFAULT_TRANSFER } from '../storage/membership/transfers.ts';
import { configOrExit, loadStorageConfig, NODE_SETTINGS, type StorageConfig } from '../storage/config.ts';
import { redacted } from '../storage/settings/table.ts';
import { stopOnSignals } from '../storage/settings/shutdown.ts';
import { LmdbEngine } from '../storage/engine/lmdb.ts';
import { StorageNode } from '../storage/node.ts';
import { cryptoRandom, realClock } from '../storage/real-runtime.ts';
import { processLogger } from '../storage/logging.ts';
import type { Logger } from '../client/src/runtime.ts';
import { NodeServer } from '../storage/transport/server.ts';
import { WsTransport } from '../client/src/transport/ws-transport.ts';
import { NodeMetrics } from '../storage/metrics.ts';
import { startTracing } from '../storage/tracing.ts';
import { RepairQueues } from '../jobs/queues.ts';
import { redisConnection, watchRedis } from '../jobs/redis.ts';

async function startStorageNode(config: StorageConfig): Promise<{ stop: () => Promise<void>; port: number }> {
  const logger = processLogger(`storage:${config.id}`, { level: config.logLevel, format: config.logFormat });
  const identity = config.identity?.certificate ?? null;
  logger.info('configuration', { config: { ...redacted(NODE_SETTINGS, config), identity, authorities: config.authorities.length } });
  const metrics = new NodeMetrics();
  const tracing = config.tracing ? await startTracing(config.tracing, logger) : null;
  const bootstrap = config.members.length > 0 ? createRing(config.members, config.partitions, config.n) : null;
  const engine = LmdbEngine.open(config.dataDir, config.durability);
  const transport = new WsTransport({
    self: config.id,
    cluster: config.cluster,
    // its identity when it has one; else the cluster secret (the legacy mode, docs/security.md)
    ...(config.identity ? { identity: config.identity } : { secret: config.secret }),
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
    observer: metrics.observer,
  });
  const server = new NodeServer({
    host: config.host,
    port: config.port,
    cluster: config.cluster,
    id: config.id,
    authorities: config.authorities,
    secret: config.secret,
    acceptSecrets: config.acceptSecrets,
    tls: config.tls?.server,
    handler: node.handle,
    ...(tracing ? { tracer: tracing.requests } : {}),
    onPeer: (peer) => transport.heardFrom(peer),
    logger,
    routes: (app) => {
      app.get('/health', (_req, res) => void res.json({ status: 'ok', node: config.id }));
      app.get('/metrics', async (_req, res) => {
        res.header('content-type', metrics.registry.contentType);
        res.send(await metrics.registry.metrics());
      });
      app.get('/ready', (_req, res) => {
        const s = node.status();
        if (s.accepting) res.json({ status: 'ready', ...s });
        else res.status(503).json({ status: 'draining', ...s });
      });
    },
  });
  metrics.watch(node, realClock);
  const queues = config.repairRedisUrl ? repairQueues(node, config.repairRedisUrl, config.repairQueuePrefix, logger) : null;
  const port = await server.listen();
  node.start();
  logger.info('listening', {
    host: config.host,
    port,
    tls: config.tls !== null,
    dataDir: config.dataDir,
    ringVersion: node.ring?.version ?? null,
  });

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
      await tracing?.shutdown();
      logger.info('stopped cleanly');
    })());
  return { stop, port };
}

/** How often a node with repair workers asks for a replay of the hints it holds for owners it can reach. */
const HINT_CHECK_EVERY_MS = 5_000;

/**
 * Queues a replay of the hints this node holds for a peer when that peer answers again, and,
 * as riak_core's vnode manager checks for handoff on a timer, every few seconds for each owner
 * it holds hints for and can reach. The timer covers what the return event cannot: hints for
 * an owner this node never saw down (the coordinator that failed to reach it was another node,
 * or the owner came back before this node noticed), and hints a replay could not deliver. A
 * request while a replay of the pair is queued or running is the same job (BullMQ
 * deduplication), so the timer costs one Redis call per owner when nothing is due.
 */
function repairQueues(node: StorageNode, url: string, prefix: string, logger: Logger): { close: () => Promise<void> } {
  const redis = redisConnection(url, { maxRetriesPerRequest: 1 });
  watchRedis(redis, logger, 'hint replays are not queued (hints stay on disk)');
  const queues = new RepairQueues(redis, prefix);
  const replay = (owner: string, reason: string) =>
    queues.replay(node.id, owner, reason).catch((e: unknown) => logger.warn('could not queue a hint replay', { owner, error: String(e) }));
  node.onPeerReturn((peer) => {
    if (node.hintOwners().includes(peer)) void replay(peer, 'owner reachable again');
  });
  const timer = setInterval(() => {
    if (!queues.reachable) return;
    for (const owner of node.hintOwners()) if (node.gossip.isUp(owner)) void replay(owner, 'hints held for a reachable owner');
  }, HINT_CHECK_EVERY_MS);
  return {
    close: async () => {
      clearInterval(timer);
      await queues.close();
      redis.disconnect();
    },
  };
}

async function main(): Promise<void> {
  const config = configOrExit(() => loadStorageConfig(process.argv.slice(2), process.env));
  const { stop } = await startStorageNode(config);
  stopOnSignals(stop);
}

main().catch((e: unknown) => {
  process.stderr.write(`storage node failed to start: ${e instanceof Error ? e.message : String(e)}\n`);
  process.exit(1);
});
