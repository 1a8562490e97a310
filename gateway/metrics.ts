// The gateway's Prometheus metrics: Yoga's and envelop's request counts, durations and
// errors (@graphql-yoga/plugin-prometheus), the error codes callers were given (refusals
// included), the process's own figures, and whether the gateway has reached the cluster.
// admin-routes.ts serves them at /metrics to the admin scope, or open on the admin listen
// address; nodes and repair workers serve their own.
import { usePrometheus } from '@graphql-yoga/plugin-prometheus';
import type { Plugin } from 'graphql-yoga';
import { Counter, Gauge, Registry, collectDefaultMetrics } from 'prom-client';

export class GatewayMetrics {
  readonly registry = new Registry();
  readonly operations = new Counter({
    name: 'dynamo_gateway_operations_total',
    help: 'GraphQL operations let through authentication and rate limits',
    registers: [this.registry],
  });
  readonly errors = new Counter({
    name: 'dynamo_gateway_errors_total',
    help: 'Errors given to callers by extensions.code (UNAUTHENTICATED, FORBIDDEN, RATE_LIMITED, QUORUM_NOT_MET, ...)',
    labelNames: ['code'],
    registers: [this.registry],
  });
  /** Yoga's request metrics into this registry; the plugin serves no route of its own */
  readonly plugin: Plugin;

  constructor(connected: () => boolean) {
    collectDefaultMetrics({ register: this.registry });
    new Gauge({
      name: 'dynamo_gateway_cluster_connected',
      help: '1 once the gateway has learned the ring from the cluster, 0 before (requests get UNAVAILABLE)',
      registers: [this.registry],
      collect() {
        this.set(connected() ? 1 : 0);
      },
    });
    // the url label stays off: one series per path a scanner tries would grow without bound.
    // Default metrics that cost every request something and tell nothing the others do not are
    // off: the deprecated-field counter walks every operation's document (the schema deprecates
    // nothing); the request-time summary (a t-digest per label set) repeats the request-duration
    // histogram; so does the execute-phase histogram, observation for observation (the library
    // times both from the start of execute to its end). The parse, validate and context phases
    // take microseconds (Yoga caches parsed and validated documents) and the library times them
    // with Date.now(), so their histograms record 0 ms almost every time.
    this.plugin = usePrometheus({
      registry: this.registry,
      endpoint: false,
      labels: { url: false },
      metrics: {
        graphql_envelop_deprecated_field: false,
        graphql_envelop_request_time_summary: false,
        graphql_envelop_phase_execute: false,
        graphql_envelop_phase_parse: false,
        graphql_envelop_phase_validate: false,
        graphql_envelop_phase_context: false,
      },
    }) as Plugin;
  }
}
