// One watch subscription's events (docs/watches.md): an async iterator over key states that
// keeps at most one pending state per key. A newer state of a key replaces the one not yet
// read, which loses nothing since each event carries the key's whole sibling set; so what a
// stream holds is bounded by its keys, however slowly it is read. A state is news only when it
// holds a version the watcher has not seen, so the same versions are never emitted twice in a row.
import { contextOf, type SiblingSet } from '../../client/src/core/siblings.ts';
import { EMPTY_VV, join, type VersionVector } from '../../client/src/core/version-vector.ts';
import { isNews } from '../../storage/watch/watches.ts';

export interface KeyState {
  readonly key: string;
  readonly set: SiblingSet;
}

export class WatchStream implements AsyncIterableIterator<KeyState> {
  /** per key, what the watcher has seen; null until its first event when it gave no context */
  readonly #seen: Map<string, VersionVector | null>;
  readonly #pending = new Map<string, SiblingSet>();
  readonly #onClose: () => void;
  #wake: (() => void) | null = null;
  #closed = false;

  /** `seen[i]` is the context the watcher last saw for keys[i], or null for none. */
  constructor(keys: readonly string[], seen: readonly (VersionVector | null)[], onClose: () => void) {
    this.#seen = new Map(keys.map((k, i) => [k, seen[i] ?? null]));
    this.#onClose = onClose;
  }

  get keys(): string[] {
    return [...this.#seen.keys()];
  }

  /**
   * The key's current state: queued when it holds a version the watcher has not seen (any
   * state, before a first event without a context).
   */
  offer(key: string, set: SiblingSet): void {
    if (this.#closed || !this.#seen.has(key)) return;
    const seen = this.#seen.get(key)!;
    if (seen !== null && !isNews(seen, set)) {
      // the watcher has seen every version of it (the state lost a tombstone to reclamation, say)
      this.#pending.delete(key);
      return;
    }
    this.#pending.set(key, set);
    this.#wake?.();
  }

  async next(): Promise<IteratorResult<KeyState>> {
    while (!this.#closed && this.#pending.size === 0) await new Promise<void>((resolve) => (this.#wake = resolve));
    this.#wake = null;
    if (this.#closed) return { done: true, value: undefined };
    const [key, set] = this.#pending.entries().next().value!;
    this.#pending.delete(key);
    this.#seen.set(key, join(this.#seen.get(key) ?? EMPTY_VV, contextOf(set)));
    return { done: false, value: { key, set } };
  }

  /** The watcher went away (or the subscription was stopped): nothing more is queued. */
  async return(): Promise<IteratorResult<KeyState>> {
    this.close();
    return { done: true, value: undefined };
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#pending.clear();
    this.#wake?.();
    this.#onClose();
  }

  [Symbol.asyncIterator](): this {
    return this;
  }
}
