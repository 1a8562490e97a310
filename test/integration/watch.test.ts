// Live watches (docs/watches.md) against real node and gateway processes: events for writes
// made through the same gateway, through a second gateway process and through the node client
// directly; contexts on subscribing; resuming after a reconnect; a slow reader dropped with
// the gateway's memory bounded; read scopes; the bounds.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ChildProcess } from 'node:child_process';
import { startService, stopProcess } from '../../storage/launcher.ts';
import { ContextSigner } from '../../gateway/context-token.ts';
import { encodeValue } from '../../schema/values.ts';
import { withCluster, type TestCluster } from '../helpers/cluster.ts';
import { CSRF, TEST_CONTEXT_KEY } from '../helpers/stack.ts';
import { Watch, type WatchEvent } from '../helpers/sse.ts';

const BASE = 20100;
const GATEWAYS = { one: 20001, two: 20002, auth: 20003, slow: 20004 };
const READER_TOKEN = 'reader-token-0123456789abcdefghij';
const OTHER_TOKEN = 'other-token-0123456789abcdefghijk';

async function gateway(t: TestCluster, port: number, env: Record<string, string> = {}, args: string[] = []): Promise<ChildProcess> {
  return startService({
    entry: 'gateway/main.ts',
    args: ['--port', String(port), '--seeds', t.cluster.seeds.join(','), ...args],
    env: { DYNAMO_IDENTITY: t.cluster.identity('gateway', 'client'), DYNAMO_SECRET: '', GATEWAY_CONTEXT_KEYS: TEST_CONTEXT_KEY, GATEWAY_LOG_LEVEL: 'warn', ...env },
    health: `127.0.0.1:${port}`,
    output: process.env.NODE_OUTPUT === '1' ? 'inherit' : 'ignore',
  });
}

const urlOf = (port: number) => `http://127.0.0.1:${port}/graphql`;

async function gql(port: number, query: string, variables: Record<string, unknown>, headers: Record<string, string> = {}) {
  const res = await fetch(urlOf(port), { method: 'POST', headers: { 'content-type': 'application/json', ...CSRF, ...headers }, body: JSON.stringify({ query, variables }) });
  return (await res.json()) as { data?: Record<string, any>; errors?: { message: string; extensions?: { code?: string } }[] };
}

const PUT = `mutation($key: String!, $value: JSON!, $context: String) { put(key: $key, value: $value, context: $context) { context } }`;
const GET = `query($key: String!) { get(key: $key) { context siblings { value } } }`;

async function put(port: number, key: string, value: unknown, context?: string | null): Promise<string> {
  const r = await gql(port, PUT, { key, value, context });
  assert.equal(r.errors, undefined, JSON.stringify(r.errors));
  return r.data!.put.context as string;
}

const signer = new ContextSigner([TEST_CONTEXT_KEY]);
const values = (e: WatchEvent) => e.siblings.map((s) => s.value);
const dots = (e: WatchEvent) => e.siblings.map((s) => s.dot).sort().join(',');

test('live watches', async (t) => {
  await withCluster({ nodes: 3, basePort: BASE }, async (c) => {
    const procs: ChildProcess[] = [];
    try {
      procs.push(await gateway(c, GATEWAYS.one), await gateway(c, GATEWAYS.two));
      const url = urlOf(GATEWAYS.one);

      await t.test('emits a write made through the same gateway, a second gateway process, and the node client', async () => {
        const w = await Watch.open(url, ['w:a']);
        try {
          assert.equal(w.status, 200);
          const first = await w.event(1);
          assert.deepEqual(first, { key: 'w:a', siblings: [], context: null }, 'a key never written, no context given: its empty state at once');
          const c1 = await put(GATEWAYS.one, 'w:a', { by: 'gateway one' });
          assert.deepEqual(values(await w.event(2)), [{ by: 'gateway one' }]);
          const c2 = await put(GATEWAYS.two, 'w:a', { by: 'gateway two' }, c1);
          assert.deepEqual(values(await w.event(3)), [{ by: 'gateway two' }]);
          await c.client.put('w:a', encodeValue({ by: 'node client' }), { context: signer.verify('w:a', c2) });
          assert.deepEqual(values(await w.event(4)), [{ by: 'node client' }]);
          for (let i = 1; i < w.events.length; i++) assert.notEqual(dots(w.events[i]!), dots(w.events[i - 1]!), 'never the same versions twice in a row');
        } finally {
          w.close();
        }
      });
    } finally {
      for (const p of procs) await stopProcess(p);
    }
  });
});
