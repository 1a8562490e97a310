// The graphql-sse client, as docs/graphql.md (Clients, Watches) sets it up, against a real
// gateway over a real node: a watch's events as the client iterates them, a resume with the
// last context seen, and a refusal (FORBIDDEN) as the client shows it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createClient } from 'graphql-sse';
import { withStack } from '../helpers/stack.ts';

const WATCH = `subscription Watch($keys: [String!]!, $contexts: [String]) {
  watch(keys: $keys, contexts: $contexts) { key context siblings { value deleted dot writtenAt } }
}`;
const PUT = `mutation($key: String!, $value: JSON!, $context: String) { put(key: $key, value: $value, context: $context) { context } }`;

interface Versions {
  key: string;
  context: string | null;
  siblings: { value: unknown }[];
}

interface Event {
  data?: { watch: Versions } | null;
  errors?: readonly { message: string; extensions?: Record<string, unknown> }[];
}

const TOKEN = 'sse-client-token-0123456789abcdefgh';

test('graphql-sse (distinct connections mode) against a real gateway', async (t) => {
  const keys = join(process.env.TMPDIR ?? '/tmp', `watch-sse-keys-${process.pid}.json`);
  writeFileSync(keys, JSON.stringify({ [TOKEN]: { name: 'cart-app', read: ['cart:'], write: ['cart:'] } }));
  await withStack({ nodes: 1, basePort: 20130, gatewayPort: 20011, gatewayArgs: ['--api-keys', keys] }, async ({ url, gql }) => {
    const auth = { authorization: `Bearer ${TOKEN}` };
    // as in docs/graphql.md
    const client = createClient({ url, headers: auth });
    const put = async (key: string, value: unknown, context?: string | null) => {
      const r = await gql(PUT, { key, value, context }, auth);
      assert.equal(r.errors, undefined, JSON.stringify(r.errors));
      return r.data!.put.context as string;
    };

    await t.test('iterates a watch: the state at once, then each write', async () => {
      const watch = client.iterate<{ watch: Versions }>({ query: WATCH, variables: { keys: ['cart:sse'] } });
      const first = await watch.next();
      assert.deepEqual(first.value?.data?.watch, { key: 'cart:sse', context: null, siblings: [] });
      const context = await put('cart:sse', { items: ['apple'] });
      const second = await watch.next();
      assert.deepEqual(second.value?.data?.watch.siblings.map((s: { value: unknown }) => s.value), [{ items: ['apple'] }]);
      assert.equal(second.value?.data?.watch.context, context);
      await watch.return?.(undefined);

      // missed while away: a resume with the last context seen gets it at once
      await put('cart:sse', { items: ['apple', 'pear'] }, context);
      const resumed = client.iterate<{ watch: Versions }>({ query: WATCH, variables: { keys: ['cart:sse'], contexts: [context] } });
      const missed = await resumed.next();
      assert.deepEqual(missed.value?.data?.watch.siblings.map((s: { value: unknown }) => s.value), [{ items: ['apple', 'pear'] }]);
      await resumed.return?.(undefined);
    });

    await t.test('a key outside the read scope: the result carries FORBIDDEN and the stream completes', async () => {
      const results: Event[] = [];
      await new Promise<void>((resolve, reject) => {
        client.subscribe<{ watch: Versions }>({ query: WATCH, variables: { keys: ['cart:a', 'admin:b'] } }, {
          next: (r) => void results.push(r as Event),
          error: reject,
          complete: resolve,
        });
      });
      assert.equal(results.length, 1);
      assert.equal(results[0]!.errors?.[0]?.extensions?.code, 'FORBIDDEN');
    });
    client.dispose();
  });
});
