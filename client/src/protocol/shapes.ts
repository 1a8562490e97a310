// The parts that several messages share: keys, flags, version vectors, versions, sibling
// sets, (key, set) entries, dots, tree hashes and the ring. docs/protocol.md gives each
// layout; a message's own parts live beside it in messages/.
import { checkKey } from '../core/limits.ts';
import type { Member, Ring } from '../core/ring.ts';
import type { SiblingSet, Version } from '../core/siblings.ts';
import { entries, type Dot, type VersionVector } from '../core/version-vector.ts';
import { ProtocolError, Reader, Writer } from './wire.ts';

// ---------------------------------------------------------------- scalars

export function readKey(r: Reader): string {
  const key = r.str16();
  checkKey(key);
  return key;
}

/** 0 means "the cluster's default". */
export function writeQuorum(w: Writer, q: number): void {
  if (!Number.isInteger(q) || q < 0 || q > 255) throw new ProtocolError(`quorum ${q} does not fit a byte`);
  w.u8(q);
}

/** A u8 that is 0 or 1. */
export function writeBool(w: Writer, b: boolean): void {
  w.u8(b ? 1 : 0);
}

export function readBool(r: Reader, what: string): boolean {
  const v = r.u8();
  if (v > 1) throw new ProtocolError(`bad ${what} flag ${v}`);
  return v === 1;
}

/** A flags byte: any bit outside `known` is an error, so a later meaning is never misread. */
export function readFlags(r: Reader, known: number, what: string): number {
  const flags = r.u8();
  if ((flags & ~known) !== 0) throw new ProtocolError(`unknown ${what} flags ${flags}`);
  return flags;
}

/** A node name where empty means "none". */
export function writeOptionalName(w: Writer, name: string | null): void {
  w.str8(name ?? '');
}

export function readOptionalName(r: Reader): string | null {
  const name = r.str8();
  return name === '' ? null : name;
}

/** Refuses a count that could not fit in what is left, before anything is allocated for it. */
export function checkCount(r: Reader, count: number, minBytes: number, what: string): void {
  if (count * minBytes > r.left) throw new ProtocolError(`${what} count exceeds the frame`);
}

// ---------------------------------------------------------------- versions and sets

export function writeVV(w: Writer, vv: VersionVector): void {
  if (vv.size > 255) throw new ProtocolError(`a version vector has ${vv.size} entries; at most 255 are encoded`);
  w.u8(vv.size);
  for (const [actor, n] of entries(vv)) {
    w.str8(actor);
    w.u64(n);
  }
}

export function readVV(r: Reader): VersionVector {
  const count = r.u8();
  const vv = new Map<string, number>();
  for (let i = 0; i < count; i++) {
    const actor = r.str8();
    const n = r.u64();
    if (actor.length === 0 || n === 0 || vv.has(actor)) throw new ProtocolError('version vector entry is empty, zero or repeated');
    vv.set(actor, n);
  }
  return vv;
}

const VERSION_DELETED = 1;
/** protocol version 8 on: an f64 expiry time follows writtenAt (core/expiry.ts) */
const VERSION_EXPIRES = 2;
/** the protocol version a set holding a version with an expiry time needs */
export const EXPIRY_SINCE = 8;

function writeVersion(w: Writer, v: Version): void {
  w.str8(v.dot.actor);
  w.u64(v.dot.counter);
  writeVV(w, v.past);
  w.u8((v.deleted ? VERSION_DELETED : 0) | (v.expiresAt !== undefined ? VERSION_EXPIRES : 0));
  w.f64(v.writtenAt);
  if (v.expiresAt !== undefined) w.f64(v.expiresAt);
  w.blob(v.value);
}

/** The protocol version sending these sets needs: EXPIRY_SINCE when a version carries an expiry time, 1 otherwise. */
export function setsNeed(sets: Iterable<SiblingSet>): number {
  for (const set of sets) if (set.some((v) => v.expiresAt !== undefined)) return EXPIRY_SINCE;
  return 1;
}

function readVersion(r: Reader): Version {
  const actor = r.str8();
  const counter = r.u64();
  if (actor.length === 0 || counter === 0) throw new ProtocolError('a dot needs an actor and a counter above 0');
  const past = readVV(r);
  const flags = readFlags(r, VERSION_DELETED | VERSION_EXPIRES, 'version');
  const writtenAt = r.f64();
  const expiresAt = flags & VERSION_EXPIRES ? r.f64() : undefined;
  if (expiresAt !== undefined && !Number.isFinite(expiresAt)) throw new ProtocolError('a version\'s expiry time is not a finite number');
  const value = r.blob();
  const version = { dot: { actor, counter }, past, deleted: (flags & VERSION_DELETED) !== 0, writtenAt, value };
  return expiresAt === undefined ? version : { ...version, expiresAt };
}

// A set's encoding is kept on the set (sets are immutable), so that a set is encoded once: the
// coordinator stores and sends the same bytes, a replica stores the bytes it received when the
// merge keeps the received set, and a read answers with the bytes it read. Only canonical bytes
// are kept, the ones writeSet itself would write (a decoded set whose version vectors were not
// in actor order, or whose writtenAt is a NaN, is encoded afresh), so every replica stores the
// same bytes for the same set and the Merkle trees agree. The encoding is a plain symbol-keyed
// property: Object.defineProperty (non-enumerable) cost about 130 ns a set, an assignment 10, and
// a set is decoded several times per key read (each replica, the coordinator, the client). A
// copy by Object.assign or object spread would carry it; sets are arrays and never copied so.
const ENCODING = Symbol('encoding');

type Encoded = SiblingSet & { [ENCODING]?: Uint8Array };

function remember(set: SiblingSet, bytes: Uint8Array): void {
  if (Object.isExtensible(set)) (set as Encoded)[ENCODING] = bytes;
}

/** The set's canonical encoding when it is already known. */
function knownEncoding(set: SiblingSet): Uint8Array | undefined {
  return (set as Encoded)[ENCODING];
}

export function writeSet(w: Writer, set: SiblingSet): void {
  const known = knownEncoding(set);
  if (known) {
    w.bytes(known);
    return;
  }
  if (set.length > 0xffff) throw new ProtocolError('too many siblings to encode');
  w.u16(set.length);
  for (const v of set) writeVersion(w, v);
}

export function readSet(r: Reader): SiblingSet {
  const start = r.pos;
  const count = r.u16();
  const set: Version[] = [];
  let canonical = true;
  for (let i = 0; i < count; i++) {
    const v = readVersion(r);
    if (canonical && !isCanonical(v)) canonical = false;
    set.push(v);
  }
  if (canonical && count > 0) remember(set, r.span(start));
  return set;
}

/** Whether writeVersion would write back the bytes this version was read from. */
function isCanonical(v: Version): boolean {
  if (Number.isNaN(v.writtenAt)) return false;
  let previous: string | null = null;
  for (const actor of v.past.keys()) {
    if (previous !== null && !(previous < actor)) return false;
    previous = actor;
  }
  return true;
}

/** A sibling set on its own, as the engines store it. */
export function encodeSet(set: SiblingSet): Uint8Array {
  const known = knownEncoding(set);
  if (known) return known;
  const w = new Writer(64 + set.reduce((n, v) => n + v.value.byteLength + 64, 0));
  writeSet(w, set);
  const bytes = w.result();
  if (set.length > 0) remember(set, bytes);
  return bytes;
}

export function decodeSet(buf: Buffer): SiblingSet {
  const r = new Reader(buf);
  const set = readSet(r);
  r.done();
  return set;
}

/** A key and everything one node holds for it. */
export interface TransferEntry {
  readonly key: string;
  readonly set: SiblingSet;
}

export function writeEntries(w: Writer, list: readonly TransferEntry[]): void {
  w.u32(list.length);
  for (const e of list) {
    w.str16(e.key);
    writeSet(w, e.set);
  }
}

export function readEntries(r: Reader): TransferEntry[] {
  const n = r.u32();
  checkCount(r, n, 4, 'entry');
  const out: TransferEntry[] = [];
  for (let i = 0; i < n; i++) out.push({ key: readKey(r), set: readSet(r) });
  return out;
}

// ---------------------------------------------------------------- lists

export function writeKeys(w: Writer, keys: readonly string[]): void {
  w.u32(keys.length);
  for (const k of keys) w.str16(k);
}

export function readKeys(r: Reader): string[] {
  const n = r.u32();
  checkCount(r, n, 2, 'key');
  const out: string[] = [];
  for (let i = 0; i < n; i++) out.push(readKey(r));
  return out;
}

export function writeDots(w: Writer, dots: readonly Dot[]): void {
  w.u16(dots.length);
  for (const d of dots) {
    w.str8(d.actor);
    w.u64(d.counter);
  }
}

export function readDots(r: Reader): Dot[] {
  const n = r.u16();
  const dots: Dot[] = [];
  for (let i = 0; i < n; i++) dots.push({ actor: r.str8(), counter: r.u64() });
  return dots;
}

export function writeNumbers(w: Writer, xs: readonly number[]): void {
  w.u16(xs.length);
  for (const x of xs) w.u32(x);
}

export function readNumbers(r: Reader): number[] {
  const n = r.u16();
  checkCount(r, n, 4, 'number');
  const out: number[] = [];
  for (let i = 0; i < n; i++) out.push(r.u32());
  return out;
}

// ---------------------------------------------------------------- tree hashes

export const HASH_BYTES = 16;

/** One hash, bare: 16 bytes. */
export function writeHash(w: Writer, h: Uint8Array): void {
  if (h.byteLength !== HASH_BYTES) throw new ProtocolError(`a tree hash is ${HASH_BYTES} bytes, not ${h.byteLength}`);
  w.bytes(h);
}

export function readHash(r: Reader): Uint8Array {
  return r.bytes(HASH_BYTES);
}

/** u16 count, then the hashes. */
export function writeHashes(w: Writer, hashes: readonly Uint8Array[]): void {
  w.u16(hashes.length);
  for (const h of hashes) writeHash(w, h);
}

export function readHashes(r: Reader): Uint8Array[] {
  const n = r.u16();
  checkCount(r, n, HASH_BYTES, 'hash');
  const out: Uint8Array[] = [];
  for (let i = 0; i < n; i++) out.push(readHash(r));
  return out;
}

/** One hash as a list of one: how the version-1 messages carry a root or a leaf. */
export function writeListedHash(w: Writer, h: Uint8Array): void {
  writeHashes(w, [h]);
}

export function readListedHash(r: Reader, what: string): Uint8Array {
  const list = readHashes(r);
  if (list.length !== 1) throw new ProtocolError(`expected one ${what} hash, got ${list.length}`);
  return list[0]!;
}

// ---------------------------------------------------------------- the ring

const LEAVING = ['', 'leave', 'remove'] as const;
const NO_MEMBER = 0xffff;

export function writeRing(w: Writer, ring: Ring): void {
  const index = new Map(ring.members.map((m, i) => [m.id, i]));
  const idx = (id: string) => {
    const i = index.get(id);
    if (i === undefined) throw new ProtocolError(`ring names ${id}, which is not a member`);
    return i;
  };
  w.u32(ring.version);
  w.u32(ring.partitions);
  w.u8(ring.n);
  w.u16(ring.members.length);
  for (const m of ring.members) {
    w.str8(m.id);
    w.str16(m.address);
    w.u16(m.weight);
    w.u8(LEAVING.indexOf(m.leaving ?? ''));
  }
  for (const o of ring.owners) w.u16(idx(o));
  writeBool(w, ring.next !== null);
  if (ring.next) for (const o of ring.next) w.u16(idx(o));
  w.u32(ring.transfers.length);
  for (const t of ring.transfers) {
    w.u32(t.partition);
    w.u16(idx(t.to));
    w.u16(t.from === '' ? NO_MEMBER : idx(t.from));
    writeBool(w, t.done);
  }
}

export function readRing(r: Reader): Ring {
  const version = r.u32();
  const partitions = r.u32();
  if (partitions === 0 || partitions > 1 << 20 || (partitions & (partitions - 1)) !== 0) {
    throw new ProtocolError(`partitions must be a power of two, got ${partitions}`);
  }
  const n = r.u8();
  const count = r.u16();
  const members: Member[] = [];
  for (let i = 0; i < count; i++) {
    const id = r.str8();
    const address = r.str16();
    const weight = r.u16();
    const leaving = LEAVING[r.u8()];
    if (leaving === undefined) throw new ProtocolError('unknown member state');
    members.push(leaving ? { id, address, weight, leaving } : { id, address, weight });
  }
  const member = (what: string) => {
    const i = r.u16();
    const m = members[i];
    if (!m) throw new ProtocolError(`${what} names member ${i} of ${count}`);
    return m.id;
  };
  if (r.left < partitions * 2) throw new ProtocolError('ring owner table is truncated');
  const owners: string[] = [];
  for (let p = 0; p < partitions; p++) owners.push(member(`partition ${p}`));
  let next: string[] | null = null;
  if (readBool(r, 'ring next-owner')) {
    if (r.left < partitions * 2) throw new ProtocolError('ring next-owner table is truncated');
    next = [];
    for (let p = 0; p < partitions; p++) next.push(member(`next owner of partition ${p}`));
  }
  const transferCount = r.u32();
  checkCount(r, transferCount, 9, 'transfer');
  const transfers = [];
  for (let i = 0; i < transferCount; i++) {
    const partition = r.u32();
    const to = member('transfer destination');
    const fromIndex = r.u16();
    const from = fromIndex === NO_MEMBER ? '' : members[fromIndex]?.id;
    if (from === undefined) throw new ProtocolError('transfer source is not a member');
    const done = readBool(r, 'transfer done');
    if (partition >= partitions) throw new ProtocolError(`transfer of partition ${partition} of ${partitions}`);
    transfers.push({ partition, to, from, done });
  }
  return { version, partitions, n, members, owners, next, transfers };
}
