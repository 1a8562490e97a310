// The load generator, a process of its own: a closed loop of C requests in flight (throughput),
// or an open loop at a fixed arrival rate (latency with queueing, timed from when each request
// was due, so a stall is not hidden by requests that were never sent).
//
// It drives one of two targets with the same loops, the same key choice and the same latency
// recording:
// - `dynamo`: the cluster of one source tree (`root`), through that tree's own client library.
//   Puts overwrite: each key's next put carries the context its previous put returned, as a
//   client updating its own data does.
// - `redis`: a Redis primary with replicas, C ioredis clients (one per request in flight), each
//   put a SET and `WAIT replicas timeout` sent in one pipeline; a WAIT that counts fewer
//   replicas than asked is an error.
//
// Prints `start` when the measured window opens, then one JSON line of results when it closes,
// so the caller measures the other processes over the same window.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { Redis } from 'ioredis';
import { percentiles } from './stats.ts';

export type LoadTarget =
  | { readonly kind: 'dynamo'; readonly root: string; readonly seeds: string[]; readonly secret: string; readonly ca?: string }
  | { readonly kind: 'redis'; readonly port: number; readonly waitReplicas: number; readonly waitTimeoutMs: number };

export interface LoadSpec {
  readonly target: LoadTarget;
  readonly mode: 'fill' | 'get' | 'put' | 'mixed';
  readonly keys: number;
  readonly prefix: string;
  readonly valueBytes: number;
  /** closed loop: requests in flight */
  readonly concurrency: number;
  /** closed loop: for this long after the warm-up */
  readonly seconds: number;
  readonly warmupSeconds: number;
  /** open loop: arrivals per second (0: closed loop) */
  readonly rate: number;
  /** open loop: requests to time */
  readonly samples: number;
}

export interface LoadResult {
  ops: number;
  errors: number;
  seconds: number;
  opsPerSecond: number;
  latency: ReturnType<typeof percentiles>;
  firstError?: string;
  /** the load generator's own CPU over the measured window, in percent of one core, and its peak memory */
  cpuPercent?: number;
  peakMB?: number;
}

type Kind = 'get' | 'put';

/** One target: an operation on a key by a worker (0..C-1), and a way to let go of it. */
interface Driver {
  op(worker: number, key: string, kind: Kind): Promise<void>;
  close(): void;
}

async function dynamoDriver(t: Extract<LoadTarget, { kind: 'dynamo' }>, value: Buffer): Promise<Driver> {
  // the client of the tree under test, so a revision with another protocol is driven by its own client
  // the client package's sources, or storage/client.ts in a tree from before the package
  const clientFile = existsSync(join(t.root, 'client/src/client.ts')) ? 'client/src/client.ts' : 'storage/client.ts';
  const { DynamoClient } = (await import(pathToFileURL(join(t.root, clientFile)).href)) as typeof import('../../client/src/client.ts');
  const { readCa } = (await import(
    pathToFileURL(join(t.root, 'storage/transport/tls.ts')).href
  )) as typeof import('../../storage/transport/tls.ts');
  const client = await DynamoClient.connect({
    seeds: t.seeds,
    cluster: 'dev',
    secret: t.secret,
    timeoutMs: 10_000,
    ...(t.ca ? { tls: readCa(t.ca) } : {}),
  });
  const contexts = new Map<string, Awaited<ReturnType<typeof client.put>>['context']>();
  return {
    async op(_worker, key, kind) {
      if (kind === 'get') await client.get(key);
      else contexts.set(key, (await client.put(key, value, { context: contexts.get(key) })).context);
    },
    close: () => client.close(),
  };
}

async function redisDriver(t: Extract<LoadTarget, { kind: 'redis' }>, value: Buffer, clients: number): Promise<Driver> {
  const conns = Array.from(
    { length: clients },
    () => new Redis({ host: '127.0.0.1', port: t.port, maxRetriesPerRequest: 0, lazyConnect: true }),
  );
  await Promise.all(conns.map((c) => c.connect()));
  return {
    async op(worker, key, kind) {
      const c = conns[worker]!;
      if (kind === 'get') {
        await c.get(key);
        return;
      }
      const replies = await c.pipeline().set(key, value).wait(t.waitReplicas, t.waitTimeoutMs).exec();
      const failed = replies?.find(([e]) => e);
      if (failed) throw failed[0]!;
      const acked = Number(replies?.[1]?.[1]);
      if (!(acked >= t.waitReplicas)) throw new Error(`WAIT ${t.waitReplicas} ${t.waitTimeoutMs}: ${acked} replicas acknowledged`);
    },
    close: () => conns.forEach((c) => c.disconnect()),
  };
}

async function main(spec: LoadSpec): Promise<LoadResult> {
  const value = Buffer.alloc(spec.valueBytes, 0x61);
  const driver =
    spec.target.kind === 'dynamo' ? await dynamoDriver(spec.target, value) : await redisDriver(spec.target, value, spec.concurrency);
  let errors = 0;
  let firstError: string | undefined;
  let next = 0;
  const keyOf = (i: number) => `${spec.prefix}${i % spec.keys}`;
  const op = async (worker: number, i: number, kind: Kind) => {
    try {
      await driver.op(worker, keyOf(i), kind);
    } catch (e) {
      errors++;
      firstError ??= (e as Error).message;
    }
  };
  const kindOf = (i: number): Kind => (spec.mode === 'get' ? 'get' : spec.mode === 'mixed' ? (i % 2 ? 'get' : 'put') : 'put');
  let cpuAtStart = process.cpuUsage();
  const opened = () => {
    cpuAtStart = process.cpuUsage();
    process.stdout.write('start\n');
  };
  const finish = (r: LoadResult): LoadResult => {
    const cpu = process.cpuUsage(cpuAtStart);
    r.cpuPercent = ((cpu.user + cpu.system) / 1e6 / r.seconds) * 100;
    r.peakMB = Math.round(process.resourceUsage().maxRSS / 1024);
    driver.close();
    return r;
  };

  if (spec.mode === 'fill') {
    const started = performance.now();
    await Promise.all(
      Array.from({ length: spec.concurrency }, async (_, w) => {
        for (let i = next++; i < spec.keys; i = next++) await op(w, i, 'put');
      }),
    );
    const seconds = (performance.now() - started) / 1000;
    return finish({ ops: spec.keys, errors, seconds, opsPerSecond: spec.keys / seconds, latency: percentiles([]), firstError });
  }

  if (spec.rate > 0) {
    // open loop: request i is due at start + i / rate, whether or not earlier ones finished
    const lat = new Float64Array(spec.samples);
    const start = performance.now() + 200;
    let issued = 0;
    let done = 0;
    setTimeout(opened, 200);
    await new Promise<void>((resolve) => {
      const pump = () => {
        const now = performance.now();
        while (issued < spec.samples && start + (issued * 1000) / spec.rate <= now) {
          const i = issued++;
          const due = start + (i * 1000) / spec.rate;
          void op(0, Math.floor(Math.random() * spec.keys), kindOf(i)).then(() => {
            lat[i] = performance.now() - due;
            if (++done === spec.samples) resolve();
          });
        }
        // sleep until the next request is due (timers fire within about a millisecond; requests
        // that came due meanwhile go out together and are timed from when they were due)
        if (issued < spec.samples) setTimeout(pump, Math.max(0, start + (issued * 1000) / spec.rate - performance.now()));
      };
      pump();
    });
    const seconds = (performance.now() - start) / 1000;
    return finish({ ops: spec.samples, errors, seconds, opsPerSecond: spec.samples / seconds, latency: percentiles(lat), firstError });
  }

  // closed loop: C workers, each with one request in flight
  const lat: number[] = [];
  let measuring = false;
  let ops = 0;
  const stopAt = performance.now() + (spec.warmupSeconds + spec.seconds) * 1000;
  const measureFrom = performance.now() + spec.warmupSeconds * 1000;
  let measuredStart = 0;
  await Promise.all(
    Array.from({ length: spec.concurrency }, async (_, w) => {
      while (performance.now() < stopAt) {
        const i = next++;
        const t = performance.now();
        if (!measuring && t >= measureFrom) {
          measuring = true;
          measuredStart = t;
          opened();
        }
        await op(w, Math.floor(Math.random() * spec.keys), kindOf(i));
        if (measuring) {
          lat.push(performance.now() - t);
          ops++;
        }
      }
    }),
  );
  const seconds = (performance.now() - measuredStart) / 1000;
  return finish({ ops, errors, seconds, opsPerSecond: ops / seconds, latency: percentiles(lat), firstError });
}

const spec = JSON.parse(process.argv[2]!) as LoadSpec;
main(spec).then(
  (r) => {
    process.stdout.write(JSON.stringify(r) + '\n');
    process.exit(0);
  },
  (e: unknown) => {
    process.stderr.write(`load generator failed: ${String(e)}\n`);
    process.exit(1);
  },
);
