// The GraphQL server: Yoga over the Pothos schema, with each production habit as a plugin:
// masked errors with stable codes, GraphQL Armor limits, CSRF prevention, health and
// readiness, a request timeout, a body size limit, optional persisted operations, and
// authentication with rate limits, a CORS allowlist and introspection off in production.
import { readFileSync } from 'node:fs';
import DataLoader from 'dataloader';
import { GraphQLError } from 'graphql';
import { createYoga, maskError as defaultMaskError, type Plugin, type YogaServerInstance } from 'graphql-yoga';
import { usePersistedOperations } from '@graphql-yoga/plugin-persisted-operations';
import { useDisableIntrospection } from '@graphql-yoga/plugin-disable-introspection';
import { EnvelopArmor } from '@escape.tech/graphql-armor';
import { StoreError } from '../client/src/core/errors.ts';
import type { DynamoClient, ReadResult } from '../client/src/client.ts';
import type { Logger } from '../client/src/runtime.ts';
import type { GatewayContext, ReadKeys, ReadResults } from '../schema/context.ts';
import { schema } from '../schema/index.ts';
import { AccessError } from '../schema/access.ts';
import { WriteConflict } from '../schema/conflict.ts';
import { MAX_OPERATION_KEYS } from '../schema/versions.ts';
import type { ContextSigner } from './context-token.ts';
import { CSRF_HEADER, PREFLIGHT_HEADERS, useCsrfPrevention } from './csrf.ts';
import { Authenticator } from './auth.ts';
import { useCompiledExecution, type CompiledExecution } from './compiled-execution.ts';
import { graphiqlAssets, renderGraphiQL } from './graphiql.ts';
import type { GatewayMetrics } from './metrics.ts';
import type { RateLimit } from './rate-limit.ts';
import type { WatchHub } from './watch/hub.ts';
import { principalOf, useAuth, type ServerContext } from './use-auth.ts';

export { CSRF_HEADER } from './csrf.ts';

export interface GatewayOptions {
  /** the store; null until the gateway has reached the cluster (requests get UNAVAILABLE) */
  readonly client: () => DynamoClient | null;
  readonly contexts: ContextSigner;
  /** who may do what; without one the gateway runs open with this admin token */
  readonly auth?: Authenticator;
  readonly adminToken?: string;
  readonly rateLimit?: RateLimit | null;
  readonly metrics?: GatewayMetrics | null;
  /** browser origins allowed cross-origin ('*' for any); none when unset */
  readonly corsOrigins?: readonly string[];
  /** schema introspection (default on) */
  readonly introspection?: boolean;
  readonly requestTimeoutMs: number;
  readonly maxBodyBytes: number;
  readonly persistedOperations?: string;
  readonly onlyPersisted?: boolean;
  readonly graphiql: boolean;
  readonly logger: Logger;
  readonly repair?: GatewayContext['repair'];
  /** OpenTelemetry spans per operation (gateway/tracing.ts); absent: tracing off */
  readonly tracing?: readonly Plugin[];
  /** live watches; without it the watch subscription answers UNAVAILABLE */
  readonly watches?: WatchHub | null;
  /** operations run before are executed compiled (gateway/compiled-execution.ts): by default by a plugin of its own; null: never */
  readonly compiledExecution?: CompiledExecution | null;
}

export type Gateway = YogaServerInstance<ServerContext, GatewayContext>;

export function createGateway(o: GatewayOptions): Gateway {
  const auth = o.auth ?? new Authenticator({ adminToken: o.adminToken });
  const armor = new EnvelopArmor({
    // the standard introspection query (GraphiQL, codegen) is 15 deep; no data query comes near
    maxDepth: { n: 16, ignoreIntrospection: false, flattenFragments: true },
    maxAliases: { n: 30 },
    // a getMany of 1000 keys written inline is about 1000 tokens
    maxTokens: { n: 5000 },
    costLimit: { maxCost: 5000 },
    maxDirectives: { n: 50 },
  });
  const persisted = o.persistedOperations ? loadPersisted(o.persistedOperations) : null;

  return createYoga<ServerContext, GatewayContext>({
    schema,
    graphqlEndpoint: '/graphql',
    healthCheckEndpoint: '/health',
    landingPage: false,
    // the HTTP server buffers bodies up to the same limit and refuses larger ones; Yoga's own
    // streaming check costs a TransformStream and an AbortSignal per request
    maxRequestBodySize: false,
    graphiql: o.graphiql ? { title: 'Dynamo gateway', headers: JSON.stringify({ [CSRF_HEADER]: '1' }) } : false,
    renderGraphiQL,
    logging: false,
    // never in development mode: error details (stack traces, parser internals) stay in the log
    maskedErrors: { isDev: false, maskError: (error, message) => exposeStoreErrors(error, message, false, o.logger, o.metrics ?? null) },
    cors: corsPolicy(o.corsOrigins ?? []),
    context: ({ request }) => {
      const principal = principalOf(request);
      if (!principal) throw new Error('no principal: the auth plugin did not run');
      const client = o.client();
      if (!client) throw new StoreError('UNAVAILABLE', 'the gateway has not reached the cluster yet');
      return {
        client,
        reads: readLoader(client),
        contexts: o.contexts,
        readBudget: { left: MAX_OPERATION_KEYS },
        principal,
        repair: o.repair ?? null,
        watches: o.watches ?? null,
        // only a streamed answer (a watch, over Server-Sent Events) has a signal that can fire
        // (http.ts); for any other request making one would cost an AbortSignal for nothing
        gone: request.headers.get('accept')?.includes('text/event-stream') ? request.signal : undefined,
      };
    },
    plugins: [
      // first, so the plugins that wrap the execution (tracing's context) wrap the compiled one
      ...(o.compiledExecution === null ? [] : [o.compiledExecution ?? useCompiledExecution()]),
      bodyLimit(o.maxBodyBytes),
      ...(o.tracing ?? []),
      ...(o.metrics ? [o.metrics.plugin] : []),
      ...(o.graphiql ? [graphiqlAssets()] : []),
      useAuth({ auth, rateLimit: o.rateLimit ?? null, metrics: o.metrics ?? null }),
      ...(o.introspection === false ? [useDisableIntrospection()] : []),
      useCsrfPrevention(PREFLIGHT_HEADERS),
      ...armor.protect().plugins,
      ...(persisted
        ? [
            usePersistedOperations({
              getPersistedOperation: (hash: string) => persisted.get(hash) ?? null,
              allowArbitraryOperations: !o.onlyPersisted,
            }),
          ]
        : []),
      requestTimeout(o.requestTimeoutMs),
      readinessCheck('/ready', async () => {
        const client = o.client();
        if (!client) return false;
        await client.refreshRing();
        return true;
      }),
    ],
  });
}

/**
 * One loader per operation: every get and getMany of the operation goes into one batch, each
 * (r, key) read once, and the client sends one multi-get frame per coordinator. A getMany is one
 * load of its whole list (one promise, not one per key); a key that failed is its StoreError in
 * place.
 */
export function readLoader(client: DynamoClient): DataLoader<ReadKeys, ReadResults, string> {
  return new DataLoader<ReadKeys, ReadResults, string>(
    async (batch) => {
      // an operation of one get (the usual one): its key, nothing to share out
      if (batch.length === 1 && batch[0]!.keys.length === 1) return [await client.getMany(batch[0]!.keys, { r: batch[0]!.r })];
      // each quorum's distinct keys, each to be answered by its result
      const byR = new Map<number, Map<string, ReadResult | Error | undefined>>();
      for (const { keys, r } of batch) {
        let wanted = byR.get(r);
        if (!wanted) byR.set(r, (wanted = new Map()));
        for (const key of keys) wanted.set(key, undefined);
      }
      await Promise.all(
        [...byR].map(async ([r, wanted]) => {
          const keys = [...wanted.keys()];
          const results = await client.getMany(keys, { r });
          keys.forEach((key, i) => wanted.set(key, results[i]));
        }),
      );
      return batch.map(({ keys, r }) => {
        const wanted = byR.get(r)!;
        return keys.map((key) => wanted.get(key)!);
      });
    },
    {
      // one key's read as a get made it, so the same key asked twice in an operation is read once;
      // a list by its JSON, after a different separator (a key may hold any character)
      cacheKeyFn: ({ keys, r }) => (keys.length === 1 ? `${r}\u0000${keys[0]}` : `${r}\u0001${JSON.stringify(keys)}`),
      maxBatchSize: 10_000,
    },
  );
}

/** StoreErrors, conditional writes refused (WriteConflict) and scope refusals (AccessError) become GraphQL errors with `extensions.code` (and a StoreError's details); anything else is masked. */
function exposeStoreErrors(error: unknown, message: string, isDev: boolean, logger: Logger, metrics: GatewayMetrics | null): Error {
  const original = error instanceof GraphQLError && error.originalError ? error.originalError : error;
  if (original instanceof StoreError) {
    metrics?.errors.inc({ code: original.code });
    const path = error instanceof GraphQLError ? error.path : undefined;
    return new GraphQLError(original.message, { path, extensions: { code: original.code, ...original.details } });
  }
  if (original instanceof WriteConflict) {
    metrics?.errors.inc({ code: original.code });
    return new GraphQLError(original.message, {
      path: error instanceof GraphQLError ? error.path : undefined,
      extensions: { code: original.code, ...original.extensions },
    });
  }
  if (original instanceof AccessError) {
    metrics?.errors.inc({ code: original.code });
    return new GraphQLError(original.message, {
      path: error instanceof GraphQLError ? error.path : undefined,
      extensions: { code: original.code },
    });
  }
  // graphql-js's own answer to the caller (a variable the schema refuses wraps the scalar's refusal)
  const ours = error instanceof GraphQLError && (!error.originalError || (original instanceof GraphQLError && !original.originalError));
  if (ours) return error;
  logger.error('unexpected error in an operation', { error: original instanceof Error ? original.stack : String(original) });
  return defaultMaskError(error, message, isDev);
}

function requestTimeout(ms: number): Plugin {
  return {
    onExecute({ executeFn, setExecuteFn }) {
      setExecuteFn((args) => {
        const result = executeFn(args);
        // an answer made without waiting needs no timer
        if (!isPromise(result)) return result;
        return new Promise((resolve, reject) => {
          const timeout = () => new GraphQLError(`the operation did not finish within ${ms} ms`, { extensions: { code: 'TIMEOUT' } });
          const timer = setTimeout(() => resolve({ errors: [timeout()] }), ms);
          result.then(
            (r) => {
              clearTimeout(timer);
              resolve(r);
            },
            (e: unknown) => {
              clearTimeout(timer);
              reject(e);
            },
          );
        }) as ReturnType<typeof executeFn>;
      });
    },
  };
}

function isPromise<T>(x: T | Promise<T>): x is Promise<T> {
  return typeof (x as { then?: unknown } | null)?.then === 'function';
}

/**
 * Yoga's useReadinessCheck, answering the same way (200 when ready, 503 when not, 503 with the
 * error's message when the check fails), for exactly the path `endpoint`: the library ran a
 * URLPattern test on every request whose URL ends with the endpoint's text (~10 µs per request).
 */
function readinessCheck(endpoint: string, check: () => Promise<boolean>): Plugin {
  return {
    onRequest({ url, endResponse, fetchAPI }) {
      if (url.pathname !== endpoint) return;
      return check().then(
        (ready) => endResponse(new fetchAPI.Response(null, { status: ready ? 200 : 503 })),
        (err: unknown) => {
          const isError = err instanceof Error;
          endResponse(
            new fetchAPI.Response(isError ? err.message : null, {
              status: 503,
              headers: isError ? { 'content-type': 'text/plain; charset=utf-8' } : {},
            }),
          );
        },
      );
    },
  };
}

function bodyLimit(max: number): Plugin {
  return {
    onRequest({ request, endResponse, fetchAPI }) {
      const length = Number(request.headers.get('content-length') ?? 0);
      if (length > max) {
        endResponse(
          new fetchAPI.Response(
            JSON.stringify({
              errors: [{ message: `request body of ${length} bytes exceeds ${max}`, extensions: { code: 'BAD_REQUEST' } }],
            }),
            {
              status: 413,
              headers: { 'content-type': 'application/json' },
            },
          ),
        );
      }
    },
  };
}

function loadPersisted(path: string): Map<string, string> {
  const parsed = JSON.parse(readFileSync(path, 'utf8')) as unknown;
  if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed)) throw new Error(`${path} must hold a JSON object of {hash: query}`);
  return new Map(Object.entries(parsed as Record<string, string>));
}

/**
 * CORS: an origin on the allowlist gets the CORS headers (no credentials: callers send a
 * bearer token, never cookies); any other origin gets none, so a browser refuses it.
 */
function corsPolicy(origins: readonly string[]) {
  const any = origins.includes('*');
  return (request: Request) => {
    const origin = request.headers.get('origin');
    if (!origin || !(any || origins.includes(origin))) return false as const;
    return {
      origin: [origin],
      credentials: false,
      methods: ['GET', 'POST', 'OPTIONS'],
      allowedHeaders: ['authorization', 'content-type', ...PREFLIGHT_HEADERS],
      maxAge: 600,
    };
  };
}
