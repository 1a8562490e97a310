// The binary-protocol load generator, a process of its own: a closed loop of C requests in
// flight (throughput), or an open loop at a fixed arrival rate (latency with queueing, timed
// from when each request was due, so a stall is not hidden by requests that were never sent).
// Puts overwrite: each key's next put carries the context its previous put returned, as a
// client updating its own data does. Prints one JSON line of results.
import { DynamoClient } from '../../storage/client.ts';
import type { VersionVector } from '../../storage/core/version-vector.ts';
import { percentiles } from './stats.ts';

export interface LoadSpec {
  readonly seeds: string[];
  readonly secret: string;
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
  /** the load generator's own CPU over the run, in percent of one core, and its peak memory */
  cpuPercent?: number;
  peakMB?: number;
}

async function main(spec: LoadSpec): Promise<LoadResult> {
  const client = await DynamoClient.connect({ seeds: spec.seeds, cluster: 'dev', secret: spec.secret, timeoutMs: 10_000 });
  const value = Buffer.alloc(spec.valueBytes, 0x61);
  const contexts = new Map<string, VersionVector>();
  let errors = 0;
  let firstError: string | undefined;
  let next = 0;
  const keyOf = (i: number) => `${spec.prefix}${i % spec.keys}`;
  const op = async (i: number, kind: 'get' | 'put') => {
    const key = keyOf(i);
    try {
      if (kind === 'get') await client.get(key);
      else contexts.set(key, (await client.put(key, value, { context: contexts.get(key) })).context);
    } catch (e) {
      errors++;
      firstError ??= (e as Error).message;
    }
  };
  const kindOf = (i: number): 'get' | 'put' => (spec.mode === 'get' ? 'get' : spec.mode === 'mixed' ? (i % 2 ? 'get' : 'put') : 'put');

  if (spec.mode === 'fill') {
    const started = performance.now();
    await Promise.all(Array.from({ length: spec.concurrency }, async () => {
      for (let i = next++; i < spec.keys; i = next++) await op(i, 'put');
    }));
    client.close();
    const seconds = (performance.now() - started) / 1000;
    return { ops: spec.keys, errors, seconds, opsPerSecond: spec.keys / seconds, latency: percentiles([]), firstError };
  }

  if (spec.rate > 0) {
    // open loop: request i is due at start + i / rate, whether or not earlier ones finished
    const lat = new Float64Array(spec.samples);
    const start = performance.now() + 200;
    let issued = 0;
    let done = 0;
    await new Promise<void>((resolve) => {
      const pump = () => {
        const now = performance.now();
        while (issued < spec.samples && start + (issued * 1000) / spec.rate <= now) {
          const i = issued++;
          const due = start + (i * 1000) / spec.rate;
          void op(Math.floor(Math.random() * spec.keys), kindOf(i)).then(() => {
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
    client.close();
    return { ops: spec.samples, errors, seconds, opsPerSecond: spec.samples / seconds, latency: percentiles(lat), firstError };
  }

  // closed loop
  const lat: number[] = [];
  let measuring = false;
  let ops = 0;
  const stopAt = performance.now() + (spec.warmupSeconds + spec.seconds) * 1000;
  const measureFrom = performance.now() + spec.warmupSeconds * 1000;
  let measuredStart = 0;
  await Promise.all(
    Array.from({ length: spec.concurrency }, async () => {
      while (performance.now() < stopAt) {
        const i = next++;
        const t = performance.now();
        if (!measuring && t >= measureFrom) {
          measuring = true;
          measuredStart = t;
        }
        await op(Math.floor(Math.random() * spec.keys), kindOf(i));
        if (measuring) {
          lat.push(performance.now() - t);
          ops++;
        }
      }
    }),
  );
  const seconds = (performance.now() - measuredStart) / 1000;
  client.close();
  return { ops, errors, seconds, opsPerSecond: ops / seconds, latency: percentiles(lat), firstError };
}

const spec = JSON.parse(process.argv[2]!) as LoadSpec;
const cpuAtStart = process.cpuUsage();
const wallAtStart = performance.now();
main(spec).then(
  (r) => {
    const cpu = process.cpuUsage(cpuAtStart);
    r.cpuPercent = Math.round(((cpu.user + cpu.system) / 1000 / (performance.now() - wallAtStart)) * 100);
    r.peakMB = Math.round(process.resourceUsage().maxRSS / 1024);
    process.stdout.write(JSON.stringify(r) + '\n');
    process.exit(0);
  },
  (e: unknown) => {
    process.stderr.write(`load generator failed: ${String(e)}\n`);
    process.exit(1);
  },
);
