// The binary codec: the one module that turns messages into bytes and back.
//
// A WebSocket message carries one or more frames; each frame is
//   u32 length of what follows | u8 protocol version | u8 message type | u32 request id | payload
// Every read is bounds-checked: malformed input raises ProtocolError, never a crash or a
// half-decoded message. Layouts are specified in docs/protocol.md.
import { isUtf8 } from 'node:buffer';
import { ERROR_CODES, StoreError, errorCodeOf, type ErrorDetails } from '../core/errors.ts';
import { checkKey, MAX_FRAME_BYTES, MAX_MGET_KEYS } from '../core/limits.ts';
import type { Member, Ring } from '../core/ring.ts';
import type { SiblingSet, Version } from '../core/siblings.ts';
import { entries, type Dot, type VersionVector } from '../core/version-vector.ts';
import {
  MESSAGE_TYPES,
  PROTOCOL_VERSION,
  type ChangeKind,
  type Frame,
  type HintEntry,
  type HintRef,
  type TransferEntry,
  type Heartbeat,
  type Message,
  type MessageType,
  type MgetItem,
  type RingDigestWire,
} from './messages.ts';

export class ProtocolError extends StoreError {
  constructor(message: string) {
    super('PROTOCOL', message);
  }
}

const TYPE_BY_NUMBER = new Map<number, MessageType>(Object.entries(MESSAGE_TYPES).map(([k, v]) => [v, k as MessageType]));
const HEADER_BYTES = 4 + 1 + 1 + 4;
const MAX_SAFE = Number.MAX_SAFE_INTEGER;

// ---------------------------------------------------------------- writing

export class Writer {
  #buf: Buffer;
  #pos = 0;

  constructor(size = 256) {
    this.#buf = Buffer.allocUnsafe(size);
  }

  #room(n: number): void {
    if (this.#pos + n <= this.#buf.length) return;
    let size = this.#buf.length * 2;
    while (size < this.#pos + n) size *= 2;
    const next = Buffer.allocUnsafe(size);
    this.#buf.copy(next, 0, 0, this.#pos);
    this.#buf = next;
  }

  get length(): number {
    return this.#pos;
  }

  u8(v: number): void {
    this.#room(1);
    this.#buf[this.#pos++] = v;
  }

  u16(v: number): void {
    this.#room(2);
    this.#buf.writeUInt16BE(v, this.#pos);
    this.#pos += 2;
  }

  u32(v: number): void {
    this.#room(4);
    this.#buf.writeUInt32BE(v, this.#pos);
    this.#pos += 4;
  }

  /** An integer up to 2^53 - 1, as 8 bytes big-endian. */
  u64(v: number): void {
    this.u32(Math.floor(v / 0x1_0000_0000));
    this.u32(v >>> 0);
  }

  f64(v: number): void {
    this.#room(8);
    this.#buf.writeDoubleBE(v, this.#pos);
    this.#pos += 8;
  }

  bytes(b: Uint8Array): void {
    this.#room(b.byteLength);
    this.#buf.set(b, this.#pos);
    this.#pos += b.byteLength;
  }

  #str(s: string, width: 1 | 2 | 4): void {
    const n = Buffer.byteLength(s, 'utf8');
    const max = width === 1 ? 0xff : width === 2 ? 0xffff : 0xffffffff;
    if (n > max) throw new ProtocolError(`string of ${n} bytes does not fit a ${width}-byte length`);
    if (width === 1) this.u8(n);
    else if (width === 2) this.u16(n);
    else this.u32(n);
    this.#room(n);
    this.#buf.write(s, this.#pos, n, 'utf8');
    this.#pos += n;
  }

  str8(s: string): void {
    this.#str(s, 1);
  }

  str16(s: string): void {
    this.#str(s, 2);
  }

  str32(s: string): void {
    this.#str(s, 4);
  }

  blob(b: Uint8Array): void {
    this.u32(b.byteLength);
    this.bytes(b);
  }

  /** Drops everything written after `length` bytes (a frame that failed half-way). */
  truncate(length: number): void {
    this.#pos = Math.min(this.#pos, length);
  }

  /** Overwrites 4 bytes at an earlier position (frame lengths). */
  patchU32(at: number, v: number): void {
    this.#buf.writeUInt32BE(v, at);
  }

  result(): Buffer {
    return this.#buf.subarray(0, this.#pos);
  }
}

// ---------------------------------------------------------------- reading

export class Reader {
  #pos: number;

  constructor(
    private readonly buf: Buffer,
    start = 0,
    private readonly end = buf.length,
  ) {
    this.#pos = start;
  }

  get pos(): number {
    return this.#pos;
  }

  get left(): number {
    return this.end - this.#pos;
  }

  #need(n: number): void {
    if (this.#pos + n > this.end) throw new ProtocolError(`truncated: needed ${n} more bytes at offset ${this.#pos}`);
  }

  u8(): number {
    this.#need(1);
    return this.buf[this.#pos++]!;
  }

  u16(): number {
    this.#need(2);
    const v = this.buf.readUInt16BE(this.#pos);
    this.#pos += 2;
    return v;
  }

  u32(): number {
    this.#need(4);
    const v = this.buf.readUInt32BE(this.#pos);
    this.#pos += 4;
    return v;
  }

  u64(): number {
    const hi = this.u32();
    const lo = this.u32();
    const v = hi * 0x1_0000_0000 + lo;
    if (v > MAX_SAFE) throw new ProtocolError('64-bit integer above 2^53 - 1');
    return v;
  }

  f64(): number {
    this.#need(8);
    const v = this.buf.readDoubleBE(this.#pos);
    this.#pos += 8;
    return v;
  }

  bytes(n: number): Buffer {
    this.#need(n);
    const b = this.buf.subarray(this.#pos, this.#pos + n);
    this.#pos += n;
    return b;
  }

  #str(n: number): string {
    const b = this.bytes(n);
    if (!isUtf8(b)) throw new ProtocolError('string is not valid UTF-8');
    return b.toString('utf8');
  }

  str8(): string {
    return this.#str(this.u8());
  }

  str16(): string {
    return this.#str(this.u16());
  }

  str32(): string {
    return this.#str(this.u32());
  }

  /** A view into the frame: callers hand in buffers they own (each message arrives in a fresh one). */
  blob(): Uint8Array {
    return this.bytes(this.u32());
  }

  done(): void {
    if (this.#pos !== this.end) throw new ProtocolError(`${this.end - this.#pos} unexpected bytes after the payload`);
  }
}

// ---------------------------------------------------------------- shared shapes

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

function writeVersion(w: Writer, v: Version): void {
  w.str8(v.dot.actor);
  w.u64(v.dot.counter);
  writeVV(w, v.past);
  w.u8(v.deleted ? 1 : 0);
  w.f64(v.writtenAt);
  w.blob(v.value);
}

function readVersion(r: Reader): Version {
  const actor = r.str8();
  const counter = r.u64();
  if (actor.length === 0 || counter === 0) throw new ProtocolError('a dot needs an actor and a counter above 0');
  const past = readVV(r);
  const flags = r.u8();
  if (flags > 1) throw new ProtocolError(`unknown version flags ${flags}`);
  const writtenAt = r.f64();
  const value = r.blob();
  return { dot: { actor, counter }, past, deleted: flags === 1, writtenAt, value };
}

export function writeSet(w: Writer, set: SiblingSet): void {
  if (set.length > 0xffff) throw new ProtocolError('too many siblings to encode');
  w.u16(set.length);
  for (const v of set) writeVersion(w, v);
}

export function readSet(r: Reader): SiblingSet {
  const count = r.u16();
  const set: Version[] = [];
  for (let i = 0; i < count; i++) set.push(readVersion(r));
  return set;
}

/** A sibling set on its own, as the engines store it. */
export function encodeSet(set: SiblingSet): Buffer {
  const w = new Writer(64 + set.reduce((n, v) => n + v.value.byteLength + 64, 0));
  writeSet(w, set);
  return w.result();
}

export function decodeSet(buf: Buffer): SiblingSet {
  const r = new Reader(buf);
  const set = readSet(r);
  r.done();
  return set;
}

function readKey(r: Reader): string {
  const key = r.str16();
  checkKey(key);
  return key;
}

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
  w.u8(ring.next ? 1 : 0);
  if (ring.next) for (const o of ring.next) w.u16(idx(o));
  w.u32(ring.transfers.length);
  for (const t of ring.transfers) {
    w.u32(t.partition);
    w.u16(idx(t.to));
    w.u16(t.from === '' ? NO_MEMBER : idx(t.from));
    w.u8(t.done ? 1 : 0);
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
  const hasNext = r.u8();
  if (hasNext > 1) throw new ProtocolError('bad ring flags');
  let next: string[] | null = null;
  if (hasNext) {
    if (r.left < partitions * 2) throw new ProtocolError('ring next-owner table is truncated');
    next = [];
    for (let p = 0; p < partitions; p++) next.push(member(`next owner of partition ${p}`));
  }
  const transferCount = r.u32();
  if (transferCount > r.left / 9) throw new ProtocolError('transfer count exceeds the frame');
  const transfers = [];
  for (let i = 0; i < transferCount; i++) {
    const partition = r.u32();
    const to = member('transfer destination');
    const fromIndex = r.u16();
    const from = fromIndex === NO_MEMBER ? '' : members[fromIndex]?.id;
    if (from === undefined) throw new ProtocolError('transfer source is not a member');
    const done = r.u8();
    if (partition >= partitions || done > 1) throw new ProtocolError('bad transfer');
    transfers.push({ partition, to, from, done: done === 1 });
  }
  return { version, partitions, n, members, owners, next, transfers };
}

function writeError(w: Writer, code: number, message: string, details: ErrorDetails): void {
  w.u16(code);
  w.str16(message.length > 4000 ? message.slice(0, 4000) : message);
  w.str16(JSON.stringify(details));
}

function readError(r: Reader): { code: ReturnType<typeof errorCodeOf>; message: string; details: ErrorDetails } {
  const code = errorCodeOf(r.u16());
  const message = r.str16();
  let details: ErrorDetails;
  try {
    const parsed: unknown = JSON.parse(r.str16());
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new Error('not an object');
    details = parsed as ErrorDetails;
  } catch {
    throw new ProtocolError('error details are not a JSON object');
  }
  return { code, message, details };
}

function writeBeats(w: Writer, beats: readonly Heartbeat[]): void {
  w.u32(beats.length);
  for (const b of beats) {
    w.str8(b.node);
    w.u64(b.generation);
    w.u64(b.beat);
    w.str8(b.life);
  }
}

function readBeats(r: Reader): Heartbeat[] {
  const count = r.u32();
  if (count > r.left / 18) throw new ProtocolError('heartbeat count exceeds the frame');
  const beats: Heartbeat[] = [];
  for (let i = 0; i < count; i++) beats.push({ node: r.str8(), generation: r.u64(), beat: r.u64(), life: r.str8() });
  return beats;
}

function writeDigest(w: Writer, d: RingDigestWire): void {
  w.u32(d.version);
  w.str8(d.hash);
}

function readDigest(r: Reader): RingDigestWire {
  return { version: r.u32(), hash: r.str8() };
}

function writeOptionalRing(w: Writer, ring: Ring | null): void {
  w.u8(ring ? 1 : 0);
  if (ring) writeRing(w, ring);
}

function readOptionalRing(r: Reader): Ring | null {
  const flag = r.u8();
  if (flag > 1) throw new ProtocolError('bad ring flag');
  return flag ? readRing(r) : null;
}

const CHANGE_KINDS: readonly ChangeKind[] = ['join', 'leave', 'remove', 'replace'];
const HASH = 16;

function writeDots(w: Writer, dots: readonly Dot[]): void {
  w.u16(dots.length);
  for (const d of dots) {
    w.str8(d.actor);
    w.u64(d.counter);
  }
}

function readDots(r: Reader): Dot[] {
  const n = r.u16();
  const dots: Dot[] = [];
  for (let i = 0; i < n; i++) dots.push({ actor: r.str8(), counter: r.u64() });
  return dots;
}

function writeHashes(w: Writer, hashes: readonly Uint8Array[]): void {
  w.u16(hashes.length);
  for (const h of hashes) {
    if (h.byteLength !== HASH) throw new ProtocolError('a tree hash is 16 bytes');
    w.bytes(h);
  }
}

function readHashes(r: Reader): Uint8Array[] {
  const n = r.u16();
  if (n * HASH > r.left) throw new ProtocolError('hash count exceeds the frame');
  const out: Uint8Array[] = [];
  for (let i = 0; i < n; i++) out.push(r.bytes(HASH));
  return out;
}

function writeNumbers(w: Writer, xs: readonly number[]): void {
  w.u16(xs.length);
  for (const x of xs) w.u32(x);
}

function readNumbers(r: Reader): number[] {
  const n = r.u16();
  if (n * 4 > r.left) throw new ProtocolError('number count exceeds the frame');
  const out: number[] = [];
  for (let i = 0; i < n; i++) out.push(r.u32());
  return out;
}

function writeKeys(w: Writer, keys: readonly string[]): void {
  w.u32(keys.length);
  for (const k of keys) w.str16(k);
}

function readKeys(r: Reader): string[] {
  const n = r.u32();
  if (n * 2 > r.left) throw new ProtocolError('key count exceeds the frame');
  const out: string[] = [];
  for (let i = 0; i < n; i++) out.push(readKey(r));
  return out;
}

function writeEntries(w: Writer, entries: readonly TransferEntry[]): void {
  w.u32(entries.length);
  for (const e of entries) {
    w.str16(e.key);
    writeSet(w, e.set);
  }
}

function readEntries(r: Reader): TransferEntry[] {
  const n = r.u32();
  if (n * 4 > r.left) throw new ProtocolError('entry count exceeds the frame');
  const out: TransferEntry[] = [];
  for (let i = 0; i < n; i++) out.push({ key: readKey(r), set: readSet(r) });
  return out;
}

function writeHintRefs(w: Writer, refs: readonly HintRef[]): void {
  w.u32(refs.length);
  for (const h of refs) {
    w.str8(h.owner);
    w.str16(h.key);
    writeDots(w, h.dots);
  }
}

function readHintRefs(r: Reader): HintRef[] {
  const n = r.u32();
  if (n * 5 > r.left) throw new ProtocolError('hint count exceeds the frame');
  const out: HintRef[] = [];
  for (let i = 0; i < n; i++) out.push({ owner: r.str8(), key: readKey(r), dots: readDots(r) });
  return out;
}

function writeHintEntries(w: Writer, hints: readonly HintEntry[]): void {
  w.u32(hints.length);
  for (const h of hints) {
    w.str8(h.owner);
    w.str16(h.key);
    w.u32(h.partition);
    w.f64(h.storedAt);
    writeSet(w, h.set);
  }
}

function readHintEntries(r: Reader): HintEntry[] {
  const n = r.u32();
  if (n * 17 > r.left) throw new ProtocolError('hint count exceeds the frame');
  const out: HintEntry[] = [];
  for (let i = 0; i < n; i++) out.push({ owner: r.str8(), key: readKey(r), partition: r.u32(), storedAt: r.f64(), set: readSet(r) });
  return out;
}

function writeQuorum(w: Writer, q: number): void {
  if (!Number.isInteger(q) || q < 0 || q > 255) throw new ProtocolError(`quorum ${q} does not fit a byte`);
  w.u8(q);
}

// ---------------------------------------------------------------- frames

function writePayload(w: Writer, m: Message): void {
  switch (m.type) {
    case 'ping':
    case 'pong':
    case 'ring':
    case 'ack':
    case 'status':
      return;
    case 'error':
      writeError(w, ERROR_CODES[m.code], m.message, m.details);
      return;
    case 'get':
      w.str16(m.key);
      writeQuorum(w, m.r);
      writeQuorum(w, m.pr);
      return;
    case 'getReply':
      w.u8(m.replies);
      writeSet(w, m.set);
      return;
    case 'mget':
      writeQuorum(w, m.r);
      writeQuorum(w, m.pr);
      w.u16(m.keys.length);
      for (const k of m.keys) w.str16(k);
      return;
    case 'mgetReply':
      w.u16(m.items.length);
      for (const item of m.items) {
        if (item.type === 'getReply') {
          w.u8(0);
          w.u8(item.replies);
          writeSet(w, item.set);
        } else {
          w.u8(1);
          writeError(w, ERROR_CODES[item.code], item.message, item.details);
        }
      }
      return;
    case 'put':
      w.str16(m.key);
      writeQuorum(w, m.w);
      writeQuorum(w, m.pw);
      w.u8((m.deleted ? 1 : 0) | (m.context ? 2 : 0) | (m.forwarded ? 4 : 0));
      if (m.context) writeVV(w, m.context);
      w.blob(m.value);
      return;
    case 'putReply':
      w.u8(m.acks);
      w.str8(m.dot.actor);
      w.u64(m.dot.counter);
      writeVV(w, m.context);
      return;
    case 'ringReply':
      w.u8(m.n);
      w.u8(m.r);
      w.u8(m.w);
      writeRing(w, m.ring);
      return;
    case 'replicaRead':
      w.str16(m.key);
      return;
    case 'replicaReadReply':
      writeSet(w, m.set);
      return;
    case 'replicaWrite':
      w.str16(m.key);
      w.str8(m.hintFor ?? '');
      writeSet(w, m.set);
      return;
    case 'hints':
      w.str8(m.owner ?? '');
      w.u32(m.limit);
      return;
    case 'hintsReply':
      w.u32(m.total);
      w.u32(m.hints.length);
      for (const h of m.hints) {
        w.str8(h.owner);
        w.str16(h.key);
        w.f64(h.storedAt);
        w.u16(h.siblings);
      }
      return;
    case 'statusReply':
      w.str32(m.json);
      return;
    case 'lastBeat':
      w.str8(m.cluster);
      writeBeats(w, [m.beat]);
      return;
    case 'lastBeatReply':
      writeBeats(w, m.beat ? [m.beat] : []);
      return;
    case 'gossip':
      w.str8(m.cluster);
      w.str8(m.from);
      writeDigest(w, m.digest);
      writeBeats(w, m.beats);
      return;
    case 'gossipReply':
      writeDigest(w, m.digest);
      writeBeats(w, m.beats);
      writeOptionalRing(w, m.ring);
      w.u8(m.wantRing ? 1 : 0);
      return;
    case 'ringPush':
      w.str8(m.cluster);
      writeRing(w, m.ring);
      return;
    case 'change':
      w.u8(CHANGE_KINDS.indexOf(m.kind));
      w.str8(m.node);
      w.str16(m.address);
      w.u16(m.weight);
      w.str8(m.by);
      w.u32(m.expectedVersion);
      return;
    case 'changeReply':
      w.u32(m.version);
      w.u32(m.transfers);
      w.str8(m.claimant);
      return;
    case 'transferRead':
      w.u32(m.partition);
      w.str16(m.after);
      w.u32(m.limit);
      w.u32(m.maxBytes);
      return;
    case 'transferBatch':
      w.u32(m.total);
      w.u8(m.done ? 1 : 0);
      w.u32(m.entries.length);
      for (const e of m.entries) {
        w.str16(e.key);
        writeSet(w, e.set);
      }
      return;
    case 'transferDone':
      w.u32(m.partition);
      w.str8(m.to);
      return;
    case 'merkleRoots':
      w.u32(m.partition);
      return;
    case 'merkleRootsReply':
      writeHashes(w, [m.root]);
      writeHashes(w, m.groups);
      w.u32(m.keys);
      return;
    case 'merkleSegments':
      w.u32(m.partition);
      writeNumbers(w, m.groups);
      return;
    case 'merkleSegmentsReply':
      w.u16(m.segments.length);
      for (const g of m.segments) writeHashes(w, g);
      return;
    case 'segmentKeys':
      w.u32(m.partition);
      writeNumbers(w, m.segments);
      return;
    case 'segmentKeysReply':
      w.u32(m.keys.length);
      for (const k of m.keys) {
        w.str16(k.key);
        writeHashes(w, [k.leaf]);
      }
      return;
    case 'keysRead':
    case 'hintsFor':
    case 'hintsForReply':
    case 'replicaReadMany':
      writeKeys(w, m.keys);
      return;
    case 'replicaReadManyReply':
      w.u32(m.sets.length);
      for (const set of m.sets) writeSet(w, set);
      return;
    case 'keysReadReply':
    case 'keysMerge':
      writeEntries(w, m.entries);
      return;
    case 'hintsRead':
      w.str8(m.owner);
      w.u8(m.after ? 1 : 0);
      if (m.after) {
        w.str8(m.after.owner);
        w.u32(m.after.partition);
        w.str16(m.after.key);
      }
      w.u32(m.limit);
      return;
    case 'hintsBatch':
      writeHintEntries(w, m.hints);
      w.u8(m.done ? 1 : 0);
      return;
    case 'hintsAck':
    case 'hintsDrop':
      writeHintRefs(w, m.hints);
      return;
    case 'countReply':
      w.u32(m.count);
      return;
    case 'hintsExpired':
      w.u32(m.limit);
      return;
    case 'hintsExpiredReply':
      w.u32(m.total);
      writeHintEntries(w, m.hints);
      return;
    case 'reclaim':
      w.u32(m.keys.length);
      for (const k of m.keys) {
        w.str16(k.key);
        writeDots(w, k.dots);
      }
      return;
    case 'tombstones':
      w.u32(m.partition);
      w.u32(m.limit);
      return;
    case 'tombstonesReply':
      w.u32(m.keys.length);
      for (const k of m.keys) {
        w.str16(k.key);
        writeHashes(w, [k.leaf]);
        writeDots(w, k.dots);
      }
      return;
  }
}

function readPayload(type: MessageType, r: Reader): Message {
  switch (type) {
    case 'ping':
    case 'pong':
    case 'ring':
    case 'ack':
    case 'status':
      return { type };
    case 'error':
      return { type, ...readError(r) };
    case 'get':
      return { type, key: readKey(r), r: r.u8(), pr: r.u8() };
    case 'getReply':
      return { type, replies: r.u8(), set: readSet(r) };
    case 'mget': {
      const q = r.u8();
      const pq = r.u8();
      const count = r.u16();
      if (count > MAX_MGET_KEYS) throw new ProtocolError(`multi-get of ${count} keys; the limit is ${MAX_MGET_KEYS}`);
      const keys: string[] = [];
      for (let i = 0; i < count; i++) keys.push(readKey(r));
      return { type, r: q, pr: pq, keys };
    }
    case 'mgetReply': {
      const count = r.u16();
      const items: MgetItem[] = [];
      for (let i = 0; i < count; i++) {
        const status = r.u8();
        if (status === 0) items.push({ type: 'getReply', replies: r.u8(), set: readSet(r) });
        else if (status === 1) items.push({ type: 'error', ...readError(r) });
        else throw new ProtocolError(`unknown multi-get item status ${status}`);
      }
      return { type, items };
    }
    case 'put': {
      const key = readKey(r);
      const w = r.u8();
      const pw = r.u8();
      const flags = r.u8();
      if (flags > 7) throw new ProtocolError(`unknown put flags ${flags}`);
      const context = flags & 2 ? readVV(r) : null;
      const value = r.blob();
      return { type, key, w, pw, deleted: (flags & 1) === 1, context, value, ...(flags & 4 ? { forwarded: true } : {}) };
    }
    case 'putReply':
      return { type, acks: r.u8(), dot: { actor: r.str8(), counter: r.u64() }, context: readVV(r) };
    case 'ringReply':
      return { type, n: r.u8(), r: r.u8(), w: r.u8(), ring: readRing(r) };
    case 'replicaRead':
      return { type, key: readKey(r) };
    case 'replicaReadReply':
      return { type, set: readSet(r) };
    case 'replicaWrite': {
      const key = readKey(r);
      const hintFor = r.str8();
      return { type, key, hintFor: hintFor === '' ? null : hintFor, set: readSet(r) };
    }
    case 'hints': {
      const owner = r.str8();
      return { type, owner: owner === '' ? null : owner, limit: r.u32() };
    }
    case 'hintsReply': {
      const total = r.u32();
      const count = r.u32();
      if (count > r.left) throw new ProtocolError('hint count exceeds the frame');
      const hints = [];
      for (let i = 0; i < count; i++) hints.push({ owner: r.str8(), key: r.str16(), storedAt: r.f64(), siblings: r.u16() });
      return { type, total, hints };
    }
    case 'statusReply':
      return { type, json: r.str32() };
    case 'lastBeat': {
      const cluster = r.str8();
      const [beat, ...more] = readBeats(r);
      if (!beat || more.length > 0) throw new ProtocolError('a lastBeat carries exactly one heartbeat');
      return { type, cluster, beat };
    }
    case 'lastBeatReply': {
      const beats = readBeats(r);
      if (beats.length > 1) throw new ProtocolError('more than one heartbeat in a lastBeatReply');
      return { type, beat: beats[0] ?? null };
    }
    case 'gossip':
      return { type, cluster: r.str8(), from: r.str8(), digest: readDigest(r), beats: readBeats(r) };
    case 'gossipReply': {
      const digest = readDigest(r);
      const beats = readBeats(r);
      const ring = readOptionalRing(r);
      const want = r.u8();
      if (want > 1) throw new ProtocolError('bad gossip flag');
      return { type, digest, beats, ring, wantRing: want === 1 };
    }
    case 'ringPush':
      return { type, cluster: r.str8(), ring: readRing(r) };
    case 'change': {
      const kind = CHANGE_KINDS[r.u8()];
      if (!kind) throw new ProtocolError('unknown change kind');
      return { type, kind, node: r.str8(), address: r.str16(), weight: r.u16(), by: r.str8(), expectedVersion: r.u32() };
    }
    case 'changeReply':
      return { type, version: r.u32(), transfers: r.u32(), claimant: r.str8() };
    case 'transferRead':
      return { type, partition: r.u32(), after: r.str16(), limit: r.u32(), maxBytes: r.u32() };
    case 'transferBatch': {
      const total = r.u32();
      const done = r.u8();
      if (done > 1) throw new ProtocolError('bad transfer flag');
      const count = r.u32();
      if (count > r.left / 4) throw new ProtocolError('transfer entry count exceeds the frame');
      const entries = [];
      for (let i = 0; i < count; i++) entries.push({ key: readKey(r), set: readSet(r) });
      return { type, total, done: done === 1, entries };
    }
    case 'transferDone':
      return { type, partition: r.u32(), to: r.str8() };
    case 'merkleRoots':
      return { type, partition: r.u32() };
    case 'merkleRootsReply': {
      const [root] = readHashes(r);
      if (!root) throw new ProtocolError('missing tree root');
      return { type, root, groups: readHashes(r), keys: r.u32() };
    }
    case 'merkleSegments':
      return { type, partition: r.u32(), groups: readNumbers(r) };
    case 'merkleSegmentsReply': {
      const n = r.u16();
      const segments: Uint8Array[][] = [];
      for (let i = 0; i < n; i++) segments.push(readHashes(r));
      return { type, segments };
    }
    case 'segmentKeys':
      return { type, partition: r.u32(), segments: readNumbers(r) };
    case 'segmentKeysReply': {
      const n = r.u32();
      if (n * 20 > r.left) throw new ProtocolError('key count exceeds the frame');
      const keys = [];
      for (let i = 0; i < n; i++) {
        const key = readKey(r);
        const [leaf] = readHashes(r);
        if (!leaf) throw new ProtocolError('missing leaf hash');
        keys.push({ key, leaf });
      }
      return { type, keys };
    }
    case 'keysRead':
    case 'hintsFor':
    case 'hintsForReply':
    case 'replicaReadMany':
      return { type, keys: readKeys(r) };
    case 'replicaReadManyReply': {
      const n = r.u32();
      if (n * 2 > r.left) throw new ProtocolError('set count exceeds the frame');
      const sets = [];
      for (let i = 0; i < n; i++) sets.push(readSet(r));
      return { type, sets };
    }
    case 'keysReadReply':
    case 'keysMerge':
      return { type, entries: readEntries(r) };
    case 'hintsRead': {
      const owner = r.str8();
      const hasAfter = r.u8();
      if (hasAfter > 1) throw new ProtocolError('bad cursor flag');
      const after = hasAfter ? { owner: r.str8(), partition: r.u32(), key: readKey(r) } : null;
      return { type, owner, after, limit: r.u32() };
    }
    case 'hintsBatch': {
      const hints = readHintEntries(r);
      const done = r.u8();
      if (done > 1) throw new ProtocolError('bad flag');
      return { type, hints, done: done === 1 };
    }
    case 'hintsAck':
    case 'hintsDrop':
      return { type, hints: readHintRefs(r) };
    case 'countReply':
      return { type, count: r.u32() };
    case 'hintsExpired':
      return { type, limit: r.u32() };
    case 'hintsExpiredReply':
      return { type, total: r.u32(), hints: readHintEntries(r) };
    case 'reclaim': {
      const n = r.u32();
      if (n * 4 > r.left) throw new ProtocolError('key count exceeds the frame');
      const keys = [];
      for (let i = 0; i < n; i++) keys.push({ key: readKey(r), dots: readDots(r) });
      return { type, keys };
    }
    case 'tombstones':
      return { type, partition: r.u32(), limit: r.u32() };
    case 'tombstonesReply': {
      const n = r.u32();
      if (n * 20 > r.left) throw new ProtocolError('key count exceeds the frame');
      const keys = [];
      for (let i = 0; i < n; i++) {
        const key = readKey(r);
        const [leaf] = readHashes(r);
        if (!leaf) throw new ProtocolError('missing leaf hash');
        keys.push({ key, leaf, dots: readDots(r) });
      }
      return { type, keys };
    }
  }
}

/** Appends one frame to `w`. */
export function writeFrame(w: Writer, id: number, m: Message): void {
  const start = w.length;
  w.u32(0);
  w.u8(PROTOCOL_VERSION);
  w.u8(MESSAGE_TYPES[m.type]);
  w.u32(id);
  writePayload(w, m);
  const length = w.length - start - 4;
  if (length + 4 > MAX_FRAME_BYTES) throw new StoreError('FRAME_TOO_LARGE', `frame of ${length + 4} bytes exceeds ${MAX_FRAME_BYTES}`);
  w.patchU32(start, length);
}

export function encodeFrame(id: number, m: Message): Buffer {
  const w = new Writer();
  writeFrame(w, id, m);
  return w.result();
}

/** What a receiver learns from a frame it cannot decode: enough to answer the request id with an error. */
export interface BadFrame {
  readonly id: number | null;
  readonly error: StoreError;
}

/**
 * Decodes every frame of one WebSocket message. A frame that fails to decode is returned as
 * a BadFrame (with its request id when the header was readable); a message whose framing is
 * broken ends the list there, since nothing after it can be trusted.
 */
export function decodeFrames(buf: Buffer): (Frame | BadFrame)[] {
  const out: (Frame | BadFrame)[] = [];
  let pos = 0;
  while (pos < buf.length) {
    if (buf.length - pos < HEADER_BYTES) {
      out.push({ id: null, error: new ProtocolError('truncated frame header') });
      break;
    }
    const length = buf.readUInt32BE(pos);
    const end = pos + 4 + length;
    if (length < HEADER_BYTES - 4 || end > buf.length) {
      out.push({ id: null, error: new ProtocolError(`frame length ${length} does not match the ${buf.length - pos - 4} bytes left`) });
      break;
    }
    const version = buf[pos + 4]!;
    const typeNumber = buf[pos + 5]!;
    const id = buf.readUInt32BE(pos + 6);
    try {
      if (version !== PROTOCOL_VERSION) throw new ProtocolError(`protocol version ${version} is not supported (this node speaks ${PROTOCOL_VERSION})`);
      const type = TYPE_BY_NUMBER.get(typeNumber);
      if (!type) throw new ProtocolError(`unknown message type ${typeNumber}`);
      const r = new Reader(buf, pos + HEADER_BYTES, end);
      const message = readPayload(type, r);
      r.done();
      out.push({ id, message });
    } catch (e) {
      out.push({ id, error: e instanceof StoreError ? e : new ProtocolError(String(e)) });
    }
    pos = end;
  }
  return out;
}

export function isBadFrame(f: Frame | BadFrame): f is BadFrame {
  return 'error' in f;
}
