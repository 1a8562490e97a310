// The in-memory engine, for unit tests and the deterministic simulator. It behaves like the
// LMDB engine as far as callers can tell: synchronous reads, writes durable in issue order.
//
// The stores live on a MemoryDisk that outlives the engine handle. A simulator may pass
// `defer` to decide when writes become durable; crash() undoes the writes that are not yet,
// as a power cut would, kills the handle (its promises never resolve, its writes are refused)
// and returns a fresh handle on the same disk for the restarted node.
import { compareKeys, type Engine, type Entry, type RangeOptions, type Store, type StoreKey } from './engine.ts';

type Defer = (durable: () => void) => void;

class MemoryTable {
  readonly map = new Map<string, Entry>();
  sorted: Entry[] | null = null;

  /** Applies a write; returns what it replaced, so an undurable write can be undone. */
  apply(key: StoreKey, value: Uint8Array | undefined): Entry | undefined {
    const k = JSON.stringify(key);
    const before = this.map.get(k);
    if (value === undefined) this.map.delete(k);
    else this.map.set(k, { key: [...key], value });
    this.sorted = null;
    return before;
  }
}

export class MemoryDisk {
  readonly data = new MemoryTable();
  readonly hints = new MemoryTable();
  readonly meta = new MemoryTable();

  /** A copy of the disk as it is now, as a backup would take it (entries are never mutated). */
  copy(): MemoryDisk {
    const c = new MemoryDisk();
    for (const t of ['data', 'hints', 'meta'] as const) for (const [k, e] of this[t].map) c[t].map.set(k, e);
    return c;
  }
}

class MemoryStore implements Store {
  constructor(
    private readonly engine: MemoryEngine,
    private readonly table: MemoryTable,
  ) {}

  get(key: StoreKey): Uint8Array | undefined {
    this.engine.checkAlive();
    return this.table.map.get(JSON.stringify(key))?.value;
  }

  put(key: StoreKey, value: Uint8Array): Promise<void> {
    return this.engine.write(this.table, key, Uint8Array.prototype.slice.call(value));
  }

  remove(key: StoreKey): Promise<void> {
    return this.engine.write(this.table, key, undefined);
  }

  *range(options: RangeOptions = {}): Iterable<Entry> {
    this.engine.checkAlive();
    this.table.sorted ??= [...this.table.map.values()].sort((a, b) => compareKeys(a.key, b.key));
    let n = 0;
    for (const e of this.table.sorted) {
      if (options.start && compareKeys(e.key, options.start) < 0) continue;
      if (options.end && compareKeys(e.key, options.end) >= 0) break;
      if (options.limit !== undefined && n++ >= options.limit) break;
      yield e;
    }
  }
}

interface Pending {
  readonly table: MemoryTable;
  readonly key: StoreKey;
  readonly before: Entry | undefined;
}

export class MemoryEngine implements Engine {
  readonly data: Store;
  readonly hints: Store;
  readonly meta: Store;
  #pending: Pending[] = [];
  #waiters: (() => void)[] = [];
  #state: 'open' | 'closed' | 'dead' = 'open';

  constructor(
    readonly disk = new MemoryDisk(),
    private readonly defer: Defer = queueMicrotask,
  ) {
    this.data = new MemoryStore(this, disk.data);
    this.hints = new MemoryStore(this, disk.hints);
    this.meta = new MemoryStore(this, disk.meta);
  }

  checkAlive(): void {
    if (this.#state !== 'open') throw new Error(`engine is ${this.#state}`);
  }

  write(table: MemoryTable, key: StoreKey, value: Uint8Array | undefined): Promise<void> {
    if (this.#state !== 'open') return Promise.reject(new Error(`engine is ${this.#state}`));
    const entry: Pending = { table, key, before: table.apply(key, value) };
    this.#pending.push(entry);
    return new Promise((resolve) =>
      this.defer(() => {
        if (this.#state === 'dead') return;
        // durability is in issue order: this write and every one before it
        const at = this.#pending.indexOf(entry);
        if (at >= 0) this.#pending.splice(0, at + 1);
        resolve();
        if (this.#pending.length === 0) for (const w of this.#waiters.splice(0)) w();
      }),
    );
  }

  flushed(): Promise<void> {
    if (this.#pending.length === 0) return Promise.resolve();
    return new Promise((resolve) => this.#waiters.push(resolve));
  }

  /** A power cut. Returns the handle a restarted process would open on the same disk. */
  crash(): MemoryEngine {
    for (const p of this.#pending.reverse()) p.table.apply(p.key, p.before?.value);
    this.#pending = [];
    this.#waiters = [];
    this.#state = 'dead';
    return new MemoryEngine(this.disk, this.defer);
  }

  async close(): Promise<void> {
    await this.flushed();
    this.#state = 'closed';
  }
}
