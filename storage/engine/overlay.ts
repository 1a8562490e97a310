// Read-your-writes over an engine store. An engine shows a write to readers only once its
// transaction commits (LMDB does; so does the memory engine), but the replica computes every
// change from the state before it, including changes still on their way to disk. The overlay
// holds each key's latest issued write until that write settles: reads and ranges see it at
// once, deletes included.
//
// When a write fails and no later write to the key was issued after it, the key goes back to
// what the engine holds, and `onRevert` says so, so whoever keeps derived state (the Merkle
// trees, the hint index) can follow. Writes to one key settle in issue order (engines make
// writes durable in issue order), so a later write's outcome is always the last word.
import { compareKeys, type Entry, type RangeOptions, type Store, type StoreKey } from './engine.ts';

interface Pending {
  readonly key: StoreKey;
  readonly value: Uint8Array | null;
  settled?: Promise<unknown>;
}

export type RevertListener = (key: StoreKey, failed: Uint8Array | null, now: Uint8Array | null, error: unknown) => void;

export class OverlayStore {
  readonly #store: Store;
  readonly #pending = new Map<string, Pending>();
  readonly #onRevert: RevertListener;

  constructor(store: Store, onRevert: RevertListener = () => undefined) {
    this.#store = store;
    this.#onRevert = onRevert;
  }

  /** Writes issued and not yet settled. */
  get pendingCount(): number {
    return this.#pending.size;
  }

  get(key: StoreKey): Uint8Array | undefined {
    // most reads find nothing pending: they skip building the key's id
    const p = this.#pending.size === 0 ? undefined : this.#pending.get(JSON.stringify(key));
    if (p) return p.value ?? undefined;
    return this.#store.get(key);
  }

  put(key: StoreKey, value: Uint8Array): Promise<void> {
    return this.#write(key, value);
  }

  remove(key: StoreKey): Promise<void> {
    return this.#write(key, null);
  }

  #write(key: StoreKey, value: Uint8Array | null): Promise<void> {
    const id = JSON.stringify(key);
    const mine: Pending = { key, value };
    this.#pending.set(id, mine);
    const write = value === null ? this.#store.remove(key) : this.#store.put(key, value);
    const done = write.then(
      () => {
        if (this.#pending.get(id) === mine) this.#pending.delete(id);
      },
      (error: unknown) => {
        if (this.#pending.get(id) === mine) {
          this.#pending.delete(id);
          this.#onRevert(key, value, this.#store.get(key) ?? null, error);
        }
        throw error;
      },
    );
    mine.settled = done.catch(() => undefined);
    return done;
  }

  /** Resolves once no write issued so far to a key in the range is still unsettled. */
  async settle(options: RangeOptions = {}): Promise<void> {
    for (;;) {
      const waiting = [...this.#pending.values()]
        .filter((p) => (!options.start || compareKeys(p.key, options.start) >= 0) && (!options.end || compareKeys(p.key, options.end) < 0))
        .map((p) => p.settled);
      if (waiting.length === 0) return;
      await Promise.all(waiting);
    }
  }

  /** The engine's range with the pending writes laid over it, in key order. */
  *range(options: RangeOptions = {}): Iterable<Entry> {
    const over = [...this.#pending.values()]
      .filter((p) => (!options.start || compareKeys(p.key, options.start) >= 0) && (!options.end || compareKeys(p.key, options.end) < 0))
      .sort((a, b) => compareKeys(a.key, b.key));
    let left = options.limit ?? Infinity;
    let i = 0;
    for (const e of this.#store.range({ start: options.start, end: options.end })) {
      // pending writes that sort before this entry, then this entry or the pending write that replaces it
      for (; i < over.length && compareKeys(over[i]!.key, e.key) < 0; i++) {
        const value = over[i]!.value;
        if (value && left-- > 0) yield { key: over[i]!.key, value };
      }
      let value: Uint8Array | null = e.value;
      if (i < over.length && compareKeys(over[i]!.key, e.key) === 0) value = over[i++]!.value;
      if (value && left-- > 0) yield { key: e.key, value };
      if (left <= 0) return;
    }
    for (; i < over.length && left > 0; i++) {
      const value = over[i]!.value;
      if (value && left-- > 0) yield { key: over[i]!.key, value };
    }
  }
}
