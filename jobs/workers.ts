// The repair workers: what each job does. Every job drives the repair logic in
// storage/repair/ (the same code the simulator ticks) against the cluster over the binary
// protocol, reports progress on the job, and records what it did.
import { Worker, type Job } from 'bullmq';
import type { RedisConnection } from './redis.ts';
import type { DynamoClient } from '../client/src/client.ts';
import { replayHints, type ReplayStats } from '../storage/repair/handoff.ts';
import { syncPair, type SyncStats } from '../storage/repair/anti-entropy.ts';
import { expireHints } from '../storage/repair/expiry.ts';
import { reclaim as reclaimQuiet } from '../storage/repair/reclaim.ts';
import type { Logger } from '../client/src/runtime.ts';
import { QUEUE_NAMES, type AntiEntropyJob, type HandoffJob, type RepairQueues } from './queues.ts';
import type { RepairStats } from './stats.ts';
import type { RepairMetrics } from './metrics.ts';

export interface WorkerOptions {
  readonly client: DynamoClient;
  readonly queues: RepairQueues;
  readonly stats: RepairStats;
  readonly metrics: RepairMetrics;
  readonly logger: Logger;
  readonly connection: () => RedisConnection;
  /** per request to a node */
  readonly timeoutMs: number;
  /** anti-entropy: keys exchanged per second, per worker, so sweeps never starve foreground traffic */
  readonly syncKeysPerSecond: number;
  /** anti-entropy: sync jobs started per second */
  readonly syncJobsPerSecond: number;
  /** hinted handoff: hints delivered per second, per worker */
  readonly replayHintsPerSecond: number;
  /** how long a worker holds a job's lock: a worker that dies loses its jobs to another after this */
  readonly lockMs: number;
  /** tombstones are reclaimed only after being everywhere this long (longer than the hint age cap) */
  readonly reclaimGraceMs: number;
  readonly concurrency: number;
}

export function startWorkers(o: WorkerOptions): Worker[] {
  const locks = { lockDuration: o.lockMs, stalledInterval: o.lockMs, maxStalledCount: 5 };
  const handoff = new Worker<HandoffJob>(QUEUE_NAMES.handoff, (job) => runHandoff(o, job), {
    connection: o.connection(),
    prefix: o.queues.prefix,
    concurrency: o.concurrency,
    ...locks,
  });
  const antiEntropy = new Worker<AntiEntropyJob>(QUEUE_NAMES.antiEntropy, (job) => runAntiEntropy(o, job), {
    connection: o.connection(),
    prefix: o.queues.prefix,
    concurrency: o.concurrency,
    limiter: { max: o.syncJobsPerSecond, duration: 1000 },
    ...locks,
  });
  for (const w of [handoff, antiEntropy]) {
    w.on('failed', (job, e) => {
      o.metrics.jobFailures.inc({ queue: w.name });
      o.logger.warn('repair job failed', { queue: w.name, job: job?.name, attempts: job?.attemptsMade, error: e.message });
    });
  }
  return [handoff, antiEntropy];
}

async function runHandoff(o: WorkerOptions, job: Job<HandoffJob>): Promise<unknown> {
  const data = job.data;
  await o.client.refreshRing().catch(() => undefined);
  switch (data.kind) {
    case 'replay': {
      const stats = await replayHints({
        transport: o.client.transport,
        view: o.client.view,
        holder: data.holder,
        owner: data.owner,
        batch: 100,
        timeoutMs: o.timeoutMs,
        onProgress: (s: ReplayStats) => job.updateProgress({ ...s }),
        pace: pacer(o.replayHintsPerSecond),
      });
      o.metrics.hintsReplayed.inc(stats.deleted);
      await o.stats.add('hintsReplayed', stats.deleted);
      // nothing went out: let BullMQ retry with backoff
      if (stats.failed > 0 && stats.delivered + stats.passedOn === 0)
        throw new Error(`${stats.failed} hints for ${data.owner} could not be delivered`);
      return stats;
    }
    case 'scan': {
      let queued = 0;
      for (const m of o.client.ring.members) {
        const status = await o.client.status(m.id).catch(() => null);
        if (!status || status.hints === 0) continue;
        const reply = await o.client.hints(m.id, 100_000);
        for (const owner of new Set(reply.hints.map((h) => h.owner))) {
          // an owner the holder cannot reach waits for it to return (the holder queues the replay then)
          if (status.unreachable.includes(owner)) continue;
          await o.queues.replay(m.id, owner, 'scan');
          queued++;
        }
      }
      return { queued };
    }
    case 'expire': {
      let dropped = 0;
      for (const m of o.client.ring.members) {
        const r = await expireHints({
          transport: o.client.transport,
          view: o.client.view,
          node: m.id,
          limit: 10_000,
          timeoutMs: o.timeoutMs,
        }).catch(() => ({ handedOff: 0 }));
        dropped += r.handedOff;
      }
      o.metrics.hintsExpired.inc(dropped);
      await o.stats.add('hintsExpired', dropped);
      return { dropped };
    }
  }
}

async function runAntiEntropy(o: WorkerOptions, job: Job<AntiEntropyJob>): Promise<unknown> {
  const data = job.data;
  await o.client.refreshRing().catch(() => undefined);
  const view = o.client.view;
  switch (data.kind) {
    case 'sweep': {
      const partitions = data.partitions ?? Array.from({ length: view.ring.partitions }, (_, p) => p);
      const flows = await o.queues.addSweepFlows(view, partitions, `${job.id}`);
      return { partitions: flows };
    }
    case 'sync': {
      const started = performance.now();
      const stats = await syncPair(
        { transport: o.client.transport, timeoutMs: o.timeoutMs, batchKeys: 200, pace: pacer(o.syncKeysPerSecond) },
        data.partition,
        data.a,
        data.b,
      );
      o.metrics.syncSeconds.observe((performance.now() - started) / 1000);
      o.metrics.keysCompared.inc(stats.keysCompared);
      o.metrics.keysRepaired.inc(stats.sentToA + stats.sentToB);
      await o.stats.recordSync(stats);
      await job.updateProgress({ ...stats });
      // each pair carries the pairs before it, so the finishing job sees the whole key range
      return { pairs: [...(await earlierPairs(job)), { ...stats, ms: Math.round(performance.now() - started) }] };
    }
    case 'finish': {
      const all = await earlierPairs(job);
      const reclaim = await reclaimQuiet({
        transport: o.client.transport,
        view,
        partition: data.partition,
        now: Date.now(),
        graceMs: o.reclaimGraceMs,
        candidates: o.stats.candidates(),
        timeoutMs: o.timeoutMs,
        limit: 10_000,
      });
      o.metrics.tombstonesReclaimed.inc(reclaim.reclaimed);
      o.metrics.historiesCompacted.inc(reclaim.compacted);
      await o.stats.recordPartition({
        partition: data.partition,
        sweep: data.sweep,
        finishedAt: new Date().toISOString(),
        durationMs: all.reduce((n, p) => n + p.ms, 0),
        pairs: all.length,
        keysCompared: all.reduce((n, p) => n + p.keysCompared, 0),
        keysRepaired: all.reduce((n, p) => n + p.sentToA + p.sentToB, 0),
        rootsEqual: all.every((p) => p.rootsEqual),
        reclaimed: reclaim.reclaimed,
      });
      o.metrics.partitionsSwept.inc();
      return reclaim;
    }
  }
}

type TimedSync = SyncStats & { ms: number };

async function earlierPairs(job: Job): Promise<TimedSync[]> {
  const values = Object.values(await job.getChildrenValues()) as { pairs?: TimedSync[] }[];
  return values.flatMap((v) => v.pairs ?? []);
}

/** Spaces batches so a worker exchanges at most `perSecond` keys a second. */
function pacer(perSecond: number): (keys: number) => Promise<void> {
  let next = performance.now();
  return async (keys) => {
    const now = performance.now();
    if (next > now) await new Promise((r) => setTimeout(r, next - now));
    next = Math.max(now, next) + (keys / perSecond) * 1000;
  };
}

