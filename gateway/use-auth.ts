// The Yoga plugin that authenticates each GraphQL request and charges its rate limit, before
// the operation is parsed: a caller refused here learns nothing about the schema.
//
//   no credential, gateway not open  -> UNAUTHENTICATED (HTTP 401, WWW-Authenticate: Bearer)
//   a credential that does not verify -> UNAUTHENTICATED (401), charged to the caller's IP
//   over the principal's rate limit   -> RATE_LIMITED (HTTP 429, Retry-After)
//
// The principal is kept per request for the context factory; scopes are checked by the
// resolvers (FORBIDDEN per field, so a getMany answers the keys it may read).
import { GraphQLError } from 'graphql';
import type { Plugin } from 'graphql-yoga';
import { AuthError, type Authenticator } from './auth.ts';
import type { GatewayMetrics } from './metrics.ts';
import type { Principal } from './principal.ts';
import type { RateLimit } from './rate-limit.ts';

/** What the HTTP server hands Yoga with each request. */
export interface ServerContext {
  /** the peer's address, for anonymous rate limits (asked only when needed: uWS formats it anew each time) */
  readonly peer?: () => string | undefined;
}

const principals = new WeakMap<Request, Principal>();

/** The principal the plugin found for this request. */
export function principalOf(request: Request): Principal | undefined {
  return principals.get(request);
}

export function useAuth(o: {
  auth: Authenticator;
  rateLimit: RateLimit | null;
  metrics: GatewayMetrics | null;
}): Plugin<Record<string, unknown>, ServerContext> {
  const refuse = (code: string, message: string, status: number, headers: Record<string, string>) => {
    o.metrics?.errors.inc({ code });
    return new GraphQLError(message, { extensions: { code, http: { status, headers } } });
  };
  const limit = async (id: string) => {
    const wait = await o.rateLimit?.take(id);
    if (wait != null) throw refuse('RATE_LIMITED', `rate limit reached; try again in ${wait} s`, 429, { 'Retry-After': String(wait) });
  };
  return {
    async onParams({ request, context }) {
      if (principals.has(request)) return; // a batch: authenticated once
      // read only for an anonymous caller or a refusal: a credential's limit is counted by its name
      const ip = () => (context as ServerContext).peer?.() ?? 'unknown';
      let principal: Principal;
      try {
        principal = await o.auth.authenticate(request.headers.get('authorization'), ip);
      } catch (e) {
        if (!(e instanceof AuthError)) throw e;
        if (e.code === 'UNAVAILABLE') throw refuse('UNAVAILABLE', e.message, 503, {});
        // guessing credentials costs the guesser's address its rate limit
        await limit(`ip:${ip()}`);
        throw refuse('UNAUTHENTICATED', e.message, 401, { 'WWW-Authenticate': 'Bearer' });
      }
      if (principal.kind === 'anonymous' && !o.auth.open) {
        await limit(`ip:${ip()}`);
        throw refuse('UNAUTHENTICATED', 'this gateway needs a credential: Authorization: Bearer <API key or JWT>', 401, {
          'WWW-Authenticate': 'Bearer',
        });
      }
      await limit(principal.limitId);
      principals.set(request, principal);
      o.metrics?.operations.inc();
    },
  };
}
