// The gateway's configuration: one row per setting (flags over environment over defaults),
// validated at start.
import { redisSetting } from '../jobs/redis-address.ts';
import { z } from 'zod';
import { ConfigError, readCredential, type NodeCredential } from '../storage/config.ts';
import { intSetting, nameSetting, parseSettings, usage, type Table, type Values } from '../storage/settings/table.ts';
import { logSettings } from '../storage/logging.ts';
import type { ClientTls } from '../client/src/transport/tls.ts';
import { readCa, serverTls, type ServerTls } from '../storage/transport/tls.ts';
import { tracingSettings, type TracingSettings } from '../storage/tracing-settings.ts';
import { trustedProxies } from './client-address.ts';

const list = (s: string) => s.split(',').map((x) => x.trim()).filter(Boolean);

/** The gateway's settings, one row each (storage/settings/table.ts). */
export const GATEWAY_SETTINGS = {
  host: { flag: 'host', env: 'GATEWAY_HOST', arg: 'HOST', schema: z.string().min(1), default: '127.0.0.1', help: 'where GraphQL listens' },
  port: { flag: 'port', env: 'GATEWAY_PORT', arg: 'PORT', schema: intSetting(0, 65535), default: 4000, help: 'where GraphQL listens' },
  seeds: {
    flag: 'seeds', env: 'DYNAMO_SEEDS', arg: 'HOST:PORT,...', default: '', shown: 'required', help: 'storage nodes to learn the ring from',
    schema: z
      .string()
      .min(1, 'seed nodes are required (--seeds or DYNAMO_SEEDS)')
      .transform(list)
      .pipe(z.array(z.string().regex(/^[^\s:]+:\d{1,5}$/, 'each seed is host:port')).min(1)),
  },
  cluster: {
    flag: 'cluster', env: 'DYNAMO_CLUSTER', arg: 'NAME',
    schema: nameSetting('cluster name'), default: 'dev',
    help: "the cluster's name",
  },
  identityFile: {
    flag: 'identity', env: 'DYNAMO_IDENTITY', arg: 'FILE', schema: z.string().min(1),
    help: "the gateway's identity on the node protocol: client (data only), or admin for its admin fields (ring changes, replicas, hints)",
  },
  secret: {
    flag: 'secret-file', env: 'DYNAMO_SECRET', arg: 'FILE', file: true, secret: true, schema: z.string(),
    shown: 'required without --identity',
    help: 'the cluster secret (the flag names a file holding it): legacy mode',
  },
  contextKeys: {
    flag: 'context-keys', env: 'GATEWAY_CONTEXT_KEYS', arg: 'KEY,...', secret: true, required: true,
    schema: z.string().transform(list).pipe(z.array(z.string().min(32, 'each context signing key must be at least 32 characters')).min(1)),
    help: 'context signing keys (>= 32 chars); the first signs, all verify; every gateway of the cluster shares them',
  },
  adminToken: {
    flag: 'admin-token', env: 'ADMIN_TOKEN', arg: 'TOKEN', secret: true,
    schema: z.string().min(16, 'ADMIN_TOKEN must be at least 16 characters'), shown: 'unset',
    help: 'a bearer credential with the admin scope only (admin fields, /metrics, /admin/queues), >= 16 chars; not a data credential',
  },
  apiKeysFile: {
    flag: 'api-keys', env: 'GATEWAY_API_KEYS_FILE', arg: 'FILE', schema: z.string().min(1), shown: 'unset',
    help: 'API keys and their scopes: JSON {"<token or sha256:hex>": {name, read, write, admin}}',
    note: '([Authentication](#authentication))',
  },
  jwks: {
    flag: 'jwks', env: 'GATEWAY_JWKS', arg: 'SOURCE', schema: z.string().min(1), shown: 'unset',
    help: 'JWKS URL, JWKS file or PEM public key for JWTs with a "dynamo" claim',
  },
  jwtIssuer: {
    flag: 'jwt-issuer', env: 'GATEWAY_JWT_ISSUER', arg: 'ISS', schema: z.string().min(1), shown: 'unset: not checked',
    help: 'expected iss of JWTs',
  },
  jwtAudience: {
    flag: 'jwt-audience', env: 'GATEWAY_JWT_AUDIENCE', arg: 'AUD', schema: z.string().min(1), shown: 'unset: not checked',
    help: 'expected aud of JWTs',
  },
  jwtClockToleranceS: {
    flag: 'jwt-clock-tolerance-s', env: 'GATEWAY_JWT_CLOCK_TOLERANCE_S', arg: 'S', schema: intSetting(0, 300), default: 5,
    help: 'skew allowed on exp and nbf',
  },
  allowAnonymous: {
    flag: 'allow-anonymous', env: 'GATEWAY_ALLOW_ANONYMOUS', schema: z.boolean(), default: false, shown: 'off',
    help: 'with NODE_ENV=production, start open (no API keys or JWT) on purpose: every caller may read and write every key',
  },
  corsOrigins: {
    flag: 'cors-origins', env: 'GATEWAY_CORS_ORIGINS', arg: 'O,...', shown: 'unset: none',
    help: 'browser origins (https://app.example) allowed cross-origin, or *',
    schema: z
      .string()
      .transform(list)
      .pipe(z.array(z.string().regex(/^(\*|https?:\/\/[^/\s,]+)$/, 'each CORS origin is scheme://host[:port] (no path) or *'))),
  },
  rateLimitPoints: {
    flag: 'rate-limit-points', env: 'GATEWAY_RATE_LIMIT_POINTS', arg: 'P', schema: intSetting(1, 1_000_000), shown: 'unset: no limit',
    help: 'requests per principal per window',
  },
  rateLimitDurationS: {
    flag: 'rate-limit-duration-s', env: 'GATEWAY_RATE_LIMIT_DURATION_S', arg: 'S', schema: intSetting(1, 86_400), default: 1,
    help: 'the rate limit window',
  },
  rateLimitRedisUrl: {
    flag: 'rate-limit-redis-url', env: 'GATEWAY_RATE_LIMIT_REDIS_URL', arg: 'URL', schema: redisSetting('GATEWAY_RATE_LIMIT_REDIS_URL'),
    shown: '--redis-url',
    defaultOf: (p) => p.redisUrl, help: 'the Redis the limits are shared in (required with a limit)',
    note: 'any form of [the repair Redis](#the-repair-redis)',
  },
  trustProxy: {
    flag: 'trust-proxy', env: 'GATEWAY_TRUST_PROXY', arg: 'ADDR[/BITS],...', shown: 'unset: the peer is the client',
    help: 'proxies whose X-Forwarded-For names the client (for rate limits and refused credentials); IPv4 or IPv6, /prefix allowed',
    schema: z
      .string()
      .transform(list)
      .superRefine((entries, ctx) => {
        try {
          trustedProxies(entries);
        } catch (e) {
          ctx.addIssue({ code: 'custom', message: (e as Error).message });
        }
      }),
  },
  adminListen: {
    flag: 'admin-listen', env: 'GATEWAY_ADMIN_LISTEN', arg: 'HOST:PORT',
    schema: z.string().regex(/^[^\s:]+:\d{1,5}$/, '--admin-listen is HOST:PORT'), shown: 'unset',
    help: 'serve /metrics (open) and /admin/queues (admin scope) there only, not on the public port',
  },
  tlsCert: {
    flag: 'tls-cert', env: 'GATEWAY_TLS_CERT', arg: 'FILE', schema: z.string(), shown: 'unset: plain http',
    help: 'serve https with this PEM certificate (with --tls-key), on --port and --admin-listen',
  },
  tlsKey: { flag: 'tls-key', env: 'GATEWAY_TLS_KEY', arg: 'FILE', schema: z.string(), help: "the certificate's PEM key" },
  tlsCa: {
    flag: 'tls-ca', env: 'DYNAMO_TLS_CA', arg: 'FILE[,FILE]', schema: z.string().min(1, '--tls-ca names no file'),
    shown: 'unset: plain ws://',
    help: 'the nodes speak TLS: dial them over wss:// trusting these authorities (old and new during a rotation)',
  },
  noIntrospection: {
    flag: 'no-introspection', env: 'GATEWAY_NO_INTROSPECTION', schema: z.boolean(), defaultOf: (_, env) => env.NODE_ENV === 'production',
    shown: 'on with NODE_ENV=production', help: 'refuse schema introspection',
  },
  nodeTimeoutMs: {
    flag: 'node-timeout-ms', env: 'GATEWAY_NODE_TIMEOUT_MS', arg: 'T', schema: intSetting(100, 600_000), default: 5000,
    help: "wait for a node's answer (longer than the nodes' own 1000 + forwarding)",
  },
  requestTimeoutMs: {
    flag: 'request-timeout-ms', env: 'GATEWAY_REQUEST_TIMEOUT_MS', arg: 'T', schema: intSetting(100, 600_000), default: 10_000,
    help: 'the whole operation',
  },
  maxBodyBytes: {
    flag: 'max-body-bytes', env: 'GATEWAY_MAX_BODY_BYTES', arg: 'B', schema: intSetting(1024, 64 * 1024 * 1024), default: 4 * 1024 * 1024,
    shown: '4 MiB', help: 'largest request body',
  },
  noCompiledExecution: {
    flag: 'no-compiled-execution', env: 'GATEWAY_NO_COMPILED_EXECUTION', schema: z.boolean(), default: false, shown: 'off',
    help: 'run every operation on the interpreter: by default one run before is executed compiled (graphql-jit), with the same answers',
  },
  persistedOperations: {
    flag: 'persisted-operations', env: 'GATEWAY_PERSISTED_OPERATIONS', arg: 'FILE', schema: z.string(), shown: 'unset',
    help: 'JSON file {sha256: query} of persisted operations',
  },
  onlyPersisted: {
    flag: 'only-persisted', env: 'GATEWAY_ONLY_PERSISTED', schema: z.boolean(), default: false, shown: 'off',
    help: 'refuse operations that are not persisted',
  },
  redisUrl: {
    flag: 'redis-url', env: 'REDIS_URL', arg: 'URL', schema: redisSetting('REDIS_URL'), shown: 'unset: off',
    help: "the repair queues' Redis: the dashboard at /admin/queues, GraphQL repair status and sweeps; " +
      'the gateway starts without it, logs an outage once and connects when it answers',
    note: '([three forms](#the-repair-redis))',
  },
  repairQueuePrefix: {
    flag: 'repair-queue-prefix', env: 'REPAIR_QUEUE_PREFIX', arg: 'NAME', schema: nameSetting('queue prefix'),
    default: 'dynamo', help: "the repair queues' name",
  },
  noGraphiql: {
    flag: 'no-graphiql', env: 'GATEWAY_NO_GRAPHIQL', schema: z.boolean(), defaultOf: (_, env) => env.NODE_ENV === 'production',
    shown: 'on with NODE_ENV=production', help: 'no GraphiQL page',
  },
  ...logSettings('GATEWAY_LOG_LEVEL'),
  otelEndpoint: {
    flag: 'otel-endpoint', env: 'OTEL_EXPORTER_OTLP_ENDPOINT', arg: 'URL', schema: z.string(), shown: 'unset: off',
    help: 'send OpenTelemetry traces to this OTLP/HTTP collector, e.g. http://127.0.0.1:4318',
    note: '([docs/operations.md](docs/operations.md#traces))',
  },
  watchMaxKeys: {
    flag: 'watch-max-keys', env: 'GATEWAY_WATCH_MAX_KEYS', arg: 'K', schema: intSetting(1, 1000), default: 100,
    help: 'keys one watch subscription names', note: '([docs/watches.md](docs/watches.md))',
  },
  watchMaxPerClient: {
    flag: 'watch-max-per-client', env: 'GATEWAY_WATCH_MAX_PER_CLIENT', arg: 'C', schema: intSetting(1, 100_000), default: 16,
    help: 'open watches per principal (API key, JWT subject, or address when anonymous)',
  },
  watchMaxStreams: {
    flag: 'watch-max-streams', env: 'GATEWAY_WATCH_MAX_STREAMS', arg: 'S', schema: intSetting(1, 1_000_000), default: 1000,
    help: 'open watches on this gateway; each is one Server-Sent Events connection',
  },
  watchMaxBufferBytes: {
    flag: 'watch-max-buffer-bytes', env: 'GATEWAY_WATCH_MAX_BUFFER_BYTES', arg: 'B', schema: intSetting(1024, 256 * 1024 * 1024),
    default: 1024 * 1024, shown: '1 MiB',
    help: "events a watcher may leave unread beyond the socket's own buffers before it is dropped",
  },
} as const satisfies Table;

type FileSettings = 'identityFile' | 'secret' | 'tlsCert' | 'tlsKey' | 'tlsCa' | 'otelEndpoint' | 'noGraphiql' | 'noIntrospection';

export type GatewayConfig = Omit<Values<typeof GATEWAY_SETTINGS>, FileSettings> & {
  /** NODE_ENV=production: GraphiQL and introspection off by default, data authentication required */
  readonly production: boolean;
  readonly graphiql: boolean;
  readonly introspection: boolean;
  /** serve https (and the --admin-listen routes) with this certificate; plain http without */
  readonly tls: ServerTls | undefined;
  /** dial the nodes over wss:// trusting these authorities; plain ws:// without */
  readonly nodeTls: ClientTls | undefined;
  /** what the gateway proves to the nodes: its identity (client, or admin for the admin fields), or the secret */
  readonly credential: NodeCredential;
  /** OpenTelemetry traces (storage/tracing-settings.ts); null: off */
  readonly tracing: TracingSettings | null;
};

export const USAGE = usage(
  'gateway: the GraphQL front door of the cluster',
  GATEWAY_SETTINGS,
  'NODE_ENV=production turns GraphiQL and introspection off and requires data authentication (API keys or JWT, or --allow-anonymous).',
);

/** The checks that span settings: each a message when it fails. */
function crossChecks(c: Values<typeof GATEWAY_SETTINGS>, production: boolean): string[] {
  const problems: string[] = [];
  if (c.requestTimeoutMs <= c.nodeTimeoutMs) {
    problems.push('--request-timeout-ms: the request timeout must be longer than the node timeout');
  }
  if (c.onlyPersisted && !c.persistedOperations) problems.push('--only-persisted needs --persisted-operations FILE');
  if (production && !c.apiKeysFile && !c.jwks && !c.allowAnonymous) {
    problems.push(
      'NODE_ENV=production and no data authentication: anyone who reaches the gateway could read and write every key. ' +
        'Set GATEWAY_API_KEYS_FILE (--api-keys FILE) or GATEWAY_JWKS (--jwks), or pass --allow-anonymous to run open on purpose',
    );
  }
  if (c.rateLimitPoints !== undefined && !c.rateLimitRedisUrl) {
    problems.push('rate limits are shared through Redis: set GATEWAY_RATE_LIMIT_REDIS_URL or REDIS_URL');
  }
  if (!c.jwks && (c.jwtIssuer || c.jwtAudience)) problems.push('a JWT issuer or audience needs GATEWAY_JWKS');
  return problems;
}

export function loadGatewayConfig(argv: string[], env: NodeJS.ProcessEnv): GatewayConfig {
  const { values, from } = parseSettings(GATEWAY_SETTINGS, argv, env, { usage: USAGE, what: 'gateway configuration' });
  const production = env.NODE_ENV === 'production';
  const problems = crossChecks(values, production);
  if (problems.length > 0) throw new ConfigError(`invalid gateway configuration:\n${problems.map((p) => `  ${p}`).join('\n')}`);
  const { identityFile, secret, tlsCert, tlsKey, tlsCa: ca, otelEndpoint, noGraphiql, noIntrospection, ...rest } = values;
  const tls = serverTls(tlsCert, tlsKey, '--tls-cert/--tls-key (GATEWAY_TLS_CERT, GATEWAY_TLS_KEY)');
  const credential = readCredential(identityFile, secret, { cluster: values.cluster, roles: ['client', 'admin'], what: 'the gateway' });
  // the environment's OTEL_* variables are read by tracingSettings, with their own rules
  const tracing = tracingSettings(from.otelEndpoint === 'flag' ? otelEndpoint : undefined, env, { serviceName: 'dynamo-gateway' });
  const nodeTls = ca !== undefined ? readCa(ca, '--tls-ca (DYNAMO_TLS_CA)') : undefined;
  return { ...rest, production, graphiql: !noGraphiql, introspection: !noIntrospection, tls, nodeTls, credential, tracing };
}
