// The gateway's side of live watches (docs/watches.md). Every watched key has one view here,
// shared by the subscriptions that name it: the merge of a quorum read when it was first
// watched and of everything its replicas have reported since. One poller per replica node
// holds a long poll (the node protocol's `watch`) naming the keys that node replicates and
// the context of each view; the node answers once it stores a version the view lacks, the
// view merges it, and the subscriptions that have not seen it get the key's new state.
//
// Nothing is missed across failures because every poll is judged against what the node holds
// when it arrives: a poller that lost its node asks again (backing off) with the same
// contexts, a ring change re-sorts the keys onto the new replicas, and a restarted gateway
// starts from the contexts its watchers send back.
import { randomBytes } from 'node:crypto';
import type { DynamoClient } from '../../client/src/client.ts';
import { StoreError } from '../../client/src/core/errors.ts';
import type { NodeId } from '../../client/src/core/ring.ts';
import { contextOf, merge, sameSet, type SiblingSet } from '../../client/src/core/siblings.ts';
import type { VersionVector } from '../../client/src/core/version-vector.ts';
import type { WatchedKey } from '../../client/src/protocol/messages.ts';
import type { Logger } from '../../client/src/runtime.ts';
import { WatchPoller } from './poller.ts';
import { WatchStream } from './stream.ts';

export interface WatchLimits {
  /** keys one subscription names */
  readonly maxKeys: number;
  /** subscriptions open at once per principal (its rate-limit id) */
  readonly maxPerClient: number;
  /** subscriptions open at once on this gateway: each is one SSE connection */
  readonly maxStreams: number;
}

export interface WatchHubOptions {
  readonly client: () => DynamoClient | null;
  readonly limits: WatchLimits;
  readonly logger: Logger;
  /** how long a node holds a poll with nothing new (default 25 s) */
  readonly waitMs?: number;
  /** added to the wait for the node's answer to travel (default 5 s) */
  readonly timeoutMs?: number;
  /** how often the ring is checked for a change that moves watched keys (default 1 s) */
  readonly ringCheckMs?: number;
}

interface Watched {
  view: SiblingSet;
  readonly streams: Set<WatchStream>;
}

export class WatchHub {
  /** names this gateway's polls on the nodes: a newer poll of the same name supersedes the older */
  readonly id = randomBytes(6).toString('base64url');
  readonly limits: WatchLimits;
  readonly #o: WatchHubOptions;
  readonly #keys = new Map<string, Watched>();
  readonly #pollers = new Map<NodeId, WatchPoller>();
  readonly #perClient = new Map<string, number>();
  #streams = 0;
  #ringVersion = -1;
  #ringTimer: NodeJS.Timeout | null = null;

  constructor(o: WatchHubOptions) {
    this.#o = o;
    this.limits = o.limits;
  }

  get streams(): number {
    return this.#streams;
  }

  get waitMs(): number {
    return this.#o.waitMs ?? 25_000;
  }

  get timeoutMs(): number {
    return this.#o.timeoutMs ?? 5000;
  }

  get logger(): Logger {
    return this.#o.logger;
  }

  client(): DynamoClient {
    const client = this.#o.client();
    if (!client) throw new StoreError('UNAVAILABLE', 'the gateway has not reached the cluster yet');
    return client;
  }

  /**
   * Opens a subscription for `owner` (a principal's rate-limit id): checks the bounds, reads
   * the keys at quorum and queues each key whose versions `seen[i]` does not cover (every key
   * without a context), then follows the keys until the stream is closed.
   */
  async open(owner: string, keys: readonly string[], seen: readonly (VersionVector | null)[], gone?: AbortSignal): Promise<WatchStream> {
    if (gone?.aborted) throw new StoreError('UNAVAILABLE', 'the watcher went away');
    const { maxKeys, maxPerClient, maxStreams } = this.limits;
    if (keys.length === 0) throw new StoreError('BAD_REQUEST', 'a watch names at least one key');
    if (keys.length > maxKeys) {
      throw new StoreError('BAD_REQUEST', `a watch names at most ${maxKeys} keys (GATEWAY_WATCH_MAX_KEYS), got ${keys.length}`);
    }
    if (new Set(keys).size !== keys.length) throw new StoreError('BAD_REQUEST', 'a watch names each key once');
    if (this.#streams >= maxStreams) {
      const why = `this gateway has ${maxStreams} watches open, its limit (GATEWAY_WATCH_MAX_STREAMS)`;
      throw new StoreError('OVERLOADED', `${why}; try another gateway or later`);
    }
    const mine = this.#perClient.get(owner) ?? 0;
    if (mine >= maxPerClient) {
      const why = `${mine} watches are open for this caller, its limit (GATEWAY_WATCH_MAX_PER_CLIENT)`;
      throw new StoreError('OVERLOADED', `${why}; close one first`);
    }
    const client = this.client();
    this.#streams++;
    this.#perClient.set(owner, mine + 1);
    const stream = new WatchStream(keys, seen, () => this.#closed(owner, stream));
    // the iterator's return() may wait behind a pending next(): the signal ends the stream at once
    gone?.addEventListener('abort', () => stream.close(), { once: true });
    try {
      const reads = await client.getMany(keys);
      reads.forEach((read, i) => {
        if (read instanceof StoreError) throw read;
        this.#merge(keys[i]!, read.siblings);
      });
    } catch (e) {
      stream.close();
      throw e;
    }
    for (const key of keys) {
      let watched = this.#keys.get(key);
      if (!watched) this.#keys.set(key, (watched = { view: [], streams: new Set() }));
      watched.streams.add(stream);
      stream.offer(key, watched.view);
    }
    this.#sync();
    return stream;
  }

  /** Merges what a node or a read reported for the key into its view; the streams following it are offered the new view. */
  merge(key: string, set: SiblingSet): void {
    this.#merge(key, set);
  }

  /** The keys a node replicates (or is receiving in a ring change), with the context of each view. */
  keysOf(node: NodeId): WatchedKey[] {
    const view = this.client().view;
    const out: WatchedKey[] = [];
    for (const [key, watched] of this.#keys) {
      if (view.replicates(node, view.partitionOf(key))) out.push({ key, seen: contextOf(watched.view) });
    }
    return out;
  }

  /** Stops every poller and ends every stream. */
  close(): void {
    if (this.#ringTimer) clearInterval(this.#ringTimer);
    this.#ringTimer = null;
    for (const watched of [...this.#keys.values()]) for (const stream of [...watched.streams]) stream.close();
    for (const poller of this.#pollers.values()) poller.stop();
    this.#pollers.clear();
  }

  #merge(key: string, set: SiblingSet): void {
    const watched = this.#keys.get(key);
    if (!watched) {
      // a key read before its first stream registers: kept as the stream's starting view
      this.#keys.set(key, { view: set, streams: new Set() });
      return;
    }
    const next = merge(watched.view, set);
    if (sameSet(next, watched.view)) return;
    watched.view = next;
    for (const stream of watched.streams) stream.offer(key, next);
  }

  #closed(owner: string, stream: WatchStream): void {
    this.#streams--;
    const left = (this.#perClient.get(owner) ?? 1) - 1;
    if (left > 0) this.#perClient.set(owner, left);
    else this.#perClient.delete(owner);
    for (const key of stream.keys) {
      const watched = this.#keys.get(key);
      if (!watched) continue;
      watched.streams.delete(stream);
      if (watched.streams.size === 0) this.#keys.delete(key);
    }
    this.#sync();
  }

  /** Starts a poller for each node that replicates a watched key, stops the rest, and has each ask again with its keys now. */
  #sync(): void {
    const client = this.#o.client();
    if (!client) return;
    const view = client.view;
    this.#ringVersion = view.ring.version;
    const nodes = new Set<NodeId>();
    for (const key of this.#keys.keys()) {
      const p = view.partitionOf(key);
      for (const node of view.primaries(p)) nodes.add(node);
      for (const node of view.pending(p)) nodes.add(node);
    }
    for (const [node, poller] of this.#pollers) {
      if (nodes.has(node)) continue;
      poller.stop();
      this.#pollers.delete(node);
    }
    for (const node of nodes) {
      const poller = this.#pollers.get(node);
      if (poller) poller.kick();
      else this.#pollers.set(node, WatchPoller.start(this, node));
    }
    if (this.#keys.size > 0 && !this.#ringTimer) {
      this.#ringTimer = setInterval(() => {
        const version = this.#o.client()?.ring.version;
        if (version !== undefined && version !== this.#ringVersion) this.#sync();
      }, this.#o.ringCheckMs ?? 1000);
      this.#ringTimer.unref();
    } else if (this.#keys.size === 0 && this.#ringTimer) {
      clearInterval(this.#ringTimer);
      this.#ringTimer = null;
    }
  }
}
