// A storage node's configuration: flags over environment over defaults, validated at start
// so that a mistake is one clear message, not a node that misbehaves later.
import type { KeyObject } from 'node:crypto';
import { redisSetting } from '../jobs/redis-address.ts';
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { z } from 'zod';
import { DEFAULT_MAX_SIBLINGS } from '../client/src/core/limits.ts';
import { validateMembers, type Member } from '../client/src/core/ring.ts';
import { logFormat, logLevel } from './logging.ts';
import type { ClientTls } from '../client/src/transport/tls.ts';
import { readCa, serverTls, type ServerTls } from './transport/tls.ts';
import { IdentityFileError, loadAuthorities, loadIdentity, type ProcessIdentity } from '../client/src/auth/identity-file.ts';
import type { Role } from '../client/src/auth/roles.ts';
import { tracingSettings, type TracingSettings } from './tracing-settings.ts';

/** `n1=127.0.0.1:7001,n2=127.0.0.1:7002/2` (an optional /weight after the address) */
export function parseNodeList(text: string): Member[] {
  const entries = text.split(',').map((s) => s.trim()).filter(Boolean);
  return entries.map((entry) => {
    const m = /^([A-Za-z0-9_.-]{1,64})=([^/\s]+:\d{1,5})(?:\/(\d+))?$/.exec(entry);
    if (!m) throw new ConfigError(`node list entry '${entry}' is not id=host:port[/weight]`);
    return { id: m[1]!, address: m[2]!, weight: m[3] ? Number(m[3]) : 1 };
  });
}

export class ConfigError extends Error {
  override readonly name = 'ConfigError';
}

type FlagOptions = NonNullable<Parameters<typeof parseArgs>[0]>['options'];
export type Flags = Record<string, string | boolean | undefined>;

/** Parses flags strictly: an unknown or malformed flag, and --help, answer with the usage. */
export function parseFlags(argv: string[], options: FlagOptions, usage: string): Flags {
  let flags: Flags;
  try {
    flags = parseArgs({ args: argv, options, strict: true, allowPositionals: false }).values as Flags;
  } catch (e) {
    throw new ConfigError(`${(e as Error).message}\n\n${usage}`);
  }
  if (flags.help) throw new ConfigError(usage);
  return flags;
}

/** The cluster secret: the file's content when one is named, else DYNAMO_SECRET. */
export function readSecret(file: unknown, env: NodeJS.ProcessEnv): string | undefined {
  if (typeof file !== 'string') return env.DYNAMO_SECRET || undefined;
  try {
    return readFileSync(file, 'utf8').trim();
  } catch (e) {
    throw new ConfigError(`cannot read the secret file: ${(e as Error).message}`);
  }
}

/**
 * A process's identity file (`what` names the setting), checked for the cluster and, when
 * given, the role and id it must have: a mistake is one clear message at start.
 */
export function readIdentity(file: string, what: string, expect: { cluster: string; roles?: readonly Role[]; id?: string }): ProcessIdentity {
  let identity: ProcessIdentity;
  try {
    identity = loadIdentity(file);
  } catch (e) {
    if (e instanceof IdentityFileError) throw new ConfigError(`${what}: ${e.message}`);
    throw e;
  }
  const c = identity.certificate;
  if (c.cluster !== expect.cluster) throw new ConfigError(`${what}: the identity in ${file} is for cluster '${c.cluster}', not '${expect.cluster}'`);
  if (expect.roles && !expect.roles.includes(c.role)) throw new ConfigError(`${what}: the identity in ${file} has the ${c.role} role; this process needs ${expect.roles.join(' or ')}`);
  if (expect.id !== undefined && c.id !== expect.id) throw new ConfigError(`${what}: the identity in ${file} names '${c.id}', not this node's id '${expect.id}'`);
  return identity;
}

/** How a process that dials the nodes authenticates: its identity, or the cluster secret (legacy mode). */
export type NodeCredential = { readonly identity: ProcessIdentity; readonly secret?: undefined } | { readonly secret: string; readonly identity?: undefined };

/**
 * The credential of a gateway, worker or CLI: the identity file when one is named (the secret is
 * then not used), else the cluster secret, else a message naming both settings.
 */
export function readCredential(identityFile: string | undefined, secret: string | undefined, o: { cluster: string; roles: readonly Role[]; what: string }): NodeCredential {
  if (identityFile) return { identity: readIdentity(identityFile, '--identity (DYNAMO_IDENTITY)', { cluster: o.cluster, roles: o.roles }) };
  if (secret === undefined || secret === '') {
    throw new ConfigError(`${o.what} needs an identity to dial the nodes with: --identity FILE (DYNAMO_IDENTITY), a ${o.roles.join(' or ')} identity; or, in the legacy mode, the cluster secret (DYNAMO_SECRET)`);
  }
  if (secret.length < 16) throw new ConfigError('the cluster secret must be at least 16 characters (DYNAMO_SECRET or --secret-file)');
  return { secret };
}

/** The authorities whose certificates a node takes (comma-separated PEM files). */
export function readAuthorities(files: string, what: string): KeyObject[] {
  try {
    return loadAuthorities(files);
  } catch (e) {
    if (e instanceof IdentityFileError) throw new ConfigError(`${what}: ${e.message}`);
    throw e;
  }
}

/** Loads a process's configuration, or prints what is wrong with it and exits with status 2. */
export function configOrExit<T>(load: () => T): T {
  try {
    return load();
  } catch (e) {
    if (!(e instanceof ConfigError)) throw e;
    process.stderr.write(`${e.message}\n`);
    process.exit(2);
  }
}

/** One message naming every invalid setting. */
export function invalidConfig(what: string, error: z.ZodError): ConfigError {
  return new ConfigError(`invalid ${what}:\n${error.issues.map((i) => `  ${i.path.join('.') || 'config'}: ${i.message}`).join('\n')}`);
}

const int = (min: number, max: number) => z.coerce.number().int().min(min).max(max);

const schema = z
  .object({
    id: z.string().regex(/^[A-Za-z0-9_.-]{1,64}$/, 'node id: 1-64 letters, digits, _ . -'),
    cluster: z.string().regex(/^[A-Za-z0-9_.-]{1,64}$/, 'cluster name: 1-64 letters, digits, _ . -'),
    secret: z.string().min(16, 'the cluster secret must be at least 16 characters (DYNAMO_SECRET or --secret-file)').optional(),
    nodes: z.string().optional(),
    seeds: z.string().optional(),
    listen: z.string().optional(),
    dataDir: z.string().min(1),
    partitions: int(1, 1 << 20),
    n: int(1, 15),
    r: int(1, 15),
    w: int(1, 15),
    requestTimeoutMs: int(10, 600_000),
    maxSiblings: int(1, 10_000),
    durability: z.enum(['sync', 'buffered']),
    commitDelayMs: int(0, 100),
    hintMaxBytes: int(0, Number.MAX_SAFE_INTEGER),
    hintMaxAgeMs: int(1000, Number.MAX_SAFE_INTEGER),
    newEpoch: z.boolean(),
    gossipIntervalMs: int(50, 60_000),
    phiThreshold: z.coerce.number().min(1).max(50),
    transferBytesPerSecond: int(1024, Number.MAX_SAFE_INTEGER),
    dropGraceMs: int(0, 86_400_000),
    repairRedisUrl: redisSetting('--repair-redis-url (DYNAMO_REPAIR_REDIS_URL)').optional(),
    repairQueuePrefix: z.string().regex(/^[A-Za-z0-9_.-]{1,64}$/),
    logLevel,
    logFormat,
  })
  .strict();

export interface StorageConfig extends Omit<z.infer<typeof schema>, 'nodes' | 'listen' | 'seeds'> {
  /** the members a new cluster starts with (empty for a node that joins an existing one) */
  readonly members: Member[];
  /** nodes to gossip with from the start: the initial members and --seeds */
  readonly seeds: Member[];
  readonly host: string;
  readonly port: number;
  readonly address: string;
  /** wss:// and https with this certificate, dialing peers over wss:// trusting `client`; null: plain */
  readonly tls: { readonly server: ServerTls; readonly client: ClientTls } | null;
  /** secrets accepted besides `secret` from connecting processes, during a rotation */
  readonly acceptSecrets: readonly string[];
  /** this node's peer identity, and the authorities whose certificates it takes; null: the secret alone */
  readonly identity: ProcessIdentity | null;
  readonly authorities: readonly KeyObject[];
  /** OpenTelemetry traces (tracing-settings.ts); null: off */
  readonly tracing: TracingSettings | null;
}

export const DEFAULTS = {
  cluster: 'dev',
  partitions: 64,
  n: 3,
  r: 2,
  w: 2,
  requestTimeoutMs: 1000,
  maxSiblings: DEFAULT_MAX_SIBLINGS,
  durability: 'sync',
  // writes gather for about a millisecond per transaction: fewer fsyncs, more throughput, and
  // no worse latency under load (docs/benchmarks.md)
  commitDelayMs: 1,
  // enough for hours of writes for one dead peer at moderate rates; beyond it writes go to the next fallback
  hintMaxBytes: 1024 ** 3,
  // hints older than a day are handed to anti-entropy instead
  hintMaxAgeMs: 24 * 3600_000,
  newEpoch: false,
  // one gossip exchange a second; a silent peer is suspected in 4-6 s
  gossipIntervalMs: 1000,
  phiThreshold: 8,
  // transfers stay well under what LMDB and the network take, to keep foreground latency
  transferBytesPerSecond: 16 * 1024 * 1024,
  // coordinators learn a committed ring within a few gossip rounds; keep moved data a bit longer
  dropGraceMs: 10_000,
  repairQueuePrefix: 'dynamo',
  logLevel: 'info',
  logFormat: 'json',
} as const;

const ENV: Record<string, string> = {
  id: 'DYNAMO_NODE_ID',
  cluster: 'DYNAMO_CLUSTER',
  secret: 'DYNAMO_SECRET',
  nodes: 'DYNAMO_NODES',
  seeds: 'DYNAMO_NODE_SEEDS',
  listen: 'DYNAMO_LISTEN',
  dataDir: 'DYNAMO_DATA_DIR',
  partitions: 'DYNAMO_PARTITIONS',
  n: 'DYNAMO_N',
  r: 'DYNAMO_R',
  w: 'DYNAMO_W',
  requestTimeoutMs: 'DYNAMO_REQUEST_TIMEOUT_MS',
  maxSiblings: 'DYNAMO_MAX_SIBLINGS',
  durability: 'DYNAMO_DURABILITY',
  commitDelayMs: 'DYNAMO_COMMIT_DELAY_MS',
  hintMaxBytes: 'DYNAMO_HINT_MAX_BYTES',
  hintMaxAgeMs: 'DYNAMO_HINT_MAX_AGE_MS',
  repairRedisUrl: 'DYNAMO_REPAIR_REDIS_URL',
  repairQueuePrefix: 'REPAIR_QUEUE_PREFIX',
  logLevel: 'DYNAMO_LOG_LEVEL',
};

const FLAGS = {
  id: { type: 'string' },
  cluster: { type: 'string' },
  'secret-file': { type: 'string' },
  nodes: { type: 'string' },
  listen: { type: 'string' },
  'data-dir': { type: 'string' },
  partitions: { type: 'string' },
  n: { type: 'string' },
  r: { type: 'string' },
  w: { type: 'string' },
  'request-timeout-ms': { type: 'string' },
  'max-siblings': { type: 'string' },
  durability: { type: 'string' },
  'commit-delay-ms': { type: 'string' },
  'hint-max-bytes': { type: 'string' },
  'hint-max-age-ms': { type: 'string' },
  'new-epoch': { type: 'boolean' },
  seeds: { type: 'string' },
  'gossip-interval-ms': { type: 'string' },
  'phi-threshold': { type: 'string' },
  'transfer-bytes-per-second': { type: 'string' },
  'drop-grace-ms': { type: 'string' },
  'repair-redis-url': { type: 'string' },
  'log-level': { type: 'string' },
  'tls-cert': { type: 'string' },
  'tls-key': { type: 'string' },
  'tls-ca': { type: 'string' },
  'accept-secret-file': { type: 'string' },
  identity: { type: 'string' },
  authority: { type: 'string' },
  'otel-endpoint': { type: 'string' },
  help: { type: 'boolean' },
} as const;

export const USAGE = `storage node: one Dynamo replica process

  --id ID                 this node's id (DYNAMO_NODE_ID), required
  --nodes LIST            a new cluster's members: n1=host:port[/weight],... (DYNAMO_NODES)
  --seeds LIST            nodes of an existing cluster to gossip with: n1=host:port,...
                          (a node needs --nodes or --seeds; a joining node gives --seeds and --listen)
  --cluster NAME          cluster name, checked on every connection (DYNAMO_CLUSTER, default dev)
  --identity FILE         this node's identity: a peer certificate for this id and cluster and
                          its key (DYNAMO_IDENTITY; npm run identity -- issue ...)
  --authority FILE[,FILE] the cluster authorities' public keys whose certificates this node takes
                          (DYNAMO_AUTHORITY); required with --identity
  --secret-file PATH      the cluster secret (or DYNAMO_SECRET): the legacy mode, for migrating a
                          running cluster to identities. A node with a secret also takes it (as a
                          peer credential); it dials its peers with its identity when it has one,
                          else with the secret. Required without --identity
  --accept-secret-file PATH  more secrets accepted from connecting processes, one a line
                          (or DYNAMO_ACCEPT_SECRETS, comma-separated): for rotating the secret
  --listen HOST:PORT      where to listen (DYNAMO_LISTEN, default: this node's address in --nodes)
  --data-dir DIR          data directory (DYNAMO_DATA_DIR, default ./data/ID)
  --partitions Q          ring partitions, a power of two >= node count (default 64)
  --n N --r R --w W       replicas and default quorums (default 3 2 2)
  --request-timeout-ms T  how long a coordinator waits for replicas (default 1000)
  --max-siblings S        refuse writes that would leave more siblings (default 100)
  --durability MODE       sync (ack after fsync, default) or buffered (ack at commit)
  --commit-delay-ms T     writes gathered per transaction (default 1; 0: one per event-loop turn)
  --hint-max-bytes B      hint store cap (default 1 GiB; 0 keeps no hints)
  --hint-max-age-ms T     hint age cap (default 1 day)
  --new-epoch             start as a new actor (required after restoring a backup)
  --gossip-interval-ms T  gossip round (default 1000)
  --phi-threshold PHI     suspicion above which a peer is unreachable (default 8)
  --transfer-bytes-per-second B  throttle for key-range transfers (default 16 MiB)
  --drop-grace-ms T       keep moved key ranges this long after a change commits (default 10000)
  --repair-redis-url URL  the repair queues' Redis (DYNAMO_REPAIR_REDIS_URL): the node queues hint
                          replays there when an owner returns; without it, it replays its own hints.
                          redis-cluster://HOST:PORT,... or redis-sentinel://HOST:PORT,.../NAME for HA
  --log-level LEVEL       debug|info|warn|error|silent (DYNAMO_LOG_LEVEL or LOG_LEVEL, default info)
  LOG_FORMAT              json (default: one object per line on stderr) or pretty (readable)
  --tls-cert FILE --tls-key FILE   serve wss:// and https with this PEM certificate and key
                          (DYNAMO_TLS_CERT, DYNAMO_TLS_KEY), and dial peers over wss://; every
                          node of a cluster needs one
  --tls-ca FILE[,FILE]    the authorities peers' certificates must chain to (DYNAMO_TLS_CA;
                          default the system's); name old and new during a rotation
  --otel-endpoint URL     send traces to this OTLP/HTTP collector (OTEL_EXPORTER_OTLP_ENDPOINT; off by default)`;

export function loadStorageConfig(argv: string[], env: NodeJS.ProcessEnv): StorageConfig {
  const flags = parseFlags(argv, FLAGS, USAGE);
  const pick = (key: string, flag: string): unknown => flags[flag] ?? (ENV[key] ? env[ENV[key]!] : undefined);
  const secret = readSecret(flags['secret-file'], env);
  const id = pick('id', 'id');
  const raw = {
    ...DEFAULTS,
    ...defined({
      id,
      cluster: pick('cluster', 'cluster'),
      secret,
      nodes: pick('nodes', 'nodes'),
      listen: pick('listen', 'listen'),
      dataDir: pick('dataDir', 'data-dir') ?? (typeof id === 'string' ? `./data/${id}` : undefined),
      partitions: pick('partitions', 'partitions'),
      n: pick('n', 'n'),
      r: pick('r', 'r'),
      w: pick('w', 'w'),
      requestTimeoutMs: pick('requestTimeoutMs', 'request-timeout-ms'),
      maxSiblings: pick('maxSiblings', 'max-siblings'),
      durability: pick('durability', 'durability'),
      commitDelayMs: pick('commitDelayMs', 'commit-delay-ms'),
      hintMaxBytes: pick('hintMaxBytes', 'hint-max-bytes'),
      hintMaxAgeMs: pick('hintMaxAgeMs', 'hint-max-age-ms'),
      newEpoch: flags['new-epoch'],
      seeds: pick('seeds', 'seeds'),
      gossipIntervalMs: flags['gossip-interval-ms'],
      phiThreshold: flags['phi-threshold'],
      transferBytesPerSecond: flags['transfer-bytes-per-second'],
      dropGraceMs: flags['drop-grace-ms'],
      repairRedisUrl: pick('repairRedisUrl', 'repair-redis-url'),
      repairQueuePrefix: pick('repairQueuePrefix', 'repair-queue-prefix'),
      logLevel: pick('logLevel', 'log-level') || env.LOG_LEVEL || undefined,
      logFormat: env.LOG_FORMAT || undefined,
    }),
  };
  const parsed = schema.safeParse(raw);
  if (!parsed.success) {
    throw invalidConfig('configuration', parsed.error);
  }
  const c = parsed.data;
  if (!c.nodes && !c.seeds) throw new ConfigError('a node needs --nodes (to start a new cluster) or --seeds (to join one)');
  const members = c.nodes ? parseNodeList(c.nodes) : [];
  const seeds = c.seeds ? parseNodeList(c.seeds) : [];
  if (members.length > 0) {
    try {
      validateMembers(members, c.partitions);
    } catch (e) {
      throw new ConfigError((e as Error).message);
    }
    if (c.n > members.length) throw new ConfigError(`n=${c.n} needs at least ${c.n} nodes, the list has ${members.length}`);
  }
  if (c.r > c.n || c.w > c.n) throw new ConfigError(`r=${c.r} and w=${c.w} must not exceed n=${c.n}`);
  const me = members.find((m) => m.id === c.id);
  if (members.length > 0 && !me) throw new ConfigError(`node id '${c.id}' is not in the node list (${members.map((m) => m.id).join(', ')})`);
  const listen = c.listen ?? me?.address;
  if (!listen) throw new ConfigError('a node joining an existing cluster needs --listen HOST:PORT (the address others reach it at)');
  const hp = /^(.+):(\d{1,5})$/.exec(listen);
  if (!hp || Number(hp[2]) > 65535) throw new ConfigError(`listen address '${listen}' is not host:port`);
  const { nodes: _nodes, listen: _listen, seeds: _seeds, ...rest } = c;
  const allSeeds = [...members, ...seeds.filter((s) => !members.some((m) => m.id === s.id))].filter((s) => s.id !== c.id);
  const tlsWhat = '--tls-cert/--tls-key (DYNAMO_TLS_CERT, DYNAMO_TLS_KEY)';
  const server = serverTls(flags['tls-cert'] ?? (env.DYNAMO_TLS_CERT || undefined), flags['tls-key'] ?? (env.DYNAMO_TLS_KEY || undefined), tlsWhat);
  const ca = (flags['tls-ca'] as string | undefined) ?? (env.DYNAMO_TLS_CA || undefined);
  if (ca !== undefined && !server) throw new ConfigError('--tls-ca (DYNAMO_TLS_CA) is for a node that speaks TLS: give it --tls-cert and --tls-key too');
  const tls = server ? { server, client: ca !== undefined ? readCa(ca, '--tls-ca (DYNAMO_TLS_CA)') : { ca: [] } } : null;
  const acceptSecrets = readAcceptedSecrets(flags['accept-secret-file'], env);
  const identityFile = (flags.identity as string | undefined) ?? (env.DYNAMO_IDENTITY || undefined);
  const authorityFiles = (flags.authority as string | undefined) ?? (env.DYNAMO_AUTHORITY || undefined);
  if (identityFile !== undefined && authorityFiles === undefined) {
    throw new ConfigError('--identity (DYNAMO_IDENTITY) needs --authority (DYNAMO_AUTHORITY): the authorities whose certificates this node takes from its callers');
  }
  if (identityFile === undefined && c.secret === undefined) {
    throw new ConfigError('a node needs --identity and --authority (DYNAMO_IDENTITY, DYNAMO_AUTHORITY), or the cluster secret (DYNAMO_SECRET or --secret-file) in the legacy mode');
  }
  if (acceptSecrets.length > 0 && c.secret === undefined) throw new ConfigError('--accept-secret-file (DYNAMO_ACCEPT_SECRETS) is for a node with a cluster secret');
  const authorities = authorityFiles === undefined ? [] : readAuthorities(authorityFiles, '--authority (DYNAMO_AUTHORITY)');
  const identity = identityFile === undefined ? null : readIdentity(identityFile, '--identity (DYNAMO_IDENTITY)', { cluster: c.cluster, roles: ['peer'], id: c.id });
  const tracing = tracingSettings(flags['otel-endpoint'], env, { serviceName: 'dynamo-node', instanceId: c.id });
  return { ...rest, members, seeds: allSeeds, host: hp[1]!, port: Number(hp[2]), address: me?.address ?? listen, tls, acceptSecrets, identity, authorities, tracing };
}

/** Secrets a node accepts besides its own: a file (one a line) or DYNAMO_ACCEPT_SECRETS (comma-separated). */
function readAcceptedSecrets(file: unknown, env: NodeJS.ProcessEnv): string[] {
  let text: string;
  if (typeof file === 'string') {
    try {
      text = readFileSync(file, 'utf8');
    } catch (e) {
      throw new ConfigError(`cannot read the accepted secrets file: ${(e as Error).message}`);
    }
  } else {
    text = (env.DYNAMO_ACCEPT_SECRETS ?? '').replaceAll(',', '\n');
  }
  const secrets = text.split('\n').map((s) => s.trim()).filter(Boolean);
  const short = secrets.find((s) => s.length < 16);
  if (short !== undefined) throw new ConfigError('every accepted secret must be at least 16 characters, like the cluster secret');
  return secrets;
}

const defined = <T extends Record<string, unknown>>(o: T) => Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
