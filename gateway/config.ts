// The gateway's configuration: flags over environment over defaults, validated at start.
import { redisSetting } from '../jobs/redis-address.ts';
import { z } from 'zod';
import { ConfigError, invalidConfig, parseFlags, readCredential, readSecret, type NodeCredential } from '../storage/config.ts';
import { logFormat, logLevel } from '../storage/logging.ts';
import type { ClientTls } from '../client/src/transport/tls.ts';
import { readCa, serverTls, type ServerTls } from '../storage/transport/tls.ts';
import { tracingSettings, type TracingSettings } from '../storage/tracing-settings.ts';

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
    redisUrl: redisSetting('REDIS_URL').optional(),
    repairQueuePrefix: z.string().regex(/^[A-Za-z0-9_.-]{1,64}$/),
    logLevel,
    logFormat,
    production: z.boolean(),
    apiKeysFile: z.string().min(1).optional(),
    jwks: z.string().min(1).optional(),
    jwtIssuer: z.string().min(1).optional(),
    jwtAudience: z.string().min(1).optional(),
    jwtClockToleranceS: z.coerce.number().int().min(0).max(300),
    allowAnonymous: z.boolean(),
    introspection: z.boolean(),
    corsOrigins: z
      .string()
      .transform((s) => s.split(',').map((x) => x.trim()).filter(Boolean))
      .pipe(z.array(z.string().regex(/^(\*|https?:\/\/[^/\s,]+)$/, 'each CORS origin is scheme://host[:port] (no path) or *')))
      .optional(),
    rateLimitPoints: z.coerce.number().int().min(1).max(1_000_000).optional(),
    rateLimitDurationS: z.coerce.number().int().min(1).max(86_400),
    rateLimitRedisUrl: redisSetting('GATEWAY_RATE_LIMIT_REDIS_URL').optional(),
    adminListen: z.string().regex(/^[^\s:]+:\d{1,5}$/, '--admin-listen is HOST:PORT').optional(),
  })
  .strict()
  .refine((c) => c.requestTimeoutMs > c.nodeTimeoutMs, { message: 'the request timeout must be longer than the node timeout', path: ['requestTimeoutMs'] })
  .refine((c) => !c.onlyPersisted || c.persistedOperations, { message: '--only-persisted needs --persisted-operations FILE', path: ['onlyPersisted'] })
  .refine((c) => !c.production || c.apiKeysFile || c.jwks || c.allowAnonymous, {
    message:
      'NODE_ENV=production and no data authentication: anyone who reaches the gateway could read and write every key. ' +
      'Set GATEWAY_API_KEYS_FILE (--api-keys FILE) or GATEWAY_JWKS (--jwks), or pass --allow-anonymous to run open on purpose',
    path: ['auth'],
  })
  .refine((c) => c.rateLimitPoints === undefined || c.rateLimitRedisUrl, {
    message: 'rate limits are shared through Redis: set GATEWAY_RATE_LIMIT_REDIS_URL or REDIS_URL',
    path: ['rateLimitPoints'],
  })
  .refine((c) => c.jwks || (!c.jwtIssuer && !c.jwtAudience), { message: 'a JWT issuer or audience needs GATEWAY_JWKS', path: ['jwks'] });

export type GatewayConfig = z.infer<typeof schema> & {
  /** serve https (and the --admin-listen routes) with this certificate; plain http without */
  readonly tls: ServerTls | undefined;
  /** dial the nodes over wss:// trusting these authorities; plain ws:// without */
  readonly nodeTls: ClientTls | undefined;
  /** what the gateway proves to the nodes: its identity (client, or admin for the admin fields), or the secret */
  readonly credential: NodeCredential;
  /** OpenTelemetry traces (storage/tracing-settings.ts); null: off */
  readonly tracing: TracingSettings | null;
};

export const USAGE = `gateway: the GraphQL front door of the cluster

  --host HOST              (GATEWAY_HOST, default 127.0.0.1)
  --port PORT              (GATEWAY_PORT, default 4000)
  --seeds HOST:PORT,...    storage nodes to learn the ring from (DYNAMO_SEEDS), required
  --cluster NAME           (DYNAMO_CLUSTER, default dev)
  --identity FILE          the gateway's identity on the node protocol (DYNAMO_IDENTITY): a client
                           identity, or admin for the admin fields (ring changes, replicas, hints)
  --secret-file PATH       the cluster secret (or DYNAMO_SECRET): legacy mode, without --identity
  GATEWAY_CONTEXT_KEYS     comma-separated keys (>= 32 chars) signing contexts; the first signs,
                           all verify; every gateway of a cluster must share them. Required.
  ADMIN_TOKEN              bearer token with the admin scope only: admin fields, /metrics and
                           /admin/queues (>= 16 chars); not a data credential
  REDIS_URL                the repair queues' Redis: enables the dashboard at /admin/queues and
                           GraphQL repair status and sweeps (REPAIR_QUEUE_PREFIX, default dynamo);
                           redis-cluster://HOST:PORT,... or redis-sentinel://HOST:PORT,.../NAME for HA
  --node-timeout-ms T      wait for a node's answer (default 5000; longer than the nodes' own)
  --request-timeout-ms T   whole operation (default 10000)
  --max-body-bytes B       largest request body (default 4 MiB)
  --persisted-operations F JSON file {hash: query} of persisted operations
  --only-persisted         refuse operations that are not persisted
  --no-graphiql            no GraphiQL page (off by default when NODE_ENV=production)
  --no-introspection       refuse schema introspection (off by default when NODE_ENV=production)
  --log-level LEVEL        debug|info|warn|error|silent (GATEWAY_LOG_LEVEL or LOG_LEVEL, default info)
  LOG_FORMAT               json (default: one object per line on stderr) or pretty (readable)
  --otel-endpoint URL      export OpenTelemetry traces to this OTLP/HTTP collector, e.g.
                           http://127.0.0.1:4318 (OTEL_EXPORTER_OTLP_ENDPOINT; default off)

authentication (Authorization: Bearer <credential>):
  --api-keys FILE          (GATEWAY_API_KEYS_FILE) JSON {"<token or sha256:hex>": {name, read, write, admin}}
  --jwks SOURCE            (GATEWAY_JWKS) JWKS URL, JWKS file or PEM public key for JWTs with a "dynamo" claim
  GATEWAY_JWT_ISSUER / GATEWAY_JWT_AUDIENCE   checked when set
  GATEWAY_JWT_CLOCK_TOLERANCE_S               skew allowed on exp and nbf (default 5)
  --allow-anonymous        (GATEWAY_ALLOW_ANONYMOUS=1) with NODE_ENV=production, start without
                           API keys or JWT: every caller may read and write every key

hardening:
  --cors-origins O,...     (GATEWAY_CORS_ORIGINS) browser origins allowed cross-origin, or *; unset: none
  --rate-limit-points P    (GATEWAY_RATE_LIMIT_POINTS) requests per principal per window; unset: no limit
  --rate-limit-duration-s S (GATEWAY_RATE_LIMIT_DURATION_S, default 1) the window
  GATEWAY_RATE_LIMIT_REDIS_URL  the Redis the limits are shared in (default REDIS_URL)
  --admin-listen HOST:PORT (GATEWAY_ADMIN_LISTEN) serve /metrics and /admin/queues there only

TLS:
  --tls-cert FILE --tls-key FILE  (GATEWAY_TLS_CERT, GATEWAY_TLS_KEY) serve https with this PEM
                           certificate and key, on --port and --admin-listen
  --tls-ca FILE[,FILE]     (DYNAMO_TLS_CA) the nodes speak TLS: dial them over wss:// and trust
                           these authorities (old and new during a rotation)`;

export function loadGatewayConfig(argv: string[], env: NodeJS.ProcessEnv): GatewayConfig {
  const flags = parseFlags(
    argv,
    {
      host: { type: 'string' },
      port: { type: 'string' },
      seeds: { type: 'string' },
      cluster: { type: 'string' },
      'secret-file': { type: 'string' },
      identity: { type: 'string' },
      'node-timeout-ms': { type: 'string' },
      'request-timeout-ms': { type: 'string' },
      'max-body-bytes': { type: 'string' },
      'persisted-operations': { type: 'string' },
      'only-persisted': { type: 'boolean' },
      'no-graphiql': { type: 'boolean' },
      'log-level': { type: 'string' },
      'no-introspection': { type: 'boolean' },
      'api-keys': { type: 'string' },
      jwks: { type: 'string' },
      'allow-anonymous': { type: 'boolean' },
      'cors-origins': { type: 'string' },
      'rate-limit-points': { type: 'string' },
      'rate-limit-duration-s': { type: 'string' },
      'admin-listen': { type: 'string' },
      'tls-cert': { type: 'string' },
      'tls-key': { type: 'string' },
      'tls-ca': { type: 'string' },
      'otel-endpoint': { type: 'string' },
      help: { type: 'boolean' },
    },
    USAGE,
  );
  const secret = readSecret(flags['secret-file'], env);
  const production = env.NODE_ENV === 'production';
  const raw = {
    host: flags.host ?? env.GATEWAY_HOST ?? '127.0.0.1',
    port: flags.port ?? env.GATEWAY_PORT ?? 4000,
    seeds: flags.seeds ?? env.DYNAMO_SEEDS ?? '',
    cluster: flags.cluster ?? env.DYNAMO_CLUSTER ?? 'dev',
    contextKeys: env.GATEWAY_CONTEXT_KEYS,
    adminToken: env.ADMIN_TOKEN || undefined,
    nodeTimeoutMs: flags['node-timeout-ms'] ?? env.GATEWAY_NODE_TIMEOUT_MS ?? 5000,
    requestTimeoutMs: flags['request-timeout-ms'] ?? env.GATEWAY_REQUEST_TIMEOUT_MS ?? 10_000,
    maxBodyBytes: flags['max-body-bytes'] ?? env.GATEWAY_MAX_BODY_BYTES ?? 4 * 1024 * 1024,
    persistedOperations: (flags['persisted-operations'] as string | undefined) ?? env.GATEWAY_PERSISTED_OPERATIONS,
    onlyPersisted: Boolean(flags['only-persisted'] ?? env.GATEWAY_ONLY_PERSISTED === '1'),
    graphiql: !(flags['no-graphiql'] ?? production),
    redisUrl: env.REDIS_URL || undefined,
    repairQueuePrefix: env.REPAIR_QUEUE_PREFIX ?? 'dynamo',
    logLevel: flags['log-level'] || env.GATEWAY_LOG_LEVEL || env.LOG_LEVEL || 'info',
    logFormat: env.LOG_FORMAT || 'json',
    production,
    apiKeysFile: (flags['api-keys'] as string | undefined) ?? (env.GATEWAY_API_KEYS_FILE || undefined),
    jwks: (flags.jwks as string | undefined) ?? (env.GATEWAY_JWKS || undefined),
    jwtIssuer: env.GATEWAY_JWT_ISSUER || undefined,
    jwtAudience: env.GATEWAY_JWT_AUDIENCE || undefined,
    jwtClockToleranceS: env.GATEWAY_JWT_CLOCK_TOLERANCE_S ?? 5,
    allowAnonymous: Boolean(flags['allow-anonymous'] ?? env.GATEWAY_ALLOW_ANONYMOUS === '1'),
    introspection: !(flags['no-introspection'] ?? production),
    corsOrigins: (flags['cors-origins'] as string | undefined) ?? (env.GATEWAY_CORS_ORIGINS || undefined),
    rateLimitPoints: (flags['rate-limit-points'] as string | undefined) ?? (env.GATEWAY_RATE_LIMIT_POINTS || undefined),
    rateLimitDurationS: flags['rate-limit-duration-s'] ?? env.GATEWAY_RATE_LIMIT_DURATION_S ?? 1,
    rateLimitRedisUrl: env.GATEWAY_RATE_LIMIT_REDIS_URL || env.REDIS_URL || undefined,
    adminListen: (flags['admin-listen'] as string | undefined) ?? (env.GATEWAY_ADMIN_LISTEN || undefined),
  };
  const parsed = schema.safeParse(raw);
  if (!parsed.success) {
    throw invalidConfig('gateway configuration', parsed.error);
  }
  const tls = serverTls(flags['tls-cert'] ?? (env.GATEWAY_TLS_CERT || undefined), flags['tls-key'] ?? (env.GATEWAY_TLS_KEY || undefined), '--tls-cert/--tls-key (GATEWAY_TLS_CERT, GATEWAY_TLS_KEY)');
  const ca = (flags['tls-ca'] as string | undefined) ?? (env.DYNAMO_TLS_CA || undefined);
  if (ca === '') throw new ConfigError('--tls-ca names no file');
  const identityFile = (flags.identity as string | undefined) ?? (env.DYNAMO_IDENTITY || undefined);
  const credential = readCredential(identityFile, secret, { cluster: parsed.data.cluster, roles: ['client', 'admin'], what: 'the gateway' });
  const tracing = tracingSettings(flags['otel-endpoint'], env, { serviceName: 'dynamo-gateway' });
  return { ...parsed.data, tls, nodeTls: ca !== undefined ? readCa(ca, '--tls-ca (DYNAMO_TLS_CA)') : undefined, credential, tracing };
}
