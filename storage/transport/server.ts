// The node's network face, on hyper-express (uWebSockets): persistent WebSocket connections
// carrying binary frames multiplexed by request id, plus plain HTTP for health checks.
//
// A connection is authenticated once, when it opens, in one of two ways (docs/security.md):
// - with an identity: the upgrade request carries the caller's certificate
//   (`x-dynamo-identity`), signed by an authority this node trusts, for this cluster, valid
//   now. The 101 answer carries a fresh nonce and this node's id; the caller's first frame must
//   be a `hello` signing them with its certificate's key. Until it verifies, nothing else is
//   served, and a connection that does not send it within HELLO_DEADLINE_MS is closed. The
//   connection then has the certificate's role, and a peer's `from` is its certificate's id.
// - with the cluster secret (`Authorization: Bearer`), the legacy mode kept for migrating a
//   running cluster: only when the node is given a secret. Such a caller has the peer role
//   and names itself in `x-dynamo-node`.
// Every request is checked against its role's row (auth/roles.ts) before the handler runs;
// one outside it is answered FORBIDDEN and changes nothing.
//
// The protocol version is agreed at the upgrade too (versions.ts): the highest both ends
// speak, answered on the 101 response and written on every frame after. A frame that cannot be
// decoded is answered with an error reply under its request id; a message whose framing is
// broken closes the connection, since nothing after it can be trusted. Neither touches the
// node's data.
import { createHash, randomBytes, timingSafeEqual, type KeyObject } from 'node:crypto';
import HyperExpress from 'hyper-express';
import { decodeCertificate, IdentityError, verifyCertificate, verifyHello, type Certificate } from '../../client/src/auth/certificate.ts';
import { allowed, type Role } from '../../client/src/auth/roles.ts';
import { StoreError } from '../../client/src/core/errors.ts';
import { MAX_FRAME_BYTES } from '../../client/src/core/limits.ts';
import { decodeFrames, isBadFrame, PROTOCOL_MIN, SPOKEN } from '../../client/src/protocol/codec.ts';
import { isRequest, type Reply } from '../../client/src/protocol/messages.ts';
import type { Logger, RequestHandler } from '../../client/src/runtime.ts';
import type { RequestTracer } from '../tracing.ts';
import { FrameBatcher } from '../../client/src/transport/batcher.ts';
import type { ServerTls } from './tls.ts';
import { IDENTITY_HEADER, IDENTITY_PROTOCOL, NODE_ID_HEADER, NONCE_HEADER } from '../../client/src/transport/identity-headers.ts';
import { agree, offeredRange, PROTOCOL_HEADER, PROTOCOL_MAX_HEADER, refusal, WS_PATH } from '../../client/src/transport/versions.ts';

export interface ServerOptions {
  readonly host: string;
  readonly port: number;
  readonly cluster: string;
  /** this node's id: callers sign it with the nonce */
  readonly id: string;
  /** the cluster authorities whose certificates this node takes; none: the secret alone */
  readonly authorities?: readonly KeyObject[];
  /** the cluster secret (legacy mode, for migrating); absent: identities only */
  readonly secret?: string;
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
  /** serves each request that carries a trace context inside a span (storage/tracing.ts); absent: tracing off */
  readonly tracer?: RequestTracer;
}

export { WS_PATH };
const HELLO_DEADLINE_MS = 5000;

interface ConnectionContext {
  /** legacy mode: the id a peer names itself with */
  peer: string;
  /** the protocol version agreed at the upgrade (hyper-express carries context values as strings) */
  version: string;
  /** identity mode: the certificate as sent, and the nonce it must sign (base64url); '' in legacy mode */
  certificate: string;
  nonce: string;
}

/** Who is on a connection, once it has proved it. */
interface Caller {
  readonly role: Role;
  /** the peer's node id (peer role only), passed to the handler as `from` */
  readonly from: string | null;
  /** for messages: the certificate's id, or the legacy peer's own name */
  readonly name: string;
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
    const secretDigests = options.secret === undefined ? [] : [options.secret, ...(options.acceptSecrets ?? [])].map(digest);
    const authorities = options.authorities ?? [];

    this.#app.upgrade(WS_PATH, (req, res) => {
      const encoded = req.headers[IDENTITY_HEADER];
      let certificate: Certificate | null = null;
      if (encoded !== undefined) {
        if (authorities.length === 0) {
          res.status(401).send('this node takes the cluster secret, not certificates (it was started without --authority)');
          return;
        }
        try {
          certificate = decodeCertificate(encoded);
          verifyCertificate(certificate, authorities, options.cluster, Date.now());
        } catch (e) {
          if (!(e instanceof IdentityError)) throw e;
          res.status(401).send(e.message);
          return;
        }
      } else {
        if (secretDigests.length === 0) {
          res.status(401).send(`this node takes certificates only (${IDENTITY_HEADER}); the cluster secret is not accepted`);
          return;
        }
        const auth = req.headers['authorization'] ?? '';
        const given = auth.startsWith('Bearer ') ? auth.slice(7) : '';
        const givenDigest = digest(given);
        // every accepted secret is compared, so the time taken does not tell which one matched
        if (!secretDigests.map((d) => timingSafeEqual(givenDigest, d)).includes(true)) {
          res.status(401).send('missing or wrong cluster secret (Authorization: Bearer <secret>)');
          return;
        }
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
      if (certificate && version < IDENTITY_PROTOCOL) {
        res
          .status(400)
          .send(`a connection with a certificate needs protocol version ${IDENTITY_PROTOCOL}; the client offered up to ${version}`);
        return;
      }
      const nonce = certificate ? randomBytes(32).toString('base64url') : '';
      // a header written before any status makes uWS answer 200 and the upgrade fails; upgrade()
      // keeps a status already written, so the 101 goes first and the answer after it
      res.raw.writeStatus('101 Switching Protocols').writeHeader(PROTOCOL_HEADER, String(version));
      if (certificate) res.raw.writeHeader(NONCE_HEADER, nonce).writeHeader(NODE_ID_HEADER, options.id);
      res.upgrade({
        peer: certificate ? '' : (req.headers['x-dynamo-node'] ?? ''),
        version: String(version),
        certificate: encoded ?? '',
        nonce,
      });
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
    const version = Number(ws.context.version);
    const accept = { min: PROTOCOL_MIN, max: version };
    const out = new FrameBatcher((bytes) => {
      if (ws.closed) return;
      // uWS returns 2 when a message is dropped over the backpressure limit: never lose a reply silently
      if ((ws.send(bytes, true) as unknown as number) === 2) ws.close(1013, 'backpressure limit reached');
    }, version);
    const certificate = ws.context.certificate ? decodeCertificate(ws.context.certificate) : null;
    const nonce = Buffer.from(ws.context.nonce ?? '', 'base64url');
    // legacy mode: the secret gave full peer powers, and the peer names itself
    let caller: Caller | null = certificate
      ? null
      : { role: 'peer', from: ws.context.peer || null, name: ws.context.peer || 'a holder of the cluster secret' };
    if (caller?.from) this.options.onPeer?.(caller.from);
    const deadline = certificate ? setTimeout(() => ws.close(1008, 'no hello in time'), HELLO_DEADLINE_MS) : null;
    // a certificate is good until its notAfter, not for as long as its connection lasts: the
    // caller dials again, and must then show a valid one
    const expiry = certificate
      ? setTimeout(
          () => ws.close(1008, 'certificate expired'),
          Math.min(2 ** 31 - 1, Math.max(0, Date.parse(certificate.notAfter) - Date.now())),
        )
      : null;
    ws.on('close', () => {
      this.#sockets.delete(ws);
      if (deadline) clearTimeout(deadline);
      if (expiry) clearTimeout(expiry);
    });
    const refuse = (id: number, message: string) => {
      out.push(id, { type: 'error', code: 'UNAUTHORIZED', message, details: {} });
      out.flush();
      ws.close(1008, 'handshake refused');
    };
    ws.on('message', (data: Buffer) => {
      for (const frame of decodeFrames(data, accept)) {
        if (ws.closed) return;
        if (isBadFrame(frame)) {
          const { code, message, details } = frame.error;
          if (frame.id === null || !caller) {
            out.push(frame.id ?? 0, { type: 'error', code, message, details });
            out.flush();
            ws.close(1002, 'malformed frame');
            return;
          }
          out.push(frame.id, { type: 'error', code, message, details });
          continue;
        }
        const { id, message } = frame;
        if (!caller) {
          // identity mode, not proved yet: the first frame must be the hello
          if (message.type !== 'hello')
            return refuse(id, `the first frame of a connection opened with a certificate must be hello, not ${message.type}`);
          if (!verifyHello(certificate!, this.options.cluster, this.options.id, nonce, message.signature)) {
            return refuse(id, `the hello's signature does not verify with the key of '${certificate!.id}' for this connection's nonce`);
          }
          clearTimeout(deadline!);
          caller = { role: certificate!.role, from: certificate!.role === 'peer' ? certificate!.id : null, name: certificate!.id };
          if (caller.from) this.options.onPeer?.(caller.from);
          out.push(id, { type: 'ack' });
          continue;
        }
        if (!isRequest(message)) {
          out.push(id, { type: 'error', code: 'PROTOCOL', message: `a ${message.type} is a reply, not a request`, details: {} });
          continue;
        }
        if (message.type === 'hello') {
          out.push(id, { type: 'error', code: 'PROTOCOL', message: 'this connection has already proved its identity', details: {} });
          continue;
        }
        if (!allowed(caller.role, message.type)) {
          out.push(id, {
            type: 'error',
            code: 'FORBIDDEN',
            message: `${caller.name} has the ${caller.role} role, which may not send ${message.type}`,
            details: { role: caller.role, request: message.type },
          });
          continue;
        }
        const { tracer, handler } = this.options;
        const from = caller.from;
        const parent = frame.trace;
        const work = parent && tracer ? tracer.serve(parent, from, message, () => handler(from, message)) : handler(from, message);
        void work.then(
          (reply: Reply) => {
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
