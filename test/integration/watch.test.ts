// Live watches (docs/watches.md) against real node and gateway processes: events for writes
// made through the same gateway, through a second gateway process and through the node client
// directly; contexts on subscribing; resuming after a reconnect; a slow reader dropped with
// the gateway's memory bounded; read scopes; the bounds.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ChildProcess } from 'node:child_process';
import { startService, stopProcess } from '../../bin/launcher.ts';
import { ContextSigner } from '../../gateway/context-token.ts';
import { encodeValue } from '../../schema/values.ts';
import { StoreError } from '../../client/src/core/errors.ts';
import { withCluster, type TestCluster } from '../helpers/cluster.ts';
import { CSRF, TEST_CONTEXT_KEY } from '../helpers/stack.ts';
import { Watch, WATCH, type WatchEvent } from '../helpers/sse.ts';
import { connect } from 'node:net';
import { readFileSync } from 'node:fs';

const BASE = 20100;
const GATEWAYS = { one: 20001, two: 20002, auth: 20003, slow: 20004 };
const READER_TOKEN = 'reader-token-0123456789abcdefghij';
const OTHER_TOKEN = 'other-token-0123456789abcdefghijk';

async function gateway(t: TestCluster, port: number, env: Record<string, string> = {}, args: string[] = []): Promise<ChildProcess> {
  const child = await startService({
    entry: 'bin/gateway.ts',
    args: ['--port', String(port), '--seeds', t.cluster.seeds.join(','), ...args],
    env: {
      DYNAMO_IDENTITY: t.cluster.identity('gateway', 'client'),
      DYNAMO_SECRET: '',
      GATEWAY_CONTEXT_KEYS: TEST_CONTEXT_KEY,
      GATEWAY_LOG_LEVEL: 'warn',
      ...env,
    },
    health: `127.0.0.1:${port}`,
    output: process.env.NODE_OUTPUT === '1' ? 'inherit' : 'ignore',
  });
  // healthy is listening; ready is connected to the cluster
  const deadline = Date.now() + 15_000;
  while (!(await fetch(`http://127.0.0.1:${port}/ready`).catch(() => null))?.ok) {
    if (Date.now() > deadline) throw new Error(`the gateway on ${port} never became ready`);
    await new Promise((r) => setTimeout(r, 100));
  }
  return child;
}

const urlOf = (port: number) => `http://127.0.0.1:${port}/graphql`;

async function gql(port: number, query: string, variables: Record<string, unknown>, headers: Record<string, string> = {}) {
  const res = await fetch(urlOf(port), {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...CSRF, ...headers },
    body: JSON.stringify({ query, variables }),
  });
  return (await res.json()) as { data?: Record<string, any>; errors?: { message: string; extensions?: { code?: string } }[] };
}

const PUT = `mutation($key: String!, $value: JSON!, $context: String) { put(key: $key, value: $value, context: $context) { context } }`;

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
          assert.deepEqual(
            first,
            { key: 'w:a', siblings: [], context: null },
            'a key never written, no context given: its empty state at once',
          );
          const c1 = await put(GATEWAYS.one, 'w:a', { by: 'gateway one' });
          assert.deepEqual(values(await w.event(2)), [{ by: 'gateway one' }]);
          const c2 = await put(GATEWAYS.two, 'w:a', { by: 'gateway two' }, c1);
          assert.deepEqual(values(await w.event(3)), [{ by: 'gateway two' }]);
          await c.client.put('w:a', encodeValue({ by: 'node client' }), { context: signer.verify('w:a', c2) });
          assert.deepEqual(values(await w.event(4)), [{ by: 'node client' }]);
          for (let i = 1; i < w.events.length; i++)
            assert.notEqual(dots(w.events[i]!), dots(w.events[i - 1]!), 'never the same versions twice in a row');
        } finally {
          w.close();
        }
      });

      await t.test('an idle watch stays open past the HTTP server 10 s idle timeout, and still delivers', async () => {
        const w = await Watch.open(url, ['idle']);
        try {
          await w.event(1);
          const quiet = Date.now() + 12_000;
          await w.until((x) => x.ended || Date.now() >= quiet, 'twelve quiet seconds', 15_000).catch(() => undefined);
          assert.equal(w.ended, false, 'the idle watch was closed');
          await put(GATEWAYS.one, 'idle', 'after the quiet');
          assert.deepEqual(values(await w.event(2)), ['after the quiet']);
        } finally {
          w.close();
        }
      });

      await t.test('contexts on subscribing: only the keys whose versions the contexts do not cover are emitted at once', async () => {
        const seen = [await put(GATEWAYS.one, 'ctx:1', 1), await put(GATEWAYS.one, 'ctx:2', 2), await put(GATEWAYS.one, 'ctx:3', 3)];
        await put(GATEWAYS.two, 'ctx:2', 'two, again', seen[1]);
        const w = await Watch.open(url, ['ctx:1', 'ctx:2', 'ctx:3'], seen);
        try {
          const first = await w.event(1);
          assert.equal(first.key, 'ctx:2');
          assert.deepEqual(values(first), ['two, again']);
          // a write after subscribing comes next: nothing else was emitted at once
          await put(GATEWAYS.one, 'ctx:3', 'three, again', seen[2]);
          const second = await w.event(2);
          assert.equal(second.key, 'ctx:3');
          assert.deepEqual(values(second), ['three, again']);
          assert.equal(w.events.length, 2);
        } finally {
          w.close();
        }
      });

      await t.test('a watcher that reconnects with the last contexts it saw gets what it missed, once', async () => {
        const keys = ['resume:a', 'resume:b'];
        const first = await Watch.open(url, keys);
        const last = new Map<string, string | null>();
        await first.until((w) => w.events.length >= 2, 'the two initial events');
        const cA = await put(GATEWAYS.one, 'resume:a', 'a1');
        await first.until((w) => w.events.some((e) => values(e)[0] === 'a1'), 'a1');
        for (const e of first.events) last.set(e.key, e.context);
        first.close();
        // while no one watches: a is written twice through the other gateway, b not at all
        const a2 = await put(GATEWAYS.two, 'resume:a', 'a2', cA);
        await put(GATEWAYS.two, 'resume:a', 'a3', a2);
        const again = await Watch.open(url, keys, keys.map((k) => last.get(k) ?? null));
        try {
          const missed = await again.event(1);
          assert.equal(missed.key, 'resume:a');
          assert.deepEqual(values(missed), ['a3']);
          await put(GATEWAYS.one, 'resume:b', 'b1');
          const next = await again.event(2);
          assert.deepEqual([next.key, values(next)], ['resume:b', ['b1']]);
          assert.equal(again.events.length, 2, 'nothing the watcher had seen came again');
        } finally {
          again.close();
        }
      });

      await t.test(
        'a burst of writes: events in order of the versions, never the same versions twice in a row, the last one last',
        async () => {
          const w = await Watch.open(url, ['burst']);
          try {
            await w.event(1);
            let context: string | null = null;
            for (let i = 1; i <= 30; i++) context = await put(i % 2 ? GATEWAYS.one : GATEWAYS.two, 'burst', i, context);
            await w.until((x) => x.events.some((e) => values(e)[0] === 30), 'the last write');
            const events = w.events.slice(1);
            for (let i = 1; i < events.length; i++) {
              assert.notEqual(dots(events[i]!), dots(events[i - 1]!), 'the same versions twice in a row');
              assert.ok((values(events[i]!)[0] as number) > (values(events[i - 1]!)[0] as number), 'an older version after a newer one');
            }
          } finally {
            w.close();
          }
        },
      );

      await t.test('replicas killed and restarted: the watch goes on, and hears from a restarted replica again', async () => {
        const w = await Watch.open(url, ['down:k']);
        try {
          await w.event(1);
          await c.cluster.signal('n1', 'SIGKILL');
          const before = await put(GATEWAYS.two, 'down:k', 'n1 down');
          assert.deepEqual(values(await w.event(2)), ['n1 down']);
          await c.cluster.startNode('n1');
          // only n1 is left to store the next version: the gateway must have polled it again
          await c.cluster.signal('n2', 'SIGKILL');
          await c.cluster.signal('n3', 'SIGKILL');
          // the client fails a node fast for 250 ms after an attempt that failed, and it may have
          // tried n1 while n1 was down: a put that was never sent is tried again, for up to 2 s
          for (let attempt = 1; ; attempt++) {
            try {
              await c.client.put('down:k', encodeValue('only n1'), { context: signer.verify('down:k', before), w: 1 });
              break;
            } catch (e) {
              if (!(e instanceof StoreError && e.details.sent === false) || attempt === 40) throw e;
              await new Promise((r) => setTimeout(r, 50));
            }
          }
          assert.deepEqual(values(await w.event(3, 20_000)), ['only n1']);
        } finally {
          w.close();
          for (const id of ['n2', 'n3']) await c.cluster.startNode(id);
        }
      });

      await t.test('a ring change: a node that joins is polled for the watched keys it now replicates', async () => {
        const keys = Array.from({ length: 24 }, (_, i) => `ring:${i}`);
        const w = await Watch.open(url, keys);
        const killed: string[] = [];
        try {
          await w.until((x) => x.events.length >= keys.length, 'the initial events');
          const n4 = c.cluster.addNode();
          await c.cluster.startNode(n4.id);
          const reply = await c.client.changeRing({ kind: 'join', node: n4.id, address: n4.address });
          assert.equal(reply.type, 'changeReply', JSON.stringify(reply));
          const planned = reply.type === 'changeReply' ? reply.version : 0;
          const deadline = Date.now() + 60_000;
          for (;;) {
            await c.client.refreshRing();
            if (c.client.ring.version > planned && c.client.ring.next === null) break;
            assert.ok(Date.now() < deadline, 'the join did not commit within 60 s');
            await new Promise((r) => setTimeout(r, 200));
          }
          const view = c.client.view;
          const key = keys.find((k) => view.primaries(view.partitionOf(k)).includes(n4.id));
          assert.ok(key, 'no watched key moved to the new node');
          // only n4 of the key's primaries is left to store the next version
          for (const id of view.primaries(view.partitionOf(key))) if (id !== n4.id) killed.push(id);
          for (const id of killed) await c.cluster.signal(id, 'SIGKILL');
          const count = w.events.length;
          await c.client.put(key, encodeValue('on the newcomer'), { w: 1 });
          const event = await w.event(count + 1, 20_000);
          assert.deepEqual([event.key, values(event)], [key, ['on the newcomer']]);
        } finally {
          w.close();
          for (const id of killed) await c.cluster.startNode(id);
        }
      });

      await t.test('with auth on: a key outside the read scope is FORBIDDEN; the bounds refuse clearly', async () => {
        const keysFile = join(c.dataDir, 'api-keys.json');
        writeFileSync(
          keysFile,
          JSON.stringify({
            [READER_TOKEN]: { name: 'reader', read: ['pub:'], write: ['pub:'] },
            [OTHER_TOKEN]: { name: 'other', read: ['pub:'], write: [] },
          }),
        );
        procs.push(
          await gateway(
            c,
            GATEWAYS.auth,
            { GATEWAY_WATCH_MAX_KEYS: '3', GATEWAY_WATCH_MAX_PER_CLIENT: '2', GATEWAY_WATCH_MAX_STREAMS: '3' },
            ['--api-keys', keysFile],
          ),
        );
        const auth = urlOf(GATEWAYS.auth);
        const reader = { authorization: `Bearer ${READER_TOKEN}` };
        const other = { authorization: `Bearer ${OTHER_TOKEN}` };
        const refusal = async (w: Watch) => {
          await w.until((x) => x.results.length > 0, 'an answer');
          await w.until((x) => x.ended, 'the end of the refused stream');
          return w.results[0]!.errors?.[0];
        };

        const forbidden = await refusal(await Watch.open(auth, ['pub:a', 'secret:b'], undefined, reader));
        assert.equal(forbidden?.extensions?.code, 'FORBIDDEN');
        assert.match(forbidden!.message, /API key 'reader' may not read 'secret:b'/);
        const anonymous = await Watch.open(auth, ['pub:a']);
        await anonymous.until((x) => x.ended, 'the refusal');
        assert.equal(anonymous.status, 401);

        const tooMany = await refusal(await Watch.open(auth, ['pub:1', 'pub:2', 'pub:3', 'pub:4'], undefined, reader));
        assert.equal(tooMany?.extensions?.code, 'BAD_REQUEST');
        assert.match(tooMany!.message, /at most 3 keys \(GATEWAY_WATCH_MAX_KEYS\), got 4/);

        const open: Watch[] = [];
        try {
          for (let i = 0; i < 2; i++) open.push(await Watch.open(auth, ['pub:a'], undefined, reader));
          for (const w of open) await w.event(1);
          const third = await refusal(await Watch.open(auth, ['pub:a'], undefined, reader));
          assert.equal(third?.extensions?.code, 'OVERLOADED');
          assert.match(third!.message, /2 watches are open for this caller, its limit \(GATEWAY_WATCH_MAX_PER_CLIENT\)/);
          open.push(await Watch.open(auth, ['pub:a'], undefined, other));
          await open[2]!.event(1);
          const fourth = await refusal(await Watch.open(auth, ['pub:a'], undefined, other));
          assert.equal(fourth?.extensions?.code, 'OVERLOADED');
          assert.match(fourth!.message, /this gateway has 3 watches open, its limit \(GATEWAY_WATCH_MAX_STREAMS\)/);
          // a watcher that goes away frees its place, as soon as the gateway sees its connection close
          open.shift()!.close();
          const deadline = Date.now() + 5000;
          for (;;) {
            const again = await Watch.open(auth, ['pub:a'], undefined, reader);
            await again.until((x) => x.results.length > 0, 'an answer');
            if (!again.results[0]!.errors) break;
            assert.ok(Date.now() < deadline, `the place was not freed: ${JSON.stringify(again.results[0])}`);
          }
        } finally {
          for (const w of open) w.close();
        }
      });

      await t.test(
        'a reader that stops reading is dropped with SLOW_READER, and the gateway does not keep what it could not send',
        async () => {
          const limit = 256 * 1024;
          const slow = await gateway(c, GATEWAYS.slow, { GATEWAY_WATCH_MAX_BUFFER_BYTES: String(limit) });
          procs.push(slow);
          const rss = () => Number(/VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${slow.pid}/status`, 'utf8'))![1]) * 1024;
          const socket = connect(GATEWAYS.slow, '127.0.0.1');
          const body = JSON.stringify({ query: WATCH, variables: { keys: ['slow'] } });
          socket.write(
            `POST /graphql HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nAccept: text/event-stream\r\n` +
              `x-graphql-yoga-csrf: 1\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
          );
          let received = '';
          const onData = (d: Buffer) => (received += d.toString('latin1'));
          socket.on('data', onData);
          const ended = new Promise<void>((resolve) => socket.once('close', () => resolve()));
          const deadline = Date.now() + 10_000;
          while (!received.includes('"key":"slow"')) {
            assert.ok(Date.now() < deadline, `no first event: ${received.slice(0, 500)}`);
            await new Promise((r) => setTimeout(r, 20));
          }
          // stop reading: the kernel's buffers fill, then the gateway's
          socket.pause();
          const before = rss();
          const value = encodeValue('x'.repeat(1_000_000));
          const writes = 120;
          let context = null as null | Awaited<ReturnType<typeof c.client.put>>['context'];
          for (let i = 0; i < writes; i++) context = (await c.client.put('slow', value, { context })).context;
          const grown = rss() - before;
          console.log(`gateway RSS grew ${(grown / 1e6).toFixed(1)} MB while ${writes} events of 1 MB waited for a reader that stopped`);
          // what the gateway's own work leaves behind levels off (about 40 MB here, at 64 writes as at 160);
          // keeping the unread events would grow with the writes
          assert.ok(grown < (writes * 1e6) / 2, `the gateway grew by ${grown} bytes: it kept what the reader did not read`);
          socket.resume();
          await ended;
          assert.match(received, /"code":"SLOW_READER"/);
          assert.match(received, new RegExp(`more than ${limit} bytes of events waited to be read \\(GATEWAY_WATCH_MAX_BUFFER_BYTES\\)`));
          const events = received.split('"key":"slow"').length - 1;
          assert.ok(events < writes / 2, `${events} events reached the reader: it was not dropped`);
          console.log(`${events} of ${writes} events reached the reader before it was dropped`);
          // the gateway still serves watches
          const w = await Watch.open(urlOf(GATEWAYS.slow), ['slow']);
          try {
            assert.equal((await w.event(1)).key, 'slow');
          } finally {
            w.close();
          }
        },
      );
    } finally {
      for (const p of procs) await stopProcess(p);
    }
  });
});
