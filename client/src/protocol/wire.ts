// The bytes under every message: a growable Writer and a bounds-checked Reader, and the one
// error a malformed frame raises. Every read is checked, so malformed input raises
// ProtocolError, never a crash or a half-decoded message. Layouts are in docs/protocol.md.
import { isUtf8 } from 'node:buffer';
import { StoreError } from '../core/errors.ts';

export class ProtocolError extends StoreError {
  constructor(message: string) {
    super('PROTOCOL', message);
  }
}

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

/** strings up to this many bytes are read byte by byte: longer ones would be built in pieces (cons strings) */
const SHORT_STRING = 12;

export class Reader {
  #pos: number;

  private readonly buf: Buffer;
  private readonly end: number;
  constructor(
    buf: Buffer,
    start = 0,
    end = buf.length,
  ) {
    this.buf = buf;
    this.end = end;
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

  /**
   * Most strings on the wire are short and ASCII (actors, keys): those are built here, at about
   * half the cost of a view, a UTF-8 check and a decode in native code (94 against 191 ns a
   * string, read and looked up in a map). A string longer than SHORT_STRING, or holding any
   * byte above 0x7f, goes the checked way.
   */
  #str(n: number): string {
    if (n > SHORT_STRING) return this.#utf8(n);
    this.#need(n);
    const start = this.#pos;
    let s = '';
    for (let i = start; i < start + n; i++) {
      const c = this.buf[i]!;
      if (c > 0x7f) return this.#utf8(n);
      s += String.fromCharCode(c);
    }
    this.#pos += n;
    return s;
  }

  #utf8(n: number): string {
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

  /** A view of the bytes from `start` to here: callers hand in buffers they own. */
  span(start: number): Buffer {
    return this.buf.subarray(start, this.#pos);
  }

  /** A view into the frame: callers hand in buffers they own (each message arrives in a fresh one). */
  blob(): Uint8Array {
    return this.bytes(this.u32());
  }

  done(): void {
    if (this.#pos !== this.end) throw new ProtocolError(`${this.end - this.#pos} unexpected bytes after the payload`);
  }
}
