// Expiry over real node processes (LMDB) and a real gateway: a value written with ttlSeconds
// reads as present, then as absent through the gateway and a node; the read that finds it
// expired turns it into its tombstone and writes that to the replicas by read repair, so a
// replica that was down meanwhile, and still holds the live copy on disk, gets the tombstone by
// the next read repair, and the value never comes back; a sibling written without a TTL, and a
// later write, survive. Bad TTLs are refused at the gateway, the CLI and the node.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { StoreError } from '../../client/src/core/errors.ts';
import type { SiblingSet } from '../../client/src/core/siblings.ts';
import { runCli } from '../helpers/cli.ts';
import { withStack, type GqlResult } from '../helpers/stack.ts';
import { waitFor } from '../helpers/wait.ts';

const GET = `query($key: String!, $r: Int) { get(key: $key, r: $r) { found context siblings { value deleted dot expiresAt } } }`;
const PUT = `mutation($key: String!, $value: JSON!, $context: String, $ttl: Int) {
  put(key: $key, value: $value, context: $context, ttlSeconds: $ttl) { context dot } }`;

interface Read {
  found: boolean;
  context: string | null;
  siblings: { value: unknown; deleted: boolean; dot: string; expiresAt: string | null }[];
}

const live = (set: SiblingSet) => set.filter((v) => !v.deleted).map((v) => Buffer.from(v.value).toString());

test('expiry through the gateway, a node and the CLI, on a real cluster', async (t) => {
  await withStack({ nodes: 3, basePort: 21001, gatewayPort: 21081 }, async ({ gql, cluster, client }) => {
    const ok = (r: GqlResult) => {
      assert.equal(r.errors, undefined, JSON.stringify(r.errors));
      return r.data!;
    };
    const read = async (key: string, r = 2) => ok(await gql(GET, { key, r })).get as Read;
    const copies = async (key: string) =>
      new Map((await client.replicas(key)).filter((c) => c.hintFor === null).map((c) => [c.node, live(c.set)]));

    await t.test(
      'a value reads as present until its time, then as absent; a replica that missed the delete gets it by read repair',
      async () => {
        const key = 'e:session';
        const written = ok(await gql(PUT, { key, value: { user: 'ada' }, ttl: 2 })).put as { dot: string };
        const before = await read(key);
        assert.equal(before.found, true);
        assert.deepEqual(
          before.siblings.map((s) => [s.value, s.dot]),
          [[{ user: 'ada' }, written.dot]],
        );
        const expiresAt = Date.parse(before.siblings[0]!.expiresAt!);
        assert.ok(expiresAt > Date.now() && expiresAt <= Date.now() + 2100, `expires at ${before.siblings[0]!.expiresAt}`);
        assert.deepEqual(live((await client.get(key)).siblings), ['{"user":"ada"}']);
        await waitFor('every replica holds the value', async () => [...(await copies(key)).values()].every((v) => v.length === 1));

        // n3 is down while the value expires and is turned into a tombstone: it keeps the live copy on disk
        await cluster.signal('n3', 'SIGTERM');
        const after = await waitFor(
          'the value reads as absent',
          async () => {
            const r = await read(key);
            return r.found ? null : r;
          },
          10_000,
          100,
        );
        // the expired version is shown as its tombstone: the same dot, so the context still covers it
        assert.deepEqual(
          after.siblings.find((s) => s.dot === written.dot),
          { value: null, deleted: true, dot: written.dot, expiresAt: before.siblings[0]!.expiresAt },
        );
        await waitFor('n1 and n2 hold a tombstone in its place', async () => {
          const c = await copies(key);
          return c.get('n1')?.length === 0 && c.get('n2')?.length === 0;
        });
        const n1 = (await client.replicas(key)).find((c) => c.node === 'n1')!;
        assert.deepEqual(
          n1.set.map((v) => [v.deleted, `${v.dot.actor}:${v.dot.counter}`]),
          [[true, written.dot]],
          'the version itself, deleted: not a dropped key',
        );

        await cluster.startNode('n3');
        assert.deepEqual((await copies(key)).get('n3'), ['{"user":"ada"}'], 'a replica never drops an expired version by itself');
        // read back from n3's LMDB after its restart: the record keeps the expiry time, the same on every replica
        const n3 = (await client.replicas(key)).find((c) => c.node === 'n3' && c.hintFor === null)!;
        assert.equal(n3.set[0]!.expiresAt, expiresAt);
        const full = await client.get(key, { r: 3 });
        assert.deepEqual(live(full.siblings), []);
        await waitFor('read repair brings the tombstone to n3', async () => (await copies(key)).get('n3')?.length === 0);
        assert.equal((await read(key, 3)).found, false);

        // a later write without a TTL lives on, through reads that repair
        const later = ok(await gql(PUT, { key, value: { user: 'eve' } })).put as { dot: string };
        for (let i = 0; i < 3; i++)
          assert.deepEqual(
            (await read(key, 3)).siblings.filter((s) => !s.deleted).map((s) => s.dot),
            [later.dot],
          );
        await waitFor('every replica holds the later write', async () =>
          [...(await copies(key)).values()].every((v) => v.length === 1 && v[0] === '{"user":"eve"}'),
        );
      },
    );

    await t.test('only the expired sibling vanishes: a concurrent write without a TTL survives it', async () => {
      const key = 'e:cart';
      const short = ok(await gql(PUT, { key, value: 'short', ttl: 1 })).put as { dot: string };
      const keep = ok(await gql(PUT, { key, value: 'keep' })).put as { dot: string };
      const both = await read(key, 3);
      assert.deepEqual(both.siblings.filter((s) => !s.deleted).map((s) => s.value).sort(), ['keep', 'short']);
      const after = await waitFor('the short-lived sibling reads as deleted', async () => {
        const r = await read(key, 3);
        return r.siblings.some((s) => s.dot === short.dot && s.deleted) ? r : null;
      }, 10_000, 100);
      assert.equal(after.found, true);
      assert.deepEqual(after.siblings.filter((s) => !s.deleted).map((s) => [s.value, s.dot]), [['keep', keep.dot]]);
      await waitFor('the expired sibling is a tombstone on every replica and the other is kept', async () =>
        [...(await copies(key)).values()].every((v) => v.length === 1 && v[0] === '"keep"'),
      );
      // a write with the read's context replaces what the read showed, the expired sibling's tombstone included
      const merged = ok(await gql(PUT, { key, value: 'merged', context: (await read(key, 3)).context })).put as { dot: string };
      assert.deepEqual((await read(key, 3)).siblings.map((s) => [s.value, s.dot]), [['merged', merged.dot]]);
    });

    await t.test('bad TTLs are refused with a clear error at the gateway, the node and the CLI; typed values take none', async () => {
      for (const ttl of [0, -5, 315_360_001]) {
        const r = await gql(PUT, { key: 'e:bad', value: 1, ttl });
        assert.equal(r.errors?.[0]?.extensions?.code, 'BAD_REQUEST', JSON.stringify(r));
        assert.match(r.errors![0]!.message, /ttlSeconds must be a whole number of seconds from 1 to 315360000/);
      }
      const typed = await gql(`mutation { counterIncrement(key: "e:n", by: 1, ttlSeconds: 5) }`);
      assert.match(typed.errors?.[0]?.message ?? '', /Unknown argument "ttlSeconds" on field "Mutation.counterIncrement"/);
      await assert.rejects(
        client.put('e:bad', Buffer.from('x'), { ttlSeconds: 1.5 }),
        (e: StoreError) => e.code === 'BAD_REQUEST' && /from 1 to 315360000/.test(e.message),
      );
      await assert.rejects(client.delete('e:bad', { ttlSeconds: 5 }), /ttlSeconds is for a put/);
      // a node refuses a TTL on a typed operation as a malformed put, whoever sends it
      const typedPut = {
        type: 'put',
        key: 'e:n',
        value: new Uint8Array(0),
        deleted: false,
        context: null,
        w: 0,
        pw: 0,
        op: { type: 'counter', by: 1 },
        ttlSeconds: 5,
      } as const;
      await assert.rejects(
        client.request('n1', typedPut),
        (e: StoreError) => e.code === 'PROTOCOL' && /a TTL is for a put of a value: not a delete or a typed operation/.test(e.message),
      );
      assert.equal((await read('e:bad')).found, false, 'nothing was written');

      const cli = (...args: string[]) => runCli(cluster, '--json', ...args);
      const bad = await cli('put', 'e:cli', 'v', '--ttl', '0');
      assert.equal(bad.code, 1);
      assert.match(bad.err, /error BAD_REQUEST: ttlSeconds must be a whole number of seconds from 1 to 315360000/);
      const word = await cli('put', 'e:cli', 'v', '--ttl', '5s');
      assert.match(word.err, /--ttl takes a whole number of seconds from 1 to 315360000, got '5s'/);
      assert.match((await cli('delete', 'e:cli', '--ttl', '5')).err, /--ttl is for put/);
      const put = await cli('put', 'e:cli', 'v', '--ttl', '60');
      assert.equal(put.code, 0, put.err);
      const got = JSON.parse((await cli('get', 'e:cli')).out) as { siblings: { value: string; expiresAt: string }[] };
      assert.equal(got.siblings[0]!.value, 'v');
      assert.ok(Math.abs(Date.parse(got.siblings[0]!.expiresAt) - (Date.now() + 60_000)) < 10_000);
    });
  });
});
