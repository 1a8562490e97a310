// One persistent client connection to a node (the `ws` library), multiplexing requests by id.
//
// It connects on first use and again after a loss; while a connection attempt has just
// failed, requests fail fast with UNAVAILABLE instead of queueing behind a dead peer.
// Requests still waiting when the connection drops fail with UNAVAILABLE (details.sent says
// whether the request may have reached the node, so callers know what is safe to retry); those that outlive
// their timeout fail with TIMEOUT (checked by one sweep timer, not a timer per request).
// Each connection speaks the protocol version agreed when it opened (versions.ts); a request
// the node's version does not have fails on its own with PROTOCOL and the connection stays.
// With an identity, the connection is ready only once the node has taken its hello: the
// certificate in the upgrade request, then the node's nonce signed (server.ts).
import WebSocket from 'ws';
import { signHello } from '../auth/certificate.ts';
import type { ProcessIdentity } from '../auth/identity-file.ts';
import { StoreError } from '../core/errors.ts';
import { MAX_FRAME_BYTES } from '../core/limits.ts';
import { decodeFrames, isBadFrame, SPOKEN, type VersionRange } from '../protocol/codec.ts';
import type { Reply, Request } from '../protocol/messages.ts';
import { outgoingTrace } from '../protocol/trace-context.ts';
import { FrameBatcher } from './batcher.ts';
import { IDENTITY_HEADER, IDENTITY_PROTOCOL, NODE_ID_HEADER, NONCE_HEADER } from './identity-headers.ts';
import { tlsHint, wsScheme, type ClientTls } from './tls.ts';
import { answered, offerHeaders, PROTOCOL_HEADER, WS_PATH } from './versions.ts';

export interface ConnectionOptions {
  readonly address: string;
  readonly cluster: string;
  /** prove this identity on the connection; the secret is then never sent */
  readonly identity?: ProcessIdentity;
  /** the cluster secret (legacy mode), when there is no identity */
  readonly secret?: string;
  /** legacy mode: our node id when we are a peer; absent for clients */
  readonly self?: string;
  /** after a failed attempt, fail fast for this long before trying again */
  readonly retryAfterMs?: number;
  /** dial wss:// and trust these authorities; plain ws:// without */
  readonly tls?: ClientTls;
  /** the protocol versions offered; all this node speaks unless narrowed (tests of mixed clusters) */
  readonly protocol?: VersionRange;
}

interface Pending {
  readonly resolve: (r: Reply) => void;
  readonly reject: (e: Error) => void;
  readonly deadline: number;
  readonly what: string;
}

const SWEEP_MS = 20;
const HANDSHAKE_TIMEOUT_MS = 5000;

export class Connection {
  #ws: WebSocket | null = null;
  #open: Promise<WebSocket> | null = null;
  #failedAt = -Infinity;
  #lastError = '';
  #nextId = 1;
  readonly #pending = new Map<number, Pending>();
  #sweeper: NodeJS.Timeout | null = null;
  #batcher: FrameBatcher | null = null;
  #closed = false;
  readonly #offered: VersionRange;

  readonly options: ConnectionOptions;
  constructor(options: ConnectionOptions) {
    this.options = options;
    this.#offered = options.protocol ?? SPOKEN;
  }

  get connected(): boolean {
    return this.#ws?.readyState === WebSocket.OPEN;
  }

  /** The protocol version the open connection speaks; null while not connected. */
  get version(): number | null {
    return this.connected ? (this.#batcher?.version ?? null) : null;
  }

  request(message: Request, timeoutMs: number): Promise<Reply> {
    const deadline = performance.now() + timeoutMs;
    // an open connection takes the request at once: no connection timer, no extra turn
    if (this.#ws?.readyState === WebSocket.OPEN && this.#batcher) return this.#send(message, deadline);
    return this.#connectBy(deadline).then(() => this.#send(message, deadline));
  }

  #send(message: Request, deadline: number): Promise<Reply> {
    return new Promise<Reply>((resolve, reject) => {
      const id = this.#nextId;
      this.#nextId = this.#nextId >= 0xffffffff ? 1 : this.#nextId + 1;
      this.#pending.set(id, { resolve, reject, deadline, what: message.type });
      try {
        // the trace context current as the request is sent: none unless this process traces
        this.#batcher!.push(id, message, outgoingTrace());
      } catch (e) {
        this.#pending.delete(id);
        reject(e);
        return;
      }
      this.#sweeper ??= setInterval(() => this.#sweep(), SWEEP_MS);
    });
  }

  /** The peer is known to be listening again: the next request connects without waiting out the retry pause. */
  reachable(): void {
    this.#failedAt = -Infinity;
  }

  close(): void {
    this.#closed = true;
    this.#ws?.close(1000);
    this.#fail(new StoreError('UNAVAILABLE', `connection to ${this.options.address} closed`, { sent: true }));
  }

  /**
   * Connects, or fails by the deadline: a peer that accepts the TCP connection but never answers
   * the upgrade (stopped, or behind a stalled link) must not hold a request for ever.
   */
  #connectBy(deadline: number): Promise<WebSocket> {
    const connecting = this.#connect();
    return new Promise<WebSocket>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new StoreError('UNAVAILABLE', `${this.options.address} did not accept a connection in time`, { sent: false })),
        Math.max(0, deadline - performance.now()),
      );
      connecting.then(
        (ws) => {
          clearTimeout(timer);
          resolve(ws);
        },
        (e: unknown) => {
          clearTimeout(timer);
          reject(e);
        },
      );
    });
  }

  #connect(): Promise<WebSocket> {
    if (this.#closed) {
      return Promise.reject(new StoreError('UNAVAILABLE', `connection to ${this.options.address} is closed`, { sent: false }));
    }
    if (this.#ws?.readyState === WebSocket.OPEN) return Promise.resolve(this.#ws);
    if (this.#open) return this.#open;
    if (performance.now() - this.#failedAt < (this.options.retryAfterMs ?? 250)) {
      return Promise.reject(new StoreError('UNAVAILABLE', `${this.options.address} is unreachable: ${this.#lastError}`, { sent: false }));
    }
    this.#open = new Promise<WebSocket>((resolve, reject) => {
      const identity = this.options.identity;
      const headers: Record<string, string> = { 'x-dynamo-cluster': this.options.cluster, ...offerHeaders(this.#offered) };
      if (identity) headers[IDENTITY_HEADER] = identity.encoded;
      else {
        headers.authorization = `Bearer ${this.options.secret ?? ''}`;
        if (this.options.self) headers['x-dynamo-node'] = this.options.self;
      }
      // an attempt the peer never answers is abandoned, so the next request tries afresh
      const tls = this.options.tls;
      const ws = new WebSocket(`${wsScheme(tls)}://${this.options.address}${WS_PATH}`, {
        ...(tls && tls.ca.length > 0 ? { ca: [...tls.ca] } : {}),
        headers,
        perMessageDeflate: false,
        maxPayload: MAX_FRAME_BYTES,
        handshakeTimeout: HANDSHAKE_TIMEOUT_MS,
      });
      ws.binaryType = 'nodebuffer';
      let settled = false;
      const failed = (err: StoreError) => {
        if (settled) return;
        settled = true;
        this.#open = null;
        this.#failedAt = performance.now();
        this.#lastError = err.message;
        reject(err);
      };
      ws.on('unexpected-response', (req, res) => {
        let body = '';
        res.on('data', (c: Buffer) => (body += c.toString('utf8')));
        res.on('end', () => {
          const code = res.statusCode === 401 ? 'UNAUTHORIZED' : res.statusCode === 403 ? 'BAD_CLUSTER' : 'UNAVAILABLE';
          failed(new StoreError(code, `${this.options.address} refused the connection: ${body || res.statusCode}`, { sent: false }));
          req.destroy();
          // the response has ended, so the request no longer owns the socket: without this it stays
          // open until the node's keep-alive timeout
          req.socket?.destroy();
        });
      });
      ws.on('error', (e) => {
        if (ws.readyState === WebSocket.OPEN) return;
        failed(new StoreError('UNAVAILABLE', `${this.options.address} is unreachable: ${e.message}${tlsHint(e, tls)}`, { sent: false }));
      });
      // the node's answer to our offer, read from the 101 response, with the nonce to sign
      let answer: number | string = this.#offered.min;
      let nonce = '';
      let nodeId = '';
      ws.on('upgrade', (res) => {
        const header = res.headers[PROTOCOL_HEADER];
        answer = answered(this.#offered, Array.isArray(header) ? header.join(',') : header);
        nonce = String(res.headers[NONCE_HEADER] ?? '');
        nodeId = String(res.headers[NODE_ID_HEADER] ?? '');
      });
      ws.on('open', () => {
        const version = answer;
        if (typeof version === 'string' || (identity && (version < IDENTITY_PROTOCOL || !nonce || !nodeId))) {
          const why =
            typeof version === 'string'
              ? version
              : `the node did not answer with a nonce at protocol version ${IDENTITY_PROTOCOL} (an older node takes the cluster secret only)`;
          failed(new StoreError('UNAVAILABLE', `connection to ${this.options.address} abandoned: ${why}`, { sent: false }));
          ws.terminate();
          return;
        }
        const batcher = new FrameBatcher((bytes) => {
          if (ws.readyState === WebSocket.OPEN) ws.send(bytes, { binary: true });
        }, version);
        const ready = () => {
          settled = true;
          this.#ws = ws;
          this.#open = null;
          this.#batcher = batcher;
          resolve(ws);
        };
        if (!identity) {
          ws.on('message', (data: Buffer) => this.#receive(data, version));
          ready();
          return;
        }
        // the hello is request id 0, which requests never use; its answer comes first
        let proved = false;
        ws.on('message', (data: Buffer) => {
          if (proved) return this.#receive(data, version);
          const [frame] = decodeFrames(data, { min: this.#offered.min, max: version });
          const reply = frame && !isBadFrame(frame) && frame.id === 0 ? (frame.message as Reply) : null;
          if (reply?.type === 'ack') {
            proved = true;
            ready();
            return;
          }
          const code = reply?.type === 'error' ? reply.code : 'PROTOCOL';
          const why = reply?.type === 'error' ? reply.message : 'the node did not answer the hello';
          failed(
            new StoreError(code, `${this.options.address} refused the identity '${identity.certificate.id}': ${why}`, { sent: false }),
          );
          ws.terminate();
        });
        batcher.push(0, {
          type: 'hello',
          signature: signHello(this.options.cluster, nodeId, Buffer.from(nonce, 'base64url'), identity.privateKey),
        });
      });
      ws.on('close', () => {
        failed(new StoreError('UNAVAILABLE', `${this.options.address} closed the connection while it opened`, { sent: false }));
        if (this.#ws === ws) {
          this.#ws = null;
          this.#batcher = null;
          const lost = `connection to ${this.options.address} was lost with the request in flight`;
          this.#fail(new StoreError('UNAVAILABLE', lost, { sent: true }));
        }
      });
    });
    return this.#open;
  }

  #receive(data: Buffer, version: number): void {
    for (const frame of decodeFrames(data, { min: this.#offered.min, max: version })) {
      if (isBadFrame(frame)) {
        // a peer that sends garbage cannot be trusted for the rest of this connection
        this.#ws?.terminate();
        return;
      }
      const p = this.#pending.get(frame.id);
      if (!p) continue;
      this.#pending.delete(frame.id);
      p.resolve(frame.message as Reply);
    }
  }

  #sweep(): void {
    const now = performance.now();
    for (const [id, p] of this.#pending) {
      if (p.deadline <= now) {
        this.#pending.delete(id);
        p.reject(new StoreError('TIMEOUT', `${this.options.address} did not answer ${p.what} in time`));
      }
    }
    if (this.#pending.size === 0 && this.#sweeper) {
      clearInterval(this.#sweeper);
      this.#sweeper = null;
    }
  }

  #fail(error: StoreError): void {
    for (const p of this.#pending.values()) p.reject(error);
    this.#pending.clear();
  }
}
