// The Transport between real nodes: one persistent connection per peer, addressed through
// the ring's member list (kept current by whoever owns the ring).
import { StoreError } from '../core/errors.ts';
import type { NodeId } from '../core/ring.ts';
import type { Reply, Request } from '../protocol/messages.ts';
import type { Transport } from '../runtime.ts';
import { Connection } from './connection.ts';
import type { ClientTls } from './tls.ts';
import type { ProcessIdentity } from '../auth/identity-file.ts';

export interface WsTransportOptions {
  readonly self?: string;
  readonly cluster: string;
  /** proves this identity on every connection (docs/security.md); the secret is then never sent */
  readonly identity?: ProcessIdentity;
  /** the cluster secret: legacy mode, without an identity */
  readonly secret?: string;
  /** dial wss:// trusting these authorities (transport/tls.ts) */
  readonly tls?: ClientTls;
  /** where a node listens, from the current ring */
  readonly addressOf: (node: NodeId) => string | undefined;
}

export class WsTransport implements Transport {
  readonly #connections = new Map<string, Connection>();

  private readonly options: WsTransportOptions;
  constructor(options: WsTransportOptions) {
    this.options = options;
  }

  request(to: NodeId, message: Request, timeoutMs: number): Promise<Reply> {
    const address = this.options.addressOf(to);
    if (!address) return Promise.reject(new StoreError('UNAVAILABLE', `no address known for node ${to}`, { sent: false }));
    return this.connection(address).request(message, timeoutMs);
  }

  /** The peer opened a connection to us, so it is listening: ours to it may try again at once. */
  heardFrom(node: NodeId): void {
    const address = this.options.addressOf(node);
    if (address) this.#connections.get(address)?.reachable();
  }

  /** The connection to an address, opened on first use. */
  connection(address: string): Connection {
    let c = this.#connections.get(address);
    if (!c) {
      c = new Connection({
        address,
        cluster: this.options.cluster,
        identity: this.options.identity,
        secret: this.options.secret,
        self: this.options.self,
        tls: this.options.tls,
      });
      this.#connections.set(address, c);
    }
    return c;
  }

  close(): void {
    for (const c of this.#connections.values()) c.close();
    this.#connections.clear();
  }
}
