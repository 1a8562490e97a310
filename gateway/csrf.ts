// CSRF prevention, as Yoga's plugin and Apollo Server do it: a request a browser may send
// cross-site without a CORS preflight (a GET, or a POST of a form or of plain text) must carry
// a header that only a preflighted request can carry. Several are accepted, so the GraphQL
// clients frontend teams use get through as they come or with one header set:
//   x-graphql-yoga-csrf       Yoga's own, and this gateway's GraphiQL
//   apollo-require-preflight  Apollo Server's, which urql, graphql-request and others are told to send
//   x-apollo-operation-name   sent by Apollo's iOS and Kotlin clients
// A POST of JSON (Apollo Client, urql's mutations) is preflighted by its content type. GET
// mutations are refused whatever the headers: Yoga allows only queries over GET.
import { createGraphQLError, type Plugin } from 'graphql-yoga';

export const CSRF_HEADER = 'x-graphql-yoga-csrf';

/** Any one of them marks a request as preflighted. */
export const PREFLIGHT_HEADERS: readonly string[] = [CSRF_HEADER, 'apollo-require-preflight', 'x-apollo-operation-name'];

/** Content types a browser sends cross-site without a preflight (the CORS "simple" ones). */
const SIMPLE_CONTENT_TYPES = ['application/x-www-form-urlencoded', 'multipart/form-data', 'text/plain'];

function preflightedByType(contentType: string | null): boolean {
  if (!contentType) return false;
  const essence = contentType.split(';')[0]!.trim().toLowerCase();
  return !SIMPLE_CONTENT_TYPES.includes(essence);
}

export function useCsrfPrevention(headers: readonly string[] = PREFLIGHT_HEADERS): Plugin {
  return {
    onRequestParse({ request }) {
      if (preflightedByType(request.headers.get('content-type'))) return;
      if (headers.some((name) => request.headers.has(name))) return;
      throw createGraphQLError(
        `CSRF prevention: a ${request.method} without a JSON body must carry one of the headers ${headers.join(', ')} (any value). ` +
          `urql: fetchOptions: { headers: { 'apollo-require-preflight': 'true' } }; see docs/graphql.md, Clients`,
        { extensions: { code: 'BAD_REQUEST', http: { status: 403 } } },
      );
    },
  };
}
