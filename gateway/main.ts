// The gateway process: configuration, a client that finds the cluster (retrying until it
// answers), Yoga, the HTTP server, and a graceful shutdown on SIGTERM or SIGINT.
import { configOrExit } from '../storage/config.ts';
import { DynamoClient } from '../storage/client.ts';
import { processLogger } from '../storage/logging.ts';
import { loadGatewayConfig } from './config.ts';
import { ContextSigner } from './context-token.ts';
import { GatewayHttpServer } from './http.ts';
import { createGateway } from './yoga.ts';
import { gatewayMetrics } from './metrics.ts';
import { repairDashboard } from './bull-board.ts';
import { RepairQueues } from '../jobs/queues.ts';
import { RepairStats } from '../jobs/stats.ts';
import { redisConnection, watchRedis } from '../jobs/redis.ts';

async function main(): Promise<void> {
  const config = configOrExit(() => loadGatewayConfig(process.argv.slice(2), process.env));
  const logger = processLogger('gateway', { level: config.logLevel, format: config.logFormat });
  logger.info('configuration', { config });
  if (!config.adminToken) logger.warn('ADMIN_TOKEN is not set: admin fields and the repair dashboard are disabled');
  let client: DynamoClient | null = null;
  let stopping = false;

  const connect = async () => {
    for (let attempt = 1; !stopping; attempt++) {
      try {
        client = await DynamoClient.connect({ seeds: config.seeds, cluster: config.cluster, secret: config.secret, timeoutMs: config.nodeTimeoutMs });
        logger.info('connected to the cluster', { ringVersion: client.ring.version, nodes: client.ring.members.length });
        return;
      } catch (e) {
        if (attempt === 1 || attempt % 30 === 0) logger.warn('cannot reach the cluster yet; retrying', { error: (e as Error).message });
        await new Promise((r) => setTimeout(r, 1000));
      }
    }
  };

  // the repair queues: the dashboard, and GraphQL repair status and sweeps
  let repair: { queues: RepairQueues; stats: RepairStats } | null = null;
  let redis: ReturnType<typeof redisConnection> | null = null;
  if (config.redisUrl) {
    redis = redisConnection(config.redisUrl);
    watchRedis(redis, logger, 'the repair dashboard and GraphQL repair status and sweeps wait');
    repair = { queues: new RepairQueues(redis, config.repairQueuePrefix), stats: new RepairStats(redis, config.repairQueuePrefix) };
  }

  const yoga = createGateway({
    client: () => client,
    contexts: new ContextSigner(config.contextKeys),
    adminToken: config.adminToken,
    requestTimeoutMs: config.requestTimeoutMs,
    maxBodyBytes: config.maxBodyBytes,
    persistedOperations: config.persistedOperations,
    onlyPersisted: config.onlyPersisted,
    graphiql: config.graphiql,
    logger,
    repair,
    metrics: gatewayMetrics(() => client !== null).plugin,
  });
  const dashboard = repair && config.adminToken ? repairDashboard([repair.queues.handoff, repair.queues.antiEntropy], '/admin/queues', config.adminToken) : null;
  const server = new GatewayHttpServer(yoga, { host: config.host, port: config.port, maxBodyBytes: config.maxBodyBytes, routes: (app) => dashboard?.mount(app) });
  const port = await server.listen();
  logger.info('listening', { url: `http://${config.host}:${port}/graphql`, graphiql: config.graphiql });
  void connect();

  const shutdown = () => {
    if (stopping) return;
    stopping = true;
    logger.info('shutting down: finishing requests in flight');
    void server.close().then(() => {
      (client as DynamoClient | null)?.close();
      void repair?.queues.close();
      redis?.disconnect();
      logger.info('stopped cleanly');
      process.exit(0);
    });
  };
  process.once('SIGTERM', shutdown);
  process.once('SIGINT', shutdown);
}

main().catch((e: unknown) => {
  process.stderr.write(`gateway failed to start: ${e instanceof Error ? e.message : String(e)}\n`);
  process.exit(1);
});
