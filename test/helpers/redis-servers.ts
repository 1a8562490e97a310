// Real redis-server processes for the Redis high-availability tests: a Redis Cluster of three
// primaries, and a primary with a replica watched by sentinels. Each server runs on a loopback
// port the test names, with its files in a temporary directory, and is killed by stop().
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { waitFor } from './wait.ts';

export interface RedisServers {
  /** the setting every process is given (redis-cluster:// or redis-sentinel://) */
  readonly url: string;
  /** the server process on each port */
  readonly servers: Map<number, ChildProcess>;
  stop(): Promise<void>;
}

const COMMON = ['--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--maxmemory-policy', 'noeviction', '--protected-mode', 'no'];
const quiet = process.env.NODE_OUTPUT === '1' ? 'inherit' : 'ignore';

function server(args: string[]): ChildProcess {
  return spawn('redis-server', args, { stdio: quiet });
}

async function answers(port: number): Promise<boolean> {
  const r = new Redis({ port, host: '127.0.0.1', lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
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

async function info(port: number, command: string[]): Promise<unknown> {
  const r = new Redis({ port, host: '127.0.0.1', maxRetriesPerRequest: 0, retryStrategy: () => null });
  r.on('error', () => undefined);
  try {
    return await r.call(command[0]!, ...command.slice(1));
  } finally {
    r.disconnect();
  }
}

function stopper(dir: string, servers: Map<number, ChildProcess>): () => Promise<void> {
  return async () => {
    await Promise.all(
      [...servers.values()].map(async (p) => {
        if (p.exitCode !== null || p.signalCode !== null) return;
        const exited = new Promise((r) => p.once('exit', r));
        p.kill('SIGKILL');
        await exited;
      }),
    );
    rmSync(dir, { recursive: true, force: true });
  };
}

/** A Redis Cluster of one primary per port (slots split by redis-cli --cluster create). */
export async function startRedisCluster(ports: readonly number[]): Promise<RedisServers> {
  const dir = mkdtempSync(join(tmpdir(), 'dynamo-redis-cluster-'));
  const servers = new Map<number, ChildProcess>();
  const stop = stopper(dir, servers);
  try {
    for (const port of ports) {
      mkdirSync(join(dir, String(port)));
      servers.set(
        port,
        server([
          ...COMMON,
          '--port',
          String(port),
          '--dir',
          join(dir, String(port)),
          '--cluster-enabled',
          'yes',
          '--cluster-config-file',
          'nodes.conf',
          '--cluster-node-timeout',
          '2000',
        ]),
      );
    }
    for (const port of ports) await waitFor(`redis-server on ${port}`, () => answers(port), 10_000);
    const create = spawnSync(
      'redis-cli',
      ['--cluster', 'create', ...ports.map((p) => `127.0.0.1:${p}`), '--cluster-replicas', '0', '--cluster-yes'],
      { encoding: 'utf8', timeout: 30_000 },
    );
    if (create.status !== 0) throw new Error(`redis-cli --cluster create failed: ${create.stdout}${create.stderr}`);
    for (const port of ports) {
      await waitFor(
        `cluster_state:ok on ${port}`,
        async () => String(await info(port, ['CLUSTER', 'INFO'])).includes('cluster_state:ok'),
        20_000,
        100,
      );
    }
  } catch (e) {
    await stop();
    throw e;
  }
  return { url: `redis-cluster://${ports.map((p) => `127.0.0.1:${p}`).join(',')}`, servers, stop };
}

export interface SentinelServers extends RedisServers {
  /** the port of the server the sentinels name primary now */
  primaryPort(): Promise<number>;
}

/**
 * A primary on `primary`, a replica of it on `replica`, and sentinels on `sentinels` watching
 * them as `name`: the primary is judged down after 1 s without answers, and a majority of the
 * sentinels promotes the replica.
 */
export async function startSentinels(
  name: string,
  primary: number,
  replica: number,
  sentinels: readonly number[],
): Promise<SentinelServers> {
  const dir = mkdtempSync(join(tmpdir(), 'dynamo-redis-sentinel-'));
  const servers = new Map<number, ChildProcess>();
  const stop = stopper(dir, servers);
  const primaryPort = async () => {
    const [, port] = (await info(sentinels[0]!, ['SENTINEL', 'get-master-addr-by-name', name])) as [string, string];
    return Number(port);
  };
  try {
    for (const port of [primary, replica]) mkdirSync(join(dir, String(port)));
    servers.set(primary, server([...COMMON, '--port', String(primary), '--dir', join(dir, String(primary))]));
    servers.set(
      replica,
      server([...COMMON, '--port', String(replica), '--dir', join(dir, String(replica)), '--replicaof', '127.0.0.1', String(primary)]),
    );
    await waitFor(
      'the replica in sync',
      async () => /master_link_status:up/.test(String(await info(replica, ['INFO', 'replication']))),
      20_000,
      100,
    );
    const quorum = Math.floor(sentinels.length / 2) + 1;
    for (const port of sentinels) {
      // a sentinel rewrites its configuration file, so each has its own
      const conf = join(dir, `sentinel-${port}.conf`);
      writeFileSync(
        conf,
        [
          `port ${port}`,
          'bind 127.0.0.1',
          `dir ${dir}`,
          `sentinel monitor ${name} 127.0.0.1 ${primary} ${quorum}`,
          `sentinel down-after-milliseconds ${name} 1000`,
          `sentinel failover-timeout ${name} 10000`,
          `sentinel parallel-syncs ${name} 1`,
          '',
        ].join('\n'),
      );
      servers.set(port, spawn('redis-server', [conf, '--sentinel'], { stdio: quiet }));
    }
    for (const port of sentinels) {
      await waitFor(
        `sentinel ${port} sees the replica and the other sentinels`,
        async () => {
          const replicas = (await info(port, ['SENTINEL', 'replicas', name])) as unknown[];
          const others = (await info(port, ['SENTINEL', 'sentinels', name])) as unknown[];
          return replicas.length === 1 && others.length === sentinels.length - 1;
        },
        30_000,
        200,
      );
    }
  } catch (e) {
    await stop();
    throw e;
  }
  return { url: `redis-sentinel://${sentinels.map((p) => `127.0.0.1:${p}`).join(',')}/${name}`, servers, stop, primaryPort };
}
