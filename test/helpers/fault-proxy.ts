// TCP proxies in front of every node, for fault tests: each node advertises its proxy's port,
// so gateway and node-to-node traffic both pass through them. A proxy reads the HTTP upgrade
// request at the start of each connection to learn who is calling (peers send
// `x-dynamo-node`), which lets a node be cut off in both directions: connections to it and
// from it. A cut either drops (connections are closed and refused) or stalls (bytes vanish,
// so requests time out, as across a dead link).
import { createServer, connect, type Server, type Socket } from 'node:net';

export type CutMode = 'drop' | 'stall';

interface Conn {
  readonly from: string | null;
  readonly to: string;
  readonly client: Socket;
  readonly upstream: Socket;
}

export class FaultProxies {
  readonly #servers: Server[] = [];
  readonly #conns = new Set<Conn>();
  readonly #cuts = new Map<string, CutMode>();
  /** bytes that vanished while stalled */
  swallowed = 0;

  /** Starts a proxy for node `to` on `listenPort`, forwarding to `targetPort`. */
  async add(to: string, listenPort: number, targetPort: number, host = '127.0.0.1'): Promise<void> {
    const server = createServer((client) => this.#accept(to, client, host, targetPort));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(listenPort, host, () => resolve());
    });
    this.#servers.push(server);
  }

  /** Cuts a node off: connections to it and from it are dropped or stalled. */
  cut(node: string, mode: CutMode): void {
    this.#cuts.set(node, mode);
    if (mode === 'drop') for (const c of this.#conns) if (this.#blocked(c) === 'drop') this.#close(c);
  }

  heal(): void {
    this.#cuts.clear();
  }

  async close(): Promise<void> {
    for (const c of this.#conns) this.#close(c);
    await Promise.all(this.#servers.map((s) => new Promise((r) => s.close(r))));
  }

  #blocked(c: Pick<Conn, 'from' | 'to'>): CutMode | null {
    return this.#cuts.get(c.to) ?? (c.from ? (this.#cuts.get(c.from) ?? null) : null);
  }

  #accept(to: string, client: Socket, host: string, port: number): void {
    client.on('error', () => undefined);
    let head = Buffer.alloc(0);
    const onData = (chunk: Buffer) => {
      head = Buffer.concat([head, chunk]);
      const end = head.indexOf('\r\n\r\n');
      if (end < 0 && head.length < 16_384) return;
      client.off('data', onData);
      client.pause();
      const from = /\r\nx-dynamo-node: *([^\r\n]+)/i.exec(head.toString('latin1'))?.[1]?.trim() ?? null;
      if (this.#blocked({ from, to }) === 'drop') {
        client.destroy();
        return;
      }
      const upstream = connect(port, host);
      upstream.on('error', () => client.destroy());
      const conn: Conn = { from, to, client, upstream };
      this.#conns.add(conn);
      const cleanup = () => this.#close(conn);
      client.on('close', cleanup);
      upstream.on('close', cleanup);
      const pass = (src: Socket, dst: Socket) =>
        src.on('data', (data: Buffer) => {
          const cut = this.#blocked(conn);
          if (cut === 'drop') return this.#close(conn);
          if (cut === 'stall') {
            this.swallowed += data.length;
            return;
          }
          dst.write(data);
        });
      upstream.once('connect', () => {
        if (this.#blocked(conn) !== 'stall') upstream.write(head);
        pass(client, upstream);
        pass(upstream, client);
        client.resume();
      });
    };
    client.on('data', onData);
  }

  #close(c: Conn): void {
    this.#conns.delete(c);
    c.client.destroy();
    c.upstream.destroy();
  }
}
