// The repair workers' configuration: one row per setting (flags over environment over
// defaults), validated at start.
import { z } from 'zod';
import { readCredential } from '../storage/config.ts';
import { logSettings } from '../storage/logging.ts';
import { intSetting, nameSetting, parseSettings, usage, type Table } from '../storage/settings/table.ts';
import { readCa } from '../storage/transport/tls.ts';
import { DEFAULT_REDIS_URL } from './redis.ts';
import { redisSetting } from './redis-address.ts';


/** The repair workers' settings, one row each (storage/settings/table.ts). */
export const JOBS_SETTINGS = {
  seeds: {
    flag: 'seeds', env: 'DYNAMO_SEEDS', arg: 'HOST:PORT,...', default: '', shown: 'required', help: 'storage nodes',
    schema: z
      .string()
      .min(1, 'seed nodes are required (--seeds or DYNAMO_SEEDS)')
      .transform((s) => s.split(',').map((x) => x.trim()).filter(Boolean)),
  },
  cluster: { flag: 'cluster', env: 'DYNAMO_CLUSTER', arg: 'NAME', schema: z.string().min(1), default: 'dev', help: "the cluster's name" },
  identityFile: {
    flag: 'identity', env: 'DYNAMO_IDENTITY', arg: 'FILE', schema: z.string().min(1),
    help: "the workers' repair identity on the node protocol",
  },
  secret: {
    flag: 'secret-file', env: 'DYNAMO_SECRET', arg: 'FILE', file: true, secret: true, schema: z.string(),
    shown: 'required without --identity',
    help: 'the cluster secret (the flag names a file holding it): legacy mode',
  },
  host: {
    flag: 'host', env: 'JOBS_HOST', arg: 'HOST', schema: z.string(), default: '127.0.0.1', help: '/health and /metrics (plain http)',
  },
  port: {
    flag: 'port', env: 'JOBS_PORT', arg: 'PORT', schema: intSetting(0, 65535), default: 4100,
    help: '/health and /metrics (plain http)',
  },
  timeoutMs: {
    flag: 'node-timeout-ms', env: 'JOBS_NODE_TIMEOUT_MS', arg: 'T', schema: intSetting(100), default: 5000, help: "wait for a node's answer",
  },
  redisUrl: {
    flag: 'redis-url', env: 'REDIS_URL', arg: 'URL', schema: redisSetting('REDIS_URL'), default: DEFAULT_REDIS_URL,
    help:
      'the repair Redis; must run with maxmemory-policy noeviction. ' +
      'redis-cluster://HOST:PORT,... for a Redis Cluster (some of its nodes), ' +
      "redis-sentinel://HOST:PORT,.../NAME for Sentinel (the sentinels, the primary's name)",
    note: '([the repair Redis](#the-repair-redis))',
  },
  prefix: {
    flag: 'repair-queue-prefix', env: 'REPAIR_QUEUE_PREFIX', arg: 'NAME', schema: nameSetting('queue prefix'),
    default: 'dynamo',
    help: "the queues' name: their Redis keys start with {NAME}:",
  },
  concurrency: {
    flag: 'concurrency', env: 'JOBS_CONCURRENCY', arg: 'C', schema: intSetting(1, 64), default: 2,
    help: 'jobs per queue at once',
  },
  syncKeysPerSecond: {
    flag: 'sync-keys-per-second', env: 'JOBS_SYNC_KEYS_PER_SECOND', arg: 'K', schema: intSetting(1), default: 5000,
    help: 'anti-entropy exchange rate per worker',
  },
  replayHintsPerSecond: {
    flag: 'replay-hints-per-second', env: 'JOBS_REPLAY_HINTS_PER_SECOND', arg: 'H', schema: intSetting(1), default: 5000,
    help: 'hinted-handoff rate per worker',
  },
  lockMs: {
    flag: 'lock-ms', env: 'JOBS_LOCK_MS', arg: 'T', schema: intSetting(500), default: 30_000,
    help: "a dead worker's jobs go to another after this",
  },
  sweepEveryMs: {
    flag: 'sweep-every-ms', env: 'JOBS_SWEEP_EVERY_MS', arg: 'T', schema: intSetting(1000), default: 600_000, shown: '600000 (10 min)',
    help: 'full anti-entropy sweep',
  },
  handoffScanEveryMs: {
    flag: 'handoff-scan-every-ms', env: 'JOBS_HANDOFF_SCAN_EVERY_MS', arg: 'T', schema: intSetting(100), default: 30_000,
    help: 'safety-net scan for hints',
  },
  hintExpiryEveryMs: {
    flag: 'hint-expiry-every-ms', env: 'JOBS_HINT_EXPIRY_EVERY_MS', arg: 'T', schema: intSetting(100), default: 60_000,
    help: 'hints past their age cap',
  },
  reclaimGraceMs: {
    flag: 'reclaim-grace-ms', env: 'JOBS_RECLAIM_GRACE_MS', arg: 'T', schema: intSetting(0), default: 2 * 24 * 3600_000, shown: '2 days',
    help: 'tombstones everywhere this long are reclaimed (longer than the hint age cap)',
  },
  noSchedule: {
    flag: 'no-schedule', env: 'JOBS_NO_SCHEDULE', schema: z.boolean(), default: false, shown: 'off',
    help: 'only work jobs; leave the schedules to another worker',
  },
  ...logSettings('JOBS_LOG_LEVEL'),
  tlsCa: {
    flag: 'tls-ca', env: 'DYNAMO_TLS_CA', arg: 'FILE[,FILE]', schema: z.string(), shown: 'unset: plain ws://',
    help: 'the nodes speak TLS: dial them over wss:// trusting these authorities',
  },
} as const satisfies Table;

const USAGE = usage('jobs: repair workers (hinted handoff, anti-entropy) on BullMQ', JOBS_SETTINGS);

/** anti-entropy jobs started per second per worker */
const SYNC_JOBS_PER_SECOND = 20;

export function loadJobsConfig(argv: string[], env: NodeJS.ProcessEnv) {
  const { values } = parseSettings(JOBS_SETTINGS, argv, env, { usage: USAGE, what: 'jobs configuration' });
  const { identityFile, secret, tlsCa: ca, noSchedule, ...rest } = values;
  const credential = readCredential(identityFile, secret, { cluster: values.cluster, roles: ['repair'], what: 'the repair workers' });
  const tls = ca !== undefined ? readCa(ca, '--tls-ca (DYNAMO_TLS_CA)') : undefined;
  return { ...rest, schedule: !noSchedule, syncJobsPerSecond: SYNC_JOBS_PER_SECOND, tls, credential };
}
