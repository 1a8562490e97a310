// npm run bench [-- --quick] [-- --against <git ref>] [-- --concurrency 32] [-- --keys 10000] [-- --cpu-prof]
//
// The benchmark suite, in the configuration users run (docs/benchmarks.md): a 4-node local
// cluster (N=3 R=2 W=2, durability sync), gateways with API-key authentication, 200-byte values,
// a fixed key space, each case warmed up and bounded in time, on loopback, each measured against
// its baseline in the same run:
//   1. quorum put and get over the binary protocol, against redis-benchmark SET and GET and, for
//      puts, a replicated Redis (primary + 2 replicas, appendfsync always, SET + WAIT 1);
//   2. GraphQL get and put through the gateway, against a bare Yoga on the same HTTP server, and
//      get with a rate limit on;
//   3. getMany of 100 keys through the gateway (keys per second);
//   4. latency at a fixed arrival rate of half the measured peak (open loop);
//   5. the same with one replica stopped;
//   6. put, get and GraphQL get again with TLS everywhere (wss:// between nodes and clients, https).
// Each case reports CPU µs per operation of each process group (nodes, gateway, load generator,
// baseline). With --against, the cluster and gateway cases run again on that revision, built in a
// temporary directory, and each is reported as a ratio new/old.
// Writes test/bench/results.json and the results and targets sections of docs/benchmarks.md;
// exits non-zero when any request failed (the run is void).
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { ROOT, startService, stopProcess } from '../../bin/launcher.ts';
import { makeCa, makeCert } from '../../bin/dev-certs.ts';
import type { Watched } from './stats.ts';
import type { LoadTarget } from './loadgen.ts';
import { startRedisReplicated, waitFor } from './redis-replicated.ts';
import { drivers } from './drivers.ts';
import { DISK_NAME, diskCase } from './disk.ts';
import { buildRevision, buildTree, describeCheckout, type Revision } from './revision.ts';
import { compare, judgeTargets, writeReport, type CaseResult, type Summary } from './report.ts';
import { SECRET, SETTINGS, startSystem, type Pki, type System } from './system.ts';

const { values: o } = parseArgs({
  options: {
    quick: { type: 'boolean' },
    against: { type: 'string' },
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
/** each cluster's unmeasured puts and then gets after filling it, each this long (see fill) */
const JIT_WARMUP = QUICK ? 4 : 8;
const OPEN_SAMPLES = QUICK ? 10_000 : 100_000;
const VALUE = 200;
const REDIS_PORT = 6391;
/** the replicated Redis: primary, then two replicas on the next ports */
const REDIS_REPLICATED_PORT = 6392;
const BARE = 4802;
/** per revision: node ports (plain, then TLS 4 above) and gateway ports (plain, rate-limited, TLS) */
const PORTS = [
  { nodes: 7801, gateway: 4803 },
  { nodes: 7851, gateway: 4853 },
];
const REPLICATED_NAME = 'redis replicated (primary + 2 replicas, appendfsync always, WAIT 1)';

const t0 = performance.now();
const log = (s: string) => process.stderr.write(`${String(Math.round((performance.now() - t0) / 1000)).padStart(4)} s  ${s}\n`);

// ---- everything this run starts is stopped and removed, even when it fails or is interrupted
const children = new Set<ChildProcess>();
const dirs = new Set<string>();
const track = (child: ChildProcess) => void children.add(child);
process.once('exit', () => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});
for (const signal of ['SIGINT', 'SIGTERM'] as const) process.once(signal, () => process.exit(130));

async function main(): Promise<number> {
  const started = performance.now();
  const dir = mkdtempSync(join(tmpdir(), 'dynamo-bench-'));
  dirs.add(dir);
  const current = { root: ROOT, commit: describeCheckout(ROOT) };
  log('building this checkout (dist/, as npm start does)');
  buildTree(ROOT);
  let against: Revision | undefined;
  if (o.against) {
    log(`building ${o.against} in a temporary directory`);
    const built = buildRevision(ROOT, o.against, log);
    // the same commit as this checkout (--against HEAD): label it apart so its cases stay its own
    against = built.commit === current.commit ? { ...built, commit: `${built.commit}@${o.against}` } : built;
    dirs.add(against.root);
    log(`${o.against} is ${against.commit} in ${against.root} (dependencies ${against.modules})`);
  }
  const pki = makePki(join(dir, 'pki'));
  const cases: CaseResult[] = [];
  const redis = spawn(
    'redis-server',
    [
      '--port',
      String(REDIS_PORT),
      '--bind',
      '127.0.0.1',
      '--dir',
      dir,
      '--save',
      '',
      '--appendonly',
      'no',
      '--maxmemory-policy',
      'noeviction',
    ],
    { stdio: 'ignore' },
  );
  track(redis);
  try {
    await waitFor('the single redis-server', REDIS_PORT, redis, async (r) => (await r.ping()) === 'PONG');
    log(`on ${cpus().length} cores: baselines first, then the cluster of ${current.commit}${against ? `, then of ${against.commit}` : ''}`);
    await baselines(dir, redis.pid!, cases);
    await systemCases([current, ...(against ? [{ root: against.root, commit: against.commit }] : [])], dir, pki, cases);
  } finally {
    redis.kill('SIGTERM');
    await once(redis, 'exit').catch(() => undefined);
  }

  // ---- ratios, comparison, targets
  const ofRev = (rev: string) => cases.filter((c) => c.revision === rev);
  const find = (id: string, rev?: string) => cases.find((c) => c.id === id && (rev === undefined || c.revision === rev));
  for (const rev of [current.commit, ...(against ? [against.commit] : [])]) {
    const ratio = (id: string, base: string, label?: string) => {
      const c = find(id, rev);
      const b = find(base, base.startsWith('redis') || base.startsWith('bare') ? undefined : rev);
      if (c && b) (c.ratios ??= []).push({ against: label ?? b.name, ratio: c.opsPerSecond / b.opsPerSecond });
    };
    ratio('put', 'redis-replicated', 'redis replicated');
    ratio('put', 'redis-set');
    ratio('get', 'redis-get');
    ratio('graphql-get', 'bare-get');
    ratio('graphql-put', 'bare-put');
    ratio('graphql-getmany', 'bare-getmany');
    ratio('put-tls', 'put', 'plain put');
    ratio('get-tls', 'get', 'plain get');
    ratio('graphql-get-tls', 'graphql-get', 'plain GraphQL get');
    ratio('graphql-get-rate-limited', 'graphql-get', 'GraphQL get without a limit');
  }
  const errors = cases.reduce((a, c) => a + c.errors, 0);
  const summary: Summary = {
    date: new Date().toISOString(),
    mode: QUICK ? 'quick' : 'full',
    machine: `${cpus().length} cores (${cpus()[0]?.model ?? 'unknown'}), Node ${process.version}`,
    revision: current.commit,
    ...(against ? { against: { ref: against.ref, commit: against.commit, modules: against.modules } } : {}),
    settings: {
      ...SETTINGS,
      concurrency: C,
      keys: KEYS,
      valueBytes: VALUE,
      tlsCases: 'nodes wss:// (their own certificates), clients wss://, gateway https',
      rateLimitCase: 'GATEWAY_RATE_LIMIT_POINTS 1,000,000 per 1 s (the most allowed; never reached), counters in a private redis-server',
    },
    seconds: Math.round((performance.now() - started) / 1000),
    void: errors > 0,
    errors,
    cases: order(cases, current.commit, against?.commit),
    ...(against ? { comparison: compare(ofRev(current.commit), ofRev(against.commit)) } : {}),
    targets: judgeTargets(cases, current.commit),
  };
  mkdirSync(join(ROOT, 'test/bench'), { recursive: true });
  writeFileSync(join(ROOT, 'test/bench/results.json'), JSON.stringify(summary, null, 2) + '\n');
  writeReport(join(ROOT, 'docs/benchmarks.md'), summary);
  for (const c of summary.comparison ?? [])
    log(`${c.name}: ops/s ${c.opsRatio.toFixed(2)}× ${against!.commit}, CPU/op ${c.cpuRatio.toFixed(2)}×`);
  for (const t of summary.targets) log(`target ${t.met ? 'met' : 'NOT met'}: ${t.target}: ${t.measured}`);
  log(`done in ${summary.seconds} s: test/bench/results.json, docs/benchmarks.md`);
  if (summary.void) {
    log(`\n*** THE RUN IS VOID: ${errors} requests failed ***`);
    for (const c of cases.filter((x) => x.errors > 0))
      log(`  ${c.name}${c.revision ? ` [${c.revision}]` : ''}: ${c.errors} errors (${c.firstError ?? 'no message'})`);
    return 1;
  }
  return 0;
}

/** Cases in reading order: each extra case beside its plain one, baselines beside what they measure. */
function order(cases: CaseResult[], current: string, old: string | undefined): CaseResult[] {
  const ids = [
    'put', 'put-tls', 'redis-replicated', 'redis-set',
    'get', 'get-tls', 'redis-get',
    'graphql-get', 'graphql-get-tls', 'graphql-get-rate-limited', 'bare-get',
    'graphql-put', 'bare-put',
    'graphql-getmany', 'bare-getmany',
    'open-loop', 'open-loop-node-down', 'disk-fsync',
  ];
  const rank = (c: CaseResult) =>
    ids.indexOf(c.id) * 3 + (c.system === 'baseline' ? 2 : c.revision === current ? 0 : c.revision === old ? 1 : 2);
  return [...cases].sort((a, b) => rank(a) - rank(b));
}

/** A certificate authority and a loopback certificate, made now with openssl. */
function makePki(dir: string): Pki {
  const ca = makeCa(dir, 'bench');
  const cert = makeCert(ca, 'loopback');
  return { ca: ca.ca, cert: cert.cert, key: cert.key };
}

// ---- baselines: measured once, before any cluster runs

async function baselines(dir: string, redisPid: number, cases: CaseResult[]): Promise<void> {
  // the disk's fsync floor, where the nodes' data directories will be
  const disk = diskCase(dir, SECONDS);
  cases.push(disk);
  log(`${DISK_NAME}: ${Math.round(disk.opsPerSecond)}/s, p99.9 ${disk.latencyMs.p999.toFixed(1)} ms`);

  // redis-benchmark: a single in-memory redis-server
  const set = await redisBenchmark('SET', redisPid);
  const get = await redisBenchmark('GET', redisPid);
  cases.push(set, get);
  log(`redis-benchmark SET ${Math.round(set.opsPerSecond)}/s, GET ${Math.round(get.opsPerSecond)}/s`);

  // the replicated, durable Redis, driven by our load generator
  const rdir = join(dir, 'redis-replicated');
  const replicated = await startRedisReplicated(rdir, REDIS_REPLICATED_PORT, track);
  try {
    const target: LoadTarget = { kind: 'redis', port: replicated.primaryPort, waitReplicas: 1, waitTimeoutMs: 5000 };
    const watch = replicated.processes.map((p) => ({ ...p, group: 'baseline' as const }));
    const r = await loadgen({ target, mode: 'put', prefix: 'p' }, watch);
    cases.push(loadCase('redis-replicated', REPLICATED_NAME, 'baseline', undefined, r));
    log(`${REPLICATED_NAME}: ${Math.round(r.result.opsPerSecond)}/s`);
  } finally {
    await replicated.stop();
    rmSync(rdir, { recursive: true, force: true });
  }

  // a bare Yoga answering from memory on the gateway's HTTP server
  const bare = await startService({
    entry: 'test/bench/bare-yoga.ts',
    nodeArgs: SETTINGS.gatewayNodeArgs,
    args: [String(BARE), String(KEYS)],
    env: { NODE_ENV: SETTINGS.nodeEnv },
    health: `127.0.0.1:${BARE}`,
  });
  track(bare);
  try {
    const watch: Watched[] = [{ name: 'bare-yoga', pid: bare.pid!, group: 'baseline' }];
    for (const kind of ['get', 'put', 'getMany'] as const) {
      const r = await http(`http://127.0.0.1:${BARE}/graphql`, BODIES[kind], watch);
      const id = `bare-${kind.toLowerCase()}`;
      cases.push({
        ...r,
        id,
        name: `bare Yoga ${kind}`,
        system: 'baseline',
        ...(kind === 'getMany' ? { keysPerSecond: r.opsPerSecond * 100 } : {}),
      });
      log(`bare Yoga ${kind}: ${Math.round(r.opsPerSecond)}/s`);
    }
  } finally {
    await stopProcess(bare);
  }
}

// ---- the systems under test: this checkout, and the --against revision, case by case

interface Rev {
  readonly root: string;
  readonly commit: string;
}

/**
 * Runs the cluster and gateway cases on every revision, interleaved: both revisions' clusters
 * are up at once (on their own ports), and each case runs on one revision and then the other, so
 * a change in the machine's load over the run falls on both sides alike.
 */
async function systemCases(revs: Rev[], dir: string, pki: Pki, cases: CaseResult[]): Promise<void> {
  const profile = o['cpu-prof'] ? ['--cpu-prof', `--cpu-prof-dir=${join(ROOT, 'test/bench/profiles')}`] : [];
  const push = (rev: Rev, c: CaseResult) => {
    cases.push(c);
    log(
      `[${rev.commit}] ${c.name}: ${Math.round(c.keysPerSecond ?? c.opsPerSecond)}${c.keysPerSecond ? ' keys' : ''}/s, p99.9 ${c.latencyMs.p999.toFixed(1)} ms${c.errors ? `, ${c.errors} ERRORS (${c.firstError})` : ''}`,
    );
  };
  /** Starts one system per revision (the first with --cpu-prof when asked), runs `body`, stops them all. */
  const phase = async (
    what: string,
    start: (rev: Rev, i: number, nodeArgs: string[]) => Promise<System>,
    body: (systems: { rev: Rev; sys: System }[]) => Promise<void>,
  ) => {
    const systems: { rev: Rev; sys: System }[] = [];
    try {
      for (const [i, rev] of revs.entries()) {
        log(`[${rev.commit}] starting ${what}`);
        systems.push({ rev, sys: await start(rev, i, i === 0 ? profile : []) });
      }
      await body(systems);
    } finally {
      for (const { sys } of systems) await sys.stop();
    }
  };
  const dirOf = (rev: Rev, what: string) => {
    const d = join(dir, `${rev.commit}-${what}`);
    mkdirSync(d, { recursive: true });
    return d;
  };
  const gw = (sys: System, g: { pid: number }, name = 'gateway'): Watched[] => [...sys.nodes, { name, pid: g.pid, group: 'gateway' }];
  const graphql = async (rev: Rev, id: string, name: string, url: string, kind: keyof typeof BODIES, watch: Watched[]) => {
    const r = await http(url, BODIES[kind], watch);
    push(rev, {
      ...r,
      id,
      name,
      system: 'gateway',
      revision: rev.commit,
      ...(kind === 'getMany' ? { keysPerSecond: r.opsPerSecond * 100 } : {}),
    });
  };

  // ---- plain: binary protocol, GraphQL (with and without a rate limit), open loop
  await phase(
    '4 nodes and 2 gateways',
    (rev, i, nodeArgs) =>
      startSystem({
        root: rev.root,
        dir: dirOf(rev, 'plain'),
        basePort: PORTS[i]!.nodes,
        gatewayPort: PORTS[i]!.gateway,
        rateLimitRedis: `redis://127.0.0.1:${REDIS_PORT}`,
        nodeArgs,
        track,
      }),
    async (systems) => {
      const target = (rev: Rev, sys: System): LoadTarget => ({ kind: 'dynamo', root: rev.root, seeds: sys.seeds, secret: SECRET });
      for (const { rev, sys } of systems) await fill(target(rev, sys));
      for (const mode of ['put', 'get'] as const) {
        for (const { rev, sys } of systems) {
          const r = await loadgen({ target: target(rev, sys), mode, prefix: mode === 'put' ? 'p' : 'g' }, sys.nodes);
          push(rev, loadCase(mode, `quorum ${mode} (binary protocol, C=${C})`, 'cluster', rev.commit, r));
        }
      }
      for (const { rev, sys } of systems)
        await graphql(rev, 'graphql-get', `GraphQL get through the gateway (C=${C})`, sys.gateway.url, 'get', gw(sys, sys.gateway));
      for (const { rev, sys } of systems)
        await graphql(
          rev,
          'graphql-get-rate-limited',
          `GraphQL get, rate limit on (C=${C})`,
          sys.rateLimited!.url,
          'get',
          gw(sys, sys.rateLimited!, 'gateway (rate-limited)'),
        );
      for (const { rev, sys } of systems)
        await graphql(rev, 'graphql-put', `GraphQL put through the gateway (C=${C})`, sys.gateway.url, 'put', gw(sys, sys.gateway));
      for (const { rev, sys } of systems)
        await graphql(rev, 'graphql-getmany', `GraphQL getMany of 100 keys (C=${C})`, sys.gateway.url, 'getMany', gw(sys, sys.gateway));

      // open loop at half this checkout's peak, the same rate for every revision, with all replicas and with one killed
      const first = systems[0]!;
      const peak = await loadgen({ target: target(first.rev, first.sys), mode: 'mixed', prefix: 'g' }, first.sys.nodes);
      const rate = Math.round(peak.result.opsPerSecond / 2);
      log(`mixed peak ${Math.round(peak.result.opsPerSecond)}/s; open loop at ${rate}/s for ${OPEN_SAMPLES} requests`);
      for (const { rev, sys } of systems) {
        const open = await loadgen({ target: target(rev, sys), mode: 'mixed', prefix: 'g', rate, samples: OPEN_SAMPLES }, sys.nodes);
        push(rev, {
          ...loadCase('open-loop', `open loop at ${rate}/s (50% get / 50% put)`, 'cluster', rev.commit, open),
          note: `half the closed-loop peak of a 50/50 mix on ${first.rev.commit} (${Math.round(peak.result.opsPerSecond)}/s), C=${C}`,
        });
      }
      for (const { sys } of systems) await sys.cluster.signal('n4', 'SIGKILL');
      await new Promise((r) => setTimeout(r, 6000)); // let failure detection notice
      for (const { rev, sys } of systems) {
        const degraded = await loadgen(
          { target: target(rev, sys), mode: 'mixed', prefix: 'g', rate, samples: OPEN_SAMPLES },
          sys.nodes.filter((n) => n.name !== 'n4'),
        );
        push(
          rev,
          loadCase(
            'open-loop-node-down',
            `open loop at the same rate, one node killed (sloppy quorum, hints)`,
            'cluster',
            rev.commit,
            degraded,
          ),
        );
      }
    },
  );

  // ---- TLS everywhere: nodes wss://, clients wss://, the gateway https
  await phase(
    '4 nodes and a gateway with TLS',
    (rev, i, nodeArgs) =>
      startSystem({
        root: rev.root,
        dir: dirOf(rev, 'tls'),
        basePort: PORTS[i]!.nodes + 4,
        gatewayPort: PORTS[i]!.gateway + 2,
        tls: pki,
        nodeArgs,
        track,
      }),
    async (systems) => {
      const target = (rev: Rev, sys: System): LoadTarget => ({
        kind: 'dynamo',
        root: rev.root,
        seeds: sys.seeds,
        secret: SECRET,
        ca: pki.ca,
      });
      for (const { rev, sys } of systems) await fill(target(rev, sys));
      for (const mode of ['put', 'get'] as const) {
        for (const { rev, sys } of systems) {
          const r = await loadgen({ target: target(rev, sys), mode, prefix: mode === 'put' ? 'p' : 'g' }, sys.nodes);
          push(rev, loadCase(`${mode}-tls`, `quorum ${mode}, TLS (wss://, C=${C})`, 'cluster', rev.commit, r));
        }
      }
      for (const { rev, sys } of systems)
        await graphql(
          rev,
          'graphql-get-tls',
          `GraphQL get, TLS (https, wss:// to the nodes, C=${C})`,
          sys.gateway.url,
          'get',
          gw(sys, sys.gateway),
        );
    },
  );
}

const { loadCase, loadgen, redisBenchmark, BODIES, http } = drivers({
  quick: QUICK,
  keys: KEYS,
  valueBytes: VALUE,
  concurrency: C,
  seconds: SECONDS,
  warmupSeconds: WARMUP,
  redisPort: REDIS_PORT,
  track,
});

/**
 * Writes the key space the gets read, once per cluster, then runs puts (on keys of their own) and
 * gets unmeasured for a while: the nodes' code is compiled and optimised in their first seconds
 * of load, and that work (a quarter of the nodes' CPU a few seconds in) is not what an operation
 * costs a running node. The measured cases begin warm.
 */
async function fill(target: LoadTarget): Promise<void> {
  const r = await loadgen({ target, mode: 'fill', prefix: 'g', concurrency: 64 }, []);
  if (r.result.errors > 0) throw new Error(`filling the key space: ${r.result.errors} errors (${r.result.firstError})`);
  log(`filled ${KEYS} keys at ${Math.round(r.result.opsPerSecond)} puts/s`);
  for (const [mode, prefix] of [['put', 'w'], ['get', 'g']] as const) {
    const warm = await loadgen({ target, mode, prefix, seconds: JIT_WARMUP, warmupSeconds: 0 }, []);
    if (warm.result.errors > 0) throw new Error(`warming up (${mode}): ${warm.result.errors} errors (${warm.result.firstError})`);
  }
}

main().then(
  (code) => process.exit(code),
  (e: unknown) => {
    process.stderr.write(`benchmark failed: ${e instanceof Error ? e.stack : String(e)}\n`);
    process.exit(1);
  },
);
