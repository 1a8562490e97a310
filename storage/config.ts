// A storage node's configuration: flags over environment over defaults, validated at start
// so that a mistake is one clear message, not a node that misbehaves later.
import type { KeyObject } from 'node:crypto';
import { redisSetting } from '../jobs/redis-address.ts';
import { z } from 'zod';
import { DEFAULT_MAX_SIBLINGS } from '../client/src/core/limits.ts';
import { validateMembers, type Member } from '../client/src/core/ring.ts';
import { logSettings } from './logging.ts';
import type { ClientTls } from '../client/src/transport/tls.ts';
import { readCa, serverTls, type ServerTls } from './transport/tls.ts';
import { IdentityFileError, loadAuthorities, loadIdentity, type ProcessIdentity } from '../client/src/auth/identity-file.ts';
import type { Role } from '../client/src/auth/roles.ts';
import { tracingSettings, type TracingSettings } from './tracing-settings.ts';
import { ConfigError, intSetting, nameSetting, parseSettings, usage, type Table, type Values } from './settings/table.ts';

/** `n1=127.0.0.1:7001,n2=127.0.0.1:7002/2` (an optional /weight after the address) */
export function parseNodeList(text: string): Member[] {
  const entries = text.split(',').map((s) => s.trim()).filter(Boolean);
  return entries.map((entry) => {
    const m = /^([A-Za-z0-9_.-]{1,64})=([^/\s]+:\d{1,5})(?:\/(\d+))?$/.exec(entry);
    if (!m) throw new ConfigError(`node list entry '${entry}' is not id=host:port[/weight]`);
    return { id: m[1]!, address: m[2]!, weight: m[3] ? Number(m[3]) : 1 };
  });
}

export { ConfigError, configOrExit } from './settings/table.ts';

/**
 * A process's identity file (`what` names the setting), checked for the cluster and, when
 * given, the role and id it must have: a mistake is one clear message at start.
 */
export function readIdentity(
  file: string,
  what: string,
  expect: { cluster: string; roles?: readonly Role[]; id?: string },
): ProcessIdentity {
  let identity: ProcessIdentity;
  try {
    identity = loadIdentity(file);
  } catch (e) {
    if (e instanceof IdentityFileError) throw new ConfigError(`${what}: ${e.message}`);
    throw e;
  }
  const c = identity.certificate;
  if (c.cluster !== expect.cluster)
    throw new ConfigError(`${what}: the identity in ${file} is for cluster '${c.cluster}', not '${expect.cluster}'`);
  if (expect.roles && !expect.roles.includes(c.role))
    throw new ConfigError(`${what}: the identity in ${file} has the ${c.role} role; this process needs ${expect.roles.join(' or ')}`);
  if (expect.id !== undefined && c.id !== expect.id)
    throw new ConfigError(`${what}: the identity in ${file} names '${c.id}', not this node's id '${expect.id}'`);
  return identity;
}

/** How a process that dials the nodes authenticates: its identity, or the cluster secret (legacy mode). */
export type NodeCredential =
  { readonly identity: ProcessIdentity; readonly secret?: undefined } | { readonly secret: string; readonly identity?: undefined };

/**
 * The credential of a gateway, worker or CLI: the identity file when one is named (the secret is
 * then not used), else the cluster secret, else a message naming both settings.
 */
export function readCredential(
  identityFile: string | undefined,
  secret: string | undefined,
  o: { cluster: string; roles: readonly Role[]; what: string },
): NodeCredential {
  if (identityFile) return { identity: readIdentity(identityFile, '--identity (DYNAMO_IDENTITY)', { cluster: o.cluster, roles: o.roles }) };
  if (secret === undefined || secret === '') {
    throw new ConfigError(
      `${o.what} needs an identity to dial the nodes with: --identity FILE (DYNAMO_IDENTITY), a ${o.roles.join(' or ')} identity; or, in the legacy mode, the cluster secret (DYNAMO_SECRET)`,
    );
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

const SECRET_LENGTH = 'the cluster secret must be at least 16 characters (DYNAMO_SECRET or --secret-file)';

/** A storage node's settings, one row each (storage/settings/table.ts). */
export const NODE_SETTINGS = {
  id: { flag: 'id', env: 'DYNAMO_NODE_ID', arg: 'ID', schema: nameSetting('node id'), required: true, help: "this node's id" },
  nodes: {
    flag: 'nodes', env: 'DYNAMO_NODES', arg: 'LIST', schema: z.string(),
    help: "a new cluster's members: n1=host:port[/weight],... (they are its seeds)",
  },
  seeds: {
    flag: 'seeds', env: 'DYNAMO_NODE_SEEDS', arg: 'LIST', schema: z.string(),
    help: 'nodes of an existing cluster to gossip with: n1=host:port,... (a joining node, with --listen; a node needs --nodes or --seeds)',
  },
  cluster: {
    flag: 'cluster', env: 'DYNAMO_CLUSTER', arg: 'NAME', schema: nameSetting('cluster name'), default: 'dev',
    help: 'cluster name, checked on every connection',
  },
  identityFile: {
    flag: 'identity', env: 'DYNAMO_IDENTITY', arg: 'FILE', schema: z.string().min(1),
    help: "this node's identity: a peer certificate for its id and cluster, and its key (npm run identity -- issue --id ID --role peer)",
    note: '([docs/security.md](docs/security.md#roles-on-the-node-protocol))',
  },
  authorityFiles: {
    flag: 'authority', env: 'DYNAMO_AUTHORITY', arg: 'FILE[,FILE]', schema: z.string().min(1),
    help:
      "the cluster authorities' Ed25519 public keys (PEM) whose certificates the node takes; " +
      'required with --identity; old and new during a rotation',
  },
  secret: {
    flag: 'secret-file', env: 'DYNAMO_SECRET', arg: 'FILE', file: true, secret: true, schema: z.string().min(16, SECRET_LENGTH),
    shown: 'required without --identity',
    help:
      'the cluster secret (>= 16 chars; the flag names a file holding it): ' +
      'the legacy mode, for migrating a running cluster to identities. ' +
      'A node with a secret also takes it as a peer credential; it dials its peers with its identity when it has one',
  },
  acceptSecrets: {
    flag: 'accept-secret-file', env: 'DYNAMO_ACCEPT_SECRETS', arg: 'FILE', file: true, secret: true, default: '', shown: 'none',
    schema: z
      .string()
      .transform((s) => s.split(/[\n,]/).map((x) => x.trim()).filter(Boolean))
      .pipe(z.array(z.string().min(16, 'every accepted secret must be at least 16 characters, like the cluster secret'))),
    help: 'more secrets accepted from connecting processes (the file one a line, the variable comma-separated), for rotating the secret',
    note: '([docs/security.md](docs/security.md#rotating-certificates-and-secrets-without-downtime))',
  },
  listen: { flag: 'listen', env: 'DYNAMO_LISTEN', arg: 'HOST:PORT', schema: z.string(), shown: 'own address', help: 'where to listen' },
  dataDir: {
    flag: 'data-dir', env: 'DYNAMO_DATA_DIR', arg: 'DIR', schema: z.string().min(1), shown: './data/ID',
    defaultOf: (p) => (typeof p.id === 'string' ? `./data/${p.id}` : undefined),
    help: 'LMDB data directory (locked while in use)',
  },
  partitions: {
    flag: 'partitions', env: 'DYNAMO_PARTITIONS', arg: 'Q', schema: intSetting(1, 1 << 20), default: 64,
    help: "ring partitions, a power of two >= node count, fixed for the cluster's life",
  },
  n: { flag: 'n', env: 'DYNAMO_N', arg: 'N', schema: intSetting(1, 15), default: 3, help: 'replicas of each key' },
  r: { flag: 'r', env: 'DYNAMO_R', arg: 'R', schema: intSetting(1, 15), default: 2, help: 'default read quorum' },
  w: { flag: 'w', env: 'DYNAMO_W', arg: 'W', schema: intSetting(1, 15), default: 2, help: 'default write quorum' },
  requestTimeoutMs: {
    flag: 'request-timeout-ms', env: 'DYNAMO_REQUEST_TIMEOUT_MS', arg: 'T', schema: intSetting(10, 600_000), default: 1000,
    help: "a coordinator's wait for replicas",
  },
  readHedgeMs: {
    flag: 'read-hedge-ms', env: 'DYNAMO_READ_HEDGE_MS', arg: 'T', schema: intSetting(0, 600_000), default: 10,
    help: 'above 0, a read asks R replicas first and the others when one fails or after this long; 0 asks all N at once',
    note: '([docs/architecture.md](docs/architecture.md))',
  },
  maxSiblings: {
    flag: 'max-siblings', env: 'DYNAMO_MAX_SIBLINGS', arg: 'S', schema: intSetting(1, 10_000), default: DEFAULT_MAX_SIBLINGS,
    help: 'writes that would leave more siblings are refused',
  },
  durability: {
    flag: 'durability', env: 'DYNAMO_DURABILITY', arg: 'MODE', schema: z.enum(['sync', 'buffered']), default: 'sync',
    help: 'sync acknowledges after fsync; buffered acknowledges data and hints at commit, before fsync ' +
      '(a crash can lose acknowledged writes, and the node restarts as a new actor)',
  },
  // enough for hours of writes for one dead peer at moderate rates; beyond it writes go to the next fallback
  hintMaxBytes: {
    flag: 'hint-max-bytes', env: 'DYNAMO_HINT_MAX_BYTES', arg: 'B', schema: intSetting(0, Number.MAX_SAFE_INTEGER), default: 1024 ** 3,
    shown: '1 GiB',
    help: 'hint store cap (0 keeps no hints)',
  },
  // hints older than a day are handed to anti-entropy instead
  hintMaxAgeMs: {
    flag: 'hint-max-age-ms', env: 'DYNAMO_HINT_MAX_AGE_MS', arg: 'T', schema: intSetting(1000, Number.MAX_SAFE_INTEGER), default: 24 * 3600_000,
    shown: '1 day', help: 'hint age cap',
  },
  newEpoch: {
    flag: 'new-epoch', env: 'DYNAMO_NEW_EPOCH', schema: z.boolean(), default: false, shown: 'off',
    help: 'start as a new actor; a node notices by itself that it was started on a restored backup when a peer heard a later run of it ' +
      '(docs/design.md), so this is for restoring every node at once',
  },
  // one gossip exchange a second; a silent peer is suspected in 4-6 s
  gossipIntervalMs: {
    flag: 'gossip-interval-ms', env: 'DYNAMO_GOSSIP_INTERVAL_MS', arg: 'T', schema: intSetting(50, 60_000), default: 1000,
    help: 'one gossip exchange with a random peer and a seed per round',
  },
  phiThreshold: {
    flag: 'phi-threshold', env: 'DYNAMO_PHI_THRESHOLD', arg: 'PHI', schema: z.coerce.number().min(1).max(50), default: 8,
    help: 'suspicion above which a peer is unreachable',
  },
  // transfers stay well under what LMDB and the network take, to keep foreground latency
  transferBytesPerSecond: {
    flag: 'transfer-bytes-per-second', env: 'DYNAMO_TRANSFER_BYTES_PER_SECOND', arg: 'B', schema: intSetting(1024, Number.MAX_SAFE_INTEGER),
    default: 16 * 1024 * 1024,
    shown: '16 MiB', help: 'throttle on key-range copies during ring changes',
  },
  // coordinators learn a committed ring within a few gossip rounds; keep moved data a bit longer
  dropGraceMs: {
    flag: 'drop-grace-ms', env: 'DYNAMO_DROP_GRACE_MS', arg: 'T', schema: intSetting(0, 86_400_000), default: 10_000,
    help: 'how long moved key ranges are kept after a change commits',
  },
  repairRedisUrl: {
    flag: 'repair-redis-url', env: 'DYNAMO_REPAIR_REDIS_URL', arg: 'URL',
    schema: redisSetting('--repair-redis-url (DYNAMO_REPAIR_REDIS_URL)'), shown: 'unset',
    help: 'queue hint replays in this Redis when an owner returns; unset, the node replays its own hints. ' +
      'redis://host:port, redis-cluster://host:port,... or redis-sentinel://host:port,.../name',
    note: '([the repair Redis](#the-repair-redis))',
  },
  repairQueuePrefix: {
    flag: 'repair-queue-prefix', env: 'REPAIR_QUEUE_PREFIX', arg: 'NAME', schema: nameSetting('queue prefix'), default: 'dynamo',
    help: "the repair queues' name, as the workers have it",
  },
  ...logSettings('DYNAMO_LOG_LEVEL'),
  tlsCert: {
    flag: 'tls-cert', env: 'DYNAMO_TLS_CERT', arg: 'FILE', schema: z.string(), shown: 'unset: plain ws://',
    help:
      'serve wss:// (and https for /health, /metrics) with this PEM certificate, with --tls-key, ' +
      'and dial peers over wss://; every node of a cluster needs one',
    note: '([docs/security.md](docs/security.md#tls))',
  },
  tlsKey: { flag: 'tls-key', env: 'DYNAMO_TLS_KEY', arg: 'FILE', schema: z.string(), help: "the certificate's PEM key" },
  tlsCa: {
    flag: 'tls-ca', env: 'DYNAMO_TLS_CA', arg: 'FILE[,FILE]', schema: z.string(), shown: "the system's",
    help: "authorities the peers' certificates must chain to; old and new during a rotation",
  },
  otelEndpoint: {
    flag: 'otel-endpoint', env: 'OTEL_EXPORTER_OTLP_ENDPOINT', arg: 'URL', schema: z.string(), shown: 'unset: off',
    help: 'send OpenTelemetry traces to this OTLP/HTTP collector, e.g. http://127.0.0.1:4318',
    note: '([docs/operations.md](docs/operations.md#traces))',
  },
} as const satisfies Table;

type NodeValues = Values<typeof NODE_SETTINGS>;
type FileSettings = 'nodes' | 'listen' | 'seeds' | 'identityFile' | 'authorityFiles' | 'tlsCert' | 'tlsKey' | 'tlsCa' | 'otelEndpoint';

export interface StorageConfig extends Omit<NodeValues, FileSettings> {
  /** the members a new cluster starts with (empty for a node that joins an existing one) */
  readonly members: Member[];
  /** nodes to gossip with from the start: the initial members and --seeds */
  readonly seeds: Member[];
  readonly host: string;
  readonly port: number;
  readonly address: string;
  /** wss:// and https with this certificate, dialing peers over wss:// trusting `client`; null: plain */
  readonly tls: { readonly server: ServerTls; readonly client: ClientTls } | null;
  /** this node's peer identity, and the authorities whose certificates it takes; null: the secret alone */
  readonly identity: ProcessIdentity | null;
  readonly authorities: readonly KeyObject[];
  /** OpenTelemetry traces (tracing-settings.ts); null: off */
  readonly tracing: TracingSettings | null;
}

export const USAGE = usage('storage node: one Dynamo replica process', NODE_SETTINGS);

export function loadStorageConfig(argv: string[], env: NodeJS.ProcessEnv): StorageConfig {
  const { values: c, from } = parseSettings(NODE_SETTINGS, argv, env, { usage: USAGE, what: 'configuration' });
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
  if (members.length > 0 && !me)
    throw new ConfigError(`node id '${c.id}' is not in the node list (${members.map((m) => m.id).join(', ')})`);
  const listen = c.listen ?? me?.address;
  if (!listen) throw new ConfigError('a node joining an existing cluster needs --listen HOST:PORT (the address others reach it at)');
  const hp = /^(.+):(\d{1,5})$/.exec(listen);
  if (!hp || Number(hp[2]) > 65535) throw new ConfigError(`listen address '${listen}' is not host:port`);
  const { nodes: _n, listen: _l, seeds: _s, identityFile, authorityFiles, tlsCert, tlsKey, tlsCa: ca, otelEndpoint, ...rest } = c;
  const allSeeds = [...members, ...seeds.filter((s) => !members.some((m) => m.id === s.id))].filter((s) => s.id !== c.id);
  const server = serverTls(tlsCert, tlsKey, '--tls-cert/--tls-key (DYNAMO_TLS_CERT, DYNAMO_TLS_KEY)');
  if (ca !== undefined && !server)
    throw new ConfigError('--tls-ca (DYNAMO_TLS_CA) is for a node that speaks TLS: give it --tls-cert and --tls-key too');
  const tls = server ? { server, client: ca !== undefined ? readCa(ca, '--tls-ca (DYNAMO_TLS_CA)') : { ca: [] } } : null;
  if (identityFile !== undefined && authorityFiles === undefined) {
    throw new ConfigError(
      '--identity (DYNAMO_IDENTITY) needs --authority (DYNAMO_AUTHORITY): the authorities whose certificates this node takes from its callers',
    );
  }
  if (identityFile === undefined && c.secret === undefined) {
    throw new ConfigError(
      'a node needs --identity and --authority (DYNAMO_IDENTITY, DYNAMO_AUTHORITY), or the cluster secret (DYNAMO_SECRET or --secret-file) in the legacy mode',
    );
  }
  if (c.acceptSecrets.length > 0 && c.secret === undefined) {
    throw new ConfigError('--accept-secret-file (DYNAMO_ACCEPT_SECRETS) is for a node with a cluster secret');
  }
  const authorities = authorityFiles === undefined ? [] : readAuthorities(authorityFiles, '--authority (DYNAMO_AUTHORITY)');
  const identity =
    identityFile === undefined
      ? null
      : readIdentity(identityFile, '--identity (DYNAMO_IDENTITY)', { cluster: c.cluster, roles: ['peer'], id: c.id });
  // the environment's OTEL_* variables are read by tracingSettings, with their own rules
  const otelFlag = from.otelEndpoint === 'flag' ? otelEndpoint : undefined;
  const tracing = tracingSettings(otelFlag, env, { serviceName: 'dynamo-node', instanceId: c.id });
  const address = me?.address ?? listen;
  return { ...rest, members, seeds: allSeeds, host: hp[1]!, port: Number(hp[2]), address, tls, identity, authorities, tracing };
}
