// The repair queues: their names, their jobs, and how work is put on them. Everything that
// adds repair work (storage nodes, the workers' own schedules, the gateway's admin mutations)
// goes through RepairQueues, so queue names and job options live in one place.
//
// BullMQ only schedules and distributes: the hints and the data stay on the storage nodes,
// and a job that is lost only delays a repair that the next schedule does again.
import { FlowProducer, Queue, type FlowJob, type JobsOptions } from 'bullmq';
import type { RedisConnection } from './redis.ts';
import type { RingView } from '../client/src/core/preference.ts';
import { sweepPairs } from '../storage/repair/anti-entropy.ts';

export const QUEUE_NAMES = { handoff: 'handoff', antiEntropy: 'anti-entropy' } as const;

/**
 * Every Redis key of the repair queues and their reports starts with this: the configured
 * name (REPAIR_QUEUE_PREFIX, default dynamo) in braces. The braces make it a Redis Cluster hash
 * tag, so all the keys live in one slot, as BullMQ needs on a cluster (a flow's parent and
 * children, a job and its queue's lists, the reports' transactions); on a single Redis they are
 * only part of the name. Keys: {dynamo}:handoff:*, {dynamo}:anti-entropy:*, {dynamo}:repair:*.
 */
export function keyPrefix(name: string): string {
  return `{${name}}`;
}

/** The key of a repair report (jobs/stats.ts): totals, last-sweep, reclaim. */
export function reportKey(name: string, report: 'totals' | 'last-sweep' | 'reclaim'): string {
  return `${keyPrefix(name)}:repair:${report}`;
}

export type HandoffJob =
  /** deliver the hints `holder` keeps for `owner` */
  | { kind: 'replay'; holder: string; owner: string; reason: string }
  /** safety net: find every (holder, owner) with hints and queue their replays */
  | { kind: 'scan' }
  /** drop hints past their age cap, once sweeps of their key ranges are queued */
  | { kind: 'expire' };

export type AntiEntropyJob =
  /** queue a sweep of these key ranges (all when omitted) */
  | { kind: 'sweep'; partitions?: number[]; reason: string }
  /** compare and reconcile two replicas of one key range */
  | { kind: 'sync'; sweep: string; partition: number; a: string; b: string }
  /** after a key range's pairs: reclaim tombstones, record the sweep */
  | { kind: 'finish'; sweep: string; partition: number };

export interface Schedules {
  readonly handoffScanEveryMs: number;
  readonly hintExpiryEveryMs: number;
  readonly sweepEveryMs: number;
}

// a replay that fails (owner gone again) backs off: 1 s, 2 s, 4 s ... about 4 minutes in all
const REPLAY_OPTIONS: JobsOptions = {
  attempts: 8,
  backoff: { type: 'exponential', delay: 1000 },
  removeOnComplete: { count: 1000 },
  removeOnFail: { count: 1000 },
};
const SYNC_OPTIONS: JobsOptions = {
  attempts: 5,
  backoff: { type: 'exponential', delay: 2000 },
  removeOnComplete: { count: 5000 },
  removeOnFail: { count: 1000 },
};

export class RepairQueues {
  readonly handoff: Queue<HandoffJob>;
  readonly antiEntropy: Queue<AntiEntropyJob>;
  readonly #flows: FlowProducer;
  readonly #connection: RedisConnection;
  /** BullMQ's prefix for these queues (keyPrefix) */
  readonly prefix: string;
  readonly name: string;

  constructor(connection: RedisConnection, name = 'dynamo') {
    this.name = name;
    this.#connection = connection;
    const prefix = (this.prefix = keyPrefix(name));
    this.handoff = new Queue<HandoffJob>(QUEUE_NAMES.handoff, { connection, prefix });
    this.antiEntropy = new Queue<AntiEntropyJob>(QUEUE_NAMES.antiEntropy, { connection, prefix });
    this.#flows = new FlowProducer({ connection, prefix });
    // their errors are the shared connection's, which its owner reports once per outage
    // (redis.ts watchRedis); unheard, BullMQ would print each one to the console
    this.handoff.on('error', () => undefined);
    this.antiEntropy.on('error', () => undefined);
    this.#flows.on('error', () => undefined);
  }

  /** Whether Redis answers now: while it does not, BullMQ calls wait for it, so callers that must answer (the gateway) check first. */
  get reachable(): boolean {
    return this.#connection.status === 'ready';
  }

  /**
   * One replay per (holder, owner) at a time: a request while one is queued or running is the
   * same job (BullMQ deduplication, which ends when the job does; a finished replay never
   * blocks the next).
   */
  async replay(holder: string, owner: string, reason: string): Promise<void> {
    await this.handoff.add(
      'replay',
      { kind: 'replay', holder, owner, reason },
      { ...REPLAY_OPTIONS, deduplication: { id: `replay-${holder}-${owner}` } },
    );
  }

  async sweep(reason: string, partitions?: number[]): Promise<void> {
    await this.antiEntropy.add(
      'sweep',
      { kind: 'sweep', reason, ...(partitions ? { partitions } : {}) },
      { removeOnComplete: { count: 100 }, removeOnFail: { count: 100 } },
    );
  }

  /**
   * A sweep of key ranges as flows: for each range, its replica pairs synced one after
   * another ((A,B) then (A,C) then (B,C), so every replica ends with the union), then a
   * finishing job that reclaims tombstones and records the sweep.
   */
  async addSweepFlows(view: RingView, partitions: readonly number[], sweep: string): Promise<number> {
    const flows: FlowJob[] = partitions.map((partition) => {
      let chain: FlowJob | undefined;
      for (const [a, b] of sweepPairs(view, partition)) {
        chain = {
          name: 'sync',
          queueName: QUEUE_NAMES.antiEntropy,
          data: { kind: 'sync', sweep, partition, a, b } satisfies AntiEntropyJob,
          opts: SYNC_OPTIONS,
          ...(chain ? { children: [chain] } : {}),
        };
      }
      return {
        name: 'finish',
        queueName: QUEUE_NAMES.antiEntropy,
        data: { kind: 'finish', sweep, partition } satisfies AntiEntropyJob,
        opts: SYNC_OPTIONS,
        ...(chain ? { children: [chain] } : {}),
      };
    });
    for (let i = 0; i < flows.length; i += 64) await this.#flows.addBulk(flows.slice(i, i + 64));
    return flows.length;
  }

  /** The standing schedules (BullMQ job schedulers): safe to call on every start. */
  async schedule(s: Schedules): Promise<void> {
    await this.handoff.upsertJobScheduler('handoff-scan', { every: s.handoffScanEveryMs }, { name: 'scan', data: { kind: 'scan' } });
    await this.handoff.upsertJobScheduler('hint-expiry', { every: s.hintExpiryEveryMs }, { name: 'expire', data: { kind: 'expire' } });
    await this.antiEntropy.upsertJobScheduler(
      'sweep-all',
      { every: s.sweepEveryMs },
      { name: 'sweep', data: { kind: 'sweep', reason: 'schedule' } },
    );
  }

  async close(): Promise<void> {
    await Promise.all([this.handoff.close(), this.antiEntropy.close(), this.#flows.close()]);
  }
}
