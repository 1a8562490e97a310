// /metrics of real processes, scraped as Prometheus would. A node's: the hints it holds, their
// bytes and the age of the oldest (how long a replica has been missing writes); the latency of
// the gets and puts it coordinates and its quorum failures by reason; the progress of the
// transfers of a ring change. The gateway's: GraphQL requests, durations and errors.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DynamoClient } from '../../client/src/client.ts';
import { StoreError } from '../../client/src/core/errors.ts';
import { LocalCluster } from '../../bin/launcher.ts';
import { TEST_SECRET, withCluster } from '../helpers/cluster.ts';
import { CSRF, TEST_ADMIN_TOKEN, withStack } from '../helpers/stack.ts';
import { waitFor } from '../helpers/wait.ts';

const output = process.env.NODE_OUTPUT === '1' ? 'inherit' : 'ignore';

/** The sum of the samples of `name` whose labels include `labels` (0 when there are none). */
function sample(text: string, name: string, labels: Record<string, string> = {}): number {
  let sum = 0;
  for (const line of text.split('\n')) {
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!m || m[1] !== name) continue;
    const has = Object.fromEntries([...(m[2] ?? '').matchAll(/(\w+)="([^"]*)"/g)].map((x) => [x[1], x[2]]));
    if (Object.entries(labels).every(([k, v]) => has[k] === v)) sum += Number(m[3]);
  }
  return sum;
}

const scrapeAll = async (cluster: LocalCluster, ids: string[]) => Promise.all(ids.map(async (id) => (await fetch(`http://${cluster.node(id).listen}/metrics`)).text()));
const total = (texts: string[], name: string, labels: Record<string, string> = {}) =>
  texts.reduce((s, t) => s + sample(t, name, labels), 0);

function gauge(text: string, name: string): number {
  const line = text.split('\n').find((l) => l.startsWith(`${name} `));
  assert.ok(line, `${name} is exported`);
  return Number(line.split(' ')[1]);
}

test('a node exports the hints it holds, their bytes and the age of the oldest', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'metrics-'));
  const cluster = new LocalCluster({ nodes: 4, basePort: 7961, dataDir: dir, secret: TEST_SECRET, output });
  let client: DynamoClient | undefined;
  try {
    await cluster.start();
    client = await DynamoClient.connect({ seeds: cluster.seeds, cluster: cluster.cluster, secret: TEST_SECRET, timeoutMs: 5000 });
    await cluster.signal('n4', 'SIGKILL');
    // a key n4 replicates, written while n4 is down: a fallback keeps its copy as a hint
    const key = Array.from({ length: 200 }, (_, i) => `m${i}`).find((k) =>
      client!.view.primaries(client!.view.partitionOf(k)).includes('n4'),
    )!;
    await waitFor('n4 to be seen down', async () => (await client!.status('n1')).unreachable.includes('n4'), 20_000, 100);
    await client.put(key, Buffer.from('"hinted"'), { w: 2 });
    const scrape = async (id: string) => (await fetch(`http://${cluster.node(id).listen}/metrics`)).text();
    let holder = '';
    await waitFor('a fallback to hold the hint', async () => {
      for (const id of ['n1', 'n2', 'n3']) if (gauge(await scrape(id), 'dynamo_hints_stored') > 0) holder = id;
      return holder !== '';
    }, 10_000, 100);
    const text = await scrape(holder);
    assert.ok(gauge(text, 'dynamo_hint_bytes') > 0);
    const age = gauge(text, 'dynamo_hint_oldest_age_seconds');
    assert.ok(age > 0 && age < 600, `oldest hint ${age} s old`);
    const others = ['n1', 'n2', 'n3'].filter((id) => id !== holder);
    for (const id of others)
      if (gauge(await scrape(id), 'dynamo_hints_stored') === 0) assert.equal(gauge(await scrape(id), 'dynamo_hint_oldest_age_seconds'), 0);
  } finally {
    client?.close();
    await cluster.stop().catch(() => undefined);
    rmSync(dir, { recursive: true, force: true });
  }
});

test('the latency of coordinated gets and puts, and quorum failures by reason, move with real requests', async () => {
  await withCluster({ nodes: 3, basePort: 7821 }, async ({ cluster, client }) => {
    const ids = ['n1', 'n2', 'n3'];
    const before = await scrapeAll(cluster, ids);
    for (let i = 0; i < 20; i++) await client.put(`lat${i}`, Buffer.from(`"v${i}"`));
    for (let i = 0; i < 20; i++) await client.get(`lat${i}`);
    const after = await scrapeAll(cluster, ids);
    const moved = (name: string, labels: Record<string, string> = {}) => total(after, name, labels) - total(before, name, labels);
    // each put is coordinated by one node (a forwarded one is counted where it is coordinated);
    // a request the client retried elsewhere would count twice
    const puts = moved('dynamo_put_duration_seconds_count', { outcome: 'ok' });
    assert.ok(puts >= 20 && puts <= 22, `${puts} puts timed`);
    const gets = moved('dynamo_get_duration_seconds_count', { outcome: 'ok' });
    assert.ok(gets >= 20 && gets <= 22, `${gets} gets timed`);
    assert.equal(moved('dynamo_put_duration_seconds_bucket', { outcome: 'ok', le: '+Inf' }), puts);
    assert.ok(moved('dynamo_put_duration_seconds_sum', { outcome: 'ok' }) > 0);
    assert.equal(total(after, 'dynamo_quorum_failures_total'), 0, 'no quorum failed yet');
    assert.match(
      before[0]!,
      /^dynamo_quorum_failures_total\{kind="write",reason="timeout"\} 0$/m,
      'every reason is exported from the start',
    );

    // with n3 gone, W=3 and R=3 cannot be met: n3's replica fails at once (no fallback among 3 nodes)
    await cluster.signal('n3', 'SIGKILL');
    const live = ['n1', 'n2'];
    const key = 'lat0';
    await assert.rejects(
      client.put(key, Buffer.from('"w3"'), { w: 3 }),
      (e: unknown) => e instanceof StoreError && ['QUORUM_NOT_MET', 'TIMEOUT'].includes(e.code),
    );
    await assert.rejects(
      client.get(key, { r: 3 }),
      (e: unknown) => e instanceof StoreError && ['QUORUM_NOT_MET', 'TIMEOUT'].includes(e.code),
    );
    const failed = await scrapeAll(cluster, live);
    const reasons = ['timeout', 'replicas_unavailable', 'primaries_unavailable'];
    for (const kind of ['write', 'read']) {
      const byReason = reasons.map((reason) => total(failed, 'dynamo_quorum_failures_total', { kind, reason }));
      assert.ok(
        byReason.reduce((a, b) => a + b, 0) >= 1,
        `a failed ${kind} quorum is counted: ${reasons.map((r, i) => `${r}=${byReason[i]}`).join(' ')}`,
      );
    }
    const failedPuts =
      total(failed, 'dynamo_put_duration_seconds_count', { outcome: 'QUORUM_NOT_MET' }) +
      total(failed, 'dynamo_put_duration_seconds_count', { outcome: 'TIMEOUT' });
    assert.ok(failedPuts >= 1, 'the failed put is timed under its error code');
    process.stdout.write(
      `# quorum failures: ${failed
        .map(
          (t, i) =>
            `${live[i]}: ${t
              .split('\n')
              .filter((l) => l.startsWith('dynamo_quorum_failures_total{') && !l.endsWith(' 0'))
              .join(', ')}`,
        )
        .join('; ')}\n`,
    );
  });
});

test('the transfers of a join show in the metrics while they run and once they are confirmed', async () => {
  // a throttled transfer rate keeps the change in progress long enough to be seen
  await withCluster({ nodes: 3, basePort: 7831, flags: ['--transfer-bytes-per-second', '131072'] }, async ({ cluster, client }) => {
    const value = Buffer.from(`"${'x'.repeat(200)}"`);
    for (let i = 0; i < 3000; i += 300) await Promise.all(Array.from({ length: 300 }, (_, j) => client.put(`t${i + j}`, value)));
    const n4 = cluster.addNode();
    await cluster.startNode(n4.id);
    const scrape = async (id: string) => (await fetch(`http://${cluster.node(id).listen}/metrics`)).text();
    assert.equal(sample(await scrape('n4'), 'dynamo_transfer_entries_received_total'), 0);
    const reply = await client.changeRing({ kind: 'join', node: n4.id, address: n4.address });
    assert.equal(reply.type, 'changeReply', JSON.stringify(reply));
    const during = await waitFor('transfers into n4 in progress', async () => {
      const text = await scrape('n4');
      return sample(text, 'dynamo_transfers', { state: 'running' }) > 0 && sample(text, 'dynamo_transfer_keys_remaining') > 0 ? text : null;
    }, 30_000, 50);
    assert.ok(sample(await scrape('n1'), 'dynamo_ring_transfers_pending') > 0, 'the ring shows transfers pending');
    await waitFor('the join to commit', async () => {
      await client.refreshRing();
      return client.ring.next === null && client.ring.members.some((m) => m.id === n4.id);
    }, 120_000, 200);
    const done = await waitFor('n4 to report its ranges confirmed', async () => {
      const text = await scrape('n4');
      return sample(text, 'dynamo_transfers', { state: 'confirmed' }) > 0 && sample(text, 'dynamo_transfers', { state: 'running' }) === 0
        ? text
        : null;
    }, 30_000, 100);
    assert.ok(sample(done, 'dynamo_transfer_entries_received_total') > sample(during, 'dynamo_transfer_entries_received_total'));
    assert.ok(sample(done, 'dynamo_transfer_copies_placed_total') > 0);
    assert.equal(sample(done, 'dynamo_transfer_keys_remaining'), 0);
    await waitFor(
      'n1 to see no transfer pending',
      async () => sample(await scrape('n1'), 'dynamo_ring_transfers_pending') === 0,
      30_000,
      100,
    );
    process.stdout.write(
      `# join: n4 confirmed ${sample(done, 'dynamo_transfers', { state: 'confirmed' })} key ranges, ${sample(done, 'dynamo_transfer_entries_received_total')} entries received\n`,
    );
  });
});

test('the gateway exports GraphQL requests, their durations and errors at /metrics (to the admin scope)', async () => {
  await withStack({ nodes: 1, basePort: 7841, gatewayPort: 4741 }, async ({ gql, url }) => {
    const metricsUrl = url.replace('/graphql', '/metrics');
    const scrape = async () => {
      const res = await fetch(metricsUrl, { headers: { authorization: `Bearer ${TEST_ADMIN_TOKEN}` } });
      assert.equal(res.status, 200);
      assert.match(res.headers.get('content-type') ?? '', /^text\/plain/);
      return res.text();
    };
    const before = await scrape();
    assert.equal(sample(before, 'dynamo_gateway_cluster_connected'), 1);
    assert.ok(sample(before, 'process_cpu_seconds_total') > 0, 'the process\'s own figures');
    for (let i = 0; i < 3; i++)
      assert.deepEqual((await gql(`mutation Put { put(key: "m${i}", value: ${i}) { acks } }`, undefined, CSRF)).errors, undefined);
    assert.deepEqual((await gql('query Get { get(key: "m1") { found } }')).errors, undefined);
    assert.ok((await gql('query Broken { nothing }')).errors?.length);
    const after = await scrape();
    const moved = (name: string, labels: Record<string, string>) => sample(after, name, labels) - sample(before, name, labels);
    assert.equal(moved('graphql_envelop_request_duration_count', { operationName: 'Put', operationType: 'mutation' }), 3);
    assert.equal(moved('graphql_envelop_request_duration_count', { operationName: 'Get', operationType: 'query' }), 1);
    assert.ok(moved('graphql_envelop_error_result', { phase: 'validate' }) >= 1, 'the invalid operation is counted as an error');
    assert.ok(moved('graphql_yoga_http_duration_count', { method: 'POST', statusCode: '200' }) >= 4);
    assert.equal(moved('dynamo_gateway_operations_total', {}), 5, 'every operation let through authentication');
  });
});
