// The durable engine: one LMDB environment per data directory, with the data, hints and
// meta stores as named databases in it.
//
// Durability: lmdb-js resolves a write's promise at commit, and with overlappingSync the
// fsync comes after; we open with separateFlushed and resolve only on `flushed`, so a write
// is acknowledged once it is on disk. Writes issued in one event turn share a transaction
// (and an fsync), which is where the throughput comes from. `durability: 'buffered'` is the
// paper's buffered-write mode (acknowledge at commit, before the fsync), an explicit option,
// for data and hints only; the meta store is synced in every mode. A buffered node that did not
// stop cleanly goes on as a new actor (node.ts), since a crash may have lost its own dots.
//
// The directory is locked with a pid file: LMDB itself lets several processes open one
// environment, and two nodes writing one directory would hand out the same dots.
import { mkdirSync, openSync, readFileSync, rmSync, writeSync, closeSync } from 'node:fs';
import { join } from 'node:path';
import { open, type Database, type RootDatabase } from 'lmdb';
import type { Engine, Entry, RangeOptions, Store, StoreKey } from './engine.ts';

export type Durability = 'sync' | 'buffered';

type LmdbKey = (string | number)[];
type Flushable = Promise<boolean> & { flushed?: Promise<void> };

class LmdbStore implements Store {
  private readonly db: Database<Uint8Array, LmdbKey>;
  private readonly durability: Durability;
  constructor(
    db: Database<Uint8Array, LmdbKey>,
    durability: Durability,
  ) {
    this.db = db;
    this.durability = durability;
  }

  /**
   * lmdb-js reads a value into one buffer it reuses for the next read; `get` copies it out into
   * a new ArrayBuffer each time. A copy into Node's pooled small-buffer memory costs 0.8 against
   * 1.6-1.8 us a read of a 230-byte value (docs/benchmarks.md). A value too large for the shared
   * buffer comes back in one of its own (not `isGlobal`) and is read the safe way.
   */
  get(key: StoreKey): Uint8Array | undefined {
    const shared = this.db.getBinaryFast(key as LmdbKey) as (Buffer & { isGlobal?: boolean }) | undefined;
    if (shared === undefined) return undefined;
    if (!shared.isGlobal) return this.db.getBinary(key as LmdbKey);
    // the shared buffer's length is set to the value's size
    const copy = Buffer.allocUnsafe(shared.length);
    copy.set(shared.subarray(0, shared.length));
    return copy;
  }

  put(key: StoreKey, value: Uint8Array): Promise<void> {
    return this.#durable(this.db.put(key as LmdbKey, value) as Flushable);
  }

  remove(key: StoreKey): Promise<void> {
    return this.#durable(this.db.remove(key as LmdbKey) as Flushable);
  }

  *range(options: RangeOptions = {}): Iterable<Entry> {
    const it = this.db.getRange({
      start: options.start as LmdbKey | undefined,
      end: options.end as LmdbKey | undefined,
      limit: options.limit,
      snapshot: false,
    });
    for (const { key, value } of it) yield { key: key as StoreKey, value };
  }

  async #durable(write: Flushable): Promise<void> {
    await write;
    if (this.durability === 'sync' && write.flushed) await write.flushed;
  }
}

export class LmdbEngine implements Engine {
  readonly data: Store;
  readonly hints: Store;
  readonly meta: Store;
  readonly buffered: boolean;
  readonly #env: RootDatabase;
  readonly #lockPath: string;

  private constructor(env: RootDatabase, lockPath: string, durability: Durability) {
    this.#env = env;
    this.#lockPath = lockPath;
    this.buffered = durability === 'buffered';
    const sub = (name: string, d: Durability) =>
      new LmdbStore(env.openDB<Uint8Array, LmdbKey>({ name, encoding: 'binary' }) as Database<Uint8Array, LmdbKey>, d);
    this.data = sub('data', durability);
    this.hints = sub('hints', durability);
    // the node's identity (counter leases above all) is synced in every mode: a lease lost in
    // a crash would hand out dots again
    this.meta = sub('meta', 'sync');
  }

  /**
   * lmdb-js's event-turn batching (its default) gathers the writes of one event-loop turn into
   * one transaction, started at the end of the turn; its commitDelay is not applied then
   * (measured: the same transactions and fsyncs per write at 0, 1 and 5 ms; docs/benchmarks.md).
   */
  static open(dir: string, durability: Durability = 'sync'): LmdbEngine {
    mkdirSync(dir, { recursive: true });
    const lockPath = join(dir, 'LOCK');
    lock(lockPath);
    try {
      const env = open({
        path: join(dir, 'lmdb'),
        maxDbs: 8,
        overlappingSync: true,
        separateFlushed: true,
        encoding: 'binary',
      });
      return new LmdbEngine(env, lockPath, durability);
    } catch (e) {
      rmSync(lockPath, { force: true });
      throw e;
    }
  }

  async flushed(): Promise<void> {
    await this.#env.flushed;
  }

  async close(): Promise<void> {
    await this.#env.flushed;
    await this.#env.close();
    rmSync(this.#lockPath, { force: true });
  }
}

/** Takes the directory's pid lock, or says who holds it. A lock left by a dead process is taken over. */
function lock(path: string): void {
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const fd = openSync(path, 'wx');
      writeSync(fd, String(process.pid));
      closeSync(fd);
      return;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
      const holder = Number(readFileSync(path, 'utf8').trim());
      if (Number.isInteger(holder) && holder > 0 && holder !== process.pid && alive(holder)) {
        throw new Error(`data directory ${path.replace(/\/LOCK$/, '')} is in use by process ${holder}`);
      }
      rmSync(path, { force: true });
    }
  }
  throw new Error(`could not lock ${path}`);
}

/** Whether a process with this id exists (EPERM: it does, owned by another user). */
export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}
