// `npm start`: the whole stack on one machine. Redis for the repair queues (a private one if
// none answers and REDIS_URL is unset), storage nodes as separate processes on loopback ports
// (7001...), the GraphQL gateway on 4000 (repair dashboard at /admin/queues), the repair
// workers; data and dev secrets under ./data/; readable logs. Ctrl-C stops everything cleanly.
//
// Every process gets its own identity on the node protocol from a development authority kept
// in ./data/identities/ (docs/security.md): the nodes are peers, the gateway an admin (its
// admin fields change the ring), the workers repair, and the CLI reads admin.json from there.
// The nodes take no cluster secret.
//
// Without Redis the store still runs: nodes replay their own hints, and the gateway serves
// reads and writes. Scheduled anti-entropy, the repair workers and the dashboard stay off, and
// the start says so, with how to get Redis.
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import type { ChildProcess } from 'node:child_process';
import { GATEWAY_NODE_ARGS, LocalCluster, startService, stopProcess, type LauncherTls } from './launcher.ts';
import { makeCa, makeCert } from './dev-certs.ts';
import { DEFAULT_REDIS_URL, ensureRedis, redisAnswers, type PrivateRedis } from '../jobs/redis.ts';
import { uwsProblem } from '../storage/transport/uws-check.ts';
import { startRepairOnly } from './start-repair.ts';
import { readStackFile, removeStackFile, writeStackFile } from './stack-file.ts';

/** Gateway settings passed through from the environment (README, Configuration). */
const GATEWAY_SETTINGS = [
  'NODE_ENV',
  'GATEWAY_API_KEYS_FILE',
  'GATEWAY_JWKS',
  'GATEWAY_JWT_ISSUER',
  'GATEWAY_JWT_AUDIENCE',
  'GATEWAY_JWT_CLOCK_TOLERANCE_S',
  'GATEWAY_ALLOW_ANONYMOUS',
  'GATEWAY_CORS_ORIGINS',
  'GATEWAY_RATE_LIMIT_POINTS',
  'GATEWAY_RATE_LIMIT_DURATION_S',
  'GATEWAY_RATE_LIMIT_REDIS_URL',
  'GATEWAY_ADMIN_LISTEN',
  'GATEWAY_TLS_CERT',
  'GATEWAY_TLS_KEY',
  'GATEWAY_PERSISTED_OPERATIONS',
  'GATEWAY_ONLY_PERSISTED',
];

const { values: o } = parseArgs({
  options: {
    nodes: { type: 'string', default: '5' },
    'base-port': { type: 'string', default: '7001' },
    'gateway-port': { type: 'string', default: '4000' },
    'jobs-port': { type: 'string', default: '4100' },
    'data-dir': { type: 'string', default: 'data' },
    partitions: { type: 'string', default: '64' },
    'api-keys': { type: 'string' },
    tls: { type: 'boolean' },
    repair: { type: 'boolean' },
    help: { type: 'boolean', short: 'h' },
  },
});
if (o.help) {
  process.stdout.write(
    'npm start -- [--nodes 5] [--base-port 7001] [--gateway-port 4000] [--jobs-port 4100] [--data-dir data] [--partitions 64] [--api-keys FILE] [--tls]\n' +
      'npm start -- --repair [--data-dir data]\n' +
      '  --repair: for a stack started without Redis and still running, start the repair workers against the Redis\n' +
      '  its gateway watches (REDIS_URL, or 127.0.0.1:6379 where a private redis-server is started if none answers)\n' +
      '  --tls: nodes speak wss:// and the gateway https, with a development authority and certificate made in DATA-DIR/tls\n' +
      '  every process gets its own node-protocol identity from a development authority in DATA-DIR/identities\n' +
      '  (the CLI uses DATA-DIR/identities/admin.json; npm run identity -- issue ... makes more)\n' +
      '  (or give DYNAMO_TLS_CERT, DYNAMO_TLS_KEY and DYNAMO_TLS_CA: the nodes\' certificate and the authorities to trust)\n' +
      `the gateway also takes these from the environment: ${GATEWAY_SETTINGS.join(' ')}\n`,
  );
  process.exit(0);
}
const uws = uwsProblem();
if (uws) {
  process.stderr.write(`npm start: ${uws}\n`);
  process.exit(1);
}
const nodes = Number(o.nodes);
if (!Number.isInteger(nodes) || nodes < 1 || nodes > 64) {
  process.stderr.write(`--nodes must be 1..64, got ${o.nodes}\n`);
  process.exit(2);
}

const dataDir = o['data-dir']!;
mkdirSync(dataDir, { recursive: true });

/** A development secret: from the environment, else kept in the data directory across runs. */
function devSecret(env: string, file: string, bytes: number): string {
  const fromEnv = process.env[env];
  if (fromEnv) return fromEnv;
  const path = join(dataDir, file);
  if (existsSync(path)) return readFileSync(path, 'utf8').trim();
  const value = randomBytes(bytes).toString('base64url');
  writeFileSync(path, value, { mode: 0o600 });
  return value;
}
// a stack started without Redis gets its repair workers from a second npm start (it never returns)
if (o.repair) await startRepairOnly(dataDir);
const contextKeys = devSecret('GATEWAY_CONTEXT_KEYS', 'context-key', 32);
const adminToken = process.env.ADMIN_TOKEN ?? randomBytes(18).toString('base64url');

const gatewaySettings: Record<string, string> = Object.fromEntries(
  GATEWAY_SETTINGS.flatMap((k) => (process.env[k] ? [[k, process.env[k]!]] : [])),
);
if (o['api-keys']) gatewaySettings.GATEWAY_API_KEYS_FILE = o['api-keys'];
const dataAuth = [
  gatewaySettings.GATEWAY_API_KEYS_FILE && `API keys from ${gatewaySettings.GATEWAY_API_KEYS_FILE}`,
  gatewaySettings.GATEWAY_JWKS && `JWTs against ${gatewaySettings.GATEWAY_JWKS}`,
]
  .filter(Boolean)
  .join(', ');
/** TLS for every process: from the environment, else with --tls a development authority kept in the data directory. */
function tlsFiles(): LauncherTls | undefined {
  const { DYNAMO_TLS_CERT: cert, DYNAMO_TLS_KEY: key, DYNAMO_TLS_CA: ca } = process.env;
  if (cert || key || ca) {
    if (!cert || !key || !ca) {
      process.stderr.write('TLS needs DYNAMO_TLS_CERT, DYNAMO_TLS_KEY and DYNAMO_TLS_CA together\n');
      process.exit(2);
    }
    return { cert, key, ca };
  }
  if (!o.tls) return undefined;
  const authority = makeCa(join(dataDir, 'tls'), 'dynamo-dev', true);
  return { ...makeCert(authority, 'loopback', true), ca: authority.ca };
}
const tls = tlsFiles();
if (tls) {
  gatewaySettings.GATEWAY_TLS_CERT ??= tls.cert;
  gatewaySettings.GATEWAY_TLS_KEY ??= tls.key;
}
const nodeTlsEnv: Record<string, string> = tls ? { DYNAMO_TLS_CA: tls.ca } : {};
const gatewayScheme = gatewaySettings.GATEWAY_TLS_CERT ? 'https' : 'http';
const production = gatewaySettings.NODE_ENV === 'production';
// /metrics and the dashboard move to the operator address when there is one
const adminListen = gatewaySettings.GATEWAY_ADMIN_LISTEN;

// readable log lines from every process, unless asked otherwise
process.env.LOG_FORMAT ||= 'pretty';

const namedRedis = process.env.REDIS_URL;
const redisUrl = namedRedis || DEFAULT_REDIS_URL;

/**
 * The repair queues' Redis: the one at REDIS_URL, or at the default address, or a private
 * redis-server started for this run (only when REDIS_URL is unset: a Redis the user named is
 * never replaced). Null, with the reason, when there is none.
 */
async function findRedis(): Promise<{ redis: PrivateRedis; problem: null } | { redis: null; problem: string }> {
  if (namedRedis) {
    if (await redisAnswers(namedRedis)) return { redis: { url: namedRedis, process: null }, problem: null };
    return { redis: null, problem: `Redis is not answering at ${namedRedis} (REDIS_URL).` };
  }
  try {
    return { redis: await ensureRedis(redisUrl, join(dataDir, 'redis')), problem: null };
  } catch (e) {
    return { redis: null, problem: (e as Error).message };
  }
}

function noRedisWarning(problem: string): string {
  const rule = '!'.repeat(78);
  return [
    rule,
    '!! NO REDIS: scheduled anti-entropy, the repair workers and the repair dashboard are OFF.',
    '!! The store itself runs: reads and writes work, and each node replays its own hints.',
    `!! ${problem}`,
    '!! To get Redis: apt-get install redis-server (Debian, Ubuntu), brew install redis (macOS),',
    '!! or docker run -d -p 6379:6379 redis:7 --maxmemory-policy noeviction.',
    `!! Then, in another terminal, npm start -- --repair${o['data-dir'] === 'data' ? '' : ` --data-dir ${o['data-dir']}`} brings the repair workers up for`,
    `!! this stack against ${namedRedis ? `${namedRedis} (REDIS_URL)` : `${redisUrl} (starting redis-server there if none answers)`}; the dashboard`,
    '!! comes up by itself once that Redis answers. Or restart npm start.',
    rule,
  ].join('\n');
}

const found = await findRedis();
const withRedis = found.redis !== null;
if (!withRedis && gatewaySettings.GATEWAY_RATE_LIMIT_POINTS && !gatewaySettings.GATEWAY_RATE_LIMIT_REDIS_URL) {
  // the limits are counted in Redis; without one the gateway would refuse to start (an empty
  // value, since children inherit this environment)
  gatewaySettings.GATEWAY_RATE_LIMIT_POINTS = '';
  process.stdout.write('!! GATEWAY_RATE_LIMIT_POINTS is ignored: rate limits are counted in Redis, and there is none\n');
}
const cluster = new LocalCluster({
  nodes,
  tls,
  // without the repair queues, each node delivers its own hints
  flags: withRedis ? ['--repair-redis-url', found.redis.url] : [],
  basePort: Number(o['base-port']),
  dataDir,
  identities: join(dataDir, 'identities'),
  partitions: Number(o.partitions),
  n: Math.min(3, nodes),
  r: Math.min(2, nodes),
  w: Math.min(2, nodes),
  output: 'inherit',
});
const services: ChildProcess[] = [];
const redis: PrivateRedis | null = found.redis;

let stopping = false;
const stop = async () => {
  if (stopping) return;
  stopping = true;
  process.stderr.write('\nstopping...\n');
  const stack = readStackFile(dataDir);
  if (typeof stack !== 'string' && stack.pid === process.pid) removeStackFile(dataDir);
  for (const s of services.reverse()) await stopProcess(s);
  await cluster.stop();
  await stopProcess(redis?.process);
  process.stderr.write('stopped\n');
  process.exit(0);
};
process.on('SIGINT', () => void stop());
process.on('SIGTERM', () => void stop());

try {
  if (!withRedis) process.stdout.write(`${noRedisWarning(found.problem)}\n`);
  // the CLI's identity (npx dynamo reads data/identities/admin.json)
  cluster.identity('admin', 'admin');
  await cluster.start();
  const gatewayPort = o['gateway-port']!;
  services.push(
    await startService({
      entry: 'bin/gateway.ts',
      nodeArgs: GATEWAY_NODE_ARGS,
      args: ['--port', gatewayPort, '--seeds', cluster.seeds.join(','), '--cluster', cluster.cluster],
      // without Redis too: the gateway connects whenever it answers there (npm start --repair)
      env: {
        ...gatewaySettings,
        ...nodeTlsEnv,
        DYNAMO_IDENTITY: cluster.identity('gateway', 'admin'),
        DYNAMO_SECRET: '',
        GATEWAY_CONTEXT_KEYS: contextKeys,
        ADMIN_TOKEN: adminToken,
        REDIS_URL: redis?.url ?? redisUrl,
      },
      health: `127.0.0.1:${gatewayPort}`,
      healthCa: gatewayScheme === 'https' ? (tls?.ca ?? '') : undefined,
      output: 'inherit',
    }),
  );
  const jobsPort = o['jobs-port']!;
  const operatorBase = adminListen ? `${gatewayScheme}://${adminListen}` : `${gatewayScheme}://127.0.0.1:${gatewayPort}`;
  if (redis) {
    services.push(
      await startService({
        entry: 'bin/jobs.ts',
        args: ['--port', jobsPort, '--seeds', cluster.seeds.join(','), '--cluster', cluster.cluster],
        env: { ...nodeTlsEnv, DYNAMO_IDENTITY: cluster.identity('repair', 'repair'), DYNAMO_SECRET: '', REDIS_URL: redis.url },
        health: `127.0.0.1:${jobsPort}`,
        output: 'inherit',
      }),
    );
  }
  process.stdout.write(
    [
      '',
      `${nodes} storage nodes: ${cluster.seeds.join(' ')}${tls ? ` (wss://, authority ${tls.ca})` : ''} (each serves /metrics, e.g. ${tls ? 'https' : 'http'}://${cluster.seeds[0]}/metrics)`,
      redis
        ? `Redis:    ${redis.url}${redis.process ? ' (private, started for this run)' : ''}`
        : 'Redis:    NONE: scheduled anti-entropy, the repair workers and the dashboard are off (see above)',
      `GraphQL:  ${gatewayScheme}://127.0.0.1:${gatewayPort}/graphql${production ? '' : ' (GraphiQL in a browser)'}`,
      `metrics:  ${operatorBase}/metrics${adminListen ? '' : ' (with the admin token)'}`,
      redis
        ? `repair:   ${operatorBase}/admin/queues?token=${adminToken} (workers' /metrics on :${jobsPort})`
        : `repair:   off until Redis answers at ${redisUrl} and npm start -- --repair runs; nodes replay their own hints`,
      `admin token: ${adminToken}${process.env.ADMIN_TOKEN ? ' (from ADMIN_TOKEN)' : ' (generated; set ADMIN_TOKEN to choose one)'}${dataAuth ? '; admin scope only, no data' : ''}`,
      dataAuth
        ? `data auth: ${dataAuth}`
        : 'data auth: NONE - the gateway is open: anyone who reaches it reads and writes every key (--api-keys FILE or GATEWAY_JWKS to close it)',
      `identities: ${join(dataDir, 'identities')} (authority, one per process; the CLI uses admin.json); try: ${tls ? `export DYNAMO_TLS_CA=${tls.ca}; ` : ''}npx dynamo put greeting hello && npx dynamo get greeting`,
      'Logs: readable lines (LOG_FORMAT=json for JSON), level from LOG_LEVEL (default info).',
      'Ctrl-C stops everything.',
      '',
    ].join('\n'),
  );
  if (!withRedis) process.stdout.write(`${noRedisWarning(found.problem)}\n`);
  writeStackFile(dataDir, {
    pid: process.pid,
    seeds: cluster.seeds,
    cluster: cluster.cluster,
    redisUrl: redis?.url ?? redisUrl,
    redisNamed: Boolean(namedRedis),
    tlsCa: tls?.ca ?? null,
    jobsPort: Number(jobsPort),
    repairPid: redis ? process.pid : null,
  });
} catch (e) {
  process.stderr.write(`start failed: ${(e as Error).message}\n`);
  await stop();
}
