// The repair worker process: BullMQ workers for hinted handoff and anti-entropy, the standing
// schedules, and /health and /metrics for operators. Any number may run; BullMQ spreads the
// jobs. It refuses to start on a Redis that may evict keys.
import HyperExpress from 'hyper-express';
import { configOrExit } from '../storage/config.ts';
import { redacted } from '../storage/settings/table.ts';
import { stopOnSignals } from '../storage/settings/shutdown.ts';
import { JOBS_SETTINGS, loadJobsConfig } from '../jobs/config.ts';
import { DynamoClient } from '../client/src/client.ts';
import { processLogger } from '../storage/logging.ts';
import { RepairMetrics } from '../jobs/metrics.ts';
import { RepairQueues } from '../jobs/queues.ts';
import { evictionProblem, redisConnection, watchRedis } from '../jobs/redis.ts';
import { describeRedis, parseRedisAddress } from '../jobs/redis-address.ts';
import { RepairStats } from '../jobs/stats.ts';
import { startWorkers } from '../jobs/workers.ts';

async function main(): Promise<void> {
  const c = configOrExit(() => loadJobsConfig(process.argv.slice(2), process.env));
  const logger = processLogger('jobs', { level: c.logLevel, format: c.logFormat });
  const credential = c.credential.identity ? c.credential.identity.certificate : 'cluster secret';
  logger.info('configuration', { config: { ...redacted(JOBS_SETTINGS, c), credential } });
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
  logger.info('repair workers running', {
    queues: workers.map((w) => w.name),
    prefix: queues.prefix,
    redis: describeRedis(parseRedisAddress(c.redisUrl)),
    http: `${c.host}:${c.port}`,
  });

  stopOnSignals(async () => {
    logger.info('stopping: finishing the jobs in hand');
    app.close();
    await Promise.all(workers.map((w) => w.close()));
    await queues.close();
    client.close();
    redis.disconnect();
  });
}

main().catch((e: unknown) => {
  process.stderr.write(`repair workers failed to start: ${e instanceof Error ? e.message : String(e)}\n`);
  process.exit(1);
});
