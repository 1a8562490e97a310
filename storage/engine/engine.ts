// The storage engine interface. An engine holds three ordered key-value stores: the node's
// own replica data, the hints it keeps for unreachable owners, and its metadata (identity,
// epoch, counter lease). Keys are tuples of strings and numbers, ordered element by element
// (numbers before strings, strings by UTF-8 bytes), so a partition's keys form one range.
//
// Reads are synchronous (LMDB reads are memory-mapped lookups); a write's promise resolves
// only once the write is on disk, and writes issued in order become durable in order.

export type StoreKey = readonly (string | number)[];

export interface Entry {
  readonly key: StoreKey;
  readonly value: Uint8Array;
}

export interface RangeOptions {
  /** inclusive */
  readonly start?: StoreKey;
  /** exclusive */
  readonly end?: StoreKey;
  readonly limit?: number;
}

export interface Store {
  get(key: StoreKey): Uint8Array | undefined;
  put(key: StoreKey, value: Uint8Array): Promise<void>;
  remove(key: StoreKey): Promise<void>;
  range(options?: RangeOptions): Iterable<Entry>;
}

export interface Engine {
  readonly data: Store;
  readonly hints: Store;
  readonly meta: Store;
  /**
   * Writes of data and hints resolve at commit, before the fsync (`--durability buffered`): a
   * crash can lose writes already sent on. Meta writes are durable when they resolve, always.
   */
  readonly buffered: boolean;
  /** resolves once every write issued so far is durable */
  flushed(): Promise<void>;
  close(): Promise<void>;
}

/** The order engines keep keys in; the memory engine sorts by it, LMDB's encoding agrees. */
export function compareKeys(a: StoreKey, b: StoreKey): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const x = a[i]!;
    const y = b[i]!;
    if (typeof x === 'number' && typeof y === 'number') {
      if (x !== y) return x < y ? -1 : 1;
    } else if (typeof x === 'number') return -1;
    else if (typeof y === 'number') return 1;
    else if (x !== y) return Buffer.compare(Buffer.from(x, 'utf8'), Buffer.from(y, 'utf8'));
  }
  return a.length - b.length;
}
