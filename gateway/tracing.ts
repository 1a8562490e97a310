// The gateway's traces (docs/operations.md, Traces): one span per GraphQL operation from
// @envelop/opentelemetry, joined to the caller's trace when the request carries a W3C
// `traceparent` header. The operation runs inside its span, so the requests the client library
// sends for it carry the span to the nodes (storage/tracing.ts). Only installed when tracing is on.
import { context, propagation, SpanKind, type TextMapGetter, type TracerProvider } from '@opentelemetry/api';
import { setCurrentOtelContext, useOpenTelemetry } from '@envelop/opentelemetry';
import type { Plugin } from 'graphql-yoga';

const headerGetter: TextMapGetter<Headers> = {
  keys: (headers) => [...headers.keys()],
  get: (headers, key) => headers.get(key) ?? undefined,
};

export function useTracing(provider: TracerProvider): Plugin[] {
  return [
    {
      // before the operation's span opens: its parent is the caller's span, when there is one
      onContextBuilding({ context: graphqlContext }) {
        setCurrentOtelContext(graphqlContext, propagation.extract(context.active(), graphqlContext.request.headers, headerGetter));
      },
    },
    // the document is kept only when it has no inline arguments (values and keys stay out);
    // variables, results and per-field spans are left out
    useOpenTelemetry({ resolvers: false, variables: false, result: false }, provider, SpanKind.SERVER, {}, 'dynamo-gateway') as Plugin,
  ];
}
