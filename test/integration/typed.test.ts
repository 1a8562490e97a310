// Typed values on real node processes and a real gateway: concurrent increments through
// every coordinator (and with a node killed midway) all count; a remove that did not see a
// concurrent add leaves the member (add wins); the GraphQL fields, their errors and scopes.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { decodeTyped } from '../../client/src/core/crdt/codec.ts';
import { members } from '../../client/src/core/crdt/orswot.ts';
import { joinSiblings, type TypedOp } from '../../client/src/core/crdt/typed.ts';
import type { DynamoClient } from '../../client/src/client.ts';
import { runCli } from '../helpers/cli.ts';
import { withStack, type GqlResult } from '../helpers/stack.ts';
import { waitFor } from '../helpers/wait.ts';

const WRITER = 'typed-writer-0123456789abcdef';
const READER = 'typed-reader-0123456789abcdef';

/** A typed operation sent to one node, which coordinates it (every node replicates every key on three nodes). */
async function opAt(client: DynamoClient, node: string, key: string, op: TypedOp, w = 2) {
  return client.request(node, { type: 'put', key, value: new Uint8Array(0), deleted: false, context: null, w, pw: 0, op });
}

test('typed values on a real cluster', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'typed-'));
  const keys = join(dir, 'api-keys.json');
  writeFileSync(
    keys,
    JSON.stringify({ [WRITER]: { name: 'writer', read: ['t:'], write: ['t:'] }, [READER]: { name: 'reader', read: ['t:'], write: [] } }),
  );
  try {
    await withStack(
      { nodes: 3, basePort: 7981, gatewayPort: 4761, gatewayEnv: { GATEWAY_API_KEYS_FILE: keys } },
      async ({ gql: raw, client, cluster }) => {
        const gql = (q: string, v: Record<string, unknown> = {}, token = WRITER) => raw(q, v, { authorization: `Bearer ${token}` });
        const ok = (r: GqlResult) => {
          assert.equal(r.errors, undefined, JSON.stringify(r.errors));
          return r.data!;
        };
        const failed = (r: GqlResult, code: string, message: RegExp) => {
          assert.equal(r.errors?.[0]?.extensions?.code, code, JSON.stringify(r));
          assert.match(r.errors![0]!.message, message);
        };
        const stored = async (key: string, r = 3) => (await client.get(key, { r })).siblings;

        await t.test(
          'concurrent increments through all three coordinators, with one killed midway: every acknowledged increment counts',
          async () => {
            const key = 't:likes';
            let acked = 0;
            let unacked = 0;
            const worker = async (node: string, count: number) => {
              for (let i = 0; i < count; i++) {
                const by = 1 + ((i * 7 + node.length) % 5);
                try {
                  const reply = await opAt(client, node, key, { type: 'counter', by });
                  if (reply.type === 'opReply') acked += by;
                  else unacked += by;
                } catch {
                  unacked += by;
                }
              }
            };
            const viaGateway = async (count: number) => {
              for (let i = 0; i < count; i++) {
                const r = await gql(`mutation { counterIncrement(key: "${key}", by: 2) }`);
                if (r.errors) unacked += 2;
                else acked += 2;
              }
            };
            const kill = (async () => {
              await waitFor('some increments acknowledged', () => acked > 40);
              await cluster.signal('n3', 'SIGKILL');
            })();
            await Promise.all([worker('n1', 60), worker('n2', 60), worker('n3', 60), viaGateway(30), kill]);
            const value = ok(await gql(`{ counter(key: "${key}", r: 2) }`)).counter as number;
            process.stdout.write(`# ${acked} acknowledged, ${unacked} not acknowledged, counted ${value}\n`);
            assert.ok(
              value >= acked && value <= acked + unacked,
              `${value} lies between ${acked} (every acknowledged increment) and ${acked + unacked}`,
            );
            assert.ok(unacked > 0, 'the kill failed some increments');

            await cluster.startNode('n3');
            // n3's own copy comes back from disk; the read joins it with the others
            await waitFor('n3 answers', async () => (await opAt(client, 'n3', key, { type: 'counter', by: 0 }, 3)).type === 'opReply');
            const after = ok(await gql(`{ counter(key: "${key}", r: 3) }`)).counter as number;
            assert.ok(
              after >= value && after <= acked + unacked,
              `after the restart ${after} lies between ${value} and ${acked + unacked}`,
            );
            // through one coordinator again, one version remains
            const last = ok(await gql(`mutation { counterIncrement(key: "${key}", by: 1, w: 3) }`)).counterIncrement as number;
            assert.equal(last, after + 1);
            await waitFor('one version on every replica', async () => (await stored(key)).length === 1);
          },
        );

        await t.test('a remove that did not see a concurrent add leaves the member: add wins', async () => {
          const key = 't:cart';
          assert.deepEqual(
            ok(await gql(`mutation { setAdd(key: "${key}", members: ["milk", "eggs"]) }`)).setAdd,
            ['"eggs"', '"milk"'].map((m) => JSON.parse(m)),
          );
          await waitFor('every replica has both', async () => {
            const t = joinSiblings(key, (await client.replicas(key)).find((c) => c.node === 'n3')?.set ?? [], 'set');
            return t?.type === 'set' && members(t.state).length === 2;
          });
          // n3 stops; milk is added again through n1, which n3 does not see
          await cluster.signal('n3', 'SIGKILL');
          const readd = await opAt(client, 'n1', key, { type: 'set', add: ['"milk"'], remove: [] }, 2);
          assert.equal(readd.type, 'opReply');
          // n1 and n2 pause; n3 comes back alone and removes both, having seen only the first adds
          await cluster.signal('n1', 'SIGSTOP');
          await cluster.signal('n2', 'SIGSTOP');
          try {
            await cluster.startNode('n3');
            const removed = await opAt(client, 'n3', key, { type: 'set', add: [], remove: ['"milk"', '"eggs"'] }, 1);
            assert.equal(removed.type, 'opReply', JSON.stringify(removed));
            const seen = removed.type === 'opReply' ? decodeTyped(removed.state) : null;
            assert.deepEqual(seen?.type === 'set' && members(seen.state), [], 'n3 saw the set empty after its remove');
          } finally {
            await cluster.signal('n1', 'SIGCONT');
            await cluster.signal('n2', 'SIGCONT');
          }
          const set = await waitFor('a read that joins both sides', async () => {
            const r = await gql(`{ set(key: "${key}", r: 3) }`);
            return r.errors ? null : (r.data!.set as unknown[]);
          });
          assert.deepEqual(set, ['milk'], 'milk re-added concurrently stays; eggs, whose add the remove had seen, goes');
        });

        await t.test('GraphQL: counters, sets and maps; wrong types and plain values are refused; scopes as get and put', async () => {
          assert.equal(ok(await gql(`{ counter(key: "t:new") }`)).counter, 0);
          assert.equal(ok(await gql(`mutation { counterIncrement(key: "t:c", by: 5) }`)).counterIncrement, 5);
          assert.equal(ok(await gql(`mutation { counterIncrement(key: "t:c", by: -7) }`)).counterIncrement, -2);
          assert.equal(ok(await gql(`{ counter(key: "t:c") }`, {}, READER)).counter, -2);

          const members = [{ sku: 1, qty: 2 }, 'x', 3];
          const added = ok(await gql(`mutation($m: [JSON!]!) { setAdd(key: "t:s", members: $m) }`, { m: members })).setAdd as unknown[];
          assert.deepEqual(added, ['x', 3, { qty: 2, sku: 1 }], 'ordered by canonical JSON text');
          // equal as JSON: the keys in another order name the same member
          assert.deepEqual(
            ok(await gql(`mutation { setRemove(key: "t:s", members: [{qty: 2, sku: 1}, "absent"]) }`)).setRemove,
            ['x', 3],
            'ordered by canonical JSON text: "x" before 3',
          );
          assert.deepEqual(ok(await gql(`{ set(key: "t:s") }`)).set, ['x', 3]);

          const MAP = `mutation($r: [MapRegisterInput!], $i: [MapIncrementInput!]) { mapUpdate(key: "t:m", registers: $r, increments: $i) { key registers { field value } counters { field value } } }`;
          const m1 = ok(await gql(MAP, { r: [{ field: 'name', value: { first: 'Ada' } }], i: [{ field: 'visits', by: 2 }] })).mapUpdate;
          assert.deepEqual(m1, {
            key: 't:m',
            registers: [{ field: 'name', value: { first: 'Ada' } }],
            counters: [{ field: 'visits', value: 2 }],
          });
          const m2 = ok(
            await gql(MAP, {
              r: [
                { field: 'name', value: null },
                { field: 'city', value: 'London' },
              ],
              i: [{ field: 'visits', by: 1 }],
            }),
          ).mapUpdate;
          assert.deepEqual(m2.registers, [
            { field: 'city', value: 'London' },
            { field: 'name', value: null },
          ]);
          assert.deepEqual(ok(await gql(`{ map(key: "t:m") { counters { field value } } }`)).map.counters, [{ field: 'visits', value: 3 }]);

          failed(await gql(`mutation { setAdd(key: "t:c", members: [1]) }`), 'BAD_REQUEST', /key 't:c' holds a counter, not a set/);
          failed(await gql(`{ map(key: "t:s") { key } }`), 'BAD_REQUEST', /key 't:s' holds a set, not a map/);
          ok(await gql(`mutation { put(key: "t:plain", value: "hello") { dot } }`));
          failed(await gql(`mutation { counterIncrement(key: "t:plain", by: 1) }`), 'BAD_REQUEST', /holds a plain value, not a counter/);
          const plain = ok(await gql(`{ get(key: "t:plain") { siblings { value } } }`)).get;
          assert.deepEqual(plain.siblings, [{ value: 'hello' }], 'the refused operation wrote nothing');
          failed(await gql(`mutation { mapUpdate(key: "t:m") { key } }`), 'BAD_REQUEST', /at least one register or increment/);

          failed(await gql(`mutation { counterIncrement(key: "t:c", by: 1) }`, {}, READER), 'FORBIDDEN', /may not write 't:c'/);
          failed(await gql(`{ counter(key: "other:c") }`), 'FORBIDDEN', /may not read 'other:c'/);
          // a typed key read without types shows its bytes
          const raw = ok(await gql(`{ get(key: "t:c") { siblings { value } } }`)).get.siblings[0].value as string;
          assert.ok(raw.startsWith('\u0000CRDT'), raw);
        });

        await t.test('the CLI: incr, decr, counter, sadd, srem, members; a wrong type is refused', async () => {
          const cli = (...args: string[]) => runCli(cluster, ...args);
          assert.equal((await cli('incr', 'cli:n')).out, '1\n');
          assert.equal((await cli('incr', 'cli:n', '5')).out, '6\n');
          assert.equal((await cli('decr', 'cli:n', '2')).out, '4\n');
          assert.equal((await cli('counter', 'cli:n')).out, '4\n');
          assert.equal((await cli('sadd', 'cli:s', 'pear', '{"sku":1}', '3')).out, '"pear"\n3\n{"sku":1}\n');
          assert.equal((await cli('srem', 'cli:s', 'pear')).out, '3\n{"sku":1}\n');
          assert.deepEqual(JSON.parse((await cli('members', 'cli:s', '--json')).out).members, [3, { sku: 1 }]);
          const wrong = await cli('sadd', 'cli:n', 'x');
          assert.equal(wrong.code, 1);
          assert.match(wrong.err, /error BAD_REQUEST: key 'cli:n' holds a counter, not a set/);
        });
      },
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
