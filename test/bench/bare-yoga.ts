// The gateway's baseline: a bare graphql-yoga server on the same HTTP server (hyper-express,
// the gateway's own adapter) answering the same query shapes from memory. The difference
// between the two is what the storage path costs.
import { createSchema, createYoga } from 'graphql-yoga';
import { GatewayHttpServer } from '../../gateway/http.ts';

const store = new Map<string, unknown>();
const versions = (key: string) => {
  const value = store.get(key);
  return {
    key,
    found: value !== undefined,
    context: value === undefined ? null : 'AQELbjFAZjdrMmNtdW8AAAAAAAAAARJgRs8FcmAQD08XoZ_q3HU',
    siblings: value === undefined ? [] : [{ value, deleted: false, dot: 'n1@abcdefgh:1', writtenAt: new Date(0).toISOString() }],
  };
};
const schema = createSchema({
  typeDefs: /* GraphQL */ `
    scalar JSON
    type Sibling { value: JSON deleted: Boolean! dot: String! writtenAt: String }
    type Versions { key: String! found: Boolean! siblings: [Sibling!]! context: String }
    type WriteResult { key: String! context: String! acks: Int! dot: String! }
    type Query { get(key: String!, r: Int): Versions getMany(keys: [String!]!, r: Int): [Versions]! }
    type Mutation { put(key: String!, value: JSON!, context: String, w: Int): WriteResult! }
  `,
  resolvers: {
    Query: {
      get: (_: unknown, a: { key: string }) => versions(a.key),
      getMany: (_: unknown, a: { keys: string[] }) => a.keys.map(versions),
    },
    Mutation: {
      put: (_: unknown, a: { key: string; value: unknown }) => {
        store.set(a.key, a.value);
        return { key: a.key, context: 'AQELbjFAZjdrMmNtdW8AAAAAAAAAARJgRs8FcmAQD08XoZ_q3HU', acks: 2, dot: 'n1@abcdefgh:1' };
      },
    },
  },
});
// the gateway's settings where they touch speed: the HTTP server already bounds the body
const yoga = createYoga({ schema, logging: false, graphqlEndpoint: '/graphql', maxRequestBodySize: false });
const port = Number(process.argv[2] ?? 4700);
const server = new GatewayHttpServer(yoga as never, { host: '127.0.0.1', port, maxBodyBytes: 4 * 1024 * 1024 });
await server.listen();
// prefill what the gateway's cluster holds, so gets find values on both sides
const keys = Number(process.argv[3] ?? 10_000);
for (let i = 0; i < keys; i++) store.set(`g${i}`, 'a'.repeat(200));
process.once('SIGTERM', () => process.exit(0));
