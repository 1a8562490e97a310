// The node's network face, on hyper-express (uWebSockets): persistent WebSocket connections
// carrying binary frames multiplexed by request id, plus plain HTTP for health checks.
//
// A connection is authenticated once, when it opens: the upgrade request must carry the
// cluster name and `Authorization: Bearer <cluster secret>`; peers also name themselves in
// `x-dynamo-node`. The protocol version is agreed then too (versions.ts): the highest both
// ends speak, answered on the 101 response and written on every frame after. A frame that
// cannot be decoded is answered with an error reply under its request id; a message whose
// framing is broken closes the connection, since nothing after it can be trusted. Neither
// touches the node's data.
import { createHash, timingSafeEqual } from 'node:crypto';
import HyperExpress from 'hyper-express';
import { StoreError } from '../core/errors.ts';
import { MAX_FRAME_BYTES } from '../core/limits.ts';
import { decodeFrames, isBadFrame, PROTOCOL_MIN, SPOKEN } from '../protocol/codec.ts';
import { isRequest } from '../protocol/messages.ts';
import type { Logger, RequestHandler } from '../runtime.ts';
import { FrameBatcher } from './batcher.ts';
import type { ServerTls } from './tls.ts';
import { agree, offeredRange, PROTOCOL_HEADER, PROTOCOL_MAX_HEADER, refusal, WS_PATH } from './versions.ts';

export interface ServerOptions {
  readonly host: string;
  readonly port: number;
  readonly cluster: string;
  readonly secret: string;
  /** more secrets accepted from connecting processes, during a rotation (docs/security.md) */
  readonly acceptSecrets?: readonly string[];
  readonly handler: RequestHandler;
  readonly logger: Logger;
  /** a peer node opened a connection: it is listening again */
  readonly onPeer?: (peer: string) => void;
  /** serve wss:// and https with this certificate (transport/tls.ts); plain without */
  readonly tls?: ServerTls;
  /** extra HTTP routes (health, metrics) */
  readonly routes?: (app: HyperExpress.Server) => void;
}

export { WS_PATH };

interface ConnectionContext {
  peer: string;
  /** the protocol version agreed at the upgrade (hyper-express carries context values as strings) */
  version: string;
}

export class NodeServer {
  readonly #app: HyperExpress.Server;
  readonly #sockets = new Set<HyperExpress.Websocket<ConnectionContext>>();
  #port = 0;

  private readonly options: ServerOptions;
  constructor(options: ServerOptions) {
    this.options = options;
    const tls = options.tls ? { cert_file_name: options.tls.certFile, key_file_name: options.tls.keyFile } : {};
    this.#app = new HyperExpress.Server({ auto_close: false, max_body_length: 64 * 1024, ...tls });
    const secretDigests = [options.secret, ...(options.acceptSecrets ?? [])].map(digest);

    this.#app.upgrade(WS_PATH, (req, res) => {
      const auth = req.headers['authorization'] ?? '';
      const given = auth.startsWith('Bearer ') ? auth.slice(7) : '';
      const givenDigest = digest(given);
      // every accepted secret is compared, so the time taken does not tell which one matched
      if (!secretDigests.map((d) => timingSafeEqual(givenDigest, d)).includes(true)) {
        res.status(401).send('missing or wrong cluster secret (Authorization: Bearer <secret>)');
        return;
      }
      const cluster = req.headers['x-dynamo-cluster'];
      if (cluster !== options.cluster) {
        res.status(403).send(`this node belongs to cluster '${options.cluster}', not '${cluster ?? ''}'`);
        return;
      }
      const offered = offeredRange(SPOKEN, req.headers[PROTOCOL_HEADER], req.headers[PROTOCOL_MAX_HEADER]);
      const version = typeof offered === 'string' ? null : agree(SPOKEN, offered);
      if (version === null) {
        res.status(400).send(typeof offered === 'string' ? offered : refusal(SPOKEN, offered));
        return;
      }
      // a header written before any status makes uWS answer 200 and the upgrade fails; upgrade()
      // keeps a status already written, so the 101 goes first and the answer after it
      res.raw.writeStatus('101 Switching Protocols').writeHeader(PROTOCOL_HEADER, String(version));
      res.upgrade({ peer: req.headers['x-dynamo-node'] ?? '', version: String(version) });
    });

    this.#app.ws<ConnectionContext>(
      WS_PATH,
      { message_type: 'Buffer', max_payload_length: MAX_FRAME_BYTES, max_backpressure: 4 * MAX_FRAME_BYTES, idle_timeout: 0 },
      (ws) => this.#serve(ws),
    );
    options.routes?.(this.#app);
  }

  async listen(): Promise<number> {
    await this.#app.listen(this.options.port, this.options.host);
    this.#port = this.#app.port;
    return this.#port;
  }

  get port(): number {
    return this.#port;
  }

  /** Stops listening; open connections stay until closeConnections(). */
  stopListening(): void {
    this.#app.close();
  }

  /** Closes every connection once replies already written have gone out (batches flush at the end of a turn). */
  async closeConnections(): Promise<void> {
    await new Promise((resolve) => setImmediate(resolve));
    for (const ws of this.#sockets) ws.close(1001, 'node shutting down');
    this.#sockets.clear();
  }

  #serve(ws: HyperExpress.Websocket<ConnectionContext>): void {
    this.#sockets.add(ws);
    const peer = ws.context.peer || null;
    const version = Number(ws.context.version);
    const accept = { min: PROTOCOL_MIN, max: version };
    if (peer) this.options.onPeer?.(peer);
    const out = new FrameBatcher((bytes) => {
      if (ws.closed) return;
      // uWS returns 2 when a message is dropped over the backpressure limit: never lose a reply silently
      if ((ws.send(bytes, true) as unknown as number) === 2) ws.close(1013, 'backpressure limit reached');
    }, version);
    ws.on('close', () => void this.#sockets.delete(ws));
    ws.on('message', (data: Buffer) => {
      for (const frame of decodeFrames(data, accept)) {
        if (isBadFrame(frame)) {
          const { code, message, details } = frame.error;
          if (frame.id === null) {
            out.push(0, { type: 'error', code, message, details });
            out.flush();
            ws.close(1002, 'malformed frame');
            return;
          }
          out.push(frame.id, { type: 'error', code, message, details });
          continue;
        }
        const { id, message } = frame;
        if (!isRequest(message)) {
          out.push(id, { type: 'error', code: 'PROTOCOL', message: `a ${message.type} is a reply, not a request`, details: {} });
          continue;
        }
        void this.options.handler(peer, message).then(
          (reply) => {
            try {
              out.push(id, reply);
            } catch (e) {
              const err = e instanceof StoreError ? e : new StoreError('INTERNAL', 'reply could not be encoded');
              out.push(id, { type: 'error', code: err.code, message: err.message, details: err.details });
            }
          },
          (e: unknown) => this.options.logger.error('handler rejected', { error: String(e) }),
        );
      }
    });
  }
}

function digest(s: string): Buffer {
  return createHash('sha256').update(s).digest();
}
