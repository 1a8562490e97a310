// Runs storage nodes as separate OS processes on loopback ports, the way `riak devrel` or
// `ccm` do: for development (`npm start`) and for the integration tests. Each node gets its
// own port and data directory; start() returns once every node answers its health check.
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { request as httpsRequest } from 'node:https';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ClientTls } from '../client/src/transport/tls.ts';
import { readCa } from '../storage/transport/tls.ts';
import { authorityFiles, ensureIdentity } from '../client/src/auth/identity-file.ts';
import type { Role } from '../client/src/auth/roles.ts';

/** this module runs compiled, from dist/ (npm start, the scripts), rather than from the sources (tests, tsx) */
const COMPILED = import.meta.url.endsWith('.js');
export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), COMPILED ? '../..' : '..');
/** node arguments that run a TypeScript entry point of this repository (none for dist/, where tsx may not be installed) */
export const TS_NODE_ARGS = COMPILED ? [] : ['--import', import.meta.resolve('tsx')];

/**
 * The gateway's V8 flags: a young generation of 64 MiB semi-spaces (V8's default is 16). A
 * getMany allocates about 0.5 MiB that lives across the nodes' round trip; with the default,
 * scavenges come every few tens of milliseconds and copy what is in flight. Gateway CPU per
 * getMany of 100 keys 0.7-0.8x, per get unchanged, for about 90 MiB more resident memory
 * (docs/benchmarks.md). The nodes measured at most a few percent, under multi-gets only (0.9-0.96x
 * per key, no difference for gets and puts), not worth up to 96 MiB more each, and keep V8's
 * default. A deployment passes the same flags (docs/operations.md).
 */
export const GATEWAY_NODE_ARGS: readonly string[] = ['--max-semi-space-size=64'];

/** An entry point named by its source ('bin/gateway.ts') as this module runs: the source itself, or its JavaScript in dist/. */
export function entryPoint(entry: string): string {
  return COMPILED ? join(ROOT, 'dist', entry.replace(/\.ts$/, '.js')) : join(ROOT, entry);
}

export interface LocalClusterOptions {
  readonly nodes: number;
  readonly basePort?: number;
  readonly host?: string;
  readonly dataDir: string;
  readonly cluster?: string;
  /** the cluster secret every node takes (the legacy mode); none: identities only */
  readonly secret?: string;
  /**
   * a directory holding the cluster authority and one identity per process (made when
   * missing): every node proves its peer identity and takes certificates from this authority
   */
  readonly identities?: string;
  readonly partitions?: number;
  readonly n?: number;
  readonly r?: number;
  readonly w?: number;
  /** extra flags for every node */
  readonly flags?: readonly string[];
  /** extra environment for every node */
  readonly env?: Readonly<Record<string, string>>;
  /** extra node runtime flags (e.g. --cpu-prof) */
  readonly nodeArgs?: readonly string[];
  /** where node output goes: inherited, or discarded */
  readonly output?: 'inherit' | 'ignore';
  /**
   * Nodes advertise port + this offset (where a proxy in front of them listens) and listen on
   * their own port; for fault tests that cut nodes off.
   */
  readonly advertiseOffset?: number;
  /** TLS for every node: its certificate and key, and the authorities (comma-separated files) peers and clients trust */
  readonly tls?: LauncherTls;
}

/** PEM files: a certificate and key to serve with, and the authorities to trust (comma-separated). */
export interface LauncherTls {
  readonly cert: string;
  readonly key: string;
  readonly ca: string;
}

export interface NodeProcess {
  readonly id: string;
  /** where others reach it (its proxy, when it has one) */
  readonly address: string;
  /** where it listens */
  readonly listen: string;
  process: ChildProcess | null;
}

export class LocalCluster {
  readonly nodes: NodeProcess[];
  readonly #options: LocalClusterOptions;
  /** the members the cluster was created with; nodes added later join through them */
  readonly #initial: NodeProcess[];

  constructor(options: LocalClusterOptions) {
    if (options.secret === undefined && options.identities === undefined)
      throw new Error('a local cluster needs identities, a secret, or both');
    this.#options = options;
    const host = options.host ?? '127.0.0.1';
    const base = options.basePort ?? 7001;
    const offset = options.advertiseOffset ?? 0;
    this.nodes = Array.from({ length: options.nodes }, (_, i) => ({
      id: `n${i + 1}`,
      address: `${host}:${base + i + offset}`,
      listen: `${host}:${base + i}`,
      process: null,
    }));
    this.#initial = [...this.nodes];
  }

  get nodeList(): string {
    return this.#initial.map((n) => `${n.id}=${n.address}`).join(',');
  }

  /** Registers one more node (the next id and port) that will join through the initial members. */
  addNode(): NodeProcess {
    const host = this.#options.host ?? '127.0.0.1';
    const base = this.#options.basePort ?? 7001;
    const used = new Set(this.nodes.map((n) => Number(n.address.split(':')[1])));
    let port = base + this.nodes.length;
    while (used.has(port)) port++;
    const node = { id: `n${this.nodes.length + 1}`, address: `${host}:${port}`, listen: `${host}:${port}`, process: null };
    this.nodes.push(node);
    return node;
  }

  get seeds(): string[] {
    return this.nodes.map((n) => n.address);
  }

  /** What a client of this cluster dials with: the authorities to trust, when the nodes speak TLS. */
  get clientTls(): ClientTls | undefined {
    return this.#options.tls ? readCa(this.#options.tls.ca) : undefined;
  }

  get cluster(): string {
    return this.#options.cluster ?? 'dev';
  }

  /**
   * The identity file `<identities>/<name>.json` of a process of this cluster with this role,
   * issued by the cluster's authority when missing (nodes are named by their id).
   */
  identity(name: string, role: Role): string {
    const dir = this.#options.identities;
    if (!dir) throw new Error('this local cluster has no identities (LocalClusterOptions.identities)');
    return ensureIdentity(dir, dir, name, { cluster: this.cluster, id: name, role });
  }

  /** The authority's public key file the nodes trust, when the cluster has identities. */
  get authority(): string | undefined {
    return this.#options.identities ? authorityFiles(this.#options.identities).pub : undefined;
  }

  node(id: string): NodeProcess {
    const n = this.nodes.find((x) => x.id === id);
    if (!n) throw new Error(`no node ${id}`);
    return n;
  }

  dataDirOf(id: string): string {
    return join(this.#options.dataDir, id);
  }

  async start(timeoutMs = 30_000): Promise<void> {
    await Promise.all(this.nodes.map((n) => this.startNode(n.id, timeoutMs)));
  }

  /** Starts one node (again) and waits until it is healthy. */
  async startNode(id: string, timeoutMs = 30_000, extraFlags: readonly string[] = []): Promise<void> {
    const n = this.node(id);
    if (n.process && n.process.exitCode === null && n.process.signalCode === null) return;
    const o = this.#options;
    const initial = this.#initial.some((x) => x.id === id);
    const args = [
      ...(o.nodeArgs ?? []),
      ...TS_NODE_ARGS,
      entryPoint('bin/storage-node.ts'),
      '--id', id,
      ...(initial ? ['--nodes', this.nodeList] : ['--seeds', this.nodeList]),
      '--listen', n.listen,
      '--cluster', this.cluster,
      '--data-dir', this.dataDirOf(id),
      '--partitions', String(o.partitions ?? 64),
      '--n', String(o.n ?? 3),
      '--r', String(o.r ?? 2),
      '--w', String(o.w ?? 2),
      ...(o.tls ? ['--tls-cert', o.tls.cert, '--tls-key', o.tls.key, '--tls-ca', o.tls.ca] : []),
      ...(o.identities ? ['--identity', this.identity(id, 'peer'), '--authority', this.authority!] : []),
      ...(o.flags ?? []),
      ...extraFlags,
    ];
    const child = spawn(process.execPath, args, {
      cwd: ROOT,
      env: { ...process.env, ...o.env, DYNAMO_SECRET: o.secret ?? '' },
      stdio: ['ignore', o.output ?? 'ignore', o.output ?? 'ignore'],
    });
    n.process = child;
    await waitHealthy(n.listen, child, timeoutMs, o.tls?.ca);
  }

  /** Sends a signal; for SIGTERM/SIGKILL waits for the exit. */
  async signal(id: string, signal: NodeJS.Signals): Promise<void> {
    const child = this.node(id).process;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const exited = once(child, 'exit');
    child.kill(signal);
    if (signal === 'SIGTERM' || signal === 'SIGKILL' || signal === 'SIGINT') await exited;
  }

  /** Stops every node gracefully (SIGCONT first, for any that are paused). */
  async stop(): Promise<void> {
    await Promise.all(
      this.nodes.map(async (n) => {
        await this.signal(n.id, 'SIGCONT');
        await this.signal(n.id, 'SIGTERM');
      }),
    );
  }
}

export interface ServiceOptions {
  /** repository-relative TypeScript entry point (its compiled JavaScript when the launcher runs from dist/) */
  readonly entry: string;
  readonly args: readonly string[];
  readonly env: Readonly<Record<string, string>>;
  /** host:port whose GET /health says the service is up */
  readonly health: string;
  /** where its output goes: inherited, discarded, or piped to the caller (who must read it) */
  readonly output?: 'inherit' | 'ignore' | 'pipe';
  readonly timeoutMs?: number;
  /** extra node runtime flags (e.g. --cpu-prof) */
  readonly nodeArgs?: readonly string[];
  /** the health check is https, trusting these authorities (comma-separated PEM files; '' for the system's) */
  readonly healthCa?: string;
}

/** Starts one more process of this repository (the gateway, the repair workers) and waits until it is healthy. */
export async function startService(o: ServiceOptions): Promise<ChildProcess> {
  const child = spawn(process.execPath, [...(o.nodeArgs ?? []), ...TS_NODE_ARGS, entryPoint(o.entry), ...o.args], {
    cwd: ROOT,
    env: { ...process.env, ...o.env },
    stdio: ['ignore', o.output ?? 'ignore', o.output ?? 'ignore'],
  });
  try {
    await waitHealthy(o.health, child, o.timeoutMs ?? 30_000, o.healthCa);
  } catch (e) {
    child.kill('SIGKILL');
    throw e;
  }
  return child;
}

/** SIGTERM, then wait for the exit. */
export async function stopProcess(child: ChildProcess | null | undefined): Promise<void> {
  if (!child || child.exitCode !== null || child.signalCode !== null) return;
  const exited = once(child, 'exit');
  child.kill('SIGTERM');
  await exited;
}

/** Polls GET /health (https trusting `ca` when given) until it answers 200, the process dies, or time runs out. */
export async function waitHealthy(address: string, child: ChildProcess | null, timeoutMs: number, ca?: string): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  let last = '';
  while (performance.now() < deadline) {
    if (child && (child.exitCode !== null || child.signalCode !== null)) {
      throw new Error(`process for ${address} exited (${child.exitCode ?? child.signalCode}) before becoming healthy`);
    }
    try {
      const status = ca === undefined ? (await fetch(`http://${address}/health`, { signal: AbortSignal.timeout(1000) })).status : await httpsStatus(`https://${address}/health`, ca, 1000);
      if (status === 200) return;
      last = `HTTP ${status}`;
    } catch (e) {
      last = (e as Error).message;
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`${address} did not become healthy within ${timeoutMs} ms (${last})`);
}

/** GET over https trusting the authorities in `ca` (comma-separated PEM files; '' for the system's): the status code. */
export function httpsStatus(url: string, ca: string, timeoutMs: number): Promise<number> {
  const authorities = ca.split(',').filter(Boolean).map((f) => readFileSync(f));
  return new Promise<number>((resolve, reject) => {
    const req = httpsRequest(url, { ...(authorities.length > 0 ? { ca: authorities } : {}), timeout: timeoutMs }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on('timeout', () => req.destroy(new Error(`no answer from ${url} within ${timeoutMs} ms`)));
    req.on('error', reject);
    req.end();
  });
}
