// Redis for BullMQ: connections, and the checks that keep repair work from being silently
// lost. Redis holds only job bookkeeping; the data itself is never only there.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { Cluster, Redis, type RedisOptions } from 'ioredis';
import type { Logger } from '../client/src/runtime.ts';
import { parseRedisAddress, type RedisAddress } from './redis-address.ts';

export const DEFAULT_REDIS_URL = 'redis://127.0.0.1:6379';

/** A connection to the repair Redis: one server (alone or found through Sentinel), or a Redis Cluster. */
export type RedisConnection = Redis | Cluster;

/**
 * A connection to the Redis a setting names (redis-address.ts). BullMQ needs
 * maxRetriesPerRequest: null on the connections its workers block on; `options` go to each
 * server connection (for a cluster, to each of its nodes).
 */
export function redisConnection(setting: string | RedisAddress, options: RedisOptions = {}): RedisConnection {
  const a = typeof setting === 'string' ? parseRedisAddress(setting) : setting;
  const base: RedisOptions = { maxRetriesPerRequest: null, enableReadyCheck: true, ...options };
  switch (a.kind) {
    case 'server':
      return new Redis(a.url, base);
    case 'cluster':
      return new Cluster(
        a.nodes.map((n) => ({ host: n.host, port: n.port })),
        {
          redisOptions: { ...base, ...(a.username ? { username: a.username } : {}), ...(a.password ? { password: a.password } : {}) },
          lazyConnect: base.lazyConnect ?? false,
          enableReadyCheck: true,
          // while the cluster is down ioredis keeps trying, as a single connection does
          clusterRetryStrategy: base.retryStrategy ?? ((times) => Math.min(100 * times, 2000)),
          ...(base.enableOfflineQueue !== undefined ? { enableOfflineQueue: base.enableOfflineQueue } : {}),
        },
      );
    case 'sentinel':
      return new Redis({
        ...base,
        sentinels: a.sentinels.map((s) => ({ host: s.host, port: s.port })),
        name: a.name,
        // A failover is followed by reconnecting: the sentinels make the demoted primary drop its
        // clients, and a command it refuses as a replica (READONLY) reconnects and is sent again.
        // ioredis's failoverDetector is left off: with it, a connection in our failover test
        // (test/reliability/redis-ha.test.ts) was ended for good while re-resolving the primary
        // ("Connection is closed"); without it the test passes (ioredis 6.0).
        reconnectOnError: (e) => (e.message.startsWith('READONLY') ? 2 : false),
        sentinelRetryStrategy: base.retryStrategy ?? ((times) => Math.min(100 * times, 2000)),
        ...(a.username ? { username: a.username, sentinelUsername: a.username } : {}),
        ...(a.password ? { password: a.password, sentinelPassword: a.password } : {}),
        ...(a.db !== undefined ? { db: a.db } : {}),
      });
  }
}

/** Whether the Redis a setting names answers within `timeoutMs` (a cluster: with every slot served). */
export async function redisAnswers(setting: string, timeoutMs = 1000): Promise<boolean> {
  const r = redisConnection(setting, { lazyConnect: true, maxRetriesPerRequest: 0, connectTimeout: timeoutMs, retryStrategy: () => null });
  r.on('error', () => undefined);
  const timer = new Promise<false>((resolve) => setTimeout(() => resolve(false), timeoutMs * 2).unref());
  try {
    return await Promise.race([timer, r.connect().then(async () => (await r.ping()) === 'PONG')]);
  } catch {
    return false;
  } finally {
    r.disconnect();
  }
}

/**
 * BullMQ loses jobs if Redis evicts keys under memory pressure. Returns null when the policy
 * is noeviction (on every primary of a cluster), else a message saying what to change.
 */
export async function evictionProblem(redis: RedisConnection): Promise<string | null> {
  let servers: Redis[] = [redis as Redis];
  if (redis instanceof Cluster) {
    if (redis.status !== 'ready') await new Promise((resolve) => redis.once('ready', resolve));
    servers = redis.nodes('master');
  }
  for (const server of servers) {
    const [, policy] = (await server.config('GET', 'maxmemory-policy')) as [string, string];
    if (policy === 'noeviction') continue;
    const where = servers.length > 1 ? ` (${server.options.host}:${server.options.port})` : '';
    return `Redis${where} runs with maxmemory-policy ${policy}: under memory pressure it would evict queued repair jobs. Run "redis-cli config set maxmemory-policy noeviction" (and set it in redis.conf)${servers.length > 1 ? ' on every node' : ''}.`;
  }
  return null;
}

/**
 * Watches a connection that ioredis keeps re-establishing: logs an outage once (not at every
 * reconnect attempt) with what it stops, logs the recovery, and checks the eviction policy
 * each time Redis becomes reachable, so a process never waits on Redis to start.
 */
export function watchRedis(redis: RedisConnection, logger: Logger, whileDown: string): void {
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
  if (parseRedisAddress(url).kind !== 'server') throw new Error(`no Redis answers at ${url}`);
  const { hostname, port } = new URL(url);
  mkdirSync(dir, { recursive: true });
  let child: ChildProcess;
  try {
    child = spawn(
      'redis-server',
      ['--bind', hostname, '--port', port || '6379', '--dir', dir, '--maxmemory-policy', 'noeviction', '--save', '', '--appendonly', 'yes'],
      { stdio: 'ignore' },
    );
    await new Promise<void>((resolve, reject) => {
      child.once('error', reject);
      child.once('spawn', resolve);
    });
  } catch {
    throw new Error(
      `Redis is not answering at ${url} and redis-server is not installed. Install it (Debian/Ubuntu: apt-get install redis-server; macOS: brew install redis) or set REDIS_URL to a running Redis.`,
    );
  }
  for (let i = 0; i < 50; i++) {
    if (await redisAnswers(url, 200)) return { url, process: child };
    await new Promise((r) => setTimeout(r, 100));
  }
  child.kill();
  throw new Error(`started redis-server for ${url} but it does not answer`);
}
