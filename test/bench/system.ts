// The system under test, started from one source tree (this checkout, or another revision
// unpacked by revision.ts) in the configuration users run: four nodes with N=3 R=2 W=2 and
// `--durability sync`, and gateways with API-key authentication on. Every process is that tree's
// own code, started through that tree's launcher: its compiled one in dist/ when the tree is
// built (revision.ts buildTree; the benchmark builds both trees), which starts compiled nodes
// and gateways as `npm start` does, else its sources through tsx.
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { ChildProcess } from 'node:child_process';
import type { Watched } from './stats.ts';
import { GATEWAY_NODE_ARGS } from '../../bin/launcher.ts';

type Launcher = typeof import('../../bin/launcher.ts');
type Cluster = InstanceType<Launcher['LocalCluster']>;

/** What every case records about the configuration. */
export const SETTINGS = {
  nodes: 4,
  n: 3,
  r: 2,
  w: 2,
  durability: 'sync',
  partitions: 64,
  gatewayAuth: 'API keys (--api-keys FILE, a bearer token per request)',
  /** the gateways' and the bare Yoga's: as a deployment runs them (graphql-js skips its development-mode checks) */
  nodeEnv: 'production',
  /** the gateways' and the bare Yoga's V8 flags, as a deployment runs the gateway */
  gatewayNodeArgs: GATEWAY_NODE_ARGS,
} as const;

export const SECRET = 'benchmark-secret-0123456789';
export const API_TOKEN = 'benchmark-api-token-0123456789abcdef';
const CONTEXT_KEY = 'benchmark-context-key-0123456789abcdef';

export interface Pki {
  /** the authority's certificate, and the loopback certificate and key it signed */
  readonly ca: string;
  readonly cert: string;
  readonly key: string;
}

export interface SystemOptions {
  readonly root: string;
  /** where node data, the API-key file and logs go */
  readonly dir: string;
  readonly basePort: number;
  /** the plain gateway's port; a rate-limited one listens on the next */
  readonly gatewayPort: number;
  /** nodes speak wss://, the gateway https */
  readonly tls?: Pki;
  /** the Redis that holds the rate limiter's counters: also start a rate-limited gateway */
  readonly rateLimitRedis?: string;
  readonly nodeArgs?: readonly string[];
  /** every process started, so the caller can kill what is left if it dies */
  readonly track: (child: ChildProcess) => void;
}

export interface System {
  readonly cluster: Cluster;
  readonly nodes: Watched[];
  readonly gateway: { url: string; pid: number };
  readonly rateLimited?: { url: string; pid: number };
  readonly seeds: string[];
  stop(): Promise<void>;
}

export async function startSystem(o: SystemOptions): Promise<System> {
  // the entry points live in bin/; a tree from before keeps them beside the code they start
  const old = !existsSync(join(o.root, 'bin/launcher.ts'));
  const built = join(o.root, 'dist/bin/launcher.js');
  const launcher = !old && existsSync(built) ? built : join(o.root, old ? 'storage/launcher.ts' : 'bin/launcher.ts');
  const { LocalCluster, startService, stopProcess } = (await import(pathToFileURL(launcher).href)) as Launcher;
  const cluster = new LocalCluster({
    nodes: SETTINGS.nodes,
    basePort: o.basePort,
    dataDir: join(o.dir, `nodes-${o.basePort}`),
    secret: SECRET,
    partitions: SETTINGS.partitions,
    n: SETTINGS.n,
    r: SETTINGS.r,
    w: SETTINGS.w,
    flags: ['--durability', SETTINGS.durability],
    nodeArgs: o.nodeArgs ?? [],
    ...(o.tls ? { tls: o.tls } : {}),
  });
  const services: ChildProcess[] = [];
  const stop = async () => {
    for (const s of services) await stopProcess(s);
    await cluster.stop().catch(() => undefined);
  };
  try {
    // track each node as soon as it is spawned (start() only returns when all are healthy)
    const started = cluster.start();
    const tracking = setInterval(() => cluster.nodes.forEach((n) => n.process && o.track(n.process)), 50);
    try {
      await started;
    } finally {
      clearInterval(tracking);
      cluster.nodes.forEach((n) => n.process && o.track(n.process));
    }
    const keys = join(o.dir, 'api-keys.json');
    writeFileSync(keys, JSON.stringify({ [API_TOKEN]: { name: 'bench', read: [''], write: [''] } }));
    const scheme = o.tls ? 'https' : 'http';
    const gateway = async (port: number, extra: string[], env: Record<string, string>) => {
      const child = await startService({
        entry: old ? 'gateway/main.ts' : 'bin/gateway.ts',
        nodeArgs: [...SETTINGS.gatewayNodeArgs, ...(o.nodeArgs ?? [])],
        args: [
          '--port',
          String(port),
          '--seeds',
          cluster.seeds.join(','),
          '--no-graphiql',
          '--api-keys',
          keys,
          ...(o.tls ? ['--tls-cert', o.tls.cert, '--tls-key', o.tls.key, '--tls-ca', o.tls.ca] : []),
          ...extra,
        ],
        env: { NODE_ENV: SETTINGS.nodeEnv, DYNAMO_SECRET: SECRET, GATEWAY_CONTEXT_KEYS: CONTEXT_KEY, GATEWAY_LOG_LEVEL: 'error', ...env },
        health: `127.0.0.1:${port}`,
        ...(o.tls ? { healthCa: o.tls.ca } : {}),
      });
      o.track(child);
      services.push(child);
      const url = `${scheme}://127.0.0.1:${port}/graphql`;
      await waitReady(url, child, o.tls?.ca);
      return { url, pid: child.pid! };
    };
    const plain = await gateway(o.gatewayPort, [], {});
    const rateLimited = o.rateLimitRedis
      ? await gateway(o.gatewayPort + 1, ['--rate-limit-points', '1000000', '--rate-limit-duration-s', '1'], {
          GATEWAY_RATE_LIMIT_REDIS_URL: o.rateLimitRedis,
          REPAIR_QUEUE_PREFIX: `bench-${process.pid}`,
        })
      : undefined;
    return {
      cluster,
      nodes: cluster.nodes.map((n) => ({ name: n.id, pid: n.process!.pid!, group: 'nodes' as const })),
      gateway: plain,
      ...(rateLimited ? { rateLimited } : {}),
      seeds: cluster.seeds,
      stop,
    };
  } catch (e) {
    await stop();
    throw e;
  }
}

/** Waits until the gateway has found the cluster: a GraphQL get with the API key gets data and no errors. */
async function waitReady(url: string, child: ChildProcess, ca: string | undefined): Promise<void> {
  let last = '';
  for (let i = 0; i < 300; i++) {
    if (child.exitCode !== null || child.signalCode !== null) throw new Error(`the gateway for ${url} exited`);
    try {
      const r = await postGraphql(url, JSON.stringify({ query: '{ get(key: "probe") { found } }' }), ca);
      if (r.status === 200 && !r.body.includes('"errors"')) return;
      last = `HTTP ${r.status} ${r.body.slice(0, 300)}`;
    } catch (e) {
      last = (e as Error).message;
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`the gateway at ${url} never answered a query (${last})`);
}

/** POSTs a GraphQL body with the API key, over https trusting `ca` when given. */
export function postGraphql(url: string, body: string, ca: string | undefined): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const options = {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${API_TOKEN}` },
      timeout: 5000,
      ...(ca ? { ca: readFileSync(ca) } : {}),
    };
    const req = (url.startsWith('https:') ? httpsRequest : httpRequest)(url, options, (res) => {
      let data = '';
      res.on('data', (c: Buffer) => (data += c.toString('utf8')));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: data }));
    });
    req.on('timeout', () => req.destroy(new Error(`no answer from ${url}`)));
    req.on('error', reject);
    req.end(body);
  });
}
