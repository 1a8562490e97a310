// The gateway's Yoga in process (yoga.fetch) over real node processes: DataLoader batching
// and persisted operations.
import { test } from 'node:test';
import { createHash } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import assert from 'node:assert/strict';
import { DynamoClient } from '../../client/src/client.ts';
import { silentLogger } from '../../client/src/runtime.ts';
import { ContextSigner } from '../../gateway/context-token.ts';
import { createGateway, CSRF_HEADER, type GatewayOptions } from '../../gateway/yoga.ts';
import { TEST_SECRET, withCluster } from '../helpers/cluster.ts';
import { TEST_CONTEXT_KEY } from '../helpers/stack.ts';

const inProcess = (client: DynamoClient, options: Partial<GatewayOptions> = {}) =>
  createGateway({
    client: () => client,
    contexts: new ContextSigner([TEST_CONTEXT_KEY]),
    requestTimeoutMs: 10_000,
    maxBodyBytes: 1 << 20,
    graphiql: false,
    logger: silentLogger,
    ...options,
  });

test('one operation, one multi-get frame per coordinator per r; duplicates fetched once', async () => {
  await withCluster({ nodes: 4, basePort: 7311 }, async ({ cluster }) => {
    const frames: { node: string; keys: string[]; r: number }[] = [];
    const client = await DynamoClient.connect({
      seeds: cluster.seeds,
      cluster: cluster.cluster,
      secret: TEST_SECRET,
      onMultiGet: (node, keys, r) => frames.push({ node, keys: [...keys], r }),
    });
    try {
      const yoga = inProcess(client);
      const keys = Array.from({ length: 12 }, (_, i) => `key-${i}`);
      const query = `{
        a: get(key: "key-0") { key }
        b: get(key: "key-1") { key }
        c: getMany(keys: ${JSON.stringify(keys)}) { key }
        d: getMany(keys: ["key-0", "key-0", "key-5"]) { key }
        e: get(key: "key-0", r: 1) { key }
        f: getMany(keys: ["key-3"], r: 3) { key }
      }`;
      const res = await yoga.fetch('http://gateway/graphql', { method: 'POST', headers: { 'content-type': 'application/json', [CSRF_HEADER]: '1' }, body: JSON.stringify({ query }) });
      const body = (await res.json()) as { data: Record<string, unknown>; errors?: unknown };
      assert.equal(body.errors, undefined);
      assert.equal((body.data.c as unknown[]).length, 12);
      assert.deepEqual((body.data.d as { key: string }[]).map((x) => x.key), ['key-0', 'key-0', 'key-5']);

      // r=default: the 12 distinct keys, each once, in one frame per coordinator, sent to that coordinator
      const coordinatorOf = (k: string) => client.route(k)[0];
      const byDefault = frames.filter((f) => f.r === 0);
      assert.deepEqual(byDefault.flatMap((f) => f.keys).sort(), [...keys].sort());
      assert.equal(byDefault.length, new Set(keys.map(coordinatorOf)).size);
      assert.equal(new Set(byDefault.map((f) => f.node)).size, byDefault.length);
      for (const f of byDefault) for (const k of f.keys) assert.equal(f.node, coordinatorOf(k));
      // other quorums are other cache keys: one frame each
      assert.deepEqual(frames.filter((f) => f.r !== 0).map((f) => [f.r, f.keys]).sort(), [[1, ['key-0']], [3, ['key-3']]]);
    } finally {
      client.close();
    }
  });
});

test('persisted operations: by hash; with --only-persisted anything else is refused', async () => {
  await withCluster({ nodes: 1, basePort: 7316 }, async ({ cluster }) => {
    const client = await DynamoClient.connect({ seeds: cluster.seeds, cluster: cluster.cluster, secret: TEST_SECRET });
    try {
      const query = 'query Partitions { cluster { partitions } }';
      const hash = createHash('sha256').update(query).digest('hex');
      const file = join(mkdtempSync(join(tmpdir(), 'persisted-')), 'operations.json');
      writeFileSync(file, JSON.stringify({ [hash]: query }));
      const yoga = inProcess(client, { persistedOperations: file, onlyPersisted: true });
      const post = async (body: unknown) => {
        const res = await yoga.fetch('http://gateway/graphql', { method: 'POST', headers: { 'content-type': 'application/json', [CSRF_HEADER]: '1' }, body: JSON.stringify(body) });
        return (await res.json()) as { data?: { cluster: { partitions: number } }; errors?: { message: string }[] };
      };
      const ok = await post({ extensions: { persistedQuery: { version: 1, sha256Hash: hash } } });
      assert.equal(ok.data?.cluster.partitions, 64);
      const arbitrary = await post({ query });
      assert.match(arbitrary.errors?.[0]?.message ?? '', /PersistedQueryOnly|persisted/i);
      const unknown = await post({ extensions: { persistedQuery: { version: 1, sha256Hash: '0'.repeat(64) } } });
      assert.match(unknown.errors?.[0]?.message ?? '', /PersistedQueryNotFound|not found/i);
    } finally {
      client.close();
    }
  });
});

test("a variable the schema refuses is the caller's error: answered 400, never logged as an unexpected error", async () => {
  await withCluster({ nodes: 1, basePort: 7651 }, async ({ cluster }) => {
    const client = await DynamoClient.connect({ seeds: cluster.seeds, cluster: cluster.cluster, secret: TEST_SECRET });
    try {
      const logged: string[] = [];
      const yoga = inProcess(client, { logger: { ...silentLogger, error: (message: string) => logged.push(message) } });
      const query = 'query($k: String!, $r: Int) { get(key: $k, r: $r) { key } }';
      for (const variables of [{ k: 'a', r: 'two' }, { k: 'a', r: 2 ** 31 }, { k: 7 }, {}]) {
        const res = await yoga.fetch('http://gateway/graphql', {
          method: 'POST',
          headers: { 'content-type': 'application/json', [CSRF_HEADER]: '1' },
          body: JSON.stringify({ query, variables }),
        });
        const body = (await res.json()) as { errors: { message: string }[] };
        assert.equal(res.status, 400);
        assert.match(body.errors[0]!.message, /^Variable "\$[kr]"/);
      }
      assert.deepEqual(logged, []);
    } finally {
      client.close();
    }
  });
});
