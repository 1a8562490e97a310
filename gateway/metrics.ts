// Prometheus metrics of the gateway, served at /metrics to the admin scope (or on the admin
// listen address): the error codes callers were given, refusals included.
import { Counter, Registry, collectDefaultMetrics } from 'prom-client';

export class GatewayMetrics {
  readonly registry = new Registry();
  readonly operations = new Counter({ name: 'dynamo_gateway_operations_total', help: 'GraphQL operations let through authentication and rate limits', registers: [this.registry] });
  readonly errors = new Counter({
    name: 'dynamo_gateway_errors_total',
    help: 'Errors given to callers by extensions.code (UNAUTHENTICATED, FORBIDDEN, RATE_LIMITED, QUORUM_NOT_MET, ...)',
    labelNames: ['code'],
    registers: [this.registry],
  });

  constructor() {
    collectDefaultMetrics({ register: this.registry });
  }
}
