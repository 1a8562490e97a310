// The benchmark's drivers: the load generator as a process of its own, redis-benchmark for the
// Redis baseline, and autocannon for GraphQL over HTTP, each measuring the processes it is given.
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { join } from 'node:path';
import autocannon from 'autocannon';
import { ROOT, TS_NODE_ARGS } from '../../bin/launcher.ts';
import { cpuPerOp, startUse, type ProcessUse, type Watched } from './stats.ts';
import type { LoadResult, LoadSpec, LoadTarget } from './loadgen.ts';
import type { CaseResult } from './report.ts';
import { API_TOKEN } from './system.ts';

export interface DriverSettings {
  readonly quick: boolean;
  /** the key space, the value size and the client concurrency of every case */
  readonly keys: number;
  readonly valueBytes: number;
  readonly concurrency: number;
  /** the measured window and the warm-up before it */
  readonly seconds: number;
  readonly warmupSeconds: number;
  /** the single in-memory redis-server redis-benchmark runs against */
  readonly redisPort: number;
  /** every process started is handed here, to be stopped when the run ends */
  readonly track: (child: ChildProcess) => void;
}

export function drivers(settings: DriverSettings) {
  const { quick: QUICK, keys: KEYS, valueBytes: VALUE, concurrency: C, track } = settings;
  const { seconds: SECONDS, warmupSeconds: WARMUP, redisPort: REDIS_PORT } = settings;

  function loadCase(
    id: string,
    name: string,
    system: CaseResult['system'],
    revision: string | undefined,
    r: { result: LoadResult; use: ProcessUse[] },
  ): CaseResult {
    return {
      id,
      name,
      system,
      ...(revision ? { revision } : {}),
      opsPerSecond: r.result.opsPerSecond,
      latencyMs: r.result.latency,
      errors: r.result.errors,
      ...(r.result.firstError ? { firstError: r.result.firstError } : {}),
      cpuUsPerOp: cpuPerOp(r.use, r.result.opsPerSecond),
      processes: r.use,
    };
  }

  /** Runs the load generator as a process of its own, measuring the given processes over its measured window. */
  async function loadgen(
    spec: Partial<LoadSpec> & { target: LoadTarget },
    watch: Watched[],
  ): Promise<{ result: LoadResult; use: ProcessUse[] }> {
    const full: LoadSpec = {
      mode: 'get',
      keys: KEYS,
      prefix: 'g',
      valueBytes: VALUE,
      concurrency: C,
      seconds: SECONDS,
      warmupSeconds: WARMUP,
      rate: 0,
      samples: 0,
      ...spec,
    };
    const child = spawn(process.execPath, [...TS_NODE_ARGS, join(ROOT, 'test/bench/loadgen.ts'), JSON.stringify(full)], {
      cwd: ROOT,
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    track(child);
    let use: ReturnType<typeof startUse> | undefined;
    let measured: ProcessUse[] = [];
    let out = '';
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      // `start` opens the measured window; the result line closes it
      if (!use && out.startsWith('start\n')) use = startUse(watch);
      if (use && out.endsWith('}\n') && measured.length === 0) measured = use.stop();
    });
    const [code] = (await once(child, 'exit')) as [number | null];
    if (code !== 0) throw new Error(`load generator (${full.target.kind} ${full.mode}) exited ${code}`);
    const result = JSON.parse(out.trim().split('\n').pop()!) as LoadResult;
    return {
      result,
      use: [
        ...measured,
        {
          name: 'load generator',
          group: 'load generator',
          cpuPercent: Math.round((result.cpuPercent ?? 0) * 10) / 10,
          peakMB: result.peakMB ?? 0,
        },
      ],
    };
  }

  /** redis-benchmark with the same value size, key space and concurrency, against the single in-memory redis-server. */
  async function redisBenchmark(t: 'SET' | 'GET', redisPid: number): Promise<CaseResult> {
    const n = QUICK ? 100_000 : 1_000_000;
    const child = spawn(
      'redis-benchmark',
      [
        '-p',
        String(REDIS_PORT),
        '-t',
        t.toLowerCase(),
        '-d',
        String(VALUE),
        '-c',
        String(C),
        '-r',
        String(KEYS),
        '-n',
        String(n),
        '--csv',
        '--precision',
        '3',
      ],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    );
    track(child);
    const use = startUse([
      { name: 'redis-server', pid: redisPid, group: 'baseline' },
      { name: 'redis-benchmark', pid: child.pid!, group: 'load generator' },
    ]);
    let csv = '';
    child.stdout.on('data', (d: Buffer) => (csv += d.toString()));
    // redis-benchmark spins when it cannot connect: bound it
    const timer = setTimeout(() => child.kill('SIGKILL'), 120_000);
    const [code, signal] = (await once(child, 'exit')) as [number | null, string | null];
    clearTimeout(timer);
    const processes = use.stop();
    if (code !== 0) throw new Error(`redis-benchmark exited ${code ?? signal}`);
    const r = csv.trim().split('\n').slice(1).map((l) => l.split(',').map((x) => x.replace(/"/g, ''))).find((x) => x[0] === t);
    if (!r) throw new Error(`redis-benchmark printed no ${t} row: ${csv}`);
    const ops = Number(r[1]);
    return {
      id: `redis-${t.toLowerCase()}`,
      name: `redis-benchmark ${t} (C=${C}, ${VALUE} B)`,
      system: 'baseline',
      opsPerSecond: ops,
      latencyMs: { p50: Number(r[4]), p99: Number(r[6]), p999: NaN, max: Number(r[7]) },
      errors: 0,
      cpuUsPerOp: cpuPerOp(processes, ops),
      processes,
      note: 'redis-benchmark reports no p99.9; one in-memory process, no replication, no fsync',
    };
  }

  // ---- GraphQL through autocannon: a new body per request, bounded in time

  const BODIES = {
    get: () =>
      JSON.stringify({
        query: 'query($k: String!) { get(key: $k) { key found context siblings { value dot } } }',
        variables: { k: `g${Math.floor(Math.random() * KEYS)}` },
      }),
    put: () =>
      JSON.stringify({
        query: 'mutation($k: String!, $v: JSON!) { put(key: $k, value: $v) { context acks dot } }',
        variables: { k: `u${Math.random()}`, v: 'a'.repeat(VALUE) },
      }),
    getMany: () =>
      JSON.stringify({
        query: 'query($k: [String!]!) { getMany(keys: $k) { key found siblings { value } } }',
        variables: { k: Array.from({ length: 100 }, () => `g${Math.floor(Math.random() * KEYS)}`) },
      }),
  };

  /**
   * autocannon against one URL with the API key. A response that is not 2xx, or whose body holds
   * GraphQL errors, counts as an error. The load generator is this process. Over https it
   * encrypts like any client but does not check the certificate (autocannon cannot).
   */
  async function http(url: string, body: () => string, watch: Watched[]): Promise<Omit<CaseResult, 'id' | 'name' | 'system'>> {
    let bodyErrors = 0;
    let firstError: string | undefined;
    const run = (seconds: number) =>
      autocannon({
        url,
        connections: C,
        duration: seconds,
        requests: [
          {
            method: 'POST',
            headers: { 'content-type': 'application/json', authorization: `Bearer ${API_TOKEN}` },
            setupRequest: (req) => ({ ...req, body: body() }),
            onResponse: (status, resBody) => {
              if (status === 200 && !resBody.includes('"errors"')) return;
              bodyErrors++;
              firstError ??= `HTTP ${status}: ${resBody.slice(0, 200)}`;
            },
          },
        ],
      });
    // errors count in the warm-up too: every request of a case must succeed
    const warm = await run(WARMUP);
    const use = startUse([...watch, { name: 'load generator', pid: process.pid, group: 'load generator' }]);
    const r = await run(SECONDS);
    const processes = use.stop();
    const errors = warm.errors + r.errors + bodyErrors;
    return {
      opsPerSecond: r.requests.average,
      latencyMs: { p50: r.latency.p50, p99: r.latency.p99, p999: r.latency.p99_9, max: r.latency.max },
      errors,
      ...(firstError ? { firstError } : {}),
      cpuUsPerOp: cpuPerOp(processes, r.requests.average),
      processes,
    };
  }

  return { loadCase, loadgen, redisBenchmark, BODIES, http };
}
