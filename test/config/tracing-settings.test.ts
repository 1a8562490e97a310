// Where a process sends its traces: off by default; --otel-endpoint over the standard
// OpenTelemetry variables; a bad URL is one clear message at start.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ConfigError, loadStorageConfig } from '../../storage/config.ts';
import { loadGatewayConfig } from '../../gateway/config.ts';
import { tracingSettings } from '../../storage/tracing-settings.ts';

const node = { serviceName: 'dynamo-node', instanceId: 'n1' };

test('tracing is off unless an endpoint is given', () => {
  assert.equal(tracingSettings(undefined, {}, node), null);
  assert.equal(tracingSettings(undefined, { OTEL_SERVICE_NAME: 'x' }, node), null);
});

test('the flag and OTEL_EXPORTER_OTLP_ENDPOINT name a collector, whose /v1/traces takes the spans', () => {
  assert.deepEqual(tracingSettings('http://c:4318/', {}, node), {
    url: 'http://c:4318/v1/traces',
    serviceName: 'dynamo-node',
    instanceId: 'n1',
  });
  assert.equal(tracingSettings(undefined, { OTEL_EXPORTER_OTLP_ENDPOINT: 'https://c:4318' }, node)?.url, 'https://c:4318/v1/traces');
  assert.equal(
    tracingSettings(undefined, { OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'http://c:9/t', OTEL_EXPORTER_OTLP_ENDPOINT: 'http://x:1' }, node)
      ?.url,
    'http://c:9/t',
  );
  assert.equal(tracingSettings('http://flag:1', { OTEL_EXPORTER_OTLP_ENDPOINT: 'http://env:1' }, node)?.url, 'http://flag:1/v1/traces');
  assert.equal(tracingSettings('http://c:1', { OTEL_SERVICE_NAME: 'store-eu' }, node)?.serviceName, 'store-eu');
});

test('OTEL_SDK_DISABLED and OTEL_TRACES_EXPORTER=none turn an environment endpoint off; the flag still turns it on', () => {
  assert.equal(tracingSettings(undefined, { OTEL_EXPORTER_OTLP_ENDPOINT: 'http://c:1', OTEL_SDK_DISABLED: 'true' }, node), null);
  assert.equal(tracingSettings(undefined, { OTEL_EXPORTER_OTLP_ENDPOINT: 'http://c:1', OTEL_TRACES_EXPORTER: 'none' }, node), null);
  assert.ok(tracingSettings('http://c:1', { OTEL_SDK_DISABLED: 'true' }, node));
});

test('an endpoint that is not an http URL is refused at start, naming the setting', () => {
  assert.throws(
    () => tracingSettings('c:4318', {}, node),
    (e) => e instanceof ConfigError && /--otel-endpoint must be an http:\/\/ or https:\/\/ URL/.test(e.message),
  );
  assert.throws(
    () => tracingSettings(undefined, { OTEL_EXPORTER_OTLP_ENDPOINT: 'not a url' }, node),
    /OTEL_EXPORTER_OTLP_ENDPOINT is not a URL: 'not a url'/,
  );
});

test('the node and the gateway read it, with their own service names', () => {
  const n = loadStorageConfig(
    ['--id', 'n1', '--nodes', 'n1=127.0.0.1:7001', '--n', '1', '--r', '1', '--w', '1', '--otel-endpoint', 'http://c:4318'],
    { DYNAMO_SECRET: 'a-secret-of-16-chars-or-more' },
  );
  assert.deepEqual(n.tracing, { url: 'http://c:4318/v1/traces', serviceName: 'dynamo-node', instanceId: 'n1' });
  const g = loadGatewayConfig(['--seeds', '127.0.0.1:7001'], {
    DYNAMO_SECRET: 'a-secret-of-16-chars-or-more',
    GATEWAY_CONTEXT_KEYS: 'k'.repeat(32),
    OTEL_EXPORTER_OTLP_ENDPOINT: 'http://c:4318',
  });
  assert.deepEqual(g.tracing, { url: 'http://c:4318/v1/traces', serviceName: 'dynamo-gateway' });
  assert.equal(
    loadGatewayConfig(['--seeds', '127.0.0.1:7001'], {
      DYNAMO_SECRET: 'a-secret-of-16-chars-or-more',
      GATEWAY_CONTEXT_KEYS: 'k'.repeat(32),
    }).tracing,
    null,
  );
});
