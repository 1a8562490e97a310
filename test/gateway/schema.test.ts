import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import type { GraphQLEnumType, GraphQLObjectType } from 'graphql';
import { printedSchema, schema } from '../../schema/index.ts';

test('schema/schema.graphql is the printed schema (run `npm run schema` after changing schema/)', () => {
  const committed = readFileSync(new URL('../../schema/schema.graphql', import.meta.url), 'utf8');
  assert.equal(committed, printedSchema());
});

test('the contract keeps its names, types and nullability', () => {
  const signature = (type: GraphQLObjectType, name: string) => {
    const f = type.getFields()[name];
    assert.ok(f, `${type.name}.${name} is missing`);
    return `${name}(${f.args.map((a) => `${a.name}: ${String(a.type)}`).join(', ')}): ${String(f.type)}`;
  };
  const q = schema.getQueryType()!;
  const m = schema.getMutationType()!;
  assert.equal(signature(q, 'get'), 'get(key: String!, r: Int): Versions');
  assert.equal(signature(q, 'getMany'), 'getMany(keys: [String!]!, r: Int): [Versions]!');
  assert.equal(signature(q, 'cluster'), 'cluster(): Cluster!');
  assert.equal(
    signature(m, 'put'),
    'put(key: String!, value: JSON!, context: String, w: Int, condition: WriteCondition, ttlSeconds: Int): WriteResult!',
  );
  assert.equal(signature(m, 'delete'), 'delete(key: String!, context: String, w: Int, condition: DeleteCondition): WriteResult!');
  const values = (name: string) => (schema.getType(name) as GraphQLEnumType).getValues().map((v) => v.name);
  assert.deepEqual(values('WriteCondition'), ['CURRENT', 'ABSENT']);
  assert.deepEqual(values('DeleteCondition'), ['CURRENT']);
  const fields = (name: string) =>
    Object.values((schema.getType(name) as GraphQLObjectType).getFields())
      .map((f) => `${f.name}: ${String(f.type)}`)
      .sort();
  const includes = (name: string, expected: string[]) => expected.forEach((e) => assert.ok(fields(name).includes(e), `${name}.${e}`));
  includes('Versions', ['key: String!', 'found: Boolean!', 'siblings: [Sibling!]!', 'context: String']);
  includes('Sibling', ['value: JSON', 'deleted: Boolean!', 'dot: String!', 'writtenAt: String', 'expiresAt: String']);
  includes('WriteResult', ['key: String!', 'context: String!', 'acks: Int!']);
  includes('Cluster', ['n: Int!', 'r: Int!', 'w: Int!', 'partitions: Int!', 'nodes: [ClusterNode!]!']);
  includes('ClusterNode', ['id: String!', 'address: String!', 'status: String!', 'partitions: Int!']);
  assert.ok(schema.getType('JSON'));
});

