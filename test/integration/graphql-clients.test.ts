// The GraphQL clients frontend teams use, as docs/graphql.md (Clients) sets them up, against a
// real gateway over a real node: urql's core client and Apollo Client, queries and mutations,
// a conditional write's CONFLICT as each client shows it, and the CSRF prevention they pass.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ApolloClient, CombinedGraphQLErrors, HttpLink, InMemoryCache, gql } from '@apollo/client';
import { cacheExchange, Client, fetchExchange } from '@urql/core';
import { withStack } from '../helpers/stack.ts';

const GET = gql`
  query Get($key: String!) {
    get(key: $key) {
      key
      found
      context
      siblings {
        value
        deleted
        dot
      }
    }
  }
`;
const PUT = gql`
  mutation Put($key: String!, $value: JSON!, $context: String, $condition: WriteCondition) {
    put(key: $key, value: $value, context: $context, condition: $condition) {
      key
      context
      dot
    }
  }
`;

/** fetch, recording the method of each request a client makes */
function recording(methods: string[]): typeof fetch {
  return (input, init) => {
    methods.push(init?.method ?? 'GET');
    return fetch(input, init);
  };
}

test('GraphQL clients as they come: urql and Apollo Client against a real gateway', async (t) => {
  await withStack({ nodes: 1, basePort: 7691, gatewayPort: 4691 }, async ({ url }) => {
    await t.test('urql in its default configuration sends queries as GET: refused with a message naming the one-line setting', async () => {
      const methods: string[] = [];
      const client = new Client({ url, exchanges: [cacheExchange, fetchExchange], fetch: recording(methods) });
      const r = await client.query(GET, { key: 'urql:none' }).toPromise();
      assert.deepEqual(methods, ['GET']);
      assert.match(
        r.error?.message ?? '',
        /must carry one of the headers x-graphql-yoga-csrf, apollo-require-preflight, x-apollo-operation-name/,
      );
      assert.match(r.error?.message ?? '', /fetchOptions: \{ headers: \{ 'apollo-require-preflight': 'true' \} \}/);
    });

    await t.test(
      'urql with apollo-require-preflight (docs/graphql.md): queries over GET, mutations over POST, a CONFLICT with its siblings',
      async () => {
        const methods: string[] = [];
        // as in docs/graphql.md, plus a fetch that records the methods used
        const client = new Client({
          url,
          exchanges: [cacheExchange, fetchExchange],
          fetchOptions: { headers: { 'apollo-require-preflight': 'true' } },
          fetch: recording(methods),
        });
        const made = await client.mutation(PUT, { key: 'urql:cart', value: { items: ['apple'] }, condition: 'ABSENT' }).toPromise();
        assert.equal(made.error, undefined, made.error?.message);
        const read = await client.query(GET, { key: 'urql:cart' }, { requestPolicy: 'network-only' }).toPromise();
        assert.equal(read.error, undefined, read.error?.message);
        assert.deepEqual(
          read.data.get.siblings.map((s: { value: unknown }) => s.value),
          [{ items: ['apple'] }],
        );
        assert.deepEqual(methods, ['POST', 'GET']);

        const again = await client.mutation(PUT, { key: 'urql:cart', value: { items: ['pear'] }, condition: 'ABSENT' }).toPromise();
        const e = again.error?.graphQLErrors[0];
        assert.equal(e?.extensions.code, 'CONFLICT');
        assert.deepEqual(
          (e?.extensions.siblings as { value: unknown }[]).map((s) => s.value),
          [{ items: ['apple'] }],
        );
        const merged = await client
          .mutation(PUT, { key: 'urql:cart', value: { items: ['apple', 'pear'] }, context: e?.extensions.context, condition: 'CURRENT' })
          .toPromise();
        assert.equal(merged.error, undefined, merged.error?.message);
      },
    );

    await t.test(
      'Apollo Client in its default configuration (POST), and with useGETForQueries: queries, mutations, a CONFLICT as CombinedGraphQLErrors',
      async () => {
        for (const useGETForQueries of [false, true]) {
          const methods: string[] = [];
          const client = new ApolloClient({
            link: new HttpLink({ uri: url, useGETForQueries, fetch: recording(methods) }),
            cache: new InMemoryCache(),
          });
          const key = `apollo:${useGETForQueries ? 'get' : 'post'}`;
          const made = await client.mutate({ mutation: PUT, variables: { key, value: 1, condition: 'ABSENT' } });
          assert.equal((made.data as { put: { key: string } }).put.key, key);
          const read = await client.query({ query: GET, variables: { key }, fetchPolicy: 'network-only' });
          assert.deepEqual(
            (read.data as { get: { siblings: { value: unknown }[] } }).get.siblings.map((s) => s.value),
            [1],
          );
          assert.deepEqual(methods, ['POST', useGETForQueries ? 'GET' : 'POST']);
          const refused = await client.mutate({ mutation: PUT, variables: { key, value: 2, condition: 'ABSENT' } }).then(
            () => null,
            (err: unknown) => err,
          );
          assert.ok(CombinedGraphQLErrors.is(refused), String(refused));
          assert.equal(refused.errors[0]!.extensions?.code, 'CONFLICT');
          assert.deepEqual(
            (refused.errors[0]!.extensions!.siblings as { value: unknown }[]).map((s) => s.value),
            [1],
          );
          client.stop();
        }
      },
    );

    await t.test(
      'CSRF prevention: each accepted header opens a GET query; a simple GET or form POST without one is refused; a GET mutation is refused with any',
      async () => {
        const query = encodeURIComponent('{ cluster { n } }');
        for (const header of ['x-graphql-yoga-csrf', 'apollo-require-preflight', 'x-apollo-operation-name']) {
          const res = await fetch(`${url}?query=${query}`, { headers: { [header]: 'x' } });
          assert.equal(res.status, 200, header);
        }
        assert.equal((await fetch(`${url}?query=${query}`)).status, 403);
        const form = await fetch(url, {
          method: 'POST',
          headers: { 'content-type': 'text/plain;charset=UTF-8' },
          body: JSON.stringify({ query: 'mutation { put(key: "csrf", value: 1) { key } }' }),
        });
        assert.equal(form.status, 403);
        const mutation = encodeURIComponent('mutation { put(key: "csrf", value: 1) { key } }');
        const viaGet = await fetch(`${url}?query=${mutation}`, { headers: { 'apollo-require-preflight': 'true' } });
        assert.equal(viaGet.status, 405);
        assert.match(await viaGet.text(), /mutation.*POST|POST.*mutation|only query/i);
      },
    );
  });
});
