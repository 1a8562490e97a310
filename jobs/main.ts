// The repair worker process: BullMQ workers for hinted handoff and anti-entropy, the standing
// schedules, and /health and /metrics for operators. Any number may run; BullMQ spreads the
// jobs. It refuses to start on a Redis that may evict keys.
import HyperExpress from 'hyper-express';
import { z } from 'zod';
import { configOrExit, invalidConfig, parseFlags, readCredential } from '../storage/config.ts';
import { DynamoClient } from '../client/src/client.ts';
import { logFormat, logLevel, processLogger } from '../storage/logging.ts';
import { RepairMetrics } from './metrics.ts';
import { readCa } from '../storage/transport/tls.ts';
import { RepairQueues } from './queues.ts';
import { DEFAULT_REDIS_URL, evictionProblem, redisConnection, watchRedis } from './redis.ts';
import { describeRedis, parseRedisAddress, redisSetting } from './redis-address.ts';
import { RepairStats } from './stats.ts';
import { startWorkers } from './workers.ts';

const schema = z
  .object({
    redisUrl: redisSetting('REDIS_URL'),
    prefix: z.string().regex(/^[A-Za-z0-9_.-]{1,64}$/),
    seeds: z.string().min(1, 'seed nodes are required (--seeds or DYNAMO_SEEDS)').transform((s) => s.split(',').map((x) => x.trim()).filter(Boolean)),
    cluster: z.string().min(1),
    host: z.string(),
    port: z.coerce.number().int().min(0).max(65535),
    timeoutMs: z.coerce.number().int().min(100),
    concurrency: z.coerce.number().int().min(1).max(64),
    syncKeysPerSecond: z.coerce.number().int().min(1),
    syncJobsPerSecond: z.coerce.number().int().min(1),
    replayHintsPerSecond: z.coerce.number().int().min(1),
    lockMs: z.coerce.number().int().min(500),
    handoffScanEveryMs: z.coerce.number().int().min(100),
    hintExpiryEveryMs: z.coerce.number().int().min(100),
    sweepEveryMs: z.coerce.number().int().min(1000),
    reclaimGraceMs: z.coerce.number().int().min(0),
    schedule: z.boolean(),
    logLevel,
    logFormat,
  })
  .strict();

const USAGE = `jobs: repair workers (hinted handoff, anti-entropy) on BullMQ

  --seeds HOST:PORT,...       storage nodes (DYNAMO_SEEDS), required
  --cluster NAME              the cluster's name (DYNAMO_CLUSTER, default dev)
  --identity FILE             the workers' repair identity on the node protocol (DYNAMO_IDENTITY)
  DYNAMO_SECRET               the cluster secret: legacy mode, without --identity
  --host HOST --port PORT     /health and /metrics (JOBS_HOST, default 127.0.0.1; JOBS_PORT, default 4100)
  JOBS_NODE_TIMEOUT_MS        wait for a node's answer (default 5000)
  REDIS_URL                   default ${DEFAULT_REDIS_URL}; must run with maxmemory-policy noeviction;
                              redis-cluster://HOST:PORT,... for a Redis Cluster (some of its nodes),
                              redis-sentinel://HOST:PORT,.../NAME for Sentinel (the sentinels, the primary's name)
  REPAIR_QUEUE_PREFIX         the queues' name: their Redis keys start with {NAME}: (default dynamo)
  --concurrency C             jobs per queue at once (default 2)
  --sync-keys-per-second K    anti-entropy exchange rate per worker (default 5000)
  --replay-hints-per-second H hinted-handoff rate per worker (default 5000)
  --lock-ms T                 a dead worker's jobs go to another after this (default 30000)
  --sweep-every-ms T          full anti-entropy sweep (default 600000)
  --handoff-scan-every-ms T   safety-net scan for hints (default 30000)
  --hint-expiry-every-ms T    hints past their age cap (default 60000)
  --reclaim-grace-ms T        tombstones everywhere this long are reclaimed (default 2 days: longer than the hint age cap)
  --no-schedule               only work jobs; leave the schedules to another worker
  --log-level LEVEL           debug|info|warn|error|silent (JOBS_LOG_LEVEL or LOG_LEVEL, default info)
  LOG_FORMAT                  json (default: one object per line on stderr) or pretty (readable)
  --tls-ca FILE[,FILE]        the nodes speak TLS: dial them over wss:// trusting these
                              authorities (DYNAMO_TLS_CA)`;

function load(argv: string[], env: NodeJS.ProcessEnv) {
  const f = parseFlags(
    argv,
    {
      seeds: { type: 'string' },
      cluster: { type: 'string' },
      host: { type: 'string' },
      port: { type: 'string' },
      concurrency: { type: 'string' },
      'sync-keys-per-second': { type: 'string' },
      'replay-hints-per-second': { type: 'string' },
      'lock-ms': { type: 'string' },
      'sweep-every-ms': { type: 'string' },
      'handoff-scan-every-ms': { type: 'string' },
      'hint-expiry-every-ms': { type: 'string' },
      'reclaim-grace-ms': { type: 'string' },
      'no-schedule': { type: 'boolean' },
      'log-level': { type: 'string' },
      'tls-ca': { type: 'string' },
      identity: { type: 'string' },
      help: { type: 'boolean' },
    },
    USAGE,
  );
  const parsed = schema.safeParse({
    redisUrl: env.REDIS_URL ?? DEFAULT_REDIS_URL,
    prefix: env.REPAIR_QUEUE_PREFIX ?? 'dynamo',
    seeds: f.seeds ?? env.DYNAMO_SEEDS ?? '',
    cluster: f.cluster ?? env.DYNAMO_CLUSTER ?? 'dev',
    host: f.host ?? env.JOBS_HOST ?? '127.0.0.1',
    port: f.port ?? env.JOBS_PORT ?? 4100,
    timeoutMs: env.JOBS_NODE_TIMEOUT_MS ?? 5000,
    concurrency: f.concurrency ?? 2,
    syncKeysPerSecond: f['sync-keys-per-second'] ?? 5000,
    syncJobsPerSecond: 20,
    replayHintsPerSecond: f['replay-hints-per-second'] ?? 5000,
    lockMs: f['lock-ms'] ?? 30_000,
    handoffScanEveryMs: f['handoff-scan-every-ms'] ?? 30_000,
    hintExpiryEveryMs: f['hint-expiry-every-ms'] ?? 60_000,
    sweepEveryMs: f['sweep-every-ms'] ?? 600_000,
    reclaimGraceMs: f['reclaim-grace-ms'] ?? 2 * 24 * 3600_000,
    schedule: !f['no-schedule'],
    logLevel: f['log-level'] || env.JOBS_LOG_LEVEL || env.LOG_LEVEL || 'info',
    logFormat: env.LOG_FORMAT || 'json',
  });
  if (!parsed.success) throw invalidConfig('jobs configuration', parsed.error);
  const ca = (f['tls-ca'] as string | undefined) ?? (env.DYNAMO_TLS_CA || undefined);
  const identityFile = (f.identity as string | undefined) ?? (env.DYNAMO_IDENTITY || undefined);
  const credential = readCredential(identityFile, env.DYNAMO_SECRET, { cluster: parsed.data.cluster, roles: ['repair'], what: 'the repair workers' });
  return { ...parsed.data, tls: ca !== undefined ? readCa(ca, '--tls-ca (DYNAMO_TLS_CA)') : undefined, credential };
}

async function main(): Promise<void> {
  const c = configOrExit(() => load(process.argv.slice(2), process.env));
  const logger = processLogger('jobs', { level: c.logLevel, format: c.logFormat });
  logger.info('configuration', { config: { ...c, credential: c.credential.identity ? c.credential.identity.certificate : 'cluster secret' } });
  const redis = redisConnection(c.redisUrl);
  watchRedis(redis, logger, 'the repair workers wait');
  const problem = await evictionProblem(redis);
  if (problem) {
    process.stderr.write(`${problem}\nRefusing to start the repair workers.\n`);
    process.exit(2);
  }
  const client = await DynamoClient.connect({ seeds: c.seeds, cluster: c.cluster, ...c.credential, timeoutMs: c.timeoutMs, tls: c.tls });
  const queues = new RepairQueues(redis, c.prefix);
  const stats = new RepairStats(redis, c.prefix);
  const metrics = new RepairMetrics();
  const workers = startWorkers({
    client,
    queues,
    stats,
    metrics,
    logger,
    connection: () => redisConnection(c.redisUrl),
    timeoutMs: c.timeoutMs,
    syncKeysPerSecond: c.syncKeysPerSecond,
    syncJobsPerSecond: c.syncJobsPerSecond,
    replayHintsPerSecond: c.replayHintsPerSecond,
    lockMs: c.lockMs,
    reclaimGraceMs: c.reclaimGraceMs,
    concurrency: c.concurrency,
  });
  if (c.schedule) await queues.schedule(c);

  const app = new HyperExpress.Server({ auto_close: false });
  app.get('/health', (_req, res) => void res.json({ status: 'ok', workers: workers.length }));
  app.get('/metrics', async (_req, res) => {
    res.header('content-type', metrics.registry.contentType);
    res.send(await metrics.registry.metrics());
  });
  await app.listen(c.port, c.host);
  logger.info('repair workers running', { queues: workers.map((w) => w.name), prefix: queues.prefix, redis: describeRedis(parseRedisAddress(c.redisUrl)), http: `${c.host}:${c.port}` });

  let stopping = false;
  const stop = () => {
    if (stopping) return;
    stopping = true;
    logger.info('stopping: finishing the jobs in hand');
    void (async () => {
      app.close();
      await Promise.all(workers.map((w) => w.close()));
      await queues.close();
      client.close();
      redis.disconnect();
      process.exit(0);
    })();
  };
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
}

main().catch((e: unknown) => {
  process.stderr.write(`repair workers failed to start: ${e instanceof Error ? e.message : String(e)}\n`);
  process.exit(1);
});
