// The gateway's own CPU per GraphQL request, measured in process: a real 4-node cluster (N=3 R=2
// W=2, `durability: sync`), the gateway built as bin/gateway.ts builds it (API keys, Prometheus
// metrics, context signing) in this process, and a load generator in a child process sending a
// fixed number of requests with a fixed concurrency. CPU is this process's (process.cpuUsage)
// over each run; `--cpu-prof DIR` writes a V8 CPU profile of each measured run there.
//
//   flock /tmp/dynamo-heavy.lock node --import tsx test/bench/gateway-cpu.ts \
//     [--modes get,getMany] [--requests 20000] [--concurrency 32] [--rounds 3] [--base-port 7900] [--cpu-prof DIR]
//     [--against DIR]
//
// `--against DIR` builds a second gateway from another source tree (its gateway/ and client/src,
// e.g. unpacked with `git archive`, its node_modules linked to this one's) in the same process,
// and alternates the two gateways' measured runs, so a change in the machine's load falls on both.
//
// A request whose answer is not HTTP 200 without `errors` is counted and reported.
import { fork, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { Session } from 'node:inspector/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { pathToFileURL } from 'node:url';
import autocannon from 'autocannon';
import { LocalCluster, ROOT } from '../../bin/launcher.ts';
import { DynamoClient } from '../../client/src/client.ts';

const SECRET = 'benchmark-secret-0123456789';
const TOKEN = 'benchmark-api-token-0123456789abcdef';
const KEYS = 10_000;

interface Job {
  readonly url: string;
  readonly mode: string;
  readonly amount: number;
  readonly connections: number;
}

interface Done {
  readonly requests: number;
  readonly errors: number;
  readonly seconds: number;
  readonly firstError?: string;
}

const bodies: Record<string, () => string> = {
  get: () =>
    JSON.stringify({
      query: 'query($k: String!) { get(key: $k) { key found context siblings { value dot } } }',
      variables: { k: `g${Math.floor(Math.random() * KEYS)}` },
    }),
  getMany: () =>
    JSON.stringify({
      query: 'query($k: [String!]!) { getMany(keys: $k) { key found siblings { value } } }',
      variables: { k: Array.from({ length: 100 }, () => `g${Math.floor(Math.random() * KEYS)}`) },
    }),
};

/** The load generator's side: runs each job it is sent and answers with what happened. */
function drive(): void {
  process.on('message', (job: Job) => {
    let errors = 0;
    let firstError: string | undefined;
    const started = performance.now();
    // autocannon reports on its own one-second tick: the time is to the last answer
    let last = started;
    const instance = autocannon(
      {
        url: job.url,
        connections: job.connections,
        amount: job.amount,
        requests: [
          {
            method: 'POST',
            headers: { 'content-type': 'application/json', authorization: `Bearer ${TOKEN}` },
            setupRequest: (req) => ({ ...req, body: bodies[job.mode]!() }),
            onResponse: (status, body) => {
              last = performance.now();
              if (status === 200 && !body.includes('"errors"')) return;
              errors++;
              firstError ??= `HTTP ${status}: ${body.slice(0, 200)}`;
            },
          },
        ],
      },
      (err, r) => {
        const done: Done = {
          requests: r.requests.total,
          errors: errors + r.errors + (err ? 1 : 0),
          seconds: (last - started) / 1000,
          ...(firstError ? { firstError } : {}),
        };
        process.send!(done);
      },
    );
    void instance;
  });
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      modes: { type: 'string', default: 'get,getMany' },
      requests: { type: 'string', default: '20000' },
      concurrency: { type: 'string', default: '32' },
      rounds: { type: 'string', default: '3' },
      'base-port': { type: 'string', default: '7900' },
      'cpu-prof': { type: 'string' },
      against: { type: 'string' },
    },
  });
  const basePort = Number(values['base-port']);
  const dir = mkdtempSync(join(tmpdir(), 'gateway-cpu-'));
  const cluster = new LocalCluster({
    nodes: 4,
    basePort,
    dataDir: join(dir, 'nodes'),
    secret: SECRET,
    partitions: 64,
    n: 3,
    r: 2,
    w: 2,
    flags: ['--durability', 'sync'],
    output: 'ignore',
  });
  let client: DynamoClient | null = null;
  const closers: (() => Promise<void>)[] = [];
  let driver: ChildProcess | null = null;
  try {
    await cluster.start();
    client = await DynamoClient.connect({ seeds: cluster.seeds, cluster: 'dev', secret: SECRET, timeoutMs: 10_000 });
    const value = Buffer.alloc(200, 0x61);
    for (let i = 0; i < KEYS; i += 64) {
      await Promise.all(Array.from({ length: Math.min(64, KEYS - i) }, (_, j) => client!.put(`g${i + j}`, value)));
    }
    client.close();
    client = null;
    const sides = [{ name: 'this', ...(await gateway(ROOT, basePort + 90, cluster.seeds)) }];
    if (values.against) sides.push({ name: 'against', ...(await gateway(values.against, basePort + 91, cluster.seeds)) });
    closers.push(...sides.map((g) => g.close));
    driver = fork(new URL(import.meta.url).pathname, ['--drive'], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    const run = (job: Job) =>
      new Promise<Done>((resolve) => {
        driver!.once('message', (d) => resolve(d as Done));
        driver!.send(job);
      });
    const session = values['cpu-prof'] ? new Session() : null;
    if (session) {
      session.connect();
      mkdirSync(values['cpu-prof']!, { recursive: true });
      await session.post('Profiler.enable');
      await session.post('Profiler.setSamplingInterval', { interval: 200 });
    }
    const amount = Number(values.requests);
    const connections = Number(values.concurrency);
    const figures = new Map<string, number[]>();
    const modes = values.modes!.split(',');
    const per = (mode: string) => (mode === 'getMany' ? 10 : 1);
    // every side and mode once before any measured run, so no side runs first while the JIT warms up
    for (const mode of modes) {
      for (const side of sides) {
        const warm = await run({ url: side.url, mode, amount: Math.round(amount / per(mode)), connections });
        if (warm.errors) throw new Error(`warm-up ${mode}: ${warm.errors} errors (${warm.firstError})`);
      }
    }
    for (let round = 1; round <= Number(values.rounds); round++) {
      for (const mode of modes) {
        // the order of the sides alternates by round
        for (const side of round % 2 ? sides : [...sides].reverse()) {
          const url = side.url;
          const perRequest = per(mode);
          if (session) await session.post('Profiler.start');
          const cpu = process.cpuUsage();
          const done = await run({ url, mode, amount: Math.round(amount / perRequest), connections });
          const used = process.cpuUsage(cpu);
          if (session) {
            const { profile } = await session.post('Profiler.stop');
            writeFileSync(join(values['cpu-prof']!, `${side.name}-${mode}-${round}.cpuprofile`), JSON.stringify(profile));
          }
          const us = (used.user + used.system) / done.requests;
          const key = `${side.name.padEnd(7)} ${mode.padEnd(8)}`;
          figures.set(key, [...(figures.get(key) ?? []), us]);
          console.log(
            `${key} round ${round}: ${done.requests} requests in ${done.seconds.toFixed(2)} s, ` +
              `${Math.round(done.requests / done.seconds)}/s, gateway CPU ${us.toFixed(0)} µs/request ` +
              `(user ${(used.user / done.requests).toFixed(0)}, system ${(used.system / done.requests).toFixed(0)}), ` +
              `${done.errors} errors${done.firstError ? ` (${done.firstError})` : ''}`,
          );
        }
      }
    }
    const median = (list: number[]) => [...list].sort((a, b) => a - b)[Math.floor(list.length / 2)]!;
    for (const [key, list] of figures) {
      const all = list.map((x) => x.toFixed(0)).join(', ');
      console.log(`${key} median ${median(list).toFixed(0)} µs/request (${all})`);
    }
    if (sides.length === 2) {
      for (const mode of modes) {
        const [a, b] = sides.map((side) => figures.get(`${side.name.padEnd(7)} ${mode.padEnd(8)}`)!);
        // each round's pair measured back to back: the ratio of each pair, then their median
        const ratios = a!.map((x, i) => x / b![i]!);
        console.log(`${mode}: this/against CPU per request, median of the rounds' ratios ${median(ratios).toFixed(3)}`);
      }
    }
    session?.disconnect();
  } finally {
    driver?.kill();
    for (const close of closers) await close();
    client?.close();
    await cluster.stop().catch(() => undefined);
    for (const n of cluster.nodes) if (n.process?.exitCode === null) n.process.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  }
}

/** A gateway built from the source tree at `root` as bin/gateway.ts builds it, with its own client of the cluster. */
async function gateway(root: string, port: number, seeds: string[]): Promise<{ url: string; close: () => Promise<void> }> {
  const load = <T>(file: string) => import(pathToFileURL(join(root, file)).href) as Promise<T>;
  const { DynamoClient: Client } = await load<typeof import('../../client/src/client.ts')>('client/src/client.ts');
  const { ApiKeys } = await load<typeof import('../../gateway/api-keys.ts')>('gateway/api-keys.ts');
  const { Authenticator } = await load<typeof import('../../gateway/auth.ts')>('gateway/auth.ts');
  const { ContextSigner } = await load<typeof import('../../gateway/context-token.ts')>('gateway/context-token.ts');
  const { GatewayHttpServer } = await load<typeof import('../../gateway/http.ts')>('gateway/http.ts');
  const { GatewayMetrics } = await load<typeof import('../../gateway/metrics.ts')>('gateway/metrics.ts');
  const { createGateway } = await load<typeof import('../../gateway/yoga.ts')>('gateway/yoga.ts');
  const client = await Client.connect({ seeds, cluster: 'dev', secret: SECRET, timeoutMs: 10_000 });
  const yoga = createGateway({
    client: () => client,
    contexts: new ContextSigner(['benchmark-context-key-0123456789abcdef']),
    auth: new Authenticator({ apiKeys: ApiKeys.fromJson({ [TOKEN]: { name: 'bench', read: [''], write: [''] } }) }),
    metrics: new GatewayMetrics(() => true),
    requestTimeoutMs: 30_000,
    maxBodyBytes: 4 * 1024 * 1024,
    graphiql: false,
    logger: { info() {}, warn() {}, error: (m: string, f?: unknown) => console.error(m, f) },
  });
  const server = new GatewayHttpServer(yoga, { host: '127.0.0.1', port, maxBodyBytes: 4 * 1024 * 1024 });
  await server.listen();
  return {
    url: `http://127.0.0.1:${port}/graphql`,
    close: async () => {
      await server.close();
      client.close();
    },
  };
}

if (process.argv.includes('--drive')) drive();
else
  await main().then(
    () => process.exit(0),
    (e: unknown) => {
      console.error(e);
      process.exit(1);
    },
  );
