// Storage nodes each in their own Linux network namespace, for fault tests that cut the network
// itself (as Jepsen does with iptables), not a proxy in front of a port. Every node's namespace
// has loopback and one veth whose other end is a port of a bridge; the bridge lives in a
// namespace of its own (the switch), so the host's firewall (Docker's FORWARD policy, say, with
// br_netfilter) never sees the traffic between nodes. One more veth joins the root namespace to
// the switch and holds the host's address on a private /24: the test process (clients) reaches
// every node by its own address, and nodes reach each other across the switch.
//
// Faults:
//   partition(a, b)  inside each namespace of one side, a blackhole (or prohibit) route to
//                    every address of the other side: packets between the sides are dropped;
//                    a new connection fails at once, an established one stalls (nothing is
//                    reset), and the test process still reaches both sides;
//   isolate(node)    the node's veth is set down inside its namespace: it reaches no one and
//                    no one, the test process included, reaches it; established connections
//                    stall;
//   heal()           every route added is deleted and every link set down is set up again.
//
// Everything made here is named with a prefix holding this process's id and is deleted on
// destroy(), on process exit, and on SIGINT/SIGTERM/SIGHUP. Namespaces and veths left by an
// earlier run that was killed outright (whose process is gone) are deleted at the next start. Every command
// has a time bound. This needs root and iproute2; when they are missing, create() throws saying
// what is missing (a test using it fails, it is never skipped).
import { execFile, execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { closeSync, openSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT, TS_NODE_ARGS, waitHealthy } from '../../bin/launcher.ts';
import { alive } from '../../storage/engine/lmdb.ts';

const COMMAND_TIMEOUT_MS = 10_000;
/** namespaces are named `${NS_PREFIX}${pid}-${node}` */
const NS_PREFIX = 'dynamo-t';

export class NetnsUnavailable extends Error {
  override readonly name = 'NetnsUnavailable';
}

function ip(args: readonly string[], timeoutMs = COMMAND_TIMEOUT_MS): Promise<string> {
  return command('ip', args, timeoutMs);
}

function command(cmd: string, args: readonly string[], timeoutMs = COMMAND_TIMEOUT_MS): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(cmd, args, { timeout: timeoutMs, killSignal: 'SIGKILL' }, (error, stdout, stderr) => {
      if (error) reject(new Error(`${cmd} ${args.join(' ')}: ${String(stderr).trim() || error.message}`));
      else resolve(String(stdout));
    });
  });
}

/** For cleanup at exit, when nothing asynchronous runs any more: true when the command succeeded. */
function ipSync(args: readonly string[]): boolean {
  try {
    execFileSync('ip', args, { timeout: 5000, killSignal: 'SIGKILL', stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

export interface Host {
  readonly id: string;
  readonly ns: string;
  readonly ip: string;
  /** the other end of its veth: a port of the bridge, in the switch namespace */
  readonly port: string;
}

export type CutRoute = 'blackhole' | 'prohibit';

/** Networks not yet destroyed, cleaned up on exit and on signals. */
const live = new Set<NetnsNetwork>();
const SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;
const onExit = () => {
  for (const n of live) n.destroy();
};
const onSignal = (signal: NodeJS.Signals) => {
  onExit();
  process.exit(128 + (signal === 'SIGINT' ? 2 : signal === 'SIGTERM' ? 15 : 1));
};
function register(n: NetnsNetwork): void {
  if (live.size === 0) {
    process.on('exit', onExit);
    for (const s of SIGNALS) process.on(s, onSignal);
  }
  live.add(n);
}
function unregister(n: NetnsNetwork): void {
  live.delete(n);
  if (live.size === 0) {
    process.off('exit', onExit);
    for (const s of SIGNALS) process.off(s, onSignal);
  }
}

export class NetnsNetwork {
  readonly hosts = new Map<string, Host>();
  readonly #subnet: string;
  /** the namespace holding the bridge */
  readonly #switch: string;
  /** the root namespace's veth into the switch */
  readonly #uplink: string;
  readonly #pid = process.pid;
  readonly #routes: { ns: string; route: string }[] = [];
  readonly #linksDown = new Set<string>();
  #destroyed = false;
  #method = '';
  #netem = false;

  private constructor(subnet: string) {
    this.#subnet = subnet;
    this.#switch = `${NS_PREFIX}${this.#pid}-switch`;
    this.#uplink = `dy${this.#pid}up`;
  }

  /** how faults are applied, for the test output */
  get method(): string {
    return this.#method;
  }

  /** whether tc netem works here (it is not used) */
  get netem(): boolean {
    return this.#netem;
  }

  /** The host's address on the test subnet (where the test process's connections come from). */
  get hostIp(): string {
    return `${this.#subnet}.1`;
  }

  /**
   * Checks what this machine offers, deletes namespaces of earlier runs whose process is gone,
   * and makes the switch. Throws NetnsUnavailable saying what is missing.
   */
  static async create(): Promise<NetnsNetwork> {
    if (process.platform !== 'linux') throw new NetnsUnavailable(`network namespaces need Linux (this is ${process.platform})`);
    if (process.getuid?.() !== 0) {
      throw new NetnsUnavailable(
        `network namespaces need root (CAP_SYS_ADMIN and CAP_NET_ADMIN); this process runs as uid ${process.getuid?.()}. Run the test as root (CI does), e.g. sudo -E npm run test:netns`,
      );
    }
    try {
      await ip(['-V']);
    } catch (e) {
      throw new NetnsUnavailable(`iproute2's ip command is missing or fails (${(e as Error).message}); install iproute2`);
    }
    const stale = await removeStaleNamespaces();
    if (stale.length > 0)
      process.stdout.write(`# network: removed what earlier runs whose process is gone left behind: ${stale.join(', ')}\n`);
    const subnet = await freeSubnet();
    const network = new NetnsNetwork(subnet);
    register(network);
    try {
      const sw = network.#switch;
      await ip(['netns', 'add', sw]).catch((e: Error) => {
        throw new NetnsUnavailable(`could not create a network namespace (${e.message})`);
      });
      await ip(['-n', sw, 'link', 'add', 'br0', 'type', 'bridge']).catch((e: Error) => {
        throw new NetnsUnavailable(`could not create a bridge (${e.message}); the kernel needs bridge support`);
      });
      await ip(['-n', sw, 'link', 'set', 'br0', 'up']);
      await ip(['link', 'add', network.#uplink, 'type', 'veth', 'peer', 'name', 'uplink', 'netns', sw]).catch((e: Error) => {
        throw new NetnsUnavailable(`could not create a veth pair (${e.message}); the kernel needs veth support`);
      });
      await ip(['-n', sw, 'link', 'set', 'uplink', 'master', 'br0']);
      await ip(['-n', sw, 'link', 'set', 'uplink', 'up']);
      await ip(['addr', 'add', `${network.hostIp}/24`, 'dev', network.#uplink]);
      await ip(['link', 'set', network.#uplink, 'up']);
      network.#netem = await command('tc', ['-n', sw, 'qdisc', 'add', 'dev', 'uplink', 'root', 'netem', 'delay', '1ms']).then(
        async () => {
          await command('tc', ['-n', sw, 'qdisc', 'del', 'dev', 'uplink', 'root']);
          return true;
        },
        () => false,
      );
      network.#method =
        `namespaces + veths into a bridge in namespace ${sw} (${subnet}.0/24; the test process at ${network.hostIp} through ${network.#uplink}) + blackhole or prohibit routes for partitions, link down for isolation` +
        (network.#netem
          ? ' (tc netem works here but is not used: no delay or loss is injected)'
          : ' (no netem here: tc netem is unavailable, so no delay or loss is injected)');
      return network;
    } catch (e) {
      network.destroy();
      throw e;
    }
  }

  /** A namespace for one node, with loopback up and a veth into the bridge, at the next free address. */
  async addHost(id: string): Promise<Host> {
    if (this.hosts.has(id)) throw new Error(`host ${id} exists`);
    const index = Math.max(9, ...[...this.hosts.values()].map((h) => Number(h.ip.split('.')[3]))) + 1;
    if (index > 250) throw new Error('no address left on the test subnet');
    const host: Host = { id, ns: `${NS_PREFIX}${this.#pid}-${id}`, ip: `${this.#subnet}.${index}`, port: `p${index}` };
    this.hosts.set(id, host);
    await ip(['netns', 'add', host.ns]);
    await ip(['-n', host.ns, 'link', 'set', 'lo', 'up']);
    await ip(['-n', this.#switch, 'link', 'add', host.port, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', host.ns]);
    await ip(['-n', this.#switch, 'link', 'set', host.port, 'master', 'br0']);
    await ip(['-n', this.#switch, 'link', 'set', host.port, 'up']);
    await ip(['-n', host.ns, 'addr', 'add', `${host.ip}/24`, 'dev', 'eth0']);
    await ip(['-n', host.ns, 'link', 'set', 'eth0', 'up']);
    return host;
  }

  async removeHost(id: string): Promise<void> {
    const host = this.hosts.get(id);
    if (!host) return;
    this.hosts.delete(id);
    killNamespace(host.ns);
    await ip(['-n', this.#switch, 'link', 'del', host.port]).catch(() => undefined);
    await ip(['netns', 'del', host.ns]);
  }

  #host(id: string): Host {
    const h = this.hosts.get(id);
    if (!h) throw new Error(`no host ${id}`);
    return h;
  }

  /** Drops every packet between the two groups, both ways, by routes inside their namespaces. */
  async partition(a: readonly string[], b: readonly string[], how: CutRoute = 'blackhole'): Promise<void> {
    const cuts: Promise<void>[] = [];
    for (const x of a) {
      for (const y of b) {
        cuts.push(this.#route(this.#host(x).ns, `${this.#host(y).ip}/32`, how));
        cuts.push(this.#route(this.#host(y).ns, `${this.#host(x).ip}/32`, how));
      }
    }
    await Promise.all(cuts);
  }

  async #route(ns: string, prefix: string, how: CutRoute): Promise<void> {
    const route = `${how} ${prefix}`;
    if (this.#routes.some((r) => r.ns === ns && r.route === route)) return;
    await ip(['-n', ns, 'route', 'add', how, prefix]);
    this.#routes.push({ ns, route });
  }

  /** Cuts one node off from everyone, the test process included: its veth goes down. */
  async isolate(id: string): Promise<void> {
    const h = this.#host(id);
    await ip(['-n', h.ns, 'link', 'set', 'eth0', 'down']);
    this.#linksDown.add(h.ns);
  }

  /** Removes every cut. */
  async heal(): Promise<void> {
    for (const r of this.#routes.splice(0)) await ip(['-n', r.ns, 'route', 'del', ...r.route.split(' ')]);
    for (const ns of [...this.#linksDown]) {
      await ip(['-n', ns, 'link', 'set', 'eth0', 'up']);
      this.#linksDown.delete(ns);
    }
  }

  /** What is cut now, for the log. */
  describeCuts(): string {
    const routes = this.#routes.length;
    const down = [...this.#linksDown].length;
    return `${routes} routes, ${down} links down`;
  }

  /**
   * Deletes everything this network made: kills what still runs in its namespaces, deletes
   * the veths (a namespace whose processes are still exiting lingers a while after it is
   * deleted, and would keep its veth), the namespaces and the switch. Synchronous, so it can run
   * at process exit; safe to call more than once. Returns what could not be deleted.
   */
  destroy(): string[] {
    if (this.#destroyed) return [];
    this.#destroyed = true;
    unregister(this);
    const failed: string[] = [];
    for (const h of this.hosts.values()) {
      killNamespace(h.ns);
      ipSync(['-n', this.#switch, 'link', 'del', h.port]);
      if (!ipSync(['netns', 'del', h.ns]) && namespaceExists(h.ns)) failed.push(`namespace ${h.ns}`);
    }
    this.hosts.clear();
    if (!ipSync(['link', 'del', this.#uplink]) && linkExists(this.#uplink)) failed.push(`veth ${this.#uplink}`);
    if (!ipSync(['netns', 'del', this.#switch]) && namespaceExists(this.#switch)) failed.push(`namespace ${this.#switch}`);
    return failed;
  }
}

function killNamespace(ns: string): void {
  try {
    const pids = execFileSync('ip', ['netns', 'pids', ns], {
      timeout: 5000,
      killSignal: 'SIGKILL',
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'ignore'],
    });
    for (const pid of pids.split(/\s+/).filter(Boolean)) {
      try {
        process.kill(Number(pid), 'SIGKILL');
      } catch {
        // already gone
      }
    }
  } catch {
    // no such namespace
  }
}

function namespaceExists(ns: string): boolean {
  try {
    return execFileSync('ip', ['netns', 'list'], { timeout: 5000, encoding: 'utf8' }).split('\n').some((l) => l.split(' ')[0] === ns);
  } catch {
    return false;
  }
}

function linkExists(name: string): boolean {
  return ipSync(['link', 'show', name]);
}

/**
 * Deletes the namespaces, veths and bridges of runs of this helper whose process is gone (killed
 * outright, so nothing of theirs ran at exit). A namespace whose processes are still exiting
 * lingers a while after it is deleted, and its veths with it, so the veths are deleted by name.
 */
async function removeStaleNamespaces(): Promise<string[]> {
  const removed: string[] = [];
  for (const line of (await ip(['netns', 'list'])).split('\n')) {
    const ns = line.split(' ')[0] ?? '';
    const m = new RegExp(`^${NS_PREFIX}(\\d+)-`).exec(ns);
    if (!m || alive(Number(m[1]))) continue;
    killNamespace(ns);
    await ip(['netns', 'del', ns]).catch(() => undefined);
    removed.push(ns);
  }
  for (const line of (await ip(['-o', 'link', 'show'])).split('\n')) {
    // "12: dy1234up@if2: <...": the root namespace's end of a veth into a switch
    const m = /^\d+: (dy(\d+)up)[@:]/.exec(line);
    if (!m || alive(Number(m[2]))) continue;
    await ip(['link', 'del', m[1]!]).catch(() => undefined);
    removed.push(m[1]!);
  }
  return removed;
}

/** A 10.77.x.0/24 no address or route on this machine uses, starting from one derived from the pid. */
async function freeSubnet(): Promise<string> {
  const used = (await ip(['-4', '-o', 'addr', 'show'])) + (await ip(['-4', 'route', 'show', 'table', 'all']));
  for (let i = 0; i < 200; i++) {
    const x = 20 + ((process.pid + i) % 200);
    if (!used.includes(`10.77.${x}.`)) return `10.77.${x}`;
  }
  throw new NetnsUnavailable('no free 10.77.x.0/24 subnet for the test network');
}

// ---------------------------------------------------------------- node processes

export interface NetnsClusterOptions {
  readonly dataDir: string;
  readonly secret: string;
  readonly cluster?: string;
  /** every node listens on this port at its own address */
  readonly port?: number;
  readonly partitions?: number;
  readonly n?: number;
  readonly r?: number;
  readonly w?: number;
  readonly flags?: readonly string[];
  /** node output: inherited, or written to `<dataDir>/<id>.log` (the default) */
  readonly output?: 'inherit' | 'file';
}

export interface NetnsNode {
  readonly id: string;
  readonly host: Host;
  /** host:port, where it listens and where everyone reaches it */
  readonly address: string;
  /** started with the cluster (--nodes), or joining it later (--seeds) */
  readonly initial: boolean;
  process: ChildProcess | null;
}

/** Storage node processes, each run with `ip netns exec` in its own namespace of a NetnsNetwork. */
export class NetnsCluster {
  readonly nodes: NetnsNode[] = [];
  readonly #o: NetnsClusterOptions;
  readonly #net: NetnsNetwork;

  constructor(net: NetnsNetwork, options: NetnsClusterOptions) {
    this.#net = net;
    this.#o = options;
  }

  get cluster(): string {
    return this.#o.cluster ?? 'dev';
  }

  get seeds(): string[] {
    return this.nodes.map((n) => n.address);
  }

  /** The initial members, as --nodes gives them. */
  get nodeList(): string {
    return this.nodes.filter((n) => n.initial).map((n) => `${n.id}=${n.address}`).join(',');
  }

  node(id: string): NetnsNode {
    const n = this.nodes.find((x) => x.id === id);
    if (!n) throw new Error(`no node ${id}`);
    return n;
  }

  running(id: string): boolean {
    const p = this.node(id).process;
    return p !== null && p.exitCode === null && p.signalCode === null;
  }

  /** Makes a namespace for the next node (n1, n2, ...); `initial` ones form the cluster, later ones join it. */
  async addNode(initial: boolean): Promise<NetnsNode> {
    const id = `n${this.nodes.length + 1}`;
    const host = await this.#net.addHost(id);
    const node: NetnsNode = { id, host, address: `${host.ip}:${this.#o.port ?? 7000}`, initial, process: null };
    this.nodes.push(node);
    return node;
  }

  logOf(id: string): string {
    return join(this.#o.dataDir, `${id}.log`);
  }

  /** Starts the node (again) inside its namespace and waits until the test process gets its health check. */
  async startNode(id: string, timeoutMs = 60_000): Promise<void> {
    const n = this.node(id);
    if (this.running(id)) return;
    const o = this.#o;
    const args = [
      'netns',
      'exec',
      n.host.ns,
      process.execPath,
      ...TS_NODE_ARGS,
      join(ROOT, 'bin/storage-node.ts'),
      '--id',
      id,
      ...(n.initial
        ? ['--nodes', this.nodeList]
        : [
            '--seeds',
            this.nodes
              .filter((x) => x.id !== id)
              .map((x) => `${x.id}=${x.address}`)
              .join(','),
          ]),
      '--listen',
      n.address,
      '--cluster',
      this.cluster,
      '--data-dir',
      join(o.dataDir, id),
      '--partitions',
      String(o.partitions ?? 64),
      '--n',
      String(o.n ?? 3),
      '--r',
      String(o.r ?? 2),
      '--w',
      String(o.w ?? 2),
      ...(o.flags ?? []),
    ];
    const log = o.output === 'inherit' ? null : openSync(this.logOf(id), 'a');
    try {
      // `ip netns exec` execs the command in place, so the child's pid is the node's and signals reach it
      const child = spawn('ip', args, {
        cwd: ROOT,
        env: { ...process.env, DYNAMO_SECRET: o.secret },
        stdio: ['ignore', log ?? 'inherit', log ?? 'inherit'],
      });
      n.process = child;
      await waitHealthy(n.address, child, timeoutMs);
    } finally {
      if (log !== null) closeSync(log);
    }
  }

  /** Sends a signal; for SIGTERM, SIGKILL and SIGINT waits for the exit (SIGTERM: at most 15 s, then SIGKILL). */
  async signal(id: string, signal: NodeJS.Signals): Promise<void> {
    const child = this.node(id).process;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const exited = once(child, 'exit');
    child.kill(signal);
    if (signal !== 'SIGTERM' && signal !== 'SIGKILL' && signal !== 'SIGINT') return;
    const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
    await exited;
    clearTimeout(timer);
  }

  /** Stops every node gracefully (bounded). */
  async stop(): Promise<void> {
    await Promise.all(this.nodes.map((n) => this.signal(n.id, 'SIGTERM')));
  }

  /** The last lines of a node's log that are warnings or errors (for a failure's report). */
  problems(id: string, lines = 8): string[] {
    try {
      return readFileSync(this.logOf(id), 'utf8')
        .split('\n')
        .filter((l) => /"level":"(warn|error)"|^[^{]/.test(l) && l.trim() !== '')
        .slice(-lines);
    } catch {
      return [];
    }
  }
}
