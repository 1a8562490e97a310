// Conditional writes through the GraphQL gateway over real node processes, and through the
// CLI: what a coordinator's check refuses one write after another, that of N concurrent
// writes made with one context exactly one passes, the CONFLICT error's siblings and context
// (enough to merge and write again in one round trip), and the scopes a conditional write needs.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCli } from '../helpers/cli.ts';
import { withStack, type GqlResult } from '../helpers/stack.ts';

const WRITER = 'writer-token-0123456789abcdef';
const DROPBOX = 'dropbox-token-0123456789abcdef';

const GET = `query($key: String!) { get(key: $key) { found context siblings { value deleted dot writtenAt } } }`;
const PUT = `mutation($key: String!, $value: JSON!, $context: String, $condition: WriteCondition) {
  put(key: $key, value: $value, context: $context, condition: $condition) { context dot } }`;
const DELETE = `mutation($key: String!, $context: String, $condition: DeleteCondition) {
  delete(key: $key, context: $context, condition: $condition) { context dot } }`;

interface Sibling {
  value: unknown;
  deleted: boolean;
  dot: string;
  writtenAt: string;
}


test('conditional writes through the gateway and the CLI, on a real cluster', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'conditional-'));
  const keys = join(dir, 'api-keys.json');
  writeFileSync(
    keys,
    JSON.stringify({
      [WRITER]: { name: 'writer', read: ['c:'], write: ['c:'] },
      // may drop values into 'drop:' but read nothing
      [DROPBOX]: { name: 'dropbox', read: [], write: ['drop:'] },
    }),
  );
  try {
    await withStack(
      { nodes: 3, basePort: 7681, gatewayPort: 4681, gatewayEnv: { GATEWAY_API_KEYS_FILE: keys } },
      async ({ gql: raw, cluster }) => {
        const gql = (q: string, v: Record<string, unknown>, token = WRITER) => raw(q, v, { authorization: `Bearer ${token}` });
        const ok = (r: GqlResult) => {
          assert.equal(r.errors, undefined, JSON.stringify(r.errors));
          return r.data!;
        };
        const conflict = (r: GqlResult) => {
          assert.equal(r.errors?.length, 1, JSON.stringify(r));
          const e = r.errors![0]!;
          assert.equal(e.extensions?.code, 'CONFLICT', JSON.stringify(e));
          assert.equal(r.data?.put ?? r.data?.delete ?? null, null);
          return e as { message: string; extensions: { key: string; siblings: Sibling[]; context: string | null } };
        };
        const read = async (key: string) =>
          ok(await gql(GET, { key })).get as { found: boolean; context: string | null; siblings: Sibling[] };

        await t.test(
          'ABSENT creates once; CURRENT with a stale context is refused with the siblings and a context to retry with',
          async () => {
            const created = ok(await gql(PUT, { key: 'c:profile', value: { name: 'Ada' }, condition: 'ABSENT' })).put;
            const again = conflict(await gql(PUT, { key: 'c:profile', value: { name: 'Eve' }, condition: 'ABSENT' }));
            assert.match(again.message, /holds a live version/);
            assert.equal(again.extensions.key, 'c:profile');
            assert.deepEqual(
              again.extensions.siblings.map((s) => [s.value, s.deleted, s.dot]),
              [[{ name: 'Ada' }, false, created.dot]],
            );
            assert.ok(!Number.isNaN(Date.parse(again.extensions.siblings[0]!.writtenAt)));
            // the error's siblings and context are those a get returns
            const now = await read('c:profile');
            assert.deepEqual(again.extensions.siblings, now.siblings);
            assert.equal(again.extensions.context, now.context);

            // a client edits with the context it read; another write lands first
            const stale = now.context;
            const other = ok(await gql(PUT, { key: 'c:profile', value: { name: 'Ada L.' }, context: stale, condition: 'CURRENT' })).put;
            const refused = conflict(
              await gql(PUT, { key: 'c:profile', value: { name: 'Ada Lovelace' }, context: stale, condition: 'CURRENT' }),
            );
            assert.match(refused.message, /does not cover/);
            assert.deepEqual(
              refused.extensions.siblings.map((s) => s.dot),
              [other.dot],
            );
            // one round trip: merge what the error carries and write with its context
            const merged = ok(
              await gql(PUT, {
                key: 'c:profile',
                value: { name: 'Ada Lovelace', was: refused.extensions.siblings[0]!.value },
                context: refused.extensions.context,
                condition: 'CURRENT',
              }),
            ).put;
            assert.deepEqual(
              (await read('c:profile')).siblings.map((s) => [s.dot, s.value]),
              [[merged.dot, { name: 'Ada Lovelace', was: { name: 'Ada L.' } }]],
            );
          },
        );

        await t.test(
          'delete CURRENT: refused over a write it has not seen, applied with the current context; ABSENT then writes over the tombstone',
          async () => {
            const first = ok(await gql(PUT, { key: 'c:todo', value: 'buy milk' })).put;
            const blind = ok(await gql(PUT, { key: 'c:todo', value: 'buy bread' })).put;
            const refused = conflict(await gql(DELETE, { key: 'c:todo', context: first.context, condition: 'CURRENT' }));
            // the error carries the whole set the coordinator held: the version the context covers and the one it misses
            assert.deepEqual(refused.extensions.siblings.map((s) => s.dot).sort(), [first.dot, blind.dot].sort());
            assert.equal((await read('c:todo')).found, true, 'nothing was deleted');
            const gone = ok(await gql(DELETE, { key: 'c:todo', context: (await read('c:todo')).context, condition: 'CURRENT' })).delete;
            const after = await read('c:todo');
            assert.equal(after.found, false);
            assert.deepEqual(
              after.siblings.map((s) => [s.dot, s.deleted]),
              [[gone.dot, true]],
            );
            // a tombstone is a version: CURRENT without a context is refused, ABSENT is not
            const unseen = conflict(await gql(PUT, { key: 'c:todo', value: 'x', condition: 'CURRENT' }));
            assert.deepEqual(
              unseen.extensions.siblings.map((s) => [s.deleted, s.value]),
              [[true, null]],
            );
            const recreated = ok(await gql(PUT, { key: 'c:todo', value: 'walk the dog', condition: 'ABSENT' })).put;
            assert.deepEqual(
              (await read('c:todo')).siblings.map((s) => [s.dot, s.value]),
              [[recreated.dot, 'walk the dog']],
              'the created value replaced the tombstone',
            );
            // a key never written: CURRENT without a context passes, and so does a delete
            ok(await gql(PUT, { key: 'c:fresh', value: 1, condition: 'CURRENT' }));
            conflict(await gql(DELETE, { key: 'c:fresh', condition: 'CURRENT' }));
          },
        );

        await t.test(
          'N concurrent writes with one context through one coordinator: exactly one passes, the rest get CONFLICT naming it',
          async () => {
            const N = 12;
            const base = ok(await gql(PUT, { key: 'c:counter', value: 0, condition: 'ABSENT' })).put;
            const answers = await Promise.all(
              Array.from({ length: N }, (_, i) =>
                gql(PUT, { key: 'c:counter', value: i + 1, context: base.context, condition: 'CURRENT' }),
              ),
            );
            const won = answers.flatMap((a, i) => (a.errors ? [] : [{ i, dot: a.data!.put.dot as string }]));
            assert.equal(won.length, 1, JSON.stringify(answers.map((a) => a.errors?.[0]?.extensions?.code ?? 'ok')));
            for (const a of answers.filter((x) => x.errors))
              assert.deepEqual(
                conflict(a).extensions.siblings.map((s) => s.dot),
                [won[0]!.dot],
              );
            assert.deepEqual(
              (await read('c:counter')).siblings.map((s) => s.value),
              [won[0]!.i + 1],
              'one version: no sibling came from a refused write',
            );
            // the same for creates
            const creates = await Promise.all(
              Array.from({ length: N }, (_, i) => gql(PUT, { key: 'c:lock', value: { holder: i }, condition: 'ABSENT' })),
            );
            assert.equal(creates.filter((a) => !a.errors).length, 1);
            assert.equal((await read('c:lock')).siblings.length, 1);
          },
        );

        await t.test('bad input: ABSENT is no delete condition; a forged context is refused before any check', async () => {
          const r = await gql(`mutation { delete(key: "c:x", condition: ABSENT) { dot } }`, {});
          assert.match(r.errors![0]!.message, /ABSENT.*DeleteCondition|DeleteCondition.*ABSENT/);
          const forged = await gql(PUT, { key: 'c:profile', value: 1, context: 'AAAA', condition: 'CURRENT' });
          assert.equal(forged.errors![0]!.extensions!.code, 'BAD_CONTEXT');
        });

        await t.test('scopes: a conditional write needs read scope too, since its refusal shows the values', async () => {
          ok(await gql(PUT, { key: 'drop:1', value: 'secret' }, DROPBOX));
          for (const [q, condition] of [
            [PUT, 'ABSENT'],
            [PUT, 'CURRENT'],
            [DELETE, 'CURRENT'],
          ] as const) {
            const r = await gql(q, { key: 'drop:1', value: 'guess', condition }, DROPBOX);
            assert.equal(r.errors![0]!.extensions!.code, 'FORBIDDEN', JSON.stringify(r.errors));
            assert.match(r.errors![0]!.message, /may not read 'drop:1'/);
            assert.equal(r.errors![0]!.extensions!.siblings, undefined);
          }
          // and write scope: the writer reads 'c:' only
          const outside = await gql(PUT, { key: 'drop:1', value: 1, condition: 'ABSENT' });
          assert.equal(outside.errors![0]!.extensions!.code, 'FORBIDDEN');
          assert.match(outside.errors![0]!.message, /may not write/);
        });

        await t.test(
          'the CLI: dynamo put --if absent|current, a refusal printed with its siblings and context, exit status 3',
          async () => {
            const cli = (...args: string[]) => runCli(cluster, '--json', ...args);
            const made = await cli('put', 'cli:k', 'one', '--if', 'absent');
            assert.equal(made.code, 0, made.err);
            const again = await cli('put', 'cli:k', 'two', '--if', 'absent');
            assert.equal(again.code, 3, again.err);
            assert.match(again.err, /error CONFLICT: .*live version/);
            const shown = JSON.parse(again.out) as { error: string; siblings: { value: string }[]; context: string };
            assert.equal(shown.error, 'CONFLICT');
            assert.deepEqual(
              shown.siblings.map((s) => s.value),
              ['one'],
            );
            const retried = await cli('put', 'cli:k', 'two', '--if', 'current', '--context', shown.context);
            assert.equal(retried.code, 0, retried.err);
            const stale = await cli('delete', 'cli:k', '--if', 'current', '--context', shown.context);
            assert.equal(stale.code, 3);
            const wrong = await cli('delete', 'cli:k', '--if', 'absent');
            assert.equal(wrong.code, 1);
            assert.match(wrong.err, /--if takes 'current' for delete, got 'absent'/);
          },
        );
      },
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
