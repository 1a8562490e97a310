// The client library: what the gateway, the CLI and the benchmarks use to talk to a cluster.
//
// It learns the ring from any node and keeps it fresh, and sends each key straight to a
// reachable replica of its preference list (the paper's client-driven coordination: zero
// hops). Multi-gets are grouped by coordinator, one frame per coordinator. A request that
// never left (the node could not be reached) is retried on the next replica; one that may
// have reached a node is not, since a put sent twice would write twice.
import { conditionFailure } from './core/condition.ts';
import { checkTtl } from './core/expiry.ts';
import { decodeTyped } from './core/crdt/codec.ts';
import type { Typed, TypedOp } from './core/crdt/typed.ts';
import { ConflictError, StoreError } from './core/errors.ts';
import { checkKey, checkValue, MAX_MGET_KEYS } from './core/limits.ts';
import { RingView } from './core/preference.ts';
import type { NodeId, Ring } from './core/ring.ts';
import type { SiblingSet } from './core/siblings.ts';
import type { Dot, VersionVector } from './core/version-vector.ts';
import { Reader, Writer, readVV, writeVV } from './protocol/codec.ts';
import type { ChangeKind, ChangeReply, HintsReply, MgetItem, PutCondition, PutRequest, Request } from './protocol/messages.ts';
import type { ReplyOf } from './protocol/replies.ts';
import { expectReply } from './call.ts';
import type { NodeStatus } from './status.ts';
import { WsTransport } from './transport/ws-transport.ts';
import type { ClientTls } from './transport/tls.ts';
import type { ProcessIdentity } from './auth/identity-file.ts';
import type { Transport } from './runtime.ts';

export interface ClientOptions {
  /** host:port of any nodes; the rest is learned from the ring */
  readonly seeds: readonly string[];
  readonly cluster: string;
  /** dial the nodes over wss:// trusting these authorities (storage/transport/tls.ts) */
  readonly tls?: ClientTls;
  /** this process's identity (client/src/auth/identity-file.ts): proved on every connection */
  readonly identity?: ProcessIdentity;
  /** the cluster secret: the legacy mode, without an identity (docs/security.md) */
  readonly secret?: string;
  /** per request; longer than the nodes' own timeout so a node's answer is never cut off */
  readonly timeoutMs?: number;
  /** how often the ring is fetched again */
  readonly refreshMs?: number;
  /** observes every multi-get frame sent: for metrics and tests */
  readonly onMultiGet?: (node: NodeId, keys: readonly string[], r: number) => void;
  /** observes every key's request sent again after a node refused it as not its coordinator (STALE_RING) */
  readonly onStaleRing?: (key: string, error: StoreError) => void;
}

/** the waits before a key's request is sent again after STALE_RING: about one gossip round in all */
const STALE_RING_WAITS_MS = [50, 150, 300, 600];

/** One copy of a key on one node: its own data (hintFor null) or a hint it keeps for another owner. */
export interface ReplicaCopy {
  readonly node: NodeId;
  /** the node is one of the key's N primaries */
  readonly primary: boolean;
  /** false when the node did not answer (then `set` is empty) */
  readonly reachable: boolean;
  readonly hintFor: NodeId | null;
  readonly set: SiblingSet;
}

export interface ReadResult {
  readonly key: string;
  readonly siblings: SiblingSet;
  /** how many replicas had answered */
  readonly replies: number;
}

export interface WriteResult {
  readonly key: string;
  readonly context: VersionVector;
  readonly dot: Dot;
  readonly acks: number;
}

export interface UpdateResult extends WriteResult {
  /** the state the coordinator wrote: the join of what it held, with the operation applied */
  readonly state: Typed;
}

export interface ReadOptions {
  readonly r?: number;
  readonly pr?: number;
}

export interface WriteOptions {
  /** what the writer has seen; omitted, a put is a blind write and a delete removes what the coordinator sees */
  readonly context?: VersionVector | null;
  readonly w?: number;
  readonly pw?: number;
  /**
   * checked by the key's coordinator before it writes (client/src/core/condition.ts): 'current'
   * refuses when the key holds a version the context does not cover, 'absent' (puts only) when
   * it holds a live one. A refusal throws ConflictError with what the coordinator held.
   */
  readonly condition?: PutCondition;
  /**
   * puts only: the value expires this many seconds after its coordinator writes it, and then
   * reads as absent (core/expiry.ts); a whole number from 1 to MAX_TTL_SECONDS
   */
  readonly ttlSeconds?: number;
}

/** A ring change an operator asks for: who joins, leaves, is removed or replaced (and by whom). */
export interface RingChangeArgs {
  readonly kind: ChangeKind;
  readonly node: NodeId;
  /** where a joining or replacing node listens */
  readonly address?: string;
  readonly weight?: number;
  /** the node that replaces `node` */
  readonly by?: NodeId;
  /** refuse the change unless the ring is still at this version */
  readonly expectedVersion?: number;
}

const DOWN_FOR_MS = 1000;

export class DynamoClient {
  readonly #transport: WsTransport;
  readonly #options: ClientOptions;
  readonly #down = new Map<NodeId, number>();
  #view: RingView | null = null;
  #defaults = { n: 0, r: 0, w: 0 };
  #refresher: NodeJS.Timeout | null = null;

  private constructor(options: ClientOptions) {
    this.#options = options;
    this.#transport = new WsTransport({
      cluster: options.cluster,
      identity: options.identity,
      secret: options.secret,
      tls: options.tls,
      addressOf: (id) => this.#view?.ring.members.find((m) => m.id === id)?.address,
    });
  }

  static async connect(options: ClientOptions): Promise<DynamoClient> {
    const client = new DynamoClient(options);
    try {
      await client.refreshRing();
    } catch (e) {
      client.close();
      throw e;
    }
    client.#refresher = setInterval(() => void client.refreshRing().catch(() => undefined), options.refreshMs ?? 5000);
    client.#refresher.unref();
    return client;
  }

  get view(): RingView {
    if (!this.#view) throw new StoreError('UNAVAILABLE', 'the client has no ring yet');
    return this.#view;
  }

  get ring(): Ring {
    return this.view.ring;
  }

  get defaults(): { n: number; r: number; w: number } {
    return this.#defaults;
  }

  /** Requests to nodes by id, for repair workers that speak to nodes directly. */
  get transport(): Transport {
    return this.#transport;
  }

  /** Fetches the ring from any known node (seeds first when none is known) and keeps the newest. */
  async refreshRing(): Promise<void> {
    const known = this.#view?.ring.members.map((m) => m.address) ?? [];
    const addresses = [...new Set([...known, ...this.#options.seeds])];
    const reply = await fetchRing(this.#transport, addresses, this.#timeout);
    if (!this.#view || reply.ring.version >= this.#view.ring.version) {
      this.#view = new RingView(reply.ring);
      this.#defaults = { n: reply.n, r: reply.r, w: reply.w };
    }
  }

  /** The nodes to try for a key, best first: reachable replicas, then the rest of the ring. */
  route(key: string): NodeId[] {
    const view = this.view;
    const walk = view.walk(view.partitionOf(key));
    // no node has failed to take a request: the walk is the order
    if (this.#down.size === 0) return [...walk];
    const now = performance.now();
    const up = (id: NodeId) => (this.#down.get(id) ?? 0) <= now;
    const primaries = walk.slice(0, this.#defaults.n);
    return [...primaries.filter(up), ...walk.slice(this.#defaults.n).filter(up), ...walk.filter((id) => !up(id))];
  }

  /** The first node of the key's route, without copying the walk while no node has failed. */
  #first(key: string): NodeId {
    if (this.#down.size > 0) return this.route(key)[0]!;
    const view = this.view;
    return view.walk(view.partitionOf(key))[0]!;
  }

  async get(key: string, options: ReadOptions = {}): Promise<ReadResult> {
    checkKey(key);
    const reply = await this.#send(key, { type: 'get', key, r: options.r ?? 0, pr: options.pr ?? 0 });
    return { key, siblings: reply.set, replies: reply.replies };
  }

  /**
   * Reads many keys: one multi-get frame per coordinator. Answers in the order asked; a key
   * that failed is a StoreError in its place.
   */
  async getMany(keys: readonly string[], options: ReadOptions = {}): Promise<(ReadResult | StoreError)[]> {
    const out: (ReadResult | StoreError)[] = new Array(keys.length);
    const groups = new Map<NodeId, number[]>();
    keys.forEach((key, i) => {
      try {
        checkKey(key);
      } catch (e) {
        out[i] = e as StoreError;
        return;
      }
      const to = this.#first(key);
      let g = groups.get(to);
      if (!g) groups.set(to, (g = []));
      g.push(i);
    });
    await Promise.all(
      [...groups].flatMap(([node, indexes]) =>
        chunks(indexes, MAX_MGET_KEYS).map(async (chunk) => {
          const request: Request & { type: 'mget' } = {
            type: 'mget',
            keys: chunk.map((i) => keys[i]!),
            r: options.r ?? 0,
            pr: options.pr ?? 0,
          };
          this.#options.onMultiGet?.(node, request.keys, request.r);
          let items: readonly MgetItem[];
          try {
            items = (await this.#sendTo([node, ...this.route(keys[chunk[0]!]!).filter((n) => n !== node)], request)).items;
          } catch (e) {
            const err = e instanceof StoreError ? e : new StoreError('INTERNAL', String(e));
            for (const i of chunk) out[i] = err;
            return;
          }
          chunk.forEach((i, j) => {
            const item = items[j];
            out[i] = !item
              ? new StoreError('PROTOCOL', 'multi-get reply is short')
              : item.type === 'getReply'
                ? { key: keys[i]!, siblings: item.set, replies: item.replies }
                : new StoreError(item.code, item.message, item.details);
          });
        }),
      ),
    );
    return out;
  }

  put(key: string, value: Uint8Array, options: WriteOptions = {}): Promise<WriteResult> {
    checkValue(value);
    return this.#write(key, value, false, options);
  }

  delete(key: string, options: WriteOptions = {}): Promise<WriteResult> {
    return this.#write(key, new Uint8Array(0), true, options);
  }

  /**
   * Applies a typed operation (docs/types.md): the key's coordinator joins the typed siblings
   * it holds, applies `op` and writes the result. Answers with the state it wrote.
   */
  async update(key: string, op: TypedOp, options: { readonly w?: number; readonly pw?: number } = {}): Promise<UpdateResult> {
    checkKey(key);
    const request: PutRequest = {
      type: 'put',
      key,
      value: new Uint8Array(0),
      deleted: false,
      context: null,
      w: options.w ?? 0,
      pw: options.pw ?? 0,
      op,
    };
    const reply = await this.#send(key, request);
    if (reply.type !== 'opReply')
      throw new StoreError('PROTOCOL', `the coordinator of key '${key}' answered a typed operation with ${reply.type}`);
    const state = decodeTyped(reply.state);
    if (!state || state.type !== op.type)
      throw new StoreError(
        'PROTOCOL',
        `the coordinator of key '${key}' answered a ${op.type} operation with a state that is not a ${op.type}`,
      );
    return { key, context: reply.context, dot: reply.dot, acks: reply.acks, state };
  }

  /** One request to one node, answered by its reply; an error reply or a reply of the wrong type is thrown. */
  request<R extends Request>(node: NodeId, request: R): Promise<ReplyOf<R['type']>> {
    return this.#sendTo([node], request);
  }

  /** The hints a node holds for other owners (all owners when `owner` is null), the first `limit` listed. */
  hints(node: NodeId, limit: number, owner: NodeId | null = null): Promise<HintsReply> {
    return this.request(node, { type: 'hints', owner, limit });
  }

  /**
   * Asks for a ring change: any staying member hands it to the claimant, which plans it
   * (storage/membership/changes.ts). Answers with the version it was planned at.
   */
  changeRing(change: RingChangeArgs): Promise<ChangeReply> {
    const via = this.ring.members.find((m) => !m.leaving)!.id;
    return this.request(via, {
      type: 'change',
      kind: change.kind,
      node: change.node,
      address: change.address ?? '',
      weight: change.weight ?? 1,
      by: change.by ?? '',
      expectedVersion: change.expectedVersion ?? 0,
    });
  }

  /**
   * What every member holds for a key, read without repair: its own data, and each hint it
   * keeps for another owner. An operator's view of where the copies are (after a ring change,
   * say), which a read would change by repairing.
   */
  async replicas(key: string): Promise<ReplicaCopy[]> {
    checkKey(key);
    const primaries = new Set(this.view.primaries(this.view.partitionOf(key)));
    const perNode = await Promise.all(
      this.ring.members.map(async (m): Promise<ReplicaCopy[]> => {
        const primary = primaries.has(m.id);
        try {
          const reply = await this.request(m.id, { type: 'inspect', key });
          return [
            { node: m.id, primary, reachable: true, hintFor: null, set: reply.own },
            ...reply.hints.map((h) => ({ node: m.id, primary, reachable: true, hintFor: h.owner, set: h.set })),
          ];
        } catch {
          return [{ node: m.id, primary, reachable: false, hintFor: null, set: [] }];
        }
      }),
    );
    return perNode.flat();
  }

  /** A node's report of itself (client/src/status.ts). */
  async status(node: NodeId): Promise<NodeStatus> {
    const reply = await this.request(node, { type: 'status' });
    return JSON.parse(reply.json) as NodeStatus;
  }

  close(): void {
    if (this.#refresher) clearInterval(this.#refresher);
    this.#transport.close();
  }

  get #timeout(): number {
    return this.#options.timeoutMs ?? 5000;
  }

  async #write(key: string, value: Uint8Array, deleted: boolean, options: WriteOptions): Promise<WriteResult> {
    checkKey(key);
    if (deleted && options.condition === 'absent') throw new StoreError('BAD_REQUEST', 'a delete takes no condition absent: only current');
    if (options.ttlSeconds !== undefined) {
      if (deleted) throw new StoreError('BAD_REQUEST', 'ttlSeconds is for a put; a delete takes none');
      checkTtl(options.ttlSeconds);
    }
    const request: PutRequest = {
      type: 'put',
      key,
      value,
      deleted,
      context: options.context ?? null,
      w: options.w ?? 0,
      pw: options.pw ?? 0,
      ...(options.condition ? { condition: options.condition } : {}),
      ...(options.ttlSeconds !== undefined ? { ttlSeconds: options.ttlSeconds } : {}),
    };
    const reply = await this.#send(key, request);
    if (reply.type === 'conflict') {
      // the reply carries the set the coordinator checked: the same check names what failed
      const why = conditionFailure(options.condition ?? 'current', options.context ?? null, reply.set) ?? 'the key changed';
      throw new ConflictError(
        key,
        reply.set,
        `conditional ${deleted ? 'delete' : 'put'} of key '${key}' (if ${options.condition}) refused: ${why}`,
      );
    }
    if (reply.type !== 'putReply') throw new StoreError('PROTOCOL', `the coordinator of key '${key}' answered a put with ${reply.type}`);
    return { key, context: reply.context, dot: reply.dot, acks: reply.acks };
  }

  /**
   * Sends a key's request along its route. A node that does not coordinate the key on its newer
   * ring refuses it unapplied (STALE_RING; another node may have handed it on by an older ring,
   * while gossip spreads a change). The client then learns the newest ring any node holds and
   * sends it again after a short wait, a few times, so a membership change costs the caller
   * nothing.
   */
  async #send<R extends Request>(key: string, request: R): Promise<ReplyOf<R['type']>> {
    for (let attempt = 0; ; attempt++) {
      try {
        return await this.#sendTo(this.route(key), request);
      } catch (e) {
        const wait = STALE_RING_WAITS_MS[attempt];
        if (!(e instanceof StoreError) || e.code !== 'STALE_RING' || wait === undefined) throw e;
        this.#options.onStaleRing?.(key, e);
        await this.#learnNewestRing();
        await new Promise((resolve) => setTimeout(resolve, wait));
      }
    }
  }

  /** Asks every known node for its ring at once and keeps the newest answer. */
  async #learnNewestRing(): Promise<void> {
    const addresses = [...new Set([...this.view.ring.members.map((m) => m.address), ...this.#options.seeds])];
    const asked = addresses.map((a) => this.#transport.connection(a).request({ type: 'ring' }, this.#timeout));
    for (const r of await Promise.allSettled(asked)) {
      if (r.status !== 'fulfilled' || r.value.type !== 'ringReply' || r.value.ring.version <= this.view.ring.version) continue;
      this.#view = new RingView(r.value.ring);
      this.#defaults = { n: r.value.n, r: r.value.r, w: r.value.w };
    }
  }

  /** Tries the nodes in order while a request could not be sent at all; an error reply is thrown. */
  async #sendTo<R extends Request>(nodes: readonly NodeId[], request: R): Promise<ReplyOf<R['type']>> {
    let last: unknown;
    for (const node of nodes) {
      try {
        const reply = await this.#transport.request(node, request, this.#timeout);
        this.#down.delete(node);
        if (reply.type === 'error') {
          if (reply.code === 'SHUTTING_DOWN') {
            this.#down.set(node, performance.now() + DOWN_FOR_MS);
            last = new StoreError(reply.code, reply.message, reply.details);
            continue;
          }
          throw new StoreError(reply.code, reply.message, reply.details);
        }
        return expectReply(node, request, reply);
      } catch (e) {
        if (e instanceof StoreError && e.code === 'UNAVAILABLE' && e.details.sent === false) {
          this.#down.set(node, performance.now() + DOWN_FOR_MS);
          last = e;
          continue;
        }
        throw e;
      }
    }
    throw last ?? new StoreError('UNAVAILABLE', 'no node to send to');
  }
}

async function fetchRing(transport: WsTransport, addresses: readonly string[], timeoutMs: number) {
  const errors: string[] = [];
  for (const address of addresses) {
    try {
      const reply = await transport.connection(address).request({ type: 'ring' }, timeoutMs);
      if (reply.type === 'ringReply') return reply;
      errors.push(`${address}: ${reply.type === 'error' ? reply.message : reply.type}`);
    } catch (e) {
      if (e instanceof StoreError && (e.code === 'UNAUTHORIZED' || e.code === 'BAD_CLUSTER')) throw e;
      errors.push(`${address}: ${(e as Error).message}`);
    }
  }
  throw new StoreError('UNAVAILABLE', `no node answered with the ring: ${errors.join('; ')}`);
}

function chunks<T>(items: T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}

/** A context as bytes (for the CLI to print and the gateway to sign). */
export function encodeContext(vv: VersionVector): Buffer {
  const w = new Writer(64);
  writeVV(w, vv);
  return w.result();
}

export function decodeContext(bytes: Buffer): VersionVector {
  const r = new Reader(bytes);
  const vv = readVV(r);
  r.done();
  return vv;
}
