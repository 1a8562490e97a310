// Redis for BullMQ: connections, and the checks that keep repair work from being silently
// lost. Redis holds only job bookkeeping; the data itself is never only there.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { Redis, type RedisOptions } from 'ioredis';
import type { Logger } from '../storage/runtime.ts';

export const DEFAULT_REDIS_URL = 'redis://127.0.0.1:6379';

/** BullMQ needs maxRetriesPerRequest: null on the connections its workers block on. */
export function redisConnection(url: string, options: RedisOptions = {}): Redis {
  return new Redis(url, { maxRetriesPerRequest: null, enableReadyCheck: true, lazyConnect: false, ...options });
}

/** Whether a Redis answers at `url` within `timeoutMs`. */
export async function redisAnswers(url: string, timeoutMs = 1000): Promise<boolean> {
  const r = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 0, connectTimeout: timeoutMs, retryStrategy: () => null });
  r.on('error', () => undefined);
  try {
    await r.connect();
    return (await r.ping()) === 'PONG';
  } catch {
    return false;
  } finally {
    r.disconnect();
  }
}

/**
 * BullMQ loses jobs if Redis evicts keys under memory pressure. Returns null when the policy
 * is noeviction, else a message saying what to change.
 */
export async function evictionProblem(redis: Redis): Promise<string | null> {
  const [, policy] = (await redis.config('GET', 'maxmemory-policy')) as [string, string];
  if (policy === 'noeviction') return null;
  return `Redis runs with maxmemory-policy ${policy}: under memory pressure it would evict queued repair jobs. Run "redis-cli config set maxmemory-policy noeviction" (and set it in redis.conf).`;
}

/**
 * Watches a connection that ioredis keeps re-establishing: logs an outage once (not at every
 * reconnect attempt) with what it stops, logs the recovery, and checks the eviction policy
 * each time Redis becomes reachable, so a process never waits on Redis to start.
 */
export function watchRedis(redis: Redis, logger: Logger, whileDown: string): void {
  let down = false;
  redis.on('error', (e: Error) => {
    if (down) return;
    down = true;
    logger.warn(`repair Redis unreachable: ${whileDown} until it is back; retrying`, { error: e.message });
  });
  redis.on('ready', () => {
    if (down) logger.info('repair Redis reachable again');
    down = false;
    evictionProblem(redis).then(
      (problem) => problem && logger.error(problem),
      () => undefined,
    );
  });
}

export interface PrivateRedis {
  readonly url: string;
  readonly process: ChildProcess | null;
}

/**
 * For development: use the Redis at `url` if one answers; otherwise start a private
 * redis-server with maxmemory-policy noeviction, its files under `dir`.
 */
export async function ensureRedis(url: string, dir: string): Promise<PrivateRedis> {
  if (await redisAnswers(url)) return { url, process: null };
  const { hostname, port } = new URL(url);
  mkdirSync(dir, { recursive: true });
  let child: ChildProcess;
  try {
    child = spawn('redis-server', ['--bind', hostname, '--port', port || '6379', '--dir', dir, '--maxmemory-policy', 'noeviction', '--save', '', '--appendonly', 'yes'], { stdio: 'ignore' });
    await new Promise<void>((resolve, reject) => {
      child.once('error', reject);
      child.once('spawn', resolve);
    });
  } catch {
    throw new Error(`Redis is not answering at ${url} and redis-server is not installed. Install it (Debian/Ubuntu: apt-get install redis-server; macOS: brew install redis) or set REDIS_URL to a running Redis.`);
  }
  for (let i = 0; i < 50; i++) {
    if (await redisAnswers(url, 200)) return { url, process: child };
    await new Promise((r) => setTimeout(r, 100));
  }
  child.kill();
  throw new Error(`started redis-server for ${url} but it does not answer`);
}
