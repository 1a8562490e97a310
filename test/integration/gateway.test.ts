// The GraphQL gateway as a process, over real storage node processes.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CSRF, TEST_ADMIN_TOKEN, withStack } from '../helpers/stack.ts';
import { siblingRoundTrip } from '../../examples/sdk/round-trip.ts';

const GET = `query($key: String!, $r: Int) { get(key: $key, r: $r) { key found context siblings { value deleted dot writtenAt } } }`;
const PUT = `mutation($key: String!, $value: JSON!, $context: String, $w: Int) { put(key: $key, value: $value, context: $context, w: $w) { key context acks dot } }`;
const DELETE = `mutation($key: String!, $context: String) { delete(key: $key, context: $context) { key context acks dot } }`;

test('the gateway against a real cluster', async (t) => {
  await withStack({ nodes: 3, basePort: 7301, gatewayPort: 4301 }, async ({ gql, url, cluster }) => {
    const values = async (key: string) => {
      const r = await gql(GET, { key, r: 3 });
      assert.equal(r.errors, undefined, JSON.stringify(r.errors));
      return r.data!.get as { found: boolean; context: string | null; siblings: { value: unknown; deleted: boolean }[] };
    };

    await t.test('sibling round trip: blind writes become siblings, a put with the context leaves one version', async () => {
      const a = await gql(PUT, { key: 'cart', value: { items: ['apple'] } });
      assert.equal(a.data!.put.acks >= 2, true);
      assert.match(a.data!.put.dot, /^n\d@[a-z0-9]+:\d+$/);
      await gql(PUT, { key: 'cart', value: { items: ['pear'] } });
      const both = await values('cart');
      assert.equal(both.found, true);
      assert.deepEqual(
        both.siblings.map((s) => s.value).sort((x, y) => JSON.stringify(x).localeCompare(JSON.stringify(y))),
        [{ items: ['apple'] }, { items: ['pear'] }],
      );
      const merged = await gql(PUT, { key: 'cart', value: { items: ['apple', 'pear'] }, context: both.context, w: 3 });
      assert.equal(merged.errors, undefined);
      assert.deepEqual((await values('cart')).siblings.map((s) => s.value), [{ items: ['apple', 'pear'] }]);
    });

    await t.test('the typed SDK generated from schema.graphql runs the sibling round trip', async () => {
      assert.deepEqual(await siblingRoundTrip(url, 'sdk-cart'), { items: ['apple', 'pear'] });
    });

    await t.test('delete then put: the tombstone keeps a context, and a put over it leaves one live version', async () => {
      await gql(PUT, { key: 'profile', value: { name: 'Ada' } });
      const before = await values('profile');
      const del = await gql(DELETE, { key: 'profile', context: before.context });
      assert.equal(del.errors, undefined);
      const gone = await values('profile');
      assert.equal(gone.found, false);
      assert.deepEqual(gone.siblings.map((s) => [s.deleted, s.value]), [[true, null]]);
      assert.notEqual(gone.context, null, 'a tombstone still has a context');
      await gql(PUT, { key: 'profile', value: { name: 'Grace' } , context: gone.context, w: 3 });
      const back = await values('profile');
      assert.equal(back.found, true);
      assert.deepEqual(back.siblings.map((s) => s.value), [{ name: 'Grace' }]);
      // a delete without a context removes what the coordinator holds
      await gql(DELETE, { key: 'profile' });
      assert.equal((await values('profile')).found, false);
    });

    await t.test('a key never written: no siblings, a null context', async () => {
      const r = await values('never-written');
      assert.deepEqual(r, { key: 'never-written', found: false, context: null, siblings: [] } as unknown as typeof r);
    });

    await t.test('concurrent blind writes from several clients: every acknowledged value is a sibling afterwards', async () => {
      const writes = await Promise.all(
        Array.from({ length: 24 }, (_, i) => gql(PUT, { key: 'hot', value: { client: i % 6, n: i } })),
      );
      // the index into `writes` is the write's `n`: keep it for the acknowledged ones
      const acked = writes.flatMap((w, i) => (w.errors || !w.data?.put?.dot ? [] : [i]));
      const failed = writes.flatMap((w, i) => (acked.includes(i) ? [] : [`${i}: ${JSON.stringify(w.errors ?? w.data)}`]));
      assert.equal(acked.length, 24, `writes not acknowledged: ${failed.join('; ')}`);
      const r = await values('hot');
      const seen = new Set(r.siblings.map((s) => (s.value as { n: number }).n));
      for (const i of acked) assert.ok(seen.has(i), `acknowledged write ${i} is missing`);
    });

    await t.test('contexts are bound to their key and signed: borrowed, forged, truncated and oversized ones are refused', async () => {
      await gql(PUT, { key: 'k1', value: 1 });
      const ctx = (await values('k1')).context!;
      const code = async (context: string, key = 'k1') => {
        const r = await gql(PUT, { key, value: 2, context });
        return [r.errors?.[0]?.extensions?.code, r.errors?.[0]?.message];
      };
      const [borrowed, why] = await code(ctx, 'k2');
      assert.equal(borrowed, 'BAD_CONTEXT');
      assert.match(String(why), /not issued for key 'k2'/);
      const flipped = ctx.slice(0, 10) + (ctx[10] === 'A' ? 'B' : 'A') + ctx.slice(11);
      assert.equal((await code(flipped))[0], 'BAD_CONTEXT');
      assert.equal((await code(ctx.slice(0, ctx.length - 5)))[0], 'BAD_CONTEXT');
      assert.equal((await code('not a context!'))[0], 'BAD_CONTEXT');
      const [big, bigWhy] = await code('A'.repeat(5000));
      assert.equal(big, 'BAD_CONTEXT');
      assert.match(String(bigWhy), /limit is 4096/);
      assert.deepEqual((await values('k1')).siblings.map((s) => s.value), [1], 'nothing was written');
    });

    await t.test('bad input gets a clear error code', async () => {
      const first = (r: Awaited<ReturnType<typeof gql>>) => r.errors?.[0]?.extensions?.code;
      assert.equal(first(await gql(GET, { key: 'x'.repeat(1025) })), 'KEY_TOO_LARGE');
      assert.equal(first(await gql(GET, { key: '' })), 'BAD_REQUEST');
      assert.equal(first(await gql(GET, { key: 'k', r: 4 })), 'BAD_REQUEST');
      assert.equal(first(await gql(PUT, { key: 'big', value: 'v'.repeat(1024 * 1024 + 10) })), 'VALUE_TOO_LARGE');
      const tooMany = await gql(`query($keys: [String!]!) { getMany(keys: $keys) { key } }`, {
        keys: Array.from({ length: 1001 }, (_, i) => `k${i}`),
      });
      assert.equal(first(tooMany), 'BAD_REQUEST');
      assert.match(tooMany.errors![0]!.message, /at most 1000 keys, got 1001/);
      const unknown = await gql(`{ nothing }`);
      assert.equal(unknown.errors?.[0]?.extensions?.code, 'GRAPHQL_VALIDATION_FAILED');
    });

    await t.test('getMany answers in the order asked, duplicates each time; a failed key is a null item with its error', async () => {
      await gql(PUT, { key: 'm1', value: 'one' });
      await gql(PUT, { key: 'm2', value: 'two' });
      const keys = ['m2', 'm1', 'm2', 'x'.repeat(2000), 'absent', 'm1'];
      const r = await gql(`query($keys: [String!]!) { getMany(keys: $keys) { key found siblings { value } } }`, { keys });
      const items = r.data!.getMany as ({ key: string; siblings: { value: unknown }[] } | null)[];
      assert.deepEqual(items.map((i) => i?.key ?? null), ['m2', 'm1', 'm2', null, 'absent', 'm1']);
      assert.deepEqual(items[0]!.siblings.map((s) => s.value), ['two']);
      assert.deepEqual(items[5]!.siblings.map((s) => s.value), ['one']);
      assert.equal(r.errors?.length, 1);
      assert.deepEqual(r.errors![0]!.path, ['getMany', 3]);
      assert.equal(r.errors![0]!.extensions!.code, 'KEY_TOO_LARGE');
    });

    await t.test('a write that misses its quorum says how many replicas answered and that it may have been applied', async () => {
      await cluster.signal('n3', 'SIGKILL');
      const r = await gql(PUT, { key: 'needs-three', value: 1, w: 3 });
      const e = r.errors?.[0];
      assert.ok(e, 'the write failed');
      assert.ok(['QUORUM_NOT_MET', 'TIMEOUT'].includes(e.extensions!.code), e.extensions!.code);
      assert.equal(e.extensions!.needed, 3);
      // the answer waits for the live replicas, so it says exactly how many have the write
      assert.equal(e.extensions!.got, 2);
      assert.equal(e.extensions!.maybeApplied, true);
      assert.match(e.message, /needed 3 replicas, got 2; the write may still have been applied/);
      assert.doesNotMatch(JSON.stringify(r), /stack|\.ts:/, 'no internals leak');
      await cluster.startNode('n3');
    });

    await t.test('cluster: quorum defaults, partitions and every node with its status', async () => {
      const r = await gql(`{ cluster { n r w partitions nodes { id address status partitions } } }`);
      const c = r.data!.cluster;
      assert.deepEqual([c.n, c.r, c.w, c.partitions], [3, 2, 2, 64]);
      assert.deepEqual(c.nodes.map((n: { id: string }) => n.id), ['n1', 'n2', 'n3']);
      assert.equal(c.nodes.reduce((s: number, n: { partitions: number }) => s + n.partitions, 0), 64);
      assert.ok(c.nodes.every((n: { status: string }) => n.status === 'up'));
    });

    await t.test('admin fields need the admin scope: none is UNAUTHENTICATED, a wrong token is refused with HTTP 401', async () => {
      const q = `{ admin { nodes { id reachable } hints { node total } } }`;
      const denied = await gql(q);
      assert.equal(denied.errors?.[0]?.extensions?.code, 'UNAUTHENTICATED');
      const wrong = await gql(q, {}, { authorization: 'Bearer wrong-token-wrong-token' });
      assert.equal(wrong.status, 401);
      assert.equal(wrong.errors?.[0]?.extensions?.code, 'UNAUTHENTICATED');
      const ok = await gql(q, {}, { authorization: `Bearer ${TEST_ADMIN_TOKEN}` });
      assert.equal(ok.errors, undefined);
      assert.equal(ok.data!.admin.nodes.length, 3);
    });

    await t.test('admin.replicas shows where a key\'s copies are, without repairing them', async () => {
      const put = await gql('mutation { put(key: "where", value: {n: 1}, w: 3) { dot } }');
      const dot = put.data!.put.dot as string;
      const q = '{ admin { replicas(key: "where") { node primary reachable hintFor versions { dot deleted value } } } }';
      assert.equal((await gql(q)).errors?.[0]?.extensions?.code, 'UNAUTHENTICATED');
      const r = await gql(q, {}, { authorization: `Bearer ${TEST_ADMIN_TOKEN}` });
      assert.equal(r.errors, undefined);
      const copies = r.data!.admin.replicas as {
        node: string;
        primary: boolean;
        reachable: boolean;
        hintFor: string | null;
        versions: { dot: string; value: unknown }[];
      }[];
      assert.equal(copies.length, 3, 'one entry per member (no hints here)');
      assert.ok(
        copies.every((c) => c.primary && c.reachable && c.hintFor === null && c.versions.length === 1 && c.versions[0]!.dot === dot),
        JSON.stringify(copies),
      );
      assert.deepEqual(copies[0]!.versions[0]!.value, { n: 1 });
    });

    await t.test('ring administration through GraphQL needs the admin scope and says why a change is refused', async () => {
      const admin = { authorization: `Bearer ${TEST_ADMIN_TOKEN}` };
      const ring = await gql(`{ admin { ring { seenBy version claimant changing members { id reachable partitions } } } }`, {}, admin);
      assert.equal(ring.errors, undefined);
      assert.equal(ring.data!.admin.ring.claimant, 'n1');
      assert.equal(ring.data!.admin.ring.members.length, 3);
      const join = `mutation($id: String!, $address: String!) { joinNode(id: $id, address: $address) { version transfers } }`;
      assert.equal((await gql(join, { id: 'n9', address: '127.0.0.1:7399' })).errors?.[0]?.extensions?.code, 'UNAUTHENTICATED');
      const absent = await gql(join, { id: 'n9', address: '127.0.0.1:7399' }, admin);
      assert.equal(absent.errors?.[0]?.extensions?.code, 'UNAVAILABLE');
      assert.match(absent.errors![0]!.message, /n9 does not answer at 127.0.0.1:7399: start it first/);
      const taken = await gql(join, { id: 'n9', address: '127.0.0.1:7301' }, admin);
      assert.match(taken.errors?.[0]?.message ?? '', /already in the ring \(node n1\)|does not answer/);
      const stale = await gql(`mutation { leaveNode(id: "n3", expectedVersion: 99) { version } }`, {}, admin);
      assert.equal(stale.errors?.[0]?.extensions?.code, 'STALE_RING');
    });

    await t.test('production habits: CSRF prevention, body limit, depth, alias, token and read limits, health and readiness', async () => {
      const get = (headers: Record<string, string> = {}) => fetch(`${url}?query=${encodeURIComponent('{ cluster { n } }')}`, { headers });
      assert.equal((await get()).status, 403, 'a simple GET without the CSRF header is refused');
      assert.equal((await get(CSRF)).status, 200);
      const huge = await fetch(url, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ query: '{ cluster { n } }', pad: 'x'.repeat(5 * 1024 * 1024) }),
      });
      assert.equal(huge.status, 413);
      const aliases = await gql(`{ ${Array.from({ length: 40 }, (_, i) => `a${i}: cluster { n }`).join(' ')} }`);
      assert.match(aliases.errors?.[0]?.message ?? '', /alias/i);
      const tokens = await gql(`{ getMany(keys: [${Array.from({ length: 6000 }, (_, i) => `"k${i}"`).join(',')}]) { key } }`);
      assert.match(tokens.errors?.[0]?.message ?? '', /token/i);
      assert.equal((await fetch(url.replace('/graphql', '/health'))).status, 200);
      assert.equal((await fetch(url.replace('/graphql', '/ready'))).status, 200);
      const nested = ['__schema', 'types', 'fields', 'type', ...Array(14).fill('ofType')];
      const deep = await gql(`{ ${nested.join(' { ')} { name }${' }'.repeat(nested.length - 1)} }`);
      assert.match(deep.errors?.[0]?.message ?? '', /depth/i);
      const keys = Array.from({ length: 1000 }, (_, i) => `cost${i}`);
      const costly = await gql(
        `query($k: [String!]!) { ${Array.from({ length: 6 }, (_, i) => `a${i}: getMany(keys: $k) { key }`).join(' ')} }`,
        { k: keys },
      );
      assert.ok(
        costly.errors?.some((e) => /at most 5000 keys in all/.test(e.message) && e.extensions?.code === 'BAD_REQUEST'),
        JSON.stringify(costly.errors?.[0]),
      );
      const cyclic = await gql(`fragment F on Query { ...G } fragment G on Query { ...F } { ...F }`);
      assert.equal(cyclic.errors?.[0]?.extensions?.code, 'GRAPHQL_VALIDATION_FAILED');
      const garbage = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"query": ' });
      const garbageBody = await garbage.text();
      assert.equal(garbage.status, 400);
      assert.doesNotMatch(garbageBody, /stack|at .*\.ts|node_modules/, 'no internals leak');
      const graphiql = await fetch(url, { headers: { accept: 'text/html' } });
      assert.match(await graphiql.text(), /graphiql/i);
    });
  });
});
