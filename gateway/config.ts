// The gateway's configuration: flags over environment over defaults, validated at start.
import { z } from 'zod';
import { invalidConfig, parseFlags, readSecret } from '../storage/config.ts';
import { logFormat, logLevel } from '../storage/logging.ts';

const schema = z
  .object({
    host: z.string().min(1),
    port: z.coerce.number().int().min(0).max(65535),
    seeds: z
      .string()
      .min(1, 'seed nodes are required (--seeds or DYNAMO_SEEDS)')
      .transform((s) => s.split(',').map((x) => x.trim()).filter(Boolean))
      .pipe(z.array(z.string().regex(/^[^\s:]+:\d{1,5}$/, 'each seed is host:port')).min(1)),
    cluster: z.string().regex(/^[A-Za-z0-9_.-]{1,64}$/, 'cluster name: 1-64 letters, digits, _ . -'),
    secret: z.string().min(16, 'the cluster secret must be at least 16 characters (DYNAMO_SECRET or --secret-file)'),
    contextKeys: z
      .string({ error: 'context signing keys are required (GATEWAY_CONTEXT_KEYS), shared by every gateway of the cluster' })
      .transform((s) => s.split(',').map((x) => x.trim()).filter(Boolean))
      .pipe(z.array(z.string().min(32, 'each context signing key must be at least 32 characters')).min(1)),
    adminToken: z.string().min(16, 'ADMIN_TOKEN must be at least 16 characters').optional(),
    nodeTimeoutMs: z.coerce.number().int().min(100).max(600_000),
    requestTimeoutMs: z.coerce.number().int().min(100).max(600_000),
    maxBodyBytes: z.coerce.number().int().min(1024).max(64 * 1024 * 1024),
    persistedOperations: z.string().optional(),
    onlyPersisted: z.boolean(),
    graphiql: z.boolean(),
    redisUrl: z.string().url('REDIS_URL must be a redis:// URL').optional(),
    repairQueuePrefix: z.string().regex(/^[A-Za-z0-9_.-]{1,64}$/),
    logLevel,
    logFormat,
  })
  .strict()
  .refine((c) => c.requestTimeoutMs > c.nodeTimeoutMs, { message: 'the request timeout must be longer than the node timeout', path: ['requestTimeoutMs'] })
  .refine((c) => !c.onlyPersisted || c.persistedOperations, { message: '--only-persisted needs --persisted-operations FILE', path: ['onlyPersisted'] });

export type GatewayConfig = z.infer<typeof schema>;

export const USAGE = `gateway: the GraphQL front door of the cluster

  --host HOST              (GATEWAY_HOST, default 127.0.0.1)
  --port PORT              (GATEWAY_PORT, default 4000)
  --seeds HOST:PORT,...    storage nodes to learn the ring from (DYNAMO_SEEDS), required
  --cluster NAME           (DYNAMO_CLUSTER, default dev)
  --secret-file PATH       cluster secret (or DYNAMO_SECRET), required
  GATEWAY_CONTEXT_KEYS     comma-separated keys (>= 32 chars) signing contexts; the first signs,
                           all verify; every gateway of a cluster must share them. Required.
  ADMIN_TOKEN              bearer token for admin fields and /admin/queues (>= 16 chars); unset: admin off
  REDIS_URL                the repair queues' Redis: enables the dashboard at /admin/queues and
                           GraphQL repair status and sweeps (REPAIR_QUEUE_PREFIX, default dynamo)
  --node-timeout-ms T      wait for a node's answer (default 5000; longer than the nodes' own)
  --request-timeout-ms T   whole operation (default 10000)
  --max-body-bytes B       largest request body (default 4 MiB)
  --persisted-operations F JSON file {hash: query} of persisted operations
  --only-persisted         refuse operations that are not persisted
  --no-graphiql            no GraphiQL page (off by default when NODE_ENV=production)
  --log-level LEVEL        debug|info|warn|error|silent (GATEWAY_LOG_LEVEL or LOG_LEVEL, default info)
  LOG_FORMAT               json (default: one object per line on stderr) or pretty (readable)`;

export function loadGatewayConfig(argv: string[], env: NodeJS.ProcessEnv): GatewayConfig {
  const flags = parseFlags(
    argv,
    {
      host: { type: 'string' },
      port: { type: 'string' },
      seeds: { type: 'string' },
      cluster: { type: 'string' },
      'secret-file': { type: 'string' },
      'node-timeout-ms': { type: 'string' },
      'request-timeout-ms': { type: 'string' },
      'max-body-bytes': { type: 'string' },
      'persisted-operations': { type: 'string' },
      'only-persisted': { type: 'boolean' },
      'no-graphiql': { type: 'boolean' },
      'log-level': { type: 'string' },
      help: { type: 'boolean' },
    },
    USAGE,
  );
  const secret = readSecret(flags['secret-file'], env);
  const raw = {
    host: flags.host ?? env.GATEWAY_HOST ?? '127.0.0.1',
    port: flags.port ?? env.GATEWAY_PORT ?? 4000,
    seeds: flags.seeds ?? env.DYNAMO_SEEDS ?? '',
    cluster: flags.cluster ?? env.DYNAMO_CLUSTER ?? 'dev',
    secret: secret ?? '',
    contextKeys: env.GATEWAY_CONTEXT_KEYS,
    adminToken: env.ADMIN_TOKEN || undefined,
    nodeTimeoutMs: flags['node-timeout-ms'] ?? env.GATEWAY_NODE_TIMEOUT_MS ?? 5000,
    requestTimeoutMs: flags['request-timeout-ms'] ?? env.GATEWAY_REQUEST_TIMEOUT_MS ?? 10_000,
    maxBodyBytes: flags['max-body-bytes'] ?? env.GATEWAY_MAX_BODY_BYTES ?? 4 * 1024 * 1024,
    persistedOperations: (flags['persisted-operations'] as string | undefined) ?? env.GATEWAY_PERSISTED_OPERATIONS,
    onlyPersisted: Boolean(flags['only-persisted'] ?? env.GATEWAY_ONLY_PERSISTED === '1'),
    graphiql: !(flags['no-graphiql'] ?? env.NODE_ENV === 'production'),
    redisUrl: env.REDIS_URL || undefined,
    repairQueuePrefix: env.REPAIR_QUEUE_PREFIX ?? 'dynamo',
    logLevel: flags['log-level'] || env.GATEWAY_LOG_LEVEL || env.LOG_LEVEL || 'info',
    logFormat: env.LOG_FORMAT || 'json',
  };
  const parsed = schema.safeParse(raw);
  if (!parsed.success) {
    throw invalidConfig('gateway configuration', parsed.error);
  }
  return parsed.data;
}
