// The in-memory engine, for unit tests and the deterministic simulator. It behaves as the LMDB
// engine does, as far as callers can tell, including where LMDB is unkind:
//
//   - writes gather in a transaction that commits later (commitDelay); until then a read does
//     not see them, a write's own process included (lmdb-js shows a write to readers only
//     after its transaction commits);
//   - a committed transaction becomes durable later still (syncDelay, the fsync), in commit
//     order; a write's promise resolves once it is durable;
//   - a transaction can fail: at commit (nothing is applied, as with ENOSPC or an I/O error)
//     or at sync (the data is applied and becomes durable, but its writes are told they failed,
//     as when fsync reports an error for pages that did reach the disk: the outcome is unknown
//     to the writer);
//   - crash() undoes every committed transaction that is not yet durable, as a power cut would,
//     kills the handle (its promises never settle, its calls are refused) and returns a fresh
//     handle on the same disk for the restarted process.
//
// Timing and faults come from the options, so the simulator drives them from its seeded
// scheduler and a run replays exactly. The defaults commit and sync in microtasks and never fail.
import { compareKeys, type Engine, type Entry, type RangeOptions, type Store, type StoreKey } from './engine.ts';

export type WriteFault = 'none' | 'commit' | 'sync';

export interface MemoryEngineOptions {
  /** runs `fn` after `ms` (the simulator's clock); the default runs it in a microtask */
  readonly schedule?: (ms: number, fn: () => void) => void;
  /** the time on the clock `schedule` follows */
  readonly now?: () => number;
  /** ms from a transaction's first write to its commit */
  readonly commitDelay?: () => number;
  /** ms from a commit to its fsync */
  readonly syncDelay?: () => number;
  /** decides, at commit, whether the transaction fails and where */
  readonly fault?: () => WriteFault;
}

/** The error a failed transaction's writes reject with. */
export class DiskWriteError extends Error {
  override readonly name = 'DiskWriteError';
  readonly stage: 'commit' | 'sync';
  constructor(
    stage: 'commit' | 'sync',
    message: string,
  ) {
    super(message);
    this.stage = stage;
  }
}

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

const TABLES = ['data', 'hints', 'meta'] as const;

/** What a process sees: the committed state, durable or not. The engine keeps what a crash would undo. */
export class MemoryDisk {
  readonly data = new MemoryTable();
  readonly hints = new MemoryTable();
  readonly meta = new MemoryTable();

  /** A copy of the disk as it is now (entries are never mutated, so they are shared). */
  copy(): MemoryDisk {
    const c = new MemoryDisk();
    for (const t of TABLES) for (const [k, e] of this[t].map) c[t].map.set(k, e);
    return c;
  }
}

class MemoryStore implements Store {
  private readonly engine: MemoryEngine;
  private readonly table: MemoryTable;
  constructor(
    engine: MemoryEngine,
    table: MemoryTable,
  ) {
    this.engine = engine;
    this.table = table;
  }

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

interface Write {
  readonly table: MemoryTable;
  readonly key: StoreKey;
  readonly value: Uint8Array | undefined;
  readonly resolve: () => void;
  readonly reject: (e: Error) => void;
}

interface Transaction {
  readonly writes: Write[];
  /** what each applied write replaced, to undo it if a crash comes before the fsync */
  readonly undo: { table: MemoryTable; key: StoreKey; before: Entry | undefined }[];
  fault: WriteFault;
  durable: boolean;
}

const inMicrotask = (_ms: number, fn: () => void) => queueMicrotask(fn);

export class MemoryEngine implements Engine {
  readonly data: Store;
  readonly hints: Store;
  readonly meta: Store;
  /** a write resolves once durable, as with LMDB's default durability */
  readonly buffered = false;
  readonly #options: Required<MemoryEngineOptions>;
  #open: Transaction | null = null;
  /** committed (or failed) transactions not yet synced, oldest first */
  #unsynced: Transaction[] = [];
  /** when the newest sync is due: syncs complete in commit order */
  #lastSyncAt = 0;
  #waiters: (() => void)[] = [];
  #state: 'open' | 'closed' | 'dead' = 'open';
  /** transactions that failed, by stage, for reports */
  readonly failures = { commit: 0, sync: 0 };

  readonly disk: MemoryDisk;
  constructor(
    disk = new MemoryDisk(),
    options: MemoryEngineOptions = {},
  ) {
    this.disk = disk;
    this.#options = { schedule: inMicrotask, now: () => 0, commitDelay: () => 0, syncDelay: () => 0, fault: () => 'none', ...options };
    this.data = new MemoryStore(this, disk.data);
    this.hints = new MemoryStore(this, disk.hints);
    this.meta = new MemoryStore(this, disk.meta);
  }

  checkAlive(): void {
    if (this.#state !== 'open') throw new Error(`engine is ${this.#state}`);
  }

  write(table: MemoryTable, key: StoreKey, value: Uint8Array | undefined): Promise<void> {
    if (this.#state !== 'open') return Promise.reject(new Error(`engine is ${this.#state}`));
    return new Promise<void>((resolve, reject) => {
      if (!this.#open) {
        const txn: Transaction = { writes: [], undo: [], fault: 'none', durable: false };
        this.#open = txn;
        this.#options.schedule(this.#options.commitDelay(), () => this.#commit(txn));
      }
      this.#open.writes.push({ table, key, value, resolve, reject });
    });
  }

  #commit(txn: Transaction): void {
    if (this.#state === 'dead') return;
    if (this.#open === txn) this.#open = null;
    txn.fault = this.#options.fault();
    if (txn.fault === 'commit') {
      this.failures.commit++;
      const error = new DiskWriteError('commit', 'simulated disk write failure: the transaction was not applied');
      for (const w of txn.writes) w.reject(error);
      txn.durable = true;
      this.#wake();
      return;
    }
    for (const w of txn.writes) txn.undo.push({ table: w.table, key: w.key, before: w.table.apply(w.key, w.value) });
    this.#unsynced.push(txn);
    // fsyncs complete in commit order, never before the one of an earlier commit
    const now = this.#options.now();
    const at = Math.max(this.#lastSyncAt, now + this.#options.syncDelay());
    this.#lastSyncAt = at;
    this.#options.schedule(at - now, () => this.#sync(txn));
  }

  #sync(txn: Transaction): void {
    if (this.#state === 'dead') return;
    const at = this.#unsynced.indexOf(txn);
    if (at >= 0) this.#unsynced.splice(at, 1);
    txn.durable = true;
    if (txn.fault === 'sync') {
      this.failures.sync++;
      const error = new DiskWriteError('sync', 'simulated fsync failure: the outcome of the transaction is unknown');
      for (const w of txn.writes) w.reject(error);
    } else {
      for (const w of txn.writes) w.resolve();
    }
    this.#wake();
  }

  #wake(): void {
    if (this.#open || this.#unsynced.length > 0) return;
    for (const w of this.#waiters.splice(0)) w();
  }

  flushed(): Promise<void> {
    if (!this.#open && this.#unsynced.length === 0) return Promise.resolve();
    return new Promise((resolve) => this.#waiters.push(resolve));
  }

  /** The disk as a crash now would leave it: committed and synced transactions only. */
  durableCopy(): MemoryDisk {
    const c = this.disk.copy();
    for (const t of [...this.#unsynced].reverse()) for (const u of [...t.undo].reverse()) restore(c, this.disk, u);
    return c;
  }

  /** A power cut. Returns the handle a restarted process would open on the same disk. */
  crash(): MemoryEngine {
    for (const t of this.#unsynced.reverse()) for (const u of t.undo.reverse()) u.table.apply(u.key, u.before?.value);
    this.#unsynced = [];
    this.#open = null;
    this.#waiters = [];
    this.#state = 'dead';
    return new MemoryEngine(this.disk, this.#options);
  }

  async close(): Promise<void> {
    await this.flushed();
    this.#state = 'closed';
  }
}

/** Undoes one write in a copy of the disk (the copy's table of the same name). */
function restore(copy: MemoryDisk, disk: MemoryDisk, u: { table: MemoryTable; key: StoreKey; before: Entry | undefined }): void {
  const name = TABLES.find((t) => disk[t] === u.table)!;
  copy[name].apply(u.key, u.before?.value);
}
