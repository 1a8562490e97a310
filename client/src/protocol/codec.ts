// The binary codec: the registry of every message type and the framing around them. This is
// the only place frames are built or taken apart; each message's own writer and reader sit
// beside its type under messages/.
//
// A WebSocket message carries one or more frames; each frame is
//   u32 length of what follows | u8 protocol version | u8 message type | u32 request id | payload
// From version 8 a request's type byte may have bit 7 set: a trace context (trace-context.ts)
// then follows the request id, before the payload.
// The version byte is the one the two ends agreed on when the connection opened (see
// storage/transport/server.ts). Every read is bounds-checked: malformed input raises
// ProtocolError, never a crash or a half-decoded message. Layouts are in docs/protocol.md.
import { StoreError } from '../core/errors.ts';
import { MAX_FRAME_BYTES } from '../core/limits.ts';
import type { MessageEntry } from './entry.ts';
import type { Frame, Message, MessageType, Request } from './messages.ts';
import { clientMessages } from './messages/client.ts';
import { handoffMessages } from './messages/handoff.ts';
import { helloMessages } from './messages/hello.ts';
import { membershipMessages } from './messages/membership.ts';
import { repairMessages } from './messages/repair.ts';
import { replicaMessages } from './messages/replica.ts';
import { readTraceContext, TRACE_FLAG, TRACE_SINCE, writeTraceContext, type TraceContext } from './trace-context.ts';
import { setsNeed } from './shapes.ts';
import { watchMessages } from './messages/watch.ts';
import { ProtocolError, Reader, Writer } from './wire.ts';
import type { SiblingSet } from '../core/siblings.ts';

export { ProtocolError, Reader, Writer } from './wire.ts';
export { decodeSet, encodeSet, readRing, readSet, readVV, writeRing, writeSet, writeVV } from './shapes.ts';

// ---------------------------------------------------------------- versions

/**
 * The protocol versions this node speaks, as memberlist does: a node of the next release
 * still speaks the previous version, so a cluster is upgraded one node at a time. Each
 * connection speaks the highest version both ends have (storage/transport/).
 *   2: heartbeats carry their run's `life`; lastBeat.
 *   3: inspect, quietKeys and compact; hint expiry semantics changed.
 *   4: a put may carry a condition (current, absent), answered by conflict when it fails.
 *   5: hello, a caller's signed proof of its identity (connections opened with a certificate).
 *   6: a put may carry a typed operation in place of a value, answered by opReply.
 *   7: heartbeats carry the sender's epoch and the highest counter its durable lease covers.
 *   8: a request frame may carry a trace context (bit 7 of the type byte); a put may carry a
 *      TTL and a version its expiry time (core/expiry.ts). A message whose sets hold such a
 *      version is never sent at an earlier version; watch and watchReply, a gateway's
 *      long poll for new versions of keys (docs/watches.md).
 */
export const PROTOCOL_MIN = 2;
export const PROTOCOL_MAX = 8;
/** The newest version this node speaks. */
export const PROTOCOL_VERSION = PROTOCOL_MAX;

export interface VersionRange {
  readonly min: number;
  readonly max: number;
}

export const SPOKEN: VersionRange = { min: PROTOCOL_MIN, max: PROTOCOL_MAX };

export function describeRange(range: VersionRange): string {
  return range.min === range.max ? `version ${range.min}` : `versions ${range.min} to ${range.max}`;
}

// ---------------------------------------------------------------- the registry

type Registry = { readonly [T in MessageType]: MessageEntry<Extract<Message, { type: T }>> };

/** Every message type has exactly one entry: the type checker refuses a type without one. */
const ENTRIES: Registry = {
  ...clientMessages,
  ...replicaMessages,
  ...membershipMessages,
  ...repairMessages,
  ...handoffMessages,
  ...helloMessages,
  ...watchMessages,
};
const GROUPS = [clientMessages, replicaMessages, membershipMessages, repairMessages, handoffMessages, helloMessages, watchMessages];

function entryOf(type: MessageType): MessageEntry<Message> {
  return ENTRIES[type];
}

const BY_NUMBER = new Map<number, MessageEntry<Message>>();
if (GROUPS.reduce((n, g) => n + Object.keys(g).length, 0) !== Object.keys(ENTRIES).length) {
  throw new Error('a message type has an entry in two groups');
}
for (const [name, entry] of Object.entries(ENTRIES) as [MessageType, MessageEntry<Message>][]) {
  // numbers are part of the protocol: a clash or a slip is a bug to fail at load, not on the wire
  const clash = BY_NUMBER.get(entry.number);
  if (clash) throw new Error(`message types ${clash.type} and ${entry.type} share the number ${entry.number}`);
  // bit 7 of the type byte is the trace extension's (version 8), so type numbers stop at 127
  if (entry.type !== name || entry.number < 1 || entry.number >= TRACE_FLAG) throw new Error(`bad registry entry ${name}`);
  if (entry.since > PROTOCOL_MAX) throw new Error(`${name} appears in version ${entry.since}, above ${PROTOCOL_MAX}`);
  BY_NUMBER.set(entry.number, entry);
}

/** Type numbers by name. Only ever appended: never renumbered or reused. */
export const MESSAGE_TYPES = Object.fromEntries(Object.values(ENTRIES).map((e) => [e.type, e.number])) as {
  readonly [T in MessageType]: number;
};

/** The protocol version a message type first appeared in. */
export function messageSince(type: MessageType): number {
  return entryOf(type).since;
}

/**
 * The protocol version one message needs: its type's, or later when it uses a field that
 * appeared after its type (a put with a condition needs version 4).
 */
export function messageNeeds(m: Message): number {
  const entry = entryOf(m.type);
  return Math.max(entry.since, entry.needs?.(m) ?? entry.since, setsNeed(carriedSets(m)));
}

/**
 * Every sibling set a message carries, wherever it sits: `set`, `sets`, `own`, and the `set` of
 * each of its `entries` and `hints`, the fields that hold sets (messages/).
 */
function* carriedSets(m: Message): Iterable<SiblingSet> {
  const o = m as unknown as Record<string, unknown>;
  if (Array.isArray(o.set)) yield o.set as SiblingSet;
  if (Array.isArray(o.own)) yield o.own as SiblingSet;
  if (Array.isArray(o.sets)) yield* o.sets as SiblingSet[];
  for (const list of [o.entries, o.hints]) {
    if (Array.isArray(list)) for (const e of list as { set?: unknown }[]) if (Array.isArray(e.set)) yield e.set as SiblingSet;
  }
}

export function isRequest(m: Message): m is Request {
  return entryOf(m.type).request;
}

// ---------------------------------------------------------------- frames

const HEADER_BYTES = 4 + 1 + 1 + 4;

/**
 * Appends one frame to `w`, at the connection's protocol version. A message type newer than
 * that version is refused before anything is written, so the writer stays usable. A request's
 * trace context is written from version 8 and left out below it: an older peer gets the
 * request untraced.
 */
export function writeFrame(w: Writer, id: number, m: Message, version = PROTOCOL_MAX, trace?: TraceContext): void {
  if (version < PROTOCOL_MIN || version > PROTOCOL_MAX) {
    throw new ProtocolError(`protocol version ${version} is not spoken here (this node speaks ${describeRange(SPOKEN)})`);
  }
  const entry = entryOf(m.type);
  if (entry.since > version) {
    throw new ProtocolError(`${m.type} needs protocol version ${entry.since}; this connection speaks version ${version}`);
  }
  const needed = messageNeeds(m);
  if (needed > version) {
    throw new ProtocolError(
      `this ${m.type} needs protocol version ${needed} (${describeNeed(m)}); this connection speaks version ${version}`,
    );
  }
  const traced = trace !== undefined && version >= TRACE_SINCE && entry.request;
  const start = w.length;
  w.u32(0);
  w.u8(version);
  w.u8(traced ? entry.number | TRACE_FLAG : entry.number);
  w.u32(id);
  if (traced) writeTraceContext(w, trace);
  entry.write(w, m, version);
  const length = w.length - start - 4;
  if (length + 4 > MAX_FRAME_BYTES) throw new StoreError('FRAME_TOO_LARGE', `frame of ${length + 4} bytes exceeds ${MAX_FRAME_BYTES}`);
  w.patchU32(start, length);
}

/** What makes a message need a later version than its type: for the sender's refusal. */
function describeNeed(m: Message): string {
  if (m.type === 'put' && m.ttlSeconds !== undefined) return 'a put with a TTL';
  if (setsNeed(carriedSets(m)) > 7) return 'a version with an expiry time';
  if (m.type === 'put' && m.op) return `a ${m.op.type} operation`;
  return m.type === 'put' && m.condition ? `a put with condition ${m.condition}` : m.type;
}

export function encodeFrame(id: number, m: Message, version = PROTOCOL_MAX, trace?: TraceContext): Buffer {
  const w = new Writer();
  writeFrame(w, id, m, version, trace);
  return w.result();
}

/** What a receiver learns from a frame it cannot decode: enough to answer the request id with an error. */
export interface BadFrame {
  readonly id: number | null;
  readonly error: StoreError;
}

/**
 * Decodes every frame of one WebSocket message. A frame whose version is outside `accept`
 * (by default every version this node speaks), whose type did not exist yet in its version,
 * or that fails to decode is returned as a BadFrame (with its request id when the header
 * was readable); a message whose framing is broken ends the list there, since nothing after
 * it can be trusted.
 */
export function decodeFrames(buf: Buffer, accept: VersionRange = SPOKEN): (Frame | BadFrame)[] {
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
    const typeByte = buf[pos + 5]!;
    const typeNumber = typeByte & ~TRACE_FLAG;
    const id = buf.readUInt32BE(pos + 6);
    try {
      if (version < accept.min || version > accept.max) {
        throw new ProtocolError(`protocol version ${version} is not supported (this connection speaks ${describeRange(accept)})`);
      }
      const entry = BY_NUMBER.get(typeNumber);
      if (!entry) throw new ProtocolError(`unknown message type ${typeByte}`);
      if (entry.since > version) {
        throw new ProtocolError(`message type ${typeNumber} (${entry.type}) does not exist in protocol version ${version}`);
      }
      const r = new Reader(buf, pos + HEADER_BYTES, end);
      let trace: TraceContext | undefined;
      if (typeByte & TRACE_FLAG) {
        if (version < TRACE_SINCE) throw new ProtocolError(`unknown message type ${typeByte}`);
        if (!entry.request) throw new ProtocolError(`a ${entry.type} is a reply and carries no trace context`);
        trace = readTraceContext(r);
      }
      const message = entry.read(r, version);
      r.done();
      out.push(trace ? { id, message, trace } : { id, message });
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
