// The client side of the node protocol against peers that misbehave at the TCP level.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Socket } from 'node:net';
import { Connection } from '../../client/src/transport/connection.ts';
import { StoreError } from '../../client/src/core/errors.ts';

test('a peer that accepts the TCP connection but never answers the upgrade (stopped, or behind a stalled link) fails a request by its timeout, as not sent', async () => {
  const sockets: Socket[] = [];
  const server = createServer((s) => void sockets.push(s)); // accepts, never answers
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  const c = new Connection({ address: `127.0.0.1:${port}`, cluster: 'test', secret: 'x'.repeat(20) });
  try {
    const started = performance.now();
    const error = await c.request({ type: 'ping' }, 300).then(
      () => null,
      (e: unknown) => e,
    );
    assert.ok(error instanceof StoreError && error.code === 'UNAVAILABLE' && error.details.sent === false, String(error));
    assert.ok(sockets.length === 1, 'the connection was accepted');
    process.stdout.write(`# failed after ${Math.round(performance.now() - started)} ms (timeout 300 ms)\n`);
  } finally {
    c.close();
    for (const s of sockets) s.destroy();
    server.close();
  }
});
