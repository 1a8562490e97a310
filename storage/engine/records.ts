// Records on disk. Every value a node stores carries a format byte and a CRC-32 of what follows,
// checked on every read, as bitcask does:
//
//   record = u8 format (1) | u32 CRC-32 of the payload, big-endian | payload
//
// The payload is what the node meant to store (a sibling set's encoding, a hint, a lease...),
// so a protocol change can never silently change what an old file means, and a flipped bit is
// an error, never data. A record that fails its check is reported (`onCorrupt`, counted) and
// read as absent: a corrupt copy is never served, and read repair or anti-entropy writes the
// key again from the other replicas (storage/node/corrupt.ts moves the node's actor for that key range
// on first, since it has forgotten what the record held).
//
// A data directory has a format too, in its meta store: 2 since records carry their own
// format; 3 since a stored version may carry an expiry time (a flag bit of the set encoding,
// docs/protocol.md: records of format 2 read unchanged, and a release that reads formats up to
// 2 refuses the directory rather than fail on such a record). A directory without the mark,
// written before that (format 1: bare payloads), is migrated in place when it is opened; one of
// format 2 needs no rewrite, only the new mark.
import { crc32 } from 'node:zlib';
import type { Engine, Entry, RangeOptions, Store, StoreKey } from './engine.ts';

export const RECORD_FORMAT = 1;
/** the data directory's format: 2 since every record is framed, 3 since a version may carry an expiry time */
export const DIRECTORY_FORMAT = 3;
const FORMAT_KEY = ['format'];
const HEADER = 5;
/** meta records earlier formats kept that nothing reads any more */
const RETIRED_META = new Set(['clean-shutdown', 'hint-generation']);

export type StoreName = 'data' | 'hints' | 'meta';

export function frame(payload: Uint8Array): Buffer {
  const out = Buffer.allocUnsafe(HEADER + payload.byteLength);
  out[0] = RECORD_FORMAT;
  out.writeUInt32BE(crc32(payload), 1);
  out.set(payload, HEADER);
  return out;
}

/** The payload of a record, or null when it is not a record of a known format or its check fails. */
export function unframe(raw: Uint8Array): Buffer | null {
  if (raw.byteLength < HEADER || raw[0] !== RECORD_FORMAT) return null;
  const b = Buffer.isBuffer(raw) ? raw : Buffer.from(raw.buffer, raw.byteOffset, raw.byteLength);
  const payload = b.subarray(HEADER);
  return crc32(payload) === b.readUInt32BE(1) ? payload : null;
}

export type CorruptListener = (store: StoreName, key: StoreKey) => void;

class RecordStore implements Store {
  private readonly name: StoreName;
  private readonly inner: Store;
  private readonly onCorrupt: CorruptListener;
  constructor(
    name: StoreName,
    inner: Store,
    onCorrupt: CorruptListener,
  ) {
    this.name = name;
    this.inner = inner;
    this.onCorrupt = onCorrupt;
  }

  get(key: StoreKey): Uint8Array | undefined {
    const raw = this.inner.get(key);
    if (raw === undefined) return undefined;
    const payload = unframe(raw);
    if (payload === null) this.onCorrupt(this.name, key);
    return payload ?? undefined;
  }

  put(key: StoreKey, value: Uint8Array): Promise<void> {
    return this.inner.put(key, frame(value));
  }

  remove(key: StoreKey): Promise<void> {
    return this.inner.remove(key);
  }

  *range(options?: RangeOptions): Iterable<Entry> {
    for (const e of this.inner.range(options)) {
      const payload = unframe(e.value);
      if (payload === null) this.onCorrupt(this.name, e.key);
      else yield { key: e.key, value: payload };
    }
  }
}

/** An engine whose stores frame every value they write and check every value they read. */
export class RecordEngine implements Engine {
  readonly data: Store;
  readonly hints: Store;
  readonly meta: Store;

  readonly inner: Engine;
  private constructor(
    inner: Engine,
    onCorrupt: CorruptListener,
  ) {
    this.inner = inner;
    this.data = new RecordStore('data', inner.data, onCorrupt);
    this.hints = new RecordStore('hints', inner.hints, onCorrupt);
    this.meta = new RecordStore('meta', inner.meta, onCorrupt);
  }

  /**
   * Opens the records of an engine, migrating a directory of an earlier format in place first.
   * Returns the engine and how many records the migration rewrote (0 when there was none).
   */
  static async open(inner: Engine, onCorrupt: CorruptListener): Promise<{ engine: RecordEngine; migrated: number }> {
    const mark = inner.meta.get(FORMAT_KEY);
    const format = mark === undefined ? null : unframe(mark)?.[0];
    if (format !== undefined && format !== null && format > DIRECTORY_FORMAT) {
      throw new Error(`the data directory has format ${format}; this node reads formats up to ${DIRECTORY_FORMAT}: run a newer version`);
    }
    let migrated = 0;
    if (format !== DIRECTORY_FORMAT) {
      const empty = [...inner.meta.range({ limit: 1 })].length === 0;
      // format 2's records are framed already: only the mark changes
      if (!empty && format !== 2) migrated = await migrate(inner);
      await inner.meta.put(FORMAT_KEY, frame(Buffer.from([DIRECTORY_FORMAT])));
    }
    return { engine: new RecordEngine(inner, onCorrupt), migrated };
  }

  get buffered(): boolean {
    return this.inner.buffered;
  }

  flushed(): Promise<void> {
    return this.inner.flushed();
  }

  close(): Promise<void> {
    return this.inner.close();
  }
}

/**
 * Format 1 to 2: every value framed, the on-disk hint index and retired meta records dropped. A
 * record that is already framed (a migration cut short and started again) is kept as it is.
 */
async function migrate(inner: Engine): Promise<number> {
  let rewritten = 0;
  const writes: Promise<void>[] = [];
  for (const [store, name] of [
    [inner.data, 'data'],
    [inner.hints, 'hints'],
    [inner.meta, 'meta'],
  ] as const) {
    for (const e of [...store.range()]) {
      const first = Array.isArray(e.key) ? e.key[0] : e.key;
      const retired = (name === 'hints' && first === 'k') || (name === 'meta' && RETIRED_META.has(String(first)));
      if (retired) writes.push(store.remove(e.key));
      else if (unframe(e.value) === null) {
        writes.push(store.put(e.key, frame(e.value)));
        rewritten++;
      }
    }
  }
  await Promise.all(writes);
  return rewritten;
}
