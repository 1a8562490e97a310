// The gateway's Prometheus metrics at /metrics: Yoga's and envelop's request counts, durations,
// phases and errors (@graphql-yoga/plugin-prometheus), the process's own figures, and whether
// the gateway has reached the cluster. Nodes and repair workers serve their own.
import { usePrometheus } from '@graphql-yoga/plugin-prometheus';
import type { Plugin } from 'graphql-yoga';
import { Gauge, Registry, collectDefaultMetrics } from 'prom-client';

export const METRICS_PATH = '/metrics';

export function gatewayMetrics(connected: () => boolean): { registry: Registry; plugin: Plugin } {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  new Gauge({
    name: 'dynamo_gateway_cluster_connected',
    help: '1 once the gateway has learned the ring from the cluster, 0 before (requests get UNAVAILABLE)',
    registers: [registry],
    collect() {
      this.set(connected() ? 1 : 0);
    },
  });
  // the url label stays off: one series per path a scanner tries would grow without bound
  const plugin = usePrometheus({ registry, endpoint: METRICS_PATH, labels: { url: false } }) as Plugin;
  return { registry, plugin };
}
