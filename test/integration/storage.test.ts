// The storage core against real node processes on loopback.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { randomInt } from 'node:crypto';
import { cpSync, renameSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import WebSocket from 'ws';
import { StoreError } from '../../client/src/core/errors.ts';
import { contextOf } from '../../client/src/core/siblings.ts';
import { DynamoClient } from '../../client/src/client.ts';
import type { VersionVector } from '../../client/src/core/version-vector.ts';
import { encodeFrame, decodeFrames, isBadFrame } from '../../client/src/protocol/codec.ts';
import { ROOT, TS_NODE_ARGS } from '../../bin/launcher.ts';
import { TEST_SECRET, withCluster } from '../helpers/cluster.ts';
import { waitFor } from '../helpers/wait.ts';
import { SeededRandom } from '../sim/random.ts';

const text = (v: Uint8Array) => Buffer.from(v).toString('utf8');

/** The fuzz seed: FUZZ_SEED when set, else a fresh one; printed so a failing run can be repeated. */
function fuzzSeed(): number {
  const given = process.env.FUZZ_SEED;
  const seed = given ? Number(given) : randomInt(2 ** 32);
  if (!Number.isInteger(seed) || seed < 0 || seed >= 2 ** 32)
    throw new Error(`FUZZ_SEED must be an integer from 0 to 2^32-1, got '${given}'`);
  process.stdout.write(`# fuzz seed ${seed} (FUZZ_SEED=${seed} repeats it)\n`);
  return seed;
}

/** Sends `messages` on `ws`, then waits until the reply with id `awaited` arrives or the node closes the connection. */
function answeredOrClosed(
  ws: WebSocket,
  messages: readonly Uint8Array[],
  awaited: number,
  what: string,
  timeoutMs = 10_000,
): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const done = (error?: Error) => {
      clearTimeout(timer);
      ws.off('message', onMessage);
      ws.off('close', onClose);
      if (error) reject(error);
      else resolve();
    };
    const onMessage = (data: Buffer) => {
      if (decodeFrames(data).some((f) => !isBadFrame(f) && f.id === awaited)) done();
    };
    const onClose = () => done();
    const timer = setTimeout(() => done(new Error(`timed out after ${timeoutMs} ms waiting for a reply to ${what} or a close`)), timeoutMs);
    ws.on('message', onMessage);
    ws.on('close', onClose);
    for (const m of messages) ws.send(m);
  });
}

test('quorum put and get; R, W, PR and PW are checked per request', async () => {
  await withCluster({ nodes: 3, basePort: 7201 }, async ({ client }) => {
    const w = await client.put('alpha', Buffer.from('one'));
    assert.ok(w.acks >= 2);
    const r = await client.get('alpha');
    assert.equal(r.siblings.length, 1);
    assert.equal(text(r.siblings[0]!.value), 'one');
    assert.ok(r.replies >= 2);
    const all = await client.get('alpha', { r: 3, pr: 3 });
    assert.equal(all.replies, 3);
    const strict = await client.put('alpha', Buffer.from('two'), { context: contextOf(all.siblings), w: 3, pw: 3 });
    assert.equal(strict.acks, 3);
    await assert.rejects(
      client.get('alpha', { r: 4 }),
      (e: StoreError) => e.code === 'BAD_REQUEST' && /r must be an integer from 1 to N=3, got 4/.test(e.message),
    );
    await assert.rejects(
      client.put('alpha', Buffer.from('x'), { pw: 4 }),
      (e: StoreError) => e.code === 'BAD_REQUEST' && /pw/.test(e.message),
    );
    assert.deepEqual((await client.get('never-written')).siblings, []);
  });
});

test('right after a cold start every replica answers: a node that could not reach a peer still starting tries again as soon as it hears from it', async () => {
  let failed = 0;
  for (let start = 0; start < 3; start++) {
    await withCluster({ nodes: 4, basePort: 7206 }, async ({ client }) => {
      const reads = await Promise.allSettled(Array.from({ length: 40 }, (_, k) => client.get(`key-${k}`, { r: 3 })));
      failed += reads.filter((r) => r.status === 'rejected').length;
    });
  }
  assert.equal(failed, 0, `${failed} of 120 reads at R=3 failed right after a cold start`);
});

test('two puts over one context give two siblings; a put over the merged context gives one', async () => {
  await withCluster({ nodes: 3, basePort: 7211 }, async ({ client }) => {
    await client.put('cart', Buffer.from('base'));
    const seen = contextOf((await client.get('cart')).siblings);
    await client.put('cart', Buffer.from('apples'), { context: seen });
    await client.put('cart', Buffer.from('pears'), { context: seen });
    const both = await client.get('cart', { r: 3 });
    assert.deepEqual(both.siblings.map((s) => text(s.value)).sort(), ['apples', 'pears']);
    await client.put('cart', Buffer.from('apples+pears'), { context: contextOf(both.siblings), w: 3 });
    const one = await client.get('cart', { r: 3 });
    assert.deepEqual(one.siblings.map((s) => text(s.value)), ['apples+pears']);
  });
});

test('with one primary killed, W=2 writes succeed and a fallback keeps a hint for it', async () => {
  await withCluster({ nodes: 5, basePort: 7221 }, async ({ cluster, client }) => {
    const key = 'hinted';
    const victim = client.view.primaries(client.view.partitionOf(key))[0]!;
    await cluster.signal(victim, 'SIGKILL');
    const w = await client.put(key, Buffer.from('while you were out'), { w: 2 });
    assert.ok(w.acks >= 2);
    const holder = await waitFor('a hint for the dead primary', async () => {
      for (const m of client.ring.members.filter((m) => m.id !== victim)) {
        const reply = await client.request(m.id, { type: 'hints', owner: victim, limit: 100 });
        if (reply.type === 'hintsReply' && reply.hints.some((h) => h.key === key && h.owner === victim)) return m.id;
      }
      return undefined;
    });
    assert.ok(!client.view.primaries(client.view.partitionOf(key)).includes(holder), 'the hint sits on a fallback, not a primary');
    assert.equal(text((await client.get(key)).siblings[0]!.value), 'while you were out');
  });
});

test('a stale replica is repaired after a read', async () => {
  // With a repair queue named, the nodes leave hint replay to the workers (none run here): without
  // it, the fallback holding the write's hint could hand it to the restarted replica before the
  // read, and the read would have nothing to repair.
  const queue = { flags: ['--repair-redis-url', process.env.REDIS_URL ?? 'redis://127.0.0.1:6379'], env: { REPAIR_QUEUE_PREFIX: `test-stale-${process.pid}-${Date.now()}` } };
  await withCluster({ nodes: 5, basePort: 7231, ...queue }, async ({ cluster, client }) => {
    const key = 'repair-me';
    const stale = client.view.primaries(client.view.partitionOf(key))[2]!;
    await cluster.signal(stale, 'SIGKILL');
    await client.put(key, Buffer.from('fresh'), { w: 2 });
    await cluster.startNode(stale);
    const before = await client.request(stale, { type: 'replicaRead', key });
    assert.ok(before.type === 'replicaReadReply' && before.set.length === 0, 'the restarted replica missed the write');
    await waitFor('the read to include the restarted replica and repair it', async () => {
      await client.get(key, { r: 3 }).catch(() => undefined);
      const after = await client.request(stale, { type: 'replicaRead', key });
      return after.type === 'replicaReadReply' && after.set.length === 1 && text(after.set[0]!.value) === 'fresh';
    });
  });
});

test('a node started on a backup of its data directory goes on as a new actor: no write acknowledged before or after the restore is lost', async () => {
  await withCluster({ nodes: 3, basePort: 7291 }, async ({ cluster, client }) => {
    const dir = cluster.dataDirOf('n2');
    await cluster.signal('n2', 'SIGTERM');
    cpSync(dir, `${dir}.backup`, { recursive: true });
    await cluster.startNode('n2');
    const keys = Array.from({ length: 50 }, (_, i) => `restored-${i}`);
    // n2 coordinates (it is a replica of every key with N=3 of 3), handing out dots the backup never saw
    const put = async (key: string, value: string, context: VersionVector | null) => {
      const reply = await client.request('n2', { type: 'put', key, value: Buffer.from(value), deleted: false, context, w: 3, pw: 0 });
      assert.equal(reply.type, 'putReply');
      return reply.type === 'putReply' ? reply.context : new Map();
    };
    const firsts = await Promise.all(keys.map((k) => put(k, 'before the restore', null)));
    const ranBefore = (await client.status('n2')).actor;
    await cluster.signal('n2', 'SIGTERM');
    rmSync(dir, { recursive: true });
    renameSync(`${dir}.backup`, dir);
    await cluster.startNode('n2');
    // each key overwritten through the restored node, with the context of the first write
    await Promise.all(keys.map((k, i) => put(k, 'after the restore', firsts[i]!)));
    assert.notEqual((await client.status('n2')).actor, ranBefore, 'the restored node must not hand out its old actor\'s dots again');
    for (const key of keys)
      assert.deepEqual(
        (await client.get(key, { r: 3 })).siblings.map((s) => text(s.value)),
        ['after the restore'],
        key,
      );
  });
});

test('a write acknowledged by W=3 survives SIGKILL of every replica right after the ack', async () => {
  await withCluster({ nodes: 3, basePort: 7241 }, async ({ cluster, client }) => {
    const w = await client.put('durable', Buffer.from('on disk'), { w: 3 });
    assert.equal(w.acks, 3);
    await Promise.all(cluster.nodes.map((n) => cluster.signal(n.id, 'SIGKILL')));
    await cluster.start();
    const r = await waitFor('the cluster to answer again', () => client.get('durable', { r: 3 }).catch(() => undefined));
    assert.deepEqual(r.siblings.map((s) => text(s.value)), ['on disk']);
  });
});

test('SIGTERM drains: requests in flight finish, the node exits 0, and every acknowledged write is readable after', async () => {
  await withCluster({ nodes: 5, basePort: 7251 }, async ({ cluster, client }) => {
    // SIGTERM goes out when a quarter of the writes are acknowledged, from the callback of the
    // 100th ack, so the other 300 are still pending whatever the machine's speed
    let acks = 0;
    let settled = 0;
    let pendingAtSignal = 0;
    let terminated: Promise<void> | undefined;
    const writes = Array.from({ length: 400 }, (_, i) =>
      client.put(`drain-${i}`, Buffer.from(String(i)), { w: 2 }).then(
        () => {
          settled++;
          if (++acks === 100) {
            pendingAtSignal = 400 - settled;
            terminated = cluster.signal('n1', 'SIGTERM');
          }
          return i;
        },
        (e: StoreError) => {
          settled++;
          return e;
        },
      ),
    );
    await (await waitFor('100 writes acknowledged, then SIGTERM sent to n1', () => terminated && { terminated }, 30_000, 5)).terminated;
    const results = await Promise.all(writes);
    const failures = results.filter((r): r is StoreError => r instanceof StoreError);
    const acked = results.filter((r): r is number => typeof r === 'number');
    process.stdout.write(
      `# SIGTERM sent after 100 acks with ${pendingAtSignal} of 400 writes still pending; ${acked.length} acknowledged in all\n`,
    );
    assert.ok(pendingAtSignal > 0, 'writes were in flight when the node was told to stop');
    assert.equal(cluster.node('n1').process!.exitCode, 0);
    for (const e of failures) assert.notEqual(e.details.sent, true, `a request in flight was cut off: ${e.message}`);
    assert.ok(
      acked.length > 200,
      `only ${acked.length} of 400 writes acknowledged: ${failures
        .slice(0, 2)
        .map((e) => e.message)
        .join('; ')}`,
    );
    await cluster.startNode('n1');
    for (const i of acked) {
      const r = await client.get(`drain-${i}`, { r: 2 });
      assert.deepEqual(r.siblings.map((s) => text(s.value)), [String(i)]);
    }
  });
});

test('connections need the cluster secret and the cluster name', async () => {
  await withCluster({ nodes: 1, basePort: 7261, n: 1, r: 1, w: 1 }, async ({ cluster }) => {
    await assert.rejects(
      DynamoClient.connect({ seeds: cluster.seeds, cluster: 'dev', secret: 'wrong-secret-wrong-secret' }),
      (e: StoreError) => e.code === 'UNAUTHORIZED',
    );
    await assert.rejects(
      DynamoClient.connect({ seeds: cluster.seeds, cluster: 'other', secret: TEST_SECRET }),
      (e: StoreError) => e.code === 'BAD_CLUSTER' && /belongs to cluster 'dev'/.test(e.message),
    );
  });
});

test('malformed frames get error replies or a clean close; the node keeps serving and stores nothing corrupt', async () => {
  await withCluster({ nodes: 1, basePort: 7271, n: 1, r: 1, w: 1 }, async ({ cluster, client }) => {
    await client.put('steady', Buffer.from('value'));
    const address = cluster.seeds[0]!;
    const open = () =>
      new Promise<WebSocket>((resolve, reject) => {
        const ws = new WebSocket(`ws://${address}/ws`, { headers: { authorization: `Bearer ${TEST_SECRET}`, 'x-dynamo-cluster': 'dev' } });
        ws.once('open', () => resolve(ws));
        ws.once('error', reject);
      });
    // a frame whose header is readable but whose payload is garbage: an error reply under its id
    const ws = await open();
    const bad = Buffer.from(
      encodeFrame(42, { type: 'put', key: 'steady', value: Buffer.from('x'), deleted: false, context: null, w: 1, pw: 0 }),
    );
    bad[12] = 0xff; // key length far beyond the frame
    const reply = await new Promise<Buffer>((resolve) => {
      ws.once('message', (d: Buffer) => resolve(d));
      ws.send(bad);
    });
    const [frame] = decodeFrames(reply);
    assert.ok(frame && !isBadFrame(frame) && frame.id === 42 && frame.message.type === 'error' && frame.message.code === 'PROTOCOL');
    // broken framing: the connection is closed
    const closed = new Promise<number>((resolve) => ws.once('close', (code: number) => resolve(code)));
    ws.send(Buffer.from([0, 0, 0, 200, 1, 2]));
    assert.equal(await closed, 1002);
    // fuzz: a fixed number of valid frames, each with three random bytes overwritten by a seeded
    // generator. Each is followed by a ping as a message of its own, and the next frame waits
    // for the pong or for the node hanging up, so the node sees exactly the frames the seed makes.
    const seed = fuzzSeed();
    const random = new SeededRandom(seed);
    const FRAMES = 500;
    const PING = 0x80000000;
    let sent = 0;
    let reconnects = 0;
    let fuzz = await open();
    while (sent < FRAMES) {
      if (fuzz.readyState !== WebSocket.OPEN) {
        fuzz = await open();
        reconnects++;
      }
      const f = Buffer.from(encodeFrame(sent, { type: 'replicaWrite', key: 'steady', hintFor: null, set: [] }));
      for (let i = 0; i < 3; i++) f[random.int(f.length)] = random.int(256);
      await answeredOrClosed(fuzz, [f, encodeFrame(PING + sent, { type: 'ping' })], PING + sent, `fuzz frame ${sent} (seed ${seed})`);
      sent++;
    }
    fuzz.terminate();
    process.stdout.write(`# fuzz: ${sent} frames, the node hung up ${reconnects} times\n`);
    assert.ok(sent > 100, `only ${sent} frames sent`);
    assert.ok(reconnects > 0, 'some mutations broke the framing');
    const r = await client.get('steady');
    assert.deepEqual(r.siblings.map((s) => text(s.value)), ['value']);
    assert.ok((await fetch(`http://${address}/health`)).ok);
  });
});

test('a data directory in use is refused, and bad configuration exits 2 with a clear message', async () => {
  await withCluster({ nodes: 1, basePort: 7281, n: 1, r: 1, w: 1 }, async ({ cluster }) => {
    const run = (args: string[], env: Record<string, string> = {}) =>
      spawnSync(process.execPath, [...TS_NODE_ARGS, join(ROOT, 'bin/storage-node.ts'), ...args], {
        env: { ...process.env, DYNAMO_SECRET: TEST_SECRET, ...env },
        encoding: 'utf8',
        timeout: 20_000,
      });
    const locked = run([
      '--id',
      'n1',
      '--nodes',
      'n1=127.0.0.1:7289',
      '--data-dir',
      cluster.dataDirOf('n1'),
      '--n',
      '1',
      '--r',
      '1',
      '--w',
      '1',
    ]);
    assert.equal(locked.status, 1);
    assert.match(locked.stderr, /is in use by process \d+/);
    const badQuorum = run(['--id', 'n1', '--nodes', 'n1=127.0.0.1:7289', '--r', '2', '--n', '1']);
    assert.equal(badQuorum.status, 2);
    assert.match(badQuorum.stderr, /r=2 and w=2 must not exceed n=1/);
    const noSecret = run(['--id', 'n1', '--nodes', 'n1=127.0.0.1:7289'], { DYNAMO_SECRET: 'short' });
    assert.equal(noSecret.status, 2);
    assert.match(noSecret.stderr, /secret must be at least 16 characters/);
    const badList = run(['--id', 'n1', '--nodes', 'n1=localhost']);
    assert.match(badList.stderr, /not id=host:port/);
  });
});
