// OpenTelemetry traces through real processes: a gateway and three nodes export to an OTLP/HTTP
// collector in this process, and one GraphQL put and one get each make one trace that runs
// from the gateway's operation span to the coordinating node's span and on to the replicas';
// so does the get's second, compiled, run.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { OtlpCollector, type CollectedSpan } from '../helpers/otlp-collector.ts';
import { withStack } from '../helpers/stack.ts';
import { waitFor } from '../helpers/wait.ts';

const PUT = `mutation Put($key: String!, $value: JSON!) { put(key: $key, value: $value) { key acks } }`;
const GET = `query Get($key: String!) { get(key: $key) { found siblings { value } } }`;
const SERVER = 2;

/** The spans of one trace, by parent. */
function childrenOf(spans: CollectedSpan[], parent: CollectedSpan, name: string): CollectedSpan[] {
  return spans.filter((s) => s.traceId === parent.traceId && s.parentSpanId === parent.spanId && s.name === name);
}

test('a put and a get each make one trace: gateway operation, coordinator, replicas', async () => {
  const collector = new OtlpCollector();
  const endpoint = await collector.listen(24001);
  // spans leave in batches; a short delay keeps the test's wait short
  const otel = { OTEL_EXPORTER_OTLP_ENDPOINT: endpoint, OTEL_BSP_SCHEDULE_DELAY: '100' };
  try {
    await withStack({ nodes: 3, basePort: 24010, gatewayPort: 24002, gatewayEnv: otel, nodeEnv: otel }, async ({ gql }) => {
      const put = await gql<{ put: { acks: number } }>(PUT, { key: 'traced', value: { v: 1 } });
      assert.equal(put.errors, undefined);
      const get = await gql<{ get: { found: boolean } }>(GET, { key: 'traced' });
      assert.equal(get.data?.get.found, true);

      // the put: mutation.Put → dynamo.put on the coordinator → dynamo.replicaWrite on the two other replicas
      const op = await waitFor('the gateway span of the put', () => collector.spans.find((s) => s.name === 'mutation.Put'), 15_000);
      assert.equal(op.service, 'dynamo-gateway');
      assert.equal(op.kind, SERVER);
      assert.equal(op.attributes['graphql.execute.operationName'], 'Put');
      const writes = await waitFor(
        'the coordinator span and both replica writes of the put',
        () => {
          const trace = collector.spans.filter((s) => s.traceId === op.traceId);
          const coordinator = trace.find((s) => s.name === 'dynamo.put' && childrenOf(trace, s, 'dynamo.replicaWrite').length === 2);
          return coordinator ? { trace, coordinator, replicas: childrenOf(trace, coordinator, 'dynamo.replicaWrite') } : null;
        },
        15_000,
      );
      // the coordinator's span is the operation's child, or a forwarding node's child in between
      const first = writes.trace.find((s) => s.name === 'dynamo.put' && s.parentSpanId === op.spanId);
      assert.ok(first, "a node span is the operation span's child");
      assert.ok(
        writes.coordinator === first || writes.coordinator.parentSpanId === first.spanId,
        'the coordinator is the first node or the one it forwarded to',
      );
      assert.equal(writes.coordinator.service, 'dynamo-node');
      assert.equal(writes.coordinator.attributes['dynamo.key'], 'traced');
      assert.equal(writes.coordinator.attributes['dynamo.acks'], 2, 'the put was answered at W=2 acks');
      const replicaNodes = writes.replicas.map((s) => s.instance).sort();
      assert.equal(
        new Set([writes.coordinator.instance, ...replicaNodes]).size,
        3,
        `replicas ${replicaNodes.join(',')} and coordinator ${writes.coordinator.instance} are the three nodes`,
      );
      for (const r of writes.replicas) {
        assert.equal(r.kind, SERVER);
        assert.equal(r.attributes['dynamo.key'], 'traced');
        assert.equal(r.attributes['dynamo.peer'], writes.coordinator.instance);
      }

      // the get: query.Get → dynamo.mget on the coordinator → dynamo.replicaReadMany on another
      // replica (R=2: the coordinator's own copy is read locally, and the third replica is asked
      // only when the hedge time passes first, coordinator/read.ts)
      const read = await waitFor('the gateway span of the get', () => collector.spans.find((s) => s.name === 'query.Get'), 15_000);
      assert.notEqual(read.traceId, op.traceId, 'each operation is its own trace');
      const reads = await waitFor(
        'the coordinator span and a replica read of the get',
        () => {
          const mget = collector.spans.find((s) => s.name === 'dynamo.mget' && s.parentSpanId === read.spanId);
          const replicas = mget ? childrenOf(collector.spans, mget, 'dynamo.replicaReadMany') : [];
          return mget && replicas.length >= 1 ? { mget, replicas } : null;
        },
        15_000,
      );
      assert.equal(reads.mget.attributes['dynamo.keys'], 1);
      assert.ok(reads.replicas.length <= 2, `${reads.replicas.length} replica reads`);
      const readers = [reads.mget.instance, ...reads.replicas.map((s) => s.instance)];
      assert.equal(new Set(readers).size, readers.length, `the coordinator and the replicas it asked are distinct: ${readers.join(',')}`);

      // the same get again runs compiled (gateway/compiled-execution.ts: an operation's second
      // run), and its trace still runs from the operation to the coordinator
      const again = await gql<{ get: { found: boolean } }>(GET, { key: 'traced' });
      assert.equal(again.data?.get.found, true);
      const compiled = await waitFor(
        'the gateway span of the compiled get',
        () => collector.spans.find((s) => s.name === 'query.Get' && s.spanId !== read.spanId),
        15_000,
      );
      await waitFor(
        "the compiled get's coordinator span, the operation's child",
        () => collector.spans.find((s) => s.name === 'dynamo.mget' && s.parentSpanId === compiled.spanId),
        15_000,
      );
    });
    assert.deepEqual(collector.refused, [], 'every export was OTLP JSON');
  } finally {
    await collector.close();
  }
});
