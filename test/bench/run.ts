// npm run bench [-- --quick] [-- --concurrency 32] [-- --keys 10000]
//
// The benchmark suite: a 4-node local cluster (N=3 R=2 W=2), 200-byte values, a fixed key
// space, each case warmed up and bounded in time, on loopback, and each measured against its
// baseline in the same run:
//   1. quorum put and get over the binary protocol, against redis-benchmark SET and GET;
//   2. GraphQL get and put through the gateway, against a bare Yoga on the same HTTP server;
//   3. getMany of 100 keys through the gateway (keys per second);
//   4. latency at a fixed arrival rate of half the measured peak (open loop);
//   5. the same with one replica stopped.
// Writes test/bench/results.json and the results section of docs/benchmarks.md.
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir, cpus } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import autocannon from 'autocannon';
import { LocalCluster, ROOT, TS_NODE_ARGS, startService, stopProcess } from '../../storage/launcher.ts';
import { startUse, type Latency, type ProcessUse } from './stats.ts';
import type { LoadResult, LoadSpec } from './loadgen.ts';

const { values: o } = parseArgs({
  options: {
    quick: { type: 'boolean' },
    concurrency: { type: 'string', default: '32' },
    keys: { type: 'string', default: '10000' },
    'cpu-prof': { type: 'boolean' },
  },
});
const QUICK = o.quick ?? false;
const C = Number(o.concurrency);
const KEYS = Number(o.keys);
const SECONDS = QUICK ? 4 : 10;
const WARMUP = QUICK ? 1 : 3;
const OPEN_SAMPLES = QUICK ? 20_000 : 100_000;
const VALUE = 200;
const SECRET = 'benchmark-secret-0123456789';
const BASE = 7801;
const GATEWAY = 4801;
const BARE = 4802;
const REDIS_PORT = 6391;

interface CaseResult {
  name: string;
  system: string;
  opsPerSecond: number;
  /** for getMany: keys read per second */
  keysPerSecond?: number;
  latencyMs: Omit<Latency, 'samples'> & { samples?: number };
  errors: number;
  baseline?: string;
  ratio?: number;
  processes: ProcessUse[];
  note?: string;
}

const results: CaseResult[] = [];
const log = (s: string) => process.stderr.write(`${s}\n`);

async function main(): Promise<void> {
  const started = performance.now();
  const dataDir = mkdtempSync(join(tmpdir(), 'dynamo-bench-'));
  // --cpu-prof: every node and the gateway write a V8 CPU profile to test/bench/profiles/ when they stop
  const profile = o['cpu-prof'] ? ['--cpu-prof', `--cpu-prof-dir=${join(ROOT, 'test/bench/profiles')}`] : [];
  const cluster = new LocalCluster({ nodes: 4, basePort: BASE, dataDir, secret: SECRET, n: 3, r: 2, w: 2, nodeArgs: profile });
  const services: ChildProcess[] = [];
  const redis = spawn('redis-server', ['--port', String(REDIS_PORT), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--maxmemory-policy', 'noeviction'], { stdio: 'ignore' });
  try {
    log(`starting a 4-node cluster, the gateway, a bare Yoga and redis-server on ${cpus().length} cores`);
    await cluster.start();
    const gateway = await startService({
      entry: 'gateway/main.ts',
      nodeArgs: profile,
      args: ['--port', String(GATEWAY), '--seeds', cluster.seeds.join(','), '--no-graphiql'],
      env: { DYNAMO_SECRET: SECRET, GATEWAY_CONTEXT_KEYS: 'benchmark-context-key-0123456789abcdef', GATEWAY_LOG_LEVEL: 'error' },
      health: `127.0.0.1:${GATEWAY}`,
    });
    services.push(gateway);
    const bare = await startService({ entry: 'test/bench/bare-yoga.ts', args: [String(BARE), String(KEYS)], env: {}, health: `127.0.0.1:${BARE}` });
    services.push(bare);
    await waitReady(`http://127.0.0.1:${GATEWAY}/ready`);
    const nodes = cluster.nodes.map((n) => ({ name: n.id, pid: n.process!.pid! }));
    const servers = [...nodes, { name: 'gateway', pid: gateway.pid! }];

    // the key space the gets read, written once
    const fill = await loadgen({ mode: 'fill', keys: KEYS, prefix: 'g', concurrency: 64 }, []);
    log(`filled ${KEYS} keys at ${Math.round(fill.result.opsPerSecond)} puts/s`);

    // ---- 1. quorum put and get over the binary protocol, against Redis
    const redisUse = (name: string) => [{ name, pid: redis.pid! }];
    const [rSet, rGet] = redisBenchmark(C, KEYS, redisUse('redis-server'));
    for (const [mode, base] of [['put', rSet], ['get', rGet]] as const) {
      const r = await loadgen({ mode, keys: KEYS, prefix: mode === 'put' ? 'p' : 'g', concurrency: C }, nodes);
      results.push({
        name: `quorum ${mode} (binary protocol, C=${C})`,
        system: 'cluster',
        opsPerSecond: r.result.opsPerSecond,
        latencyMs: r.result.latency,
        errors: r.result.errors,
        baseline: base.name,
        ratio: r.result.opsPerSecond / base.opsPerSecond,
        processes: r.use,
      });
      results.push(base);
      log(`${mode}: ${Math.round(r.result.opsPerSecond)}/s against Redis ${Math.round(base.opsPerSecond)}/s`);
    }

    // ---- 2. GraphQL get and put, against a bare Yoga answering from memory
    let unique = 0;
    const getBody = () => JSON.stringify({ query: 'query($k: String!) { get(key: $k) { key found context siblings { value dot } } }', variables: { k: `g${Math.floor(Math.random() * KEYS)}` } });
    const putBody = () => JSON.stringify({ query: 'mutation($k: String!, $v: JSON!) { put(key: $k, value: $v) { context acks dot } }', variables: { k: `u${unique++}-${Math.random()}`, v: 'a'.repeat(VALUE) } });
    for (const [kind, body] of [['get', getBody], ['put', putBody]] as const) {
      const bareRun = await http(`http://127.0.0.1:${BARE}/graphql`, body, [{ name: 'bare-yoga', pid: bare.pid! }]);
      const gw = await http(`http://127.0.0.1:${GATEWAY}/graphql`, body, servers);
      results.push({ ...gw, name: `GraphQL ${kind} through the gateway (C=${C})`, system: 'gateway', baseline: `bare Yoga ${kind}`, ratio: gw.opsPerSecond / bareRun.opsPerSecond });
      results.push({ ...bareRun, name: `bare Yoga ${kind}`, system: 'baseline' });
      log(`GraphQL ${kind}: ${Math.round(gw.opsPerSecond)}/s against bare Yoga ${Math.round(bareRun.opsPerSecond)}/s`);
    }

    // ---- 3. getMany of 100 keys
    const manyBody = () => JSON.stringify({ query: 'query($k: [String!]!) { getMany(keys: $k) { key found siblings { value } } }', variables: { k: Array.from({ length: 100 }, () => `g${Math.floor(Math.random() * KEYS)}`) } });
    const manyBare = await http(`http://127.0.0.1:${BARE}/graphql`, manyBody, [{ name: 'bare-yoga', pid: bare.pid! }]);
    const many = await http(`http://127.0.0.1:${GATEWAY}/graphql`, manyBody, servers);
    results.push({ ...many, name: `GraphQL getMany of 100 keys (C=${C})`, system: 'gateway', keysPerSecond: many.opsPerSecond * 100, baseline: 'bare Yoga getMany', ratio: many.opsPerSecond / manyBare.opsPerSecond });
    results.push({ ...manyBare, name: 'bare Yoga getMany', system: 'baseline', keysPerSecond: manyBare.opsPerSecond * 100 });
    log(`getMany: ${Math.round(many.opsPerSecond * 100)} keys/s`);

    // ---- 4 and 5. open loop at half the peak, with all replicas and with one stopped
    const peak = await loadgen({ mode: 'mixed', keys: KEYS, prefix: 'g', concurrency: C }, nodes);
    const rate = Math.round(peak.result.opsPerSecond / 2);
    log(`mixed peak ${Math.round(peak.result.opsPerSecond)}/s; open loop at ${rate}/s for ${OPEN_SAMPLES} requests`);
    const open = await loadgen({ mode: 'mixed', keys: KEYS, prefix: 'g', concurrency: C, rate, samples: OPEN_SAMPLES }, nodes);
    results.push({
      name: `open loop at half the peak (${rate}/s, 50% get / 50% put)`,
      system: 'cluster',
      opsPerSecond: open.result.opsPerSecond,
      latencyMs: open.result.latency,
      errors: open.result.errors,
      processes: open.use,
      note: `peak ${Math.round(peak.result.opsPerSecond)}/s closed loop, C=${C}`,
    });
    await cluster.signal('n4', 'SIGKILL');
    await new Promise((r) => setTimeout(r, 6000)); // let failure detection notice
    const degraded = await loadgen({ mode: 'mixed', keys: KEYS, prefix: 'g', concurrency: C, rate, samples: OPEN_SAMPLES }, nodes.filter((n) => n.name !== 'n4'));
    results.push({
      name: `open loop at the same rate, one replica stopped (sloppy quorum, hints)`,
      system: 'cluster',
      opsPerSecond: degraded.result.opsPerSecond,
      latencyMs: degraded.result.latency,
      errors: degraded.result.errors,
      processes: degraded.use,
      note: degraded.result.firstError,
    });
    log(`open loop p99.9: ${open.result.latency.p999.toFixed(2)} ms; with a replica stopped ${degraded.result.latency.p999.toFixed(2)} ms`);
  } finally {
    for (const s of services) await stopProcess(s);
    await cluster.stop().catch(() => undefined);
    redis.kill('SIGTERM');
    rmSync(dataDir, { recursive: true, force: true });
  }
  const summary = {
    date: new Date().toISOString(),
    mode: QUICK ? 'quick' : 'full',
    machine: `${cpus().length} cores (${cpus()[0]?.model ?? 'unknown'}), Node ${process.version}`,
    concurrency: C,
    keys: KEYS,
    valueBytes: VALUE,
    seconds: Math.round((performance.now() - started) / 1000),
    cases: results,
  };
  mkdirSync(join(ROOT, 'test/bench'), { recursive: true });
  writeFileSync(join(ROOT, 'test/bench/results.json'), JSON.stringify(summary, null, 2) + '\n');
  writeReport(summary);
  log(`done in ${summary.seconds} s: test/bench/results.json, docs/benchmarks.md`);
}

/** Runs the load generator as a process of its own, measuring the given processes meanwhile. */
async function loadgen(spec: Partial<LoadSpec>, watch: { name: string; pid: number }[]): Promise<{ result: LoadResult; use: ProcessUse[] }> {
  const full: LoadSpec = { seeds: [`127.0.0.1:${BASE}`], secret: SECRET, mode: 'get', keys: KEYS, prefix: 'g', valueBytes: VALUE, concurrency: C, seconds: SECONDS, warmupSeconds: WARMUP, rate: 0, samples: 0, ...spec };
  const child = spawn(process.execPath, [...TS_NODE_ARGS, join(ROOT, 'test/bench/loadgen.ts'), JSON.stringify(full)], { cwd: ROOT, stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  await new Promise((r) => setTimeout(r, 300));
  const use = startUse(watch);
  const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
  const measured = use.stop();
  if (code !== 0) throw new Error(`load generator exited ${code}`);
  const result = JSON.parse(out.trim().split('\n').pop()!) as LoadResult;
  return { result, use: [...measured, { name: 'load generator', cpuPercent: result.cpuPercent ?? 0, peakMB: result.peakMB ?? 0 }] };
}

/** redis-benchmark SET and GET with the same value size, key space and concurrency. */
function redisBenchmark(c: number, keys: number, watch: { name: string; pid: number }[]): [CaseResult, CaseResult] {
  const n = QUICK ? 200_000 : 1_000_000;
  const use = startUse(watch);
  const csv = execFileSync('redis-benchmark', ['-p', String(REDIS_PORT), '-t', 'set,get', '-d', String(VALUE), '-c', String(c), '-r', String(keys), '-n', String(n), '--csv', '--precision', '3'], { encoding: 'utf8' });
  const processes = use.stop();
  const rows = csv
    .trim()
    .split('\n')
    .slice(1)
    .map((l) => l.split(',').map((x) => x.replace(/"/g, '')));
  const row = (t: string): CaseResult => {
    const r = rows.find((x) => x[0] === t)!;
    return {
      name: `redis-benchmark ${t} (C=${c}, ${VALUE} B)`,
      system: 'baseline',
      opsPerSecond: Number(r[1]),
      latencyMs: { p50: Number(r[4]), p99: Number(r[6]), p999: NaN, max: Number(r[7]) },
      errors: 0,
      processes,
      note: 'redis-benchmark reports no p99.9',
    };
  };
  return [row('SET'), row('GET')];
}

/** autocannon against one URL, a new body per request, bounded in time. */
async function http(url: string, body: () => string, watch: { name: string; pid: number }[]): Promise<CaseResult> {
  const run = (seconds: number) =>
    autocannon({
      url,
      connections: C,
      duration: seconds,
      requests: [{ method: 'POST', headers: { 'content-type': 'application/json' }, setupRequest: (req) => ({ ...req, body: body() }) }],
    });
  await run(WARMUP);
  const use = startUse([...watch, { name: 'load generator', pid: process.pid }]);
  const r = await run(SECONDS);
  const processes = use.stop();
  const errors = r.errors + r.non2xx;
  return {
    name: url,
    system: '',
    opsPerSecond: r.requests.average,
    latencyMs: { p50: r.latency.p50, p99: r.latency.p99, p999: r.latency.p99_9, max: r.latency.max },
    errors,
    processes,
  };
}

async function waitReady(url: string): Promise<void> {
  for (let i = 0; i < 200; i++) {
    if ((await fetch(url).catch(() => null))?.ok) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`${url} never became ready`);
}

function writeReport(s: { date: string; mode: string; machine: string; concurrency: number; keys: number; seconds: number; cases: CaseResult[] }): void {
  const f = (x: number, d = 2) => (Number.isFinite(x) ? x.toFixed(d) : 'n/a');
  const rows = s.cases.map((c) => {
    const procs = c.processes.map((p) => `${p.name} ${p.cpuPercent}% / ${p.peakMB} MB`).join(', ');
    const rate = c.keysPerSecond ? `${Math.round(c.opsPerSecond).toLocaleString('en')} (${Math.round(c.keysPerSecond).toLocaleString('en')} keys/s)` : Math.round(c.opsPerSecond).toLocaleString('en');
    return `| ${c.name} | ${rate} | ${f(c.latencyMs.p50)} | ${f(c.latencyMs.p99)} | ${f(c.latencyMs.p999)} | ${c.ratio !== undefined ? `${f(c.ratio)}× ${c.baseline}` : ''} | ${c.errors} | ${procs} |`;
  });
  const table = [
    `Run ${s.date} (${s.mode} mode, ${s.seconds} s) on ${s.machine}; concurrency ${s.concurrency}, ${s.keys} keys, 200-byte values.`,
    '',
    '| case | ops/s | p50 ms | p99 ms | p99.9 ms | ratio | errors | CPU (one core = 100%) / peak memory |',
    '| --- | --- | --- | --- | --- | --- | --- | --- |',
    ...rows,
  ].join('\n');
  const path = join(ROOT, 'docs/benchmarks.md');
  const doc = readFileSync(path, 'utf8');
  const start = '<!-- results:start -->';
  const end = '<!-- results:end -->';
  writeFileSync(path, doc.slice(0, doc.indexOf(start) + start.length) + '\n' + table + '\n' + doc.slice(doc.indexOf(end)));
}

main().catch((e: unknown) => {
  process.stderr.write(`benchmark failed: ${e instanceof Error ? e.stack : String(e)}\n`);
  process.exit(1);
});
