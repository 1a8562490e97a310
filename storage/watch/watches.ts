// A node's side of live watches (docs/watches.md): it holds each gateway's long poll until it
// stores a version of one of the poll's keys that the poll has not seen, and then answers with
// everything it holds for that key. Level-triggered: a poll is judged against what the node
// holds when it arrives, so a gateway that was away (or a node that restarted) loses nothing;
// the gateway only has to ask again with what it has seen.
import { StoreError } from '../../client/src/core/errors.ts';
import { contextCovers, type SiblingSet } from '../../client/src/core/siblings.ts';
import type { NodeId } from '../../client/src/core/ring.ts';
import type { VersionVector } from '../../client/src/core/version-vector.ts';
import type { WatchReply, WatchRequest } from '../../client/src/protocol/messages.ts';
import type { Clock, Timer } from '../../client/src/runtime.ts';

/** Polls one node holds at once, over all its callers: a bound on the memory watches take. */
export const MAX_HELD_WATCHES = 10_000;

interface Poll {
  readonly id: string;
  readonly keys: ReadonlyMap<string, VersionVector>;
  readonly answer: (reply: WatchReply) => void;
  timer: Timer | null;
}

/** Whether the node holds a version of the key that `seen` does not cover. */
export function isNews(seen: VersionVector, set: SiblingSet): boolean {
  return set.some((v) => !contextCovers(seen, v));
}

export class Watches {
  readonly #read: (key: string) => SiblingSet;
  readonly #clock: Clock;
  readonly #polls = new Map<string, Poll>();
  readonly #byKey = new Map<string, Set<Poll>>();
  #closed = false;

  /** `read` is what the node holds for a key: its own data merged with its hints. */
  constructor(read: (key: string) => SiblingSet, clock: Clock) {
    this.#read = read;
    this.#clock = clock;
  }

  /** Polls held now. */
  get held(): number {
    return this.#polls.size;
  }

  /** Answers at once with the keys that have news, else once one has, else after the wait with nothing. */
  watch(from: NodeId | null, request: WatchRequest): Promise<WatchReply> {
    const id = `${from ?? ''}\u0000${request.watcher}`;
    // a newer poll from the same watcher supersedes the older one
    const older = this.#polls.get(id);
    if (older) this.#finish(older, []);
    const changed = request.keys.flatMap(({ key, seen }) => {
      const set = this.#read(key);
      return isNews(seen, set) ? [{ key, set }] : [];
    });
    if (changed.length > 0 || request.waitMs === 0 || this.#closed) return Promise.resolve({ type: 'watchReply', changed });
    if (this.#polls.size >= MAX_HELD_WATCHES) {
      const message = `this node holds ${MAX_HELD_WATCHES} watches already; watch through fewer gateways or keys`;
      return Promise.reject(new StoreError('OVERLOADED', message));
    }
    return new Promise<WatchReply>((resolve) => {
      const poll: Poll = { id, keys: new Map(request.keys.map((k) => [k.key, k.seen])), answer: resolve, timer: null };
      poll.timer = this.#clock.after(request.waitMs, () => this.#finish(poll, []));
      this.#polls.set(id, poll);
      for (const key of poll.keys.keys()) {
        let polls = this.#byKey.get(key);
        if (!polls) this.#byKey.set(key, (polls = new Set()));
        polls.add(poll);
      }
    });
  }

  /** The replica stored a set for the key durably: the polls it has news for are answered. */
  stored(key: string): void {
    const polls = this.#byKey.get(key);
    if (!polls) return;
    const set = this.#read(key);
    for (const poll of [...polls]) if (isNews(poll.keys.get(key)!, set)) this.#finish(poll, [{ key, set }]);
  }

  /** The node is stopping: every poll is answered with nothing, and later ones at once. */
  close(): void {
    this.#closed = true;
    for (const poll of [...this.#polls.values()]) this.#finish(poll, []);
  }

  #finish(poll: Poll, changed: WatchReply['changed']): void {
    if (this.#polls.get(poll.id) !== poll) return;
    this.#polls.delete(poll.id);
    poll.timer?.cancel();
    for (const key of poll.keys.keys()) {
      const polls = this.#byKey.get(key);
      polls?.delete(poll);
      if (polls?.size === 0) this.#byKey.delete(key);
    }
    poll.answer({ type: 'watchReply', changed });
  }
}
