// Whether a process traces, and where its spans go: the standard OpenTelemetry variables, and
// --otel-endpoint over them. Off unless an endpoint is set (docs/operations.md, Traces).
import { ConfigError } from './config.ts';

export interface TracingSettings {
  /** where spans go: the OTLP/HTTP traces URL (…/v1/traces) */
  readonly url: string;
  /** service.name of every span (OTEL_SERVICE_NAME, or the process's default) */
  readonly serviceName: string;
  /** service.instance.id: a node's id; absent for a gateway */
  readonly instanceId?: string;
}

/**
 * The tracing settings from `--otel-endpoint` (a collector's base URL, as
 * OTEL_EXPORTER_OTLP_ENDPOINT: spans go to its /v1/traces) or the environment:
 * OTEL_EXPORTER_OTLP_TRACES_ENDPOINT (the full traces URL) or OTEL_EXPORTER_OTLP_ENDPOINT.
 * OTEL_SDK_DISABLED=true or OTEL_TRACES_EXPORTER=none turns an environment's endpoint off;
 * OTEL_SERVICE_NAME names the service. null: tracing off.
 */
export function tracingSettings(
  flag: unknown,
  env: NodeJS.ProcessEnv,
  defaults: { serviceName: string; instanceId?: string },
): TracingSettings | null {
  let url: string | undefined;
  if (typeof flag === 'string') url = tracesUrl(flag, '--otel-endpoint');
  else if (env.OTEL_SDK_DISABLED === 'true' || env.OTEL_TRACES_EXPORTER === 'none') return null;
  else if (env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT)
    url = checkedUrl(env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT, 'OTEL_EXPORTER_OTLP_TRACES_ENDPOINT');
  else if (env.OTEL_EXPORTER_OTLP_ENDPOINT) url = tracesUrl(env.OTEL_EXPORTER_OTLP_ENDPOINT, 'OTEL_EXPORTER_OTLP_ENDPOINT');
  if (url === undefined) return null;
  return {
    url,
    serviceName: env.OTEL_SERVICE_NAME || defaults.serviceName,
    ...(defaults.instanceId ? { instanceId: defaults.instanceId } : {}),
  };
}

function tracesUrl(base: string, what: string): string {
  return `${checkedUrl(base, what).replace(/\/+$/, '')}/v1/traces`;
}

function checkedUrl(url: string, what: string): string {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new ConfigError(`${what} is not a URL: '${url}' (for example http://127.0.0.1:4318)`);
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') {
    throw new ConfigError(`${what} must be an http:// or https:// URL (OTLP over HTTP), not '${url}'`);
  }
  return url;
}
