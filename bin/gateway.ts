// The gateway process: configuration, authentication, a client that finds the cluster
// (retrying until it answers), Yoga, the HTTP server (and the operator listener when asked),
// and a graceful shutdown on SIGTERM or SIGINT.
import type HyperExpress from 'hyper-express';
import { configOrExit } from '../storage/config.ts';
import { DynamoClient } from '../client/src/client.ts';
import { processLogger } from '../storage/logging.ts';
import { GATEWAY_SETTINGS, loadGatewayConfig } from '../gateway/config.ts';
import { redacted } from '../storage/settings/table.ts';
import { stopOnSignals } from '../storage/settings/shutdown.ts';
import { ContextSigner } from '../gateway/context-token.ts';
import { GatewayHttpServer } from '../gateway/http.ts';
import { httpScheme } from '../storage/transport/tls.ts';
import { createGateway } from '../gateway/yoga.ts';
import { repairDashboard } from '../gateway/bull-board.ts';
import { RepairQueues } from '../jobs/queues.ts';
import { RepairStats } from '../jobs/stats.ts';
import { redisConnection, watchRedis } from '../jobs/redis.ts';
import { adminCheck, mountMetrics, startAdminServer } from '../gateway/admin-routes.ts';
import { ApiKeys } from '../gateway/api-keys.ts';
import { Authenticator } from '../gateway/auth.ts';
import { JwtVerifier } from '../gateway/jwt.ts';
import { GatewayMetrics } from '../gateway/metrics.ts';
import { RateLimit } from '../gateway/rate-limit.ts';
import { startTracing } from '../storage/tracing.ts';
import { useTracing } from '../gateway/tracing.ts';
import { WatchHub } from '../gateway/watch/hub.ts';
import { trustedProxies } from '../gateway/client-address.ts';

async function main(): Promise<void> {
  const config = configOrExit(() => loadGatewayConfig(process.argv.slice(2), process.env));
  const auth = configOrExit(
    () =>
      new Authenticator({
        apiKeys: config.apiKeysFile ? ApiKeys.fromFile(config.apiKeysFile) : null,
        jwt: config.jwks
          ? JwtVerifier.load({
              keys: config.jwks,
              issuer: config.jwtIssuer,
              audience: config.jwtAudience,
              clockToleranceS: config.jwtClockToleranceS,
            })
          : null,
        adminToken: config.adminToken,
      }),
  );
  const logger = processLogger('gateway', { level: config.logLevel, format: config.logFormat });
  const credential = config.credential.identity ? config.credential.identity.certificate : 'cluster secret';
  logger.info('configuration', { config: { ...redacted(GATEWAY_SETTINGS, config), credential } });
  if (auth.open) {
    const why = config.production ? 'started with --allow-anonymous' : 'no GATEWAY_API_KEYS_FILE or GATEWAY_JWKS (development)';
    logger.warn(
      `THE GATEWAY IS OPEN: anyone who reaches it can read and write every key (${why}). Set GATEWAY_API_KEYS_FILE or GATEWAY_JWKS to require credentials.`,
    );
  } else {
    logger.info('data authentication', { credentials: auth.describe() });
  }
  if (!auth.adminPossible)
    logger.warn(
      'no credential has the admin scope (ADMIN_TOKEN unset): admin fields and the repair dashboard are disabled, and /metrics is served only on --admin-listen',
    );
  if (!config.rateLimitPoints) logger.info('no rate limit (GATEWAY_RATE_LIMIT_POINTS unset)');
  const tracing = config.tracing ? await startTracing(config.tracing, logger) : null;
  let client: DynamoClient | null = null;
  let stopping = false;

  const connect = async () => {
    for (let attempt = 1; !stopping; attempt++) {
      try {
        client = await DynamoClient.connect({
          seeds: config.seeds,
          cluster: config.cluster,
          ...config.credential,
          timeoutMs: config.nodeTimeoutMs,
          tls: config.nodeTls,
        });
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

  const rateLimit = config.rateLimitPoints
    ? new RateLimit({
        redisUrl: config.rateLimitRedisUrl!,
        points: config.rateLimitPoints,
        durationS: config.rateLimitDurationS,
        prefix: `${config.repairQueuePrefix}:${config.cluster}`,
      })
    : null;
  const metrics = new GatewayMetrics(() => client !== null);
  const watches = new WatchHub({
    client: () => client,
    limits: { maxKeys: config.watchMaxKeys, maxPerClient: config.watchMaxPerClient, maxStreams: config.watchMaxStreams },
    logger,
    timeoutMs: config.nodeTimeoutMs,
  });
  const yoga = createGateway({
    client: () => client,
    contexts: new ContextSigner(config.contextKeys),
    auth,
    rateLimit,
    metrics,
    corsOrigins: config.corsOrigins,
    introspection: config.introspection,
    requestTimeoutMs: config.requestTimeoutMs,
    maxBodyBytes: config.maxBodyBytes,
    persistedOperations: config.persistedOperations,
    onlyPersisted: config.onlyPersisted,
    graphiql: config.graphiql,
    ...(config.noCompiledExecution ? { compiledExecution: null } : {}),
    logger,
    repair,
    ...(tracing ? { tracing: useTracing(tracing.provider) } : {}),
    watches,
  });
  const dashboard =
    repair && auth.adminPossible
      ? repairDashboard(
          [repair.queues.handoff, repair.queues.antiEntropy],
          '/admin/queues',
          adminCheck(auth),
          () => repair!.queues.reachable,
        )
      : null;
  let adminServer: HyperExpress.Server | null = null;
  if (config.adminListen) {
    const [host, port] = [
      config.adminListen.slice(0, config.adminListen.lastIndexOf(':')),
      Number(config.adminListen.slice(config.adminListen.lastIndexOf(':') + 1)),
    ];
    adminServer = await startAdminServer({ host: host!, port, metrics, dashboard, tls: config.tls });
    logger.info('operator routes listening', { metrics: `${httpScheme(config.tls)}://${host}:${adminServer.port}/metrics`, dashboard: dashboard ? '/admin/queues' : null });
  }
  const server = new GatewayHttpServer(yoga, {
    host: config.host,
    port: config.port,
    maxBodyBytes: config.maxBodyBytes,
    maxStreamBufferBytes: config.watchMaxBufferBytes,
    tls: config.tls,
    ...(config.trustProxy ? { trustProxy: trustedProxies(config.trustProxy) } : {}),
    routes: (app) => {
      if (adminServer) return;
      if (auth.adminPossible) mountMetrics(app, metrics, auth);
      dashboard?.mount(app);
    },
  });
  const port = await server.listen();
  logger.info('listening', { url: `${httpScheme(config.tls)}://${config.host}:${port}/graphql`, graphiql: config.graphiql, introspection: config.introspection, cors: config.corsOrigins ?? [] });
  void connect();

  stopOnSignals(async () => {
    stopping = true;
    logger.info('shutting down: finishing requests in flight');
    watches.close();
    await server.close();
    (client as DynamoClient | null)?.close();
    adminServer?.close();
    rateLimit?.close();
    void repair?.queues.close();
    redis?.disconnect();
    // a collector that does not answer delays nothing past its own timeout and fails no shutdown
    await tracing?.shutdown().catch(() => undefined);
    logger.info('stopped cleanly');
  });
}

main().catch((e: unknown) => {
  process.stderr.write(`gateway failed to start: ${e instanceof Error ? e.message : String(e)}\n`);
  process.exit(1);
});
