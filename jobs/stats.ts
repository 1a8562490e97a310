// What repair has done, kept in Redis for operators (GraphQL admin, the dashboard): totals,
// and the last sweep of each key range. These are reports, not state: losing them loses no
// data and no repair. Reclaim candidates (since when a tombstone has been everywhere) are kept
// here too, so the grace period survives a worker restart.
import { reportKey } from './queues.ts';
import type { RedisConnection } from './redis.ts';
import type { SyncStats } from '../storage/repair/anti-entropy.ts';
import type { CandidateStore } from '../storage/repair/reclaim.ts';

export interface PartitionSweep {
  readonly partition: number;
  readonly sweep: string;
  readonly finishedAt: string;
  readonly durationMs: number;
  readonly pairs: number;
  readonly keysCompared: number;
  readonly keysRepaired: number;
  readonly rootsEqual: boolean;
  readonly reclaimed: number;
}

export interface RepairTotals {
  readonly keysCompared: number;
  readonly keysRepaired: number;
  readonly partitionsSwept: number;
  readonly hintsReplayed: number;
  readonly hintsExpired: number;
  readonly tombstonesReclaimed: number;
}

export class RepairStats {
  private readonly redis: RedisConnection;
  /** the queues' name (REPAIR_QUEUE_PREFIX) */
  private readonly name: string;
  constructor(redis: RedisConnection, name: string) {
    this.redis = redis;
    this.name = name;
  }

  #key(report: 'totals' | 'last-sweep' | 'reclaim'): string {
    return reportKey(this.name, report);
  }

  async recordSync(s: SyncStats): Promise<void> {
    await this.redis
      .multi()
      .hincrby(this.#key('totals'), 'keysCompared', s.keysCompared)
      .hincrby(this.#key('totals'), 'keysRepaired', s.sentToA + s.sentToB)
      .exec();
  }

  async recordPartition(p: PartitionSweep): Promise<void> {
    await this.redis
      .multi()
      .hset(this.#key('last-sweep'), String(p.partition), JSON.stringify(p))
      .hincrby(this.#key('totals'), 'partitionsSwept', 1)
      .hincrby(this.#key('totals'), 'tombstonesReclaimed', p.reclaimed)
      .exec();
  }

  async add(field: keyof RepairTotals, n: number): Promise<void> {
    if (n !== 0) await this.redis.hincrby(this.#key('totals'), field, n);
  }

  async totals(): Promise<RepairTotals> {
    const h = await this.redis.hgetall(this.#key('totals'));
    const n = (k: keyof RepairTotals) => Number(h[k] ?? 0);
    return {
      keysCompared: n('keysCompared'),
      keysRepaired: n('keysRepaired'),
      partitionsSwept: n('partitionsSwept'),
      hintsReplayed: n('hintsReplayed'),
      hintsExpired: n('hintsExpired'),
      tombstonesReclaimed: n('tombstonesReclaimed'),
    };
  }

  async lastSweeps(): Promise<PartitionSweep[]> {
    const h = await this.redis.hgetall(this.#key('last-sweep'));
    return Object.values(h)
      .map((v) => JSON.parse(v) as PartitionSweep)
      .sort((a, b) => a.partition - b.partition);
  }

  candidates(): CandidateStore {
    return {
      seen: async (partition, key, leaf, now) => {
        const field = `${partition}\u0000${key}`;
        const prev = await this.redis.hget(this.#key('reclaim'), field);
        if (prev) {
          const c = JSON.parse(prev) as { leaf: string; since: number };
          if (c.leaf === leaf) return c.since;
        }
        await this.redis.hset(this.#key('reclaim'), field, JSON.stringify({ leaf, since: now }));
        return now;
      },
      forget: async (partition, keys) => {
        if (keys.length > 0) await this.redis.hdel(this.#key('reclaim'), ...keys.map((k) => `${partition}\u0000${k}`));
      },
    };
  }
}
