// The gateway's Prometheus metrics: Yoga's and envelop's request counts, durations, phases and
// errors (the series of @graphql-yoga/plugin-prometheus, recorded by graphql-metrics.ts), the
// error codes callers were given (refusals included), the process's own figures, and whether the gateway has reached the cluster.
// admin-routes.ts serves them at /metrics to the admin scope, or open on the admin listen
// address; nodes and repair workers serve their own.
import type { Plugin } from 'graphql-yoga';
import { Counter, Gauge, Registry, collectDefaultMetrics } from 'prom-client';
import { useGraphqlMetrics } from './graphql-metrics.ts';

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
    // Yoga's and envelop's series as @graphql-yoga/plugin-prometheus records them, the url label
    // off (one series per path a scanner tries would grow without bound), recorded by a plugin
    // of our own at a fraction of the cost per request (graphql-metrics.ts)
    this.plugin = useGraphqlMetrics(this.registry);
  }
}
