// The gateway's HTTP server: hyper-express (uWebSockets), measured faster than node:http
// for this workload (README, Benchmarks), handing each request to Yoga's fetch interface.
// An answer is sent whole, except a stream (Server-Sent Events: a watch), which goes out as
// Yoga makes it (stream-response.ts).
import HyperExpress from 'hyper-express';
import { httpScheme, type ServerTls } from '../storage/transport/tls.ts';
import { clientAddress, type TrustedProxies } from './client-address.ts';
import { streamBody } from './stream-response.ts';
import type { Gateway } from './yoga.ts';

/**
 * Passed to Yoga beside each request's server context. Given one context object, Yoga's server
 * adapter builds the request's context on a new object whose prototype is that one: a new
 * prototype per request, which costs V8 about 20 µs per request over the context's properties
 * (measured: 17-23 µs, against 1.4 µs); given two, it copies both into a plain object.
 * (With two it also adds no `waitUntil` of its own: no plugin of the gateway's uses one.)
 */
const MERGED: Readonly<Record<string, never>> = Object.freeze({});

export interface HttpServerOptions {
  readonly host: string;
  readonly port: number;
  readonly maxBodyBytes: number;
  /** a streamed response (a watch) may leave this much unread before its reader is dropped (default 1 MiB) */
  readonly maxStreamBufferBytes?: number;
  /** serve https with this certificate; plain http without */
  readonly tls?: ServerTls;
  /** proxies whose X-Forwarded-For names the client (`--trust-proxy`); without, the peer is the client */
  readonly trustProxy?: TrustedProxies;
  /** further routes (/metrics, the repair dashboard) mounted before GraphQL */
  readonly routes?: (app: HyperExpress.Server) => void;
}

export class GatewayHttpServer {
  readonly app: HyperExpress.Server;
  #inflight = 0;
  #idle: (() => void) | null = null;
  /** ends each streamed response in flight */
  readonly #streams = new Set<() => void>();

  private readonly yoga: Gateway;
  private readonly options: HttpServerOptions;
  constructor(
    yoga: Gateway,
    options: HttpServerOptions,
  ) {
    this.yoga = yoga;
    this.options = options;
    const tls = options.tls ? { cert_file_name: options.tls.certFile, key_file_name: options.tls.keyFile } : {};
    this.app = new HyperExpress.Server({ auto_close: false, max_body_length: options.maxBodyBytes, ...tls });
    options.routes?.(this.app);
    // without it, uWS closes the connection on a path no route takes
    this.app.set_not_found_handler(
      (req, res) => void res.status(404).json({ errors: [{ message: `no such path: ${req.path}`, extensions: { code: 'NOT_FOUND' } }] }),
    );
    // A request body is buffered whole, never paused: with this uWS build a paused upload never
    // resumes, so the stream's high-water mark sits above the largest body accepted.
    // (hyper-express reads `streaming.readable`; its type definitions still say `stream_options`)
    const route = { streaming: { readable: { highWaterMark: options.maxBodyBytes + 1 } } } as HyperExpress.UserRouteOptions;
    // GraphiQL's assets (graphiql.ts) are Yoga's too; /metrics is mounted by admin-routes.ts
    for (const path of ['/graphql', '/health', '/ready', '/graphiql/*']) this.app.any(path, route, [], (req, res) => this.#serve(req, res));
  }

  async listen(): Promise<number> {
    await this.app.listen(this.options.port, this.options.host);
    return this.app.port;
  }

  /** Stops accepting, and resolves once the requests in flight are answered. */
  async close(): Promise<void> {
    this.app.close();
    for (const stop of this.#streams) stop();
    if (this.#inflight > 0) await new Promise<void>((resolve) => (this.#idle = resolve));
  }

  async #serve(req: HyperExpress.Request, res: HyperExpress.Response): Promise<void> {
    this.#inflight++;
    try {
      const method = req.method;
      const body = method === 'GET' || method === 'HEAD' ? undefined : ((await req.buffer()) as Uint8Array<ArrayBuffer>);
      // a request that may become a stream gets a signal that fires when its client goes away, so
      // the subscription ends then (Yoga's cancel of the body does not reach a pending iterator)
      const gone = req.headers.accept?.includes('text/event-stream') ? new AbortController() : null;
      const trustProxy = this.options.trustProxy ?? null;
      if (gone) res.once('abort', () => gone.abort());
      const response = await this.yoga.fetch(
        new URL(req.url, `${httpScheme(this.options.tls)}://${this.options.host}`),
        { method, headers: req.headers as Record<string, string>, body, ...(gone ? { signal: gone.signal } : {}) },
        // the caller's address is worked out only when asked for (anonymous callers and refusals),
        // not for every request (uWS formats the peer's anew each time); a caller gone by then hears
        // no answer either way
        { peer: () => (res.completed ? undefined : clientAddress(req.ip, req.headers['x-forwarded-for'], trustProxy)) },
        MERGED,
      );
      res.status(response.status);
      // uWS writes its own content-length (or chunked encoding); a second one makes strict clients
      // reject the response (names may come in any case: Yoga's CORS preflight answer sets 'Content-Length')
      response.headers.forEach((value, name) => {
        const lower = name.toLowerCase();
        if (lower !== 'content-length' && lower !== 'transfer-encoding' && lower !== 'connection') res.header(name, value);
      });
      if (response.body && isStreamed(response)) {
        let stop = () => {};
        const end = () => gone?.abort();
        const limits = { maxBufferBytes: this.options.maxStreamBufferBytes ?? 1024 * 1024, end };
        await streamBody(res, response.body, limits, (s) => this.#streams.add((stop = s)));
        end();
        this.#streams.delete(stop);
        return;
      }
      res.send(Buffer.from(await response.arrayBuffer()));
    } catch (e) {
      if (!res.completed) res.status(500).json({ errors: [{ message: 'internal error', extensions: { code: 'INTERNAL' } }] });
      void e;
    } finally {
      this.#inflight--;
      if (this.#inflight === 0 && this.#idle) this.#idle();
    }
  }
}

/** Server-Sent Events (subscriptions) and incremental delivery go out as they are made. */
function isStreamed(response: Response): boolean {
  const type = response.headers.get('content-type') ?? '';
  return type.startsWith('text/event-stream') || type.startsWith('multipart/mixed');
}
