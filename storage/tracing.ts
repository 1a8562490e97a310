// OpenTelemetry traces, for the gateway and the nodes: off unless an OTLP endpoint is set
// (docs/operations.md, Traces). With it, startTracing loads the SDK, exports spans in batches
// over OTLP/HTTP (JSON), and makes every request this process sends on the node protocol carry
// the span current when it is sent (protocol/trace-context.ts). A node then opens one span per
// request that arrives with a trace context, as a child of the sender's span, and runs the
// request inside it, so the requests it sends on (a coordinator's to its replicas) carry it.
//
// Off, nothing of the SDK is loaded: no span is made, and a request pays one null check to
// learn it carries no trace context.
import {
  context,
  isSpanContextValid,
  ROOT_CONTEXT,
  SpanKind,
  SpanStatusCode,
  trace,
  type Attributes,
  type Span,
  type TracerProvider,
} from '@opentelemetry/api';
import type { NodeId } from '../client/src/core/ring.ts';
import type { Reply, Request, TraceContext } from '../client/src/protocol/messages.ts';
import { setTraceSource } from '../client/src/protocol/trace-context.ts';
import type { Logger } from '../client/src/runtime.ts';
import type { TracingSettings } from './tracing-settings.ts';

/** Serves a request that arrived with a trace context, inside its own span (transport/server.ts). */
export interface RequestTracer {
  serve(parent: TraceContext, from: NodeId | null, request: Request, run: () => Promise<Reply>): Promise<Reply>;
}

export interface Tracing {
  readonly provider: TracerProvider;
  readonly requests: RequestTracer;
  /** exports the spans still buffered, then stops */
  shutdown(): Promise<void>;
}

/** The name of every span of this code: the instrumentation scope. */
const SCOPE = 'dynamo';

export async function startTracing(settings: TracingSettings, logger: Logger): Promise<Tracing> {
  // loaded only when tracing is on: a process without an endpoint never reads the SDK
  const [{ NodeTracerProvider }, { BatchSpanProcessor }, { OTLPTraceExporter }, { resourceFromAttributes }] = await Promise.all([
    import('@opentelemetry/sdk-trace-node'),
    import('@opentelemetry/sdk-trace-base'),
    import('@opentelemetry/exporter-trace-otlp-http'),
    import('@opentelemetry/resources'),
  ]);
  const resource = resourceFromAttributes({
    'service.name': settings.serviceName,
    ...(settings.instanceId ? { 'service.instance.id': settings.instanceId } : {}),
  });
  // the batch's size and delay follow OTEL_BSP_* when set
  const provider = new NodeTracerProvider({
    resource,
    spanProcessors: [new BatchSpanProcessor(new OTLPTraceExporter({ url: settings.url }))],
  });
  // the AsyncLocalStorage context manager and the W3C traceparent propagator
  provider.register();
  setTraceSource(currentTraceContext);
  logger.info('tracing on: spans are exported over OTLP/HTTP', { url: settings.url, service: settings.serviceName });
  const tracer = provider.getTracer(SCOPE);
  return {
    provider,
    requests: {
      serve(parent, from, request, run) {
        const remote = trace.setSpanContext(ROOT_CONTEXT, {
          traceId: parent.traceId,
          spanId: parent.spanId,
          traceFlags: parent.flags,
          isRemote: true,
        });
        const span = tracer.startSpan(
          `dynamo.${request.type}`,
          { kind: SpanKind.SERVER, attributes: requestAttributes(request, from) },
          remote,
        );
        return context.with(trace.setSpan(remote, span), run).then(
          (reply) => {
            endWith(span, reply);
            return reply;
          },
          (e: unknown) => {
            span.setStatus({ code: SpanStatusCode.ERROR, message: String(e) });
            span.end();
            throw e;
          },
        );
      },
    },
    async shutdown() {
      setTraceSource(null);
      await provider.shutdown();
    },
  };
}

/** The span current in this async context, as the protocol carries it. */
function currentTraceContext(): TraceContext | undefined {
  const sc = trace.getSpanContext(context.active());
  return sc && isSpanContextValid(sc) ? { traceId: sc.traceId, spanId: sc.spanId, flags: sc.traceFlags } : undefined;
}

/** What a request's span says about it: the method, the caller, the key or how many keys. */
function requestAttributes(request: Request, from: NodeId | null): Attributes {
  const a: Attributes = { 'rpc.system': SCOPE, 'rpc.method': request.type };
  if (from !== null) a['dynamo.peer'] = from;
  switch (request.type) {
    case 'get':
    case 'replicaRead':
    case 'inspect':
      a['dynamo.key'] = request.key;
      break;
    case 'put':
      a['dynamo.key'] = request.key;
      if (request.deleted) a['dynamo.put.delete'] = true;
      if (request.forwarded) a['dynamo.put.forwarded'] = true;
      if (request.condition) a['dynamo.put.condition'] = request.condition;
      if (request.op) a['dynamo.put.op'] = request.op.type;
      break;
    case 'replicaWrite':
      a['dynamo.key'] = request.key;
      a['dynamo.siblings'] = request.set.length;
      if (request.hintFor) a['dynamo.hint_for'] = request.hintFor;
      break;
    case 'mget':
    case 'replicaReadMany':
      a['dynamo.keys'] = request.keys.length;
      break;
  }
  return a;
}

/** Ends a request's span with what its reply says: acks, replies, or the error code. */
function endWith(span: Span, reply: Reply): void {
  switch (reply.type) {
    case 'error':
      span.setAttribute('dynamo.error.code', reply.code);
      span.setStatus({ code: SpanStatusCode.ERROR, message: reply.message });
      break;
    case 'putReply':
    case 'opReply':
      span.setAttribute('dynamo.acks', reply.acks);
      break;
    case 'getReply':
      span.setAttribute('dynamo.replies', reply.replies);
      span.setAttribute('dynamo.siblings', reply.set.length);
      break;
    case 'mgetReply':
      span.setAttribute('dynamo.errors', reply.items.filter((i) => i.type === 'error').length);
      break;
    case 'conflict':
      span.setAttribute('dynamo.conflict', true);
      break;
  }
  span.end();
}
