import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { DynamoClient, ReadResult } from '../../client/src/client.ts';
import { StoreError } from '../../client/src/core/errors.ts';
import { readLoader } from '../../gateway/yoga.ts';

/** A client whose getMany answers each key by its name (a key named 'bad...' fails) and records each call. */
function fakeClient() {
  const calls: { keys: string[]; r: number }[] = [];
  const client = {
    getMany: async (keys: readonly string[], o: { r?: number } = {}) => {
      calls.push({ keys: [...keys], r: o.r ?? 0 });
      return keys.map((key): ReadResult | StoreError =>
        key.startsWith('bad') ? new StoreError('QUORUM_NOT_MET', `no quorum for ${key}`) : { key, siblings: [], replies: o.r ?? 0 },
      );
    },
  };
  return { client: client as unknown as DynamoClient, calls };
}

test('read loader: the gets and getManys of one operation are one multi-get per quorum, each key read once, answered in the order asked', async () => {
  const { client, calls } = fakeClient();
  const loader = readLoader(client);
  const [a, many, again, other, quorum2] = await Promise.all([
    loader.load({ keys: ['a'], r: 0 }),
    loader.load({ keys: ['b', 'a', 'bad1', 'b'], r: 0 }),
    loader.load({ keys: ['a'], r: 0 }),
    loader.load({ keys: ['c'], r: 0 }),
    loader.load({ keys: ['a', 'd'], r: 2 }),
  ]);
  assert.deepEqual(calls, [
    { keys: ['a', 'b', 'bad1', 'c'], r: 0 },
    { keys: ['a', 'd'], r: 2 },
  ]);
  const keyOf = (x: ReadResult | Error) => (x instanceof Error ? x.message : `${x.key}@${x.replies}`);
  assert.deepEqual(a!.map(keyOf), ['a@0']);
  assert.deepEqual(many!.map(keyOf), ['b@0', 'a@0', 'no quorum for bad1', 'b@0']);
  assert.ok(many![2] instanceof StoreError);
  assert.equal(again, a, 'the same key asked twice is one load');
  assert.deepEqual(other!.map(keyOf), ['c@0']);
  assert.deepEqual(quorum2!.map(keyOf), ['a@2', 'd@2']);
});

test('read loader: an operation of one get reads its key', async () => {
  const { client, calls } = fakeClient();
  const [result] = await readLoader(client).load({ keys: ['bad2'], r: 1 });
  assert.deepEqual(calls, [{ keys: ['bad2'], r: 1 }]);
  assert.ok(result instanceof StoreError && result.message === 'no quorum for bad2');
});

test('read loader: lists that join to the same text are different loads (a key may hold any character)', async () => {
  const { client } = fakeClient();
  const loader = readLoader(client);
  const [joined, split, one] = await Promise.all([
    loader.load({ keys: ['x\u0000y'], r: 0 }),
    loader.load({ keys: ['x', 'y'], r: 0 }),
    loader.load({ keys: ['["x","y"]'], r: 0 }),
  ]);
  assert.deepEqual(joined!.map((x) => (x as ReadResult).key), ['x\u0000y']);
  assert.deepEqual(split!.map((x) => (x as ReadResult).key), ['x', 'y']);
  assert.deepEqual(one!.map((x) => (x as ReadResult).key), ['["x","y"]']);
});
