// Where the open loop's tail goes: starts four compiled nodes (dist/, ports 8201-8204) with the
// probe preloaded, fills 10,000 keys, warms up, then sends an open loop of 50/50 gets and puts at a
// fixed rate, each request timed from when it was due, and matches the slow requests with the
// stalls, collections and long timer callbacks the probe logged in every process (this one too).
//   flock /tmp/dynamo-heavy.lock node --import tsx --import ./test/bench/tail/probe.mjs test/bench/tail/run.ts \
//     [--rate 1000] [--samples 10000] [--down] [--keep DIR]
// (run `npm run build` first; TAIL_PROBE_DIR is set by this script for the nodes and must be set
// for this process too to see its own stalls.)
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';

const { values: a } = parseArgs({
  options: {
    rate: { type: 'string', default: '1000' },
    samples: { type: 'string', default: '10000' },
    down: { type: 'boolean', default: false },
    port: { type: 'string', default: '8201' },
    warmup: { type: 'string', default: '6' },
    /** seconds of quiet between the warm-up and the loop (with --down: 6, as the benchmark waits) */
    pause: { type: 'string' },
    /** every request as a line: ms from the first due time, get or put, its latency, its key's replicas */
    dump: { type: 'string' },
    /** an extra node runtime flag for every node (e.g. --max-semi-space-size=16) */
    /** the nodes' --durability (sync, as users run them; buffered to see what the fsyncs add) */
    durability: { type: 'string', default: 'sync' },
    'node-arg': { type: 'string', multiple: true, default: [] },
  },
});
const ROOT = resolve(import.meta.dirname, '../../..');
const probeDir = process.env.TAIL_PROBE_DIR ?? mkdtempSync(join(tmpdir(), 'tail-probe-'));
process.env.TAIL_PROBE_DIR = probeDir;
const dataDir = mkdtempSync(join(tmpdir(), 'tail-data-'));
const dist = (file: string) => pathToFileURL(join(ROOT, 'dist', file)).href;
const { LocalCluster } = (await import(dist('bin/launcher.js'))) as typeof import('../../../bin/launcher.ts');
const { DynamoClient } = (await import(dist('client/src/client.js'))) as typeof import('../../../client/src/client.ts');
const cluster = new LocalCluster({
  nodes: 4, basePort: Number(a.port), dataDir, secret: 'benchmark-secret-0123456789', partitions: 64, n: 3, r: 2, w: 2,
  flags: ['--durability', a.durability], nodeArgs: [...a['node-arg'], '--import', join(ROOT, 'test/bench/tail/probe.mjs')],
});
const pids = new Map<number, string>();
const KEYS = 10_000;
const value = Buffer.alloc(200, 0x61);
try {
  await cluster.start();
  cluster.nodes.forEach((n) => pids.set(n.process!.pid!, n.id));
  pids.set(process.pid, 'loadgen');
  const secret = 'benchmark-secret-0123456789';
  const client = await DynamoClient.connect({ seeds: cluster.seeds, cluster: 'dev', secret, timeoutMs: 10_000 });
  const contexts = new Map<string, Awaited<ReturnType<typeof client.put>>['context']>();
  const op = async (key: string, kind: 'get' | 'put') => {
    if (kind === 'get') await client.get(key);
    else contexts.set(key, (await client.put(key, value, { context: contexts.get(key) })).context);
  };
  let next = 0;
  await Promise.all(Array.from({ length: 32 }, async () => { for (let i = next++; i < KEYS; i = next++) await op(`g${i}`, 'put'); }));
  const until = performance.now() + Number(a.warmup) * 1000;
  let n = 0;
  await Promise.all(Array.from({ length: 32 }, async () => {
    while (performance.now() < until) await op(`g${Math.floor(Math.random() * KEYS)}`, n++ % 2 ? 'get' : 'put');
  }));
  if (a.down) {
    cluster.nodes[3]!.process!.kill('SIGKILL');
  }
  // with a node down, as the benchmark: let failure detection notice
  await new Promise((r) => setTimeout(r, Number(a.pause ?? (a.down ? 6 : 0)) * 1000));
  const rate = Number(a.rate);
  const samples = Number(a.samples);
  const lat = new Float64Array(samples);
  const dueAt = new Float64Array(samples);
  const keyOf = new Int32Array(samples);
  let errors = 0;
  const cpu0 = cpuNow();
  const origin = performance.timeOrigin;
  const start = performance.now() + 200;
  let issued = 0;
  let done = 0;
  await new Promise<void>((resolve) => {
    const pump = () => {
      const now = performance.now();
      while (issued < samples && start + (issued * 1000) / rate <= now) {
        const i = issued++;
        const due = start + (i * 1000) / rate;
        dueAt[i] = origin + due;
        keyOf[i] = Math.floor(Math.random() * KEYS);
        op(`g${keyOf[i]}`, i % 2 ? 'get' : 'put').catch(() => errors++).finally(() => {
          lat[i] = performance.now() - due;
          if (++done === samples) resolve();
        });
      }
      if (issued < samples) setTimeout(pump, Math.max(0, start + (issued * 1000) / rate - performance.now()));
    };
    pump();
  });
  const cpu1 = cpuNow();
  if (a.dump) {
    // and the key's replicas, the first its coordinator
    const replicas = (k: number) => client.view.primaries(client.view.partitionOf(`g${k}`)).join(',');
    const row = (l: number, i: number) => `${(dueAt[i]! - dueAt[0]!).toFixed(1)} ${i % 2 ? 'get' : 'put'} ${l.toFixed(2)}`;
    const rows = [...lat].map((l, i) => `${row(l, i)} ${replicas(keyOf[i]!)}`);
    writeFileSync(a.dump, rows.join('\n') + '\n');
  }
  client.close();
  await new Promise((r) => setTimeout(r, 1100)); // the probes flush every second
  report(lat, dueAt, errors, rate);
  const secs = (cpu1.wall - cpu0.wall) / 1000;
  const ours = [...pids.keys()].reduce((t, p) => t + (cpu1.procs.get(p) ?? 0) - (cpu0.procs.get(p) ?? 0), 0) / 100;
  console.log(
    `machine over the window (${secs.toFixed(1)} s, 2 cores = 200%): busy ${(((cpu1.busy - cpu0.busy) / 100 / secs) * 100).toFixed(0)}%, ` +
      `ours ${((ours / secs) * 100).toFixed(0)}%, steal ${(((cpu1.steal - cpu0.steal) / 100 / secs) * 100).toFixed(0)}%`,
  );
  const main = [...pids].map(([pid, who]) => {
    const [a0, b0] = cpu0.sched.get(pid) ?? [0, 0];
    const [a1, b1] = cpu1.sched.get(pid) ?? [0, 0];
    return `${who} ${((a1 - a0) / 1e7 / secs).toFixed(0)}% on a CPU, ${((b1 - b0) / 1e7 / secs).toFixed(0)}% waiting for one`;
  });
  console.log(`main threads over the window: ${main.join('; ')}`);
} finally {
  await cluster.stop().catch(() => undefined);
  rmSync(dataDir, { recursive: true, force: true });
}

/** the machine's busy and stolen CPU (in clock ticks, 100/s) and each of our processes' */
function cpuNow(): { wall: number; busy: number; steal: number; procs: Map<number, number>; sched: Map<number, [number, number]> } {
  const f = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.split(/\s+/).slice(1).map(Number);
  const [user, nice, system, , , irq, softirq, steal] = f as [number, number, number, number, number, number, number, number];
  const procs = new Map<number, number>();
  for (const pid of pids.keys()) {
    try {
      const st = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
      procs.set(pid, Number(st[11]) + Number(st[12]));
    } catch {
      /* gone */
    }
  }
  // each process's main thread: ns on a CPU and ns runnable but waiting for one (/proc/…/schedstat)
  const sched = new Map<number, [number, number]>();
  for (const pid of pids.keys()) {
    try {
      const [on, waiting] = readFileSync(`/proc/${pid}/task/${pid}/schedstat`, 'utf8').split(' ').map(Number) as [number, number];
      sched.set(pid, [on, waiting]);
    } catch {
      /* gone */
    }
  }
  return { wall: performance.now(), busy: user + nice + system + irq + softirq, steal, procs, sched };
}

interface Ev { t: string; at: number; ms: number; fn?: string; kind?: number; who: string }

function report(lat: Float64Array, dueAt: Float64Array, errors: number, rate: number): void {
  const pct = (xs: number[], p: number) => xs[Math.min(xs.length - 1, Math.floor((p / 100) * xs.length))]!;
  const line = (name: string, xs: number[]) => {
    xs.sort((x, y) => x - y);
    return `${name}: n=${xs.length} p50 ${pct(xs, 50).toFixed(2)} p99 ${pct(xs, 99).toFixed(2)} p99.9 ${pct(xs, 99.9).toFixed(2)} max ${xs.at(-1)!.toFixed(2)} ms`;
  };
  const all = [...lat];
  console.log(`rate ${rate}/s, errors ${errors}${a.down ? ', n4 killed' : ''}`);
  console.log(line('all', [...all]));
  console.log(line('put', all.filter((_, i) => i % 2 === 0)));
  console.log(line('get', all.filter((_, i) => i % 2 === 1)));
  const t0 = dueAt[0]!;
  const t1 = dueAt[dueAt.length - 1]! + 1000;
  const evs: Ev[] = [];
  for (const f of readdirSync(probeDir)) {
    const who = pids.get(Number(f.replace('.jsonl', '')));
    if (!who) continue;
    for (const l of readFileSync(join(probeDir, f), 'utf8').split('\n')) {
      if (!l) continue;
      const e = JSON.parse(l) as Ev;
      if (e.t !== 'start' && e.at >= t0 && e.at <= t1) evs.push({ ...e, who });
    }
  }
  const secs = (t1 - t0) / 1000;
  for (const who of new Set(evs.map((e) => e.who))) {
    const mine = evs.filter((e) => e.who === who);
    const sum = (t: string, min: number) => {
      const xs = mine.filter((e) => e.t === t && e.ms >= min).map((e) => e.ms).sort((x, y) => x - y);
      return `${xs.length} (${(xs.length / secs).toFixed(2)}/s) max ${(xs.at(-1) ?? 0).toFixed(1)}`;
    };
    const stalls = `stalls>=5ms ${sum('stall', 5)}, >=10ms ${sum('stall', 10)}`;
    console.log(`${who}: ${stalls}; gc>=3ms ${sum('gc', 3)}; timers>=3ms ${sum('timer', 3)}`);
  }
  const timers = new Map<string, number[]>();
  for (const e of evs.filter((x) => x.t === 'timer')) timers.set(`${e.who} ${e.fn}`, [...(timers.get(`${e.who} ${e.fn}`) ?? []), e.ms]);
  for (const [k, xs] of [...timers].sort((x, y) => Math.max(...y[1]) - Math.max(...x[1])).slice(0, 12))
    console.log(`  timer x${xs.length} max ${Math.max(...xs).toFixed(1)} ms: ${k.slice(0, 200)}`);
  const big = evs.filter((e) => e.t === 'stall' && e.ms >= 10);
  const together = new Map<number, number>();
  for (const e of big) {
    const others = evs.filter((x) => x.t === 'stall' && x.who !== e.who && x.ms >= 3 && x.at < e.at + e.ms && x.at + x.ms > e.at);
    const k = new Set(others.map((x) => x.who)).size;
    together.set(k, (together.get(k) ?? 0) + 1);
  }
  console.log(`stalls >=10 ms: ${big.length}; by how many other processes stalled (>=3 ms) at the same time: ` +
    [...together].sort((x, y) => x[0] - y[0]).map(([k, v]) => `${k}:${v}`).join(' '));
  // the slow requests: what stalls overlapped them (a stall of a process the request passed through)
  const order = [...all.keys()].sort((x, y) => all[y]! - all[x]!);
  const slow = order.slice(0, Math.max(10, Math.floor(all.length / 100)));
  const cause = new Map<string, number>();
  let explained = 0;
  for (const i of slow) {
    const s = dueAt[i]!;
    const e = s + all[i]!;
    const over = evs.filter((x) => (x.t === 'stall' || x.t === 'gc') && x.at < e && x.at + x.ms > s && x.ms >= 5);
    if (over.length) explained++;
    for (const k of new Set(over.map((x) => `${x.who} ${x.t}`))) cause.set(k, (cause.get(k) ?? 0) + 1);
  }
  console.log(`slowest 1% (${slow.length}, from ${all[slow.at(-1)!]!.toFixed(1)} ms): ${explained} overlap a stall or GC >=5 ms somewhere`);
  console.log('  ' + [...cause].sort((x, y) => y[1] - x[1]).map(([k, v]) => `${k} ${v}`).join(', '));
  // slow requests over time: are they clustered?
  const buckets = new Map<number, number>();
  for (const i of slow) buckets.set(Math.floor((dueAt[i]! - t0) / 1000), (buckets.get(Math.floor((dueAt[i]! - t0) / 1000)) ?? 0) + 1);
  console.log('  slow per second of the run: ' + [...buckets].sort((x, y) => x[0] - y[0]).map(([s, c]) => `${s}s:${c}`).join(' '));
  console.log(`probe logs: ${probeDir}`);
}
