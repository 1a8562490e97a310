// The durable replicated baseline for puts: Redis as a primary and two replicas on private
// loopback ports, each with its own data directory and AOF with `appendfsync always`, as a user
// would run it for durable replicated writes. The clients send SET and `WAIT 1` (one replica has
// it) in one pipeline; that is test/bench/loadgen.ts's `redis` target.
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { Redis } from 'ioredis';

export interface RedisReplicated {
  readonly primaryPort: number;
  readonly processes: { name: string; pid: number }[];
  stop(): Promise<void>;
}

/** Starts the primary on `basePort` and replicas on the next two ports, data under `dir`; resolves when both replicas are in sync. */
export async function startRedisReplicated(dir: string, basePort: number, track: (child: ChildProcess) => void): Promise<RedisReplicated> {
  const started: ChildProcess[] = [];
  const stop = async () => {
    await Promise.all(
      started.map(async (c) => {
        if (c.exitCode !== null || c.signalCode !== null) return;
        const exited = once(c, 'exit');
        c.kill('SIGTERM');
        await exited;
      }),
    );
  };
  try {
    const names = ['redis primary', 'redis replica 1', 'redis replica 2'];
    for (const [i, name] of names.entries()) {
      const port = basePort + i;
      const data = join(dir, `redis-${port}`);
      mkdirSync(data, { recursive: true });
      const child = spawn(
        'redis-server',
        [
          '--port', String(port),
          '--bind', '127.0.0.1',
          '--dir', data,
          '--save', '',
          '--appendonly', 'yes',
          '--appendfsync', 'always',
          '--maxmemory-policy', 'noeviction',
          ...(i > 0 ? ['--replicaof', '127.0.0.1', String(basePort)] : []),
        ],
        { stdio: 'ignore' },
      );
      track(child);
      started.push(child);
      await waitFor(name, port, child, async (r) => (await r.ping()) === 'PONG');
    }
    await waitFor('both replicas in sync', basePort, started[0]!, async (r) => {
      const info = await r.info('replication');
      return (info.match(/^slave\d+:.*state=online/gm) ?? []).length === 2;
    });
    return { primaryPort: basePort, processes: started.map((c, i) => ({ name: names[i]!, pid: c.pid! })), stop };
  } catch (e) {
    await stop();
    throw e;
  }
}

/** Polls a redis-server until `ready` says yes, it exits, or 10 s pass. */
export async function waitFor(what: string, port: number, child: ChildProcess, ready: (r: Redis) => Promise<boolean>): Promise<void> {
  for (let i = 0; i < 100; i++) {
    if (child.exitCode !== null || child.signalCode !== null)
      throw new Error(`redis-server on port ${port} exited (${child.exitCode ?? child.signalCode}); is the port taken?`);
    const r = new Redis({ host: '127.0.0.1', port, lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
    r.on('error', () => undefined);
    try {
      await r.connect();
      if (await ready(r)) return;
    } catch {
      // not listening yet
    } finally {
      r.disconnect();
    }
    await new Promise((res) => setTimeout(res, 100));
  }
  throw new Error(`${what} (redis-server on port ${port}) not ready within 10 s`);
}
