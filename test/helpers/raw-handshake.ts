// The node protocol's handshake by hand, over a bare WebSocket: the upgrade with chosen
// headers, one frame at a time, and the node closing the connection (test/integration/roles.test.ts).
import WebSocket from 'ws';
import { decodeFrames, encodeFrame, isBadFrame } from '../../client/src/protocol/codec.ts';
import type { Reply, Request } from '../../client/src/protocol/messages.ts';
import { NODE_ID_HEADER, NONCE_HEADER } from '../../client/src/transport/identity-headers.ts';
import { WS_PATH } from '../../client/src/transport/versions.ts';

/** The raw handshake, step by step: the upgrade with these headers, then the node's answer. */
export function upgrade(
  address: string,
  headers: Record<string, string>,
): Promise<{ ws: WebSocket; nonce: Buffer; node: string } | { status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`ws://${address}${WS_PATH}`, { headers: { 'x-dynamo-cluster': 'dev', ...headers } });
    let nonce = Buffer.alloc(0);
    let node = '';
    ws.on('upgrade', (res) => {
      nonce = Buffer.from(String(res.headers[NONCE_HEADER] ?? ''), 'base64url');
      node = String(res.headers[NODE_ID_HEADER] ?? '');
    });
    ws.on('open', () => resolve({ ws, nonce, node }));
    ws.on('unexpected-response', (req, res) => {
      let body = '';
      res.on('data', (c: Buffer) => (body += c.toString()));
      res.on('end', () => {
        req.destroy();
        req.socket?.destroy();
        resolve({ status: res.statusCode ?? 0, body });
      });
    });
    ws.on('error', reject);
  });
}

/** Sends one frame and waits for its reply, or for the node to close the connection (null). */
export function exchange(ws: WebSocket, id: number, message: Request): Promise<Reply | null> {
  return new Promise((resolve) => {
    ws.on('message', (data: Buffer) => {
      for (const f of decodeFrames(data)) if (!isBadFrame(f) && f.id === id) resolve(f.message as Reply);
    });
    ws.on('close', () => resolve(null));
    ws.send(encodeFrame(id, message, 5));
  });
}

export function closed(ws: WebSocket): Promise<void> {
  return ws.readyState === WebSocket.CLOSED ? Promise.resolve() : new Promise((r) => ws.on('close', () => r()));
}
