// One node's long polls for a gateway's watches (docs/watches.md): it asks the node to answer
// once it stores a version of one of the keys it replicates that the gateway's views lack,
// merges the answer, and asks again. A kick (keys added or removed, the ring changed) asks
// again at once; the node answers the superseded poll with nothing. A node that cannot be
// reached is asked again after a pause that doubles up to a few seconds.
import type { NodeId } from '../../client/src/core/ring.ts';
import { MAX_WATCH_KEYS, type WatchedKey } from '../../client/src/protocol/messages/watch.ts';
import type { WatchHub } from './hub.ts';

const FIRST_RETRY_MS = 250;
const MAX_RETRY_MS = 4000;

export class WatchPoller {
  readonly #hub: WatchHub;
  readonly #node: NodeId;
  #kick: (() => void) | null = null;
  #kicked = false;
  #stopped = false;
  /** how many polls (one per chunk of keys) the last round sent: the names a stop must supersede */
  #chunks = 0;

  private constructor(hub: WatchHub, node: NodeId) {
    this.#hub = hub;
    this.#node = node;
  }

  static start(hub: WatchHub, node: NodeId): WatchPoller {
    const poller = new WatchPoller(hub, node);
    void poller.#run();
    return poller;
  }

  /** Ask again now, with the keys and views as they are. */
  kick(): void {
    this.#kicked = true;
    this.#kick?.();
  }

  /** No more polls; the ones the node holds are superseded by empty ones, so it lets them go. */
  stop(): void {
    this.#stopped = true;
    this.#kick?.();
    for (let i = 0; i < this.#chunks; i++) void this.#poll(i, [], 0).catch(() => undefined);
  }

  async #run(): Promise<void> {
    let retryMs = FIRST_RETRY_MS;
    while (!this.#stopped) {
      this.#kicked = false;
      const kicked = new Promise<'kick'>((resolve) => (this.#kick = () => resolve('kick')));
      let keys: WatchedKey[];
      try {
        keys = this.#hub.keysOf(this.#node);
      } catch {
        keys = [];
      }
      if (keys.length === 0) {
        await kicked;
        continue;
      }
      const chunks: WatchedKey[][] = [];
      for (let i = 0; i < keys.length; i += MAX_WATCH_KEYS) chunks.push(keys.slice(i, i + MAX_WATCH_KEYS));
      this.#chunks = Math.max(this.#chunks, chunks.length);
      // a poll that fails after the race is decided is one a newer round supersedes: never unhandled
      const polls = chunks.map((chunk, i) =>
        this.#poll(i, chunk, this.#hub.waitMs).then(
          () => 'answered' as const,
          (e: unknown) => (e instanceof Error ? e : new Error(String(e))),
        ),
      );
      const first = await Promise.race([kicked, ...polls]);
      if (!(first instanceof Error)) {
        retryMs = FIRST_RETRY_MS;
        continue;
      }
      if (this.#stopped) break;
      if (retryMs === FIRST_RETRY_MS) {
        this.#hub.logger.warn('a watch poll failed; asking again until the node answers', { node: this.#node, error: first.message });
      }
      await Promise.race([kicked, new Promise((resolve) => setTimeout(resolve, retryMs).unref())]);
      if (!this.#kicked) retryMs = Math.min(retryMs * 2, MAX_RETRY_MS);
    }
  }

  /** One long poll; whatever it brings is merged into the views, even when a newer poll superseded it. */
  async #poll(chunk: number, keys: WatchedKey[], waitMs: number): Promise<void> {
    const client = this.#hub.client();
    const request = { type: 'watch', watcher: `${this.#hub.id}/${chunk}`, waitMs, keys } as const;
    const reply = await client.transport.request(this.#node, request, waitMs + this.#hub.timeoutMs);
    if (reply.type === 'error') throw new Error(`${reply.code}: ${reply.message}`);
    if (reply.type !== 'watchReply') throw new Error(`unexpected ${reply.type} reply to a watch`);
    for (const { key, set } of reply.changed) this.#hub.merge(key, set);
  }
}
