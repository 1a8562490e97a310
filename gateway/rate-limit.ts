// Rate limits per principal, shared by every gateway of a cluster through Redis
// (rate-limiter-flexible's RateLimiterRedis: one counter per principal and window, updated
// atomically by a Lua script). Each GraphQL request costs one point. While Redis is
// unreachable, an in-memory limiter of the same size takes over on each gateway, so the
// gateway keeps answering and a caller can get at most (gateways x points) per window.
import { redisConnection, type RedisConnection } from '../jobs/redis.ts';
import { RateLimiterMemory, RateLimiterRedis, RateLimiterRes } from 'rate-limiter-flexible';

export interface RateLimitOptions {
  /** a Redis setting: redis://, redis-cluster:// or redis-sentinel:// (jobs/redis-address.ts) */
  readonly redisUrl: string;
  /** requests per principal per window */
  readonly points: number;
  readonly durationS: number;
  /** Redis key prefix: gateways that share it share the limits */
  readonly prefix: string;
}

export class RateLimit {
  readonly #redis: RedisConnection;
  readonly #limiter: RateLimiterRedis;

  constructor(o: RateLimitOptions) {
    // no offline queue: while Redis is down a request goes to the in-memory limiter at once
    this.#redis = redisConnection(o.redisUrl, { enableOfflineQueue: false, maxRetriesPerRequest: 1 });
    this.#redis.on('error', () => undefined);
    this.#limiter = new RateLimiterRedis({
      storeClient: this.#redis,
      keyPrefix: `${o.prefix}:rate`,
      points: o.points,
      duration: o.durationS,
      insuranceLimiter: new RateLimiterMemory({ points: o.points, duration: o.durationS }),
    });
  }

  /** Takes one point for the principal: null when allowed, else the seconds to wait. */
  async take(principal: string): Promise<number | null> {
    try {
      await this.#limiter.consume(principal, 1);
      return null;
    } catch (e) {
      if (e instanceof RateLimiterRes) return Math.max(1, Math.ceil(e.msBeforeNext / 1000));
      throw e;
    }
  }

  /** Resolves once the shared store answers (start-up and tests). */
  async ready(): Promise<void> {
    if (this.#redis.status !== 'ready') await new Promise<void>((resolve, reject) => {
      this.#redis.once('ready', resolve);
      this.#redis.once('end', () => reject(new Error('the rate limit Redis closed')));
    });
  }

  close(): void {
    this.#redis.disconnect();
  }
}
