// Two protocol versions side by side: the real node server, clients offering different version
// ranges, a client from before ranges, and a stand-in for a node from before ranges.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import WebSocket, { WebSocketServer } from 'ws';
import { StoreError } from '../../client/src/core/errors.ts';
import { silentLogger } from '../../client/src/runtime.ts';
import { decodeFrames, encodeFrame, isBadFrame, PROTOCOL_MAX, type VersionRange } from '../../client/src/protocol/codec.ts';
import type { Reply, Request } from '../../client/src/protocol/messages.ts';
import { Connection } from '../../client/src/transport/connection.ts';
import { NodeServer, WS_PATH } from '../../storage/transport/server.ts';
import { agree, answered, offeredRange } from '../../client/src/transport/versions.ts';

const SECRET = 'versions-test-secret-0123456789';
const CLUSTER = 'test';

/** A node that answers ping, inspect and a conditional put (with a conflict), nothing else. */
async function withServer(fn: (address: string) => Promise<void>): Promise<void> {
  const handler = async (_from: string | null, request: Request): Promise<Reply> => {
    if (request.type === 'ping') return { type: 'pong' };
    if (request.type === 'inspect') return { type: 'inspectReply', own: [], hints: [{ owner: 'n2', set: [] }] };
    if (request.type === 'put' && request.condition) return { type: 'conflict', set: [] };
    return { type: 'error', code: 'BAD_REQUEST', message: `${request.type} is not served here`, details: {} };
  };
  const server = new NodeServer({ host: '127.0.0.1', port: 0, cluster: CLUSTER, id: 'n1', secret: SECRET, handler, logger: silentLogger });
  const port = await server.listen();
  try {
    await fn(`127.0.0.1:${port}`);
  } finally {
    await server.closeConnections();
    server.stopListening();
  }
}

const connect = (address: string, protocol?: VersionRange) => new Connection({ address, cluster: CLUSTER, secret: SECRET, protocol });

test('the version agreed is the highest both ranges hold; headers from before ranges still mean one version', () => {
  const ours = { min: 2, max: 3 };
  assert.deepEqual(offeredRange(ours, undefined, undefined), ours);
  assert.deepEqual(offeredRange(ours, '2', undefined), { min: 2, max: 2 });
  assert.deepEqual(offeredRange(ours, '2', '5'), { min: 2, max: 5 });
  assert.match(String(offeredRange(ours, 'two', undefined)), /must be a protocol version number/);
  assert.match(String(offeredRange(ours, '4', '3')), /is above/);
  assert.match(String(offeredRange(ours, undefined, '3')), /needs x-dynamo-protocol/);
  assert.equal(agree(ours, { min: 2, max: 5 }), 3);
  assert.equal(agree(ours, { min: 1, max: 2 }), 2);
  assert.equal(agree(ours, { min: 4, max: 5 }), null);
  assert.equal(answered(ours, '3'), 3);
  assert.equal(answered(ours, undefined), 2, 'no answer: a node from before ranges accepted our lowest version');
  assert.match(String(answered(ours, '4')), /outside the versions 2 to 3 offered/);
});

test('clients of different ranges on one node: each speaks the highest common version; no overlap is refused clearly', async () => {
  await withServer(async (address) => {
    const both = connect(address);
    const v2 = connect(address, { min: 2, max: 2 });
    const v3 = connect(address, { min: 3, max: 3 });
    const future = connect(address, { min: PROTOCOL_MAX + 1, max: PROTOCOL_MAX + 2 });
    const conditional: Request = {
      type: 'put',
      key: 'k',
      value: new Uint8Array(1),
      deleted: false,
      context: null,
      w: 0,
      pw: 0,
      condition: 'absent',
    };
    try {
      assert.deepEqual(await both.request({ type: 'ping' }, 2000), { type: 'pong' });
      assert.equal(both.version, PROTOCOL_MAX);
      assert.deepEqual(await both.request(conditional, 2000), { type: 'conflict', set: [] });

      assert.deepEqual(await v2.request({ type: 'ping' }, 2000), { type: 'pong' });
      assert.equal(v2.version, 2);
      // a version-3 message on a version-2 connection fails on its own; the connection stays up
      const refused = await v2.request({ type: 'inspect', key: 'k' }, 2000).then(
        () => null,
        (e: unknown) => e,
      );
      assert.ok(refused instanceof StoreError && refused.code === 'PROTOCOL', String(refused));
      assert.match(refused.message, /inspect needs protocol version 3; this connection speaks version 2/);
      assert.ok(v2.connected);
      assert.deepEqual(await v2.request({ type: 'ping' }, 2000), { type: 'pong' });
      assert.equal(v2.version, 2);

      const inspected = await v3.request({ type: 'inspect', key: 'k' }, 2000);
      assert.deepEqual(inspected, { type: 'inspectReply', own: [], hints: [{ owner: 'n2', set: [] }] });
      assert.equal(v3.version, 3);
      // a put with a condition needs version 4: refused before it is sent, the connection stays
      await assert.rejects(
        v3.request(conditional, 2000),
        (e) =>
          e instanceof StoreError &&
          e.code === 'PROTOCOL' &&
          /this put needs protocol version 4 \(a put with condition absent\); this connection speaks version 3/.test(e.message),
      );
      assert.deepEqual(await v3.request({ type: 'ping' }, 2000), { type: 'pong' });

      const error = await future.request({ type: 'ping' }, 2000).then(
        () => null,
        (e: unknown) => e,
      );
      assert.ok(error instanceof StoreError && error.details.sent === false, String(error));
      assert.match(
        error.message,
        new RegExp(
          `no protocol version in common: this node speaks versions 2 to ${PROTOCOL_MAX}, the client offered versions ${PROTOCOL_MAX + 1} to ${PROTOCOL_MAX + 2}`,
        ),
      );
    } finally {
      for (const c of [both, v2, v3, future]) c.close();
    }
  });
});

test('a client from before ranges (one x-dynamo-protocol header) speaks version 2; frames it sends at 3 are refused', async () => {
  await withServer(async (address) => {
    const ws = new WebSocket(`ws://${address}${WS_PATH}`, {
      headers: { authorization: `Bearer ${SECRET}`, 'x-dynamo-cluster': CLUSTER, 'x-dynamo-protocol': '2' },
    });
    let agreed: unknown;
    ws.once('upgrade', (res) => (agreed = res.headers['x-dynamo-protocol']));
    await new Promise((resolve, reject) => {
      ws.once('open', resolve);
      ws.once('error', reject);
    });
    try {
      assert.equal(agreed, '2');
      const exchange = (frame: Buffer) =>
        new Promise<Buffer>((resolve) => {
          ws.once('message', (d: Buffer) => resolve(d));
          ws.send(frame);
        });
      const pong = await exchange(encodeFrame(1, { type: 'ping' }, 2));
      assert.equal(pong[4], 2, 'the reply carries the agreed version');
      const [frame] = decodeFrames(pong);
      assert.ok(frame && !isBadFrame(frame) && frame.id === 1 && frame.message.type === 'pong');
      const [refusal] = decodeFrames(await exchange(encodeFrame(2, { type: 'ping' }, 3)));
      assert.ok(refusal && !isBadFrame(refusal) && refusal.id === 2 && refusal.message.type === 'error');
      assert.match(refusal.message.message, /protocol version 3 is not supported \(this connection speaks version 2\)/);
    } finally {
      ws.close();
    }
  });
});

test('an upgraded client reaches a node from before ranges at version 2, and one that needs 3 is refused by it', async () => {
  // the version-2 node as it was: it accepts x-dynamo-protocol: 2 only, and answers no version
  const old = new WebSocketServer({
    host: '127.0.0.1',
    port: 0,
    verifyClient: (info: { req: { headers: Record<string, unknown> } }, done: (ok: boolean, code?: number, message?: string) => void) => {
      const v = info.req.headers['x-dynamo-protocol'];
      if (v === undefined || v === '2') done(true);
      else done(false, 400, `protocol version ${String(v)} is not supported (this node speaks 2)`);
    },
  });
  old.on('connection', (ws) =>
    ws.on('message', (data: Buffer) => {
      for (const f of decodeFrames(data, { min: 2, max: 2 })) if (!isBadFrame(f)) ws.send(encodeFrame(f.id, { type: 'pong' }, 2));
    }),
  );
  await new Promise((resolve) => old.once('listening', resolve));
  const address = `127.0.0.1:${(old.address() as { port: number }).port}`;
  const upgraded = connect(address);
  const v3only = connect(address, { min: 3, max: 3 });
  try {
    assert.deepEqual(await upgraded.request({ type: 'ping' }, 2000), { type: 'pong' });
    assert.equal(upgraded.version, 2);
    await assert.rejects(upgraded.request({ type: 'compact', keys: [] }, 2000), /compact needs protocol version 3/);
    await assert.rejects(v3only.request({ type: 'ping' }, 2000), /protocol version 3 is not supported \(this node speaks 2\)/);
  } finally {
    upgraded.close();
    v3only.close();
    await new Promise((resolve) => old.close(resolve));
  }
});
