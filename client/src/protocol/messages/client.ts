// What clients (the gateway, the CLI, operators) ask a node, and its answers: ping, get,
// multi-get, put, the ring, the node's status, and the error reply any request can get.
import { ERROR_CODES, errorCodeOf, type ErrorCode, type ErrorDetails } from '../../core/errors.ts';
import { MAX_MGET_KEYS } from '../../core/limits.ts';
import type { Ring } from '../../core/ring.ts';
import type { SiblingSet } from '../../core/siblings.ts';
import type { Dot, VersionVector } from '../../core/version-vector.ts';
import { decodeOp, encodeOp } from '../../core/crdt/codec.ts';
import type { TypedOp } from '../../core/crdt/typed.ts';
import { MAX_TTL_SECONDS } from '../../core/expiry.ts';
import { reply, request } from '../entry.ts';
import { EXPIRY_SINCE, readFlags, readKey, readRing, readSet, readVV, writeQuorum, writeRing, writeSet, writeVV } from '../shapes.ts';
import { ProtocolError, type Reader, type Writer } from '../wire.ts';

// ---------------------------------------------------------------- error

export interface ErrorReply {
  readonly type: 'error';
  readonly code: ErrorCode;
  readonly message: string;
  readonly details: ErrorDetails;
}

/** Longer messages are cut: an error reply says what went wrong, it does not carry data. */
const MAX_ERROR_MESSAGE = 4000;

function writeError(w: Writer, e: ErrorReply): void {
  w.u16(ERROR_CODES[e.code]);
  w.str16(e.message.length > MAX_ERROR_MESSAGE ? e.message.slice(0, MAX_ERROR_MESSAGE) : e.message);
  w.str16(JSON.stringify(e.details));
}

function readError(r: Reader): ErrorReply {
  // an unknown code (from a newer peer) reads as INTERNAL rather than failing the frame
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
  return { type: 'error', code, message, details };
}

const error = reply<ErrorReply>('error', 1, { since: 1, write: writeError, read: readError });

// ---------------------------------------------------------------- ping

export interface PingRequest {
  readonly type: 'ping';
}

export interface PongReply {
  readonly type: 'pong';
}

const ping = request<PingRequest>('ping', 2, { since: 1, write() {}, read: () => ({ type: 'ping' }) });
const pong = reply<PongReply>('pong', 3, { since: 1, write() {}, read: () => ({ type: 'pong' }) });

// ---------------------------------------------------------------- get

/** 0 in a quorum field means "the cluster's default". */
export interface GetRequest {
  readonly type: 'get';
  readonly key: string;
  readonly r: number;
  readonly pr: number;
}

export interface GetReply {
  readonly type: 'getReply';
  /** how many replicas answered before the reply */
  readonly replies: number;
  readonly set: SiblingSet;
}

const get = request<GetRequest>('get', 10, {
  since: 1,
  write(w, m) {
    w.str16(m.key);
    writeQuorum(w, m.r);
    writeQuorum(w, m.pr);
  },
  read: (r) => ({ type: 'get', key: readKey(r), r: r.u8(), pr: r.u8() }),
});

function writeGetReply(w: Writer, m: GetReply): void {
  w.u8(m.replies);
  writeSet(w, m.set);
}

function readGetReply(r: Reader): GetReply {
  return { type: 'getReply', replies: r.u8(), set: readSet(r) };
}

const getReply = reply<GetReply>('getReply', 11, { since: 1, write: writeGetReply, read: readGetReply });

// ---------------------------------------------------------------- multi-get

export interface MgetRequest {
  readonly type: 'mget';
  readonly keys: readonly string[];
  readonly r: number;
  readonly pr: number;
}

export type MgetItem = GetReply | ErrorReply;

export interface MgetReply {
  readonly type: 'mgetReply';
  /** one per key asked, in order */
  readonly items: readonly MgetItem[];
}

const mget = request<MgetRequest>('mget', 12, {
  since: 1,
  write(w, m) {
    writeQuorum(w, m.r);
    writeQuorum(w, m.pr);
    w.u16(m.keys.length);
    for (const k of m.keys) w.str16(k);
  },
  read(r) {
    const q = r.u8();
    const pq = r.u8();
    const count = r.u16();
    if (count > MAX_MGET_KEYS) throw new ProtocolError(`multi-get of ${count} keys; the limit is ${MAX_MGET_KEYS}`);
    const keys: string[] = [];
    for (let i = 0; i < count; i++) keys.push(readKey(r));
    return { type: 'mget', r: q, pr: pq, keys };
  },
});

/** Each item's status byte: what follows it. */
const MGET_FOUND = 0;
const MGET_FAILED = 1;

const mgetReply = reply<MgetReply>('mgetReply', 13, {
  since: 1,
  write(w, m) {
    w.u16(m.items.length);
    for (const item of m.items) {
      if (item.type === 'getReply') {
        w.u8(MGET_FOUND);
        writeGetReply(w, item);
      } else {
        w.u8(MGET_FAILED);
        writeError(w, item);
      }
    }
  },
  read(r) {
    const count = r.u16();
    const items: MgetItem[] = [];
    for (let i = 0; i < count; i++) {
      const status = r.u8();
      if (status === MGET_FOUND) items.push(readGetReply(r));
      else if (status === MGET_FAILED) items.push(readError(r));
      else throw new ProtocolError(`unknown multi-get item status ${status}`);
    }
    return { type: 'mgetReply', items };
  },
});

// ---------------------------------------------------------------- put

export interface PutRequest {
  readonly type: 'put';
  readonly key: string;
  readonly value: Uint8Array;
  readonly deleted: boolean;
  /** null: a blind put, or a delete of what the coordinator sees */
  readonly context: VersionVector | null;
  readonly w: number;
  readonly pw: number;
  /** set by a node that handed the put on to its coordinator: the receiver must not hand it on again */
  readonly forwarded?: boolean;
  /**
   * checked by the coordinator against what it holds, in the step that makes the new version
   * (core/condition.ts): 'current' fails when the key holds a version the context does not
   * cover, 'absent' (puts only) when it holds a live one. Answered by `conflict` when it
   * fails. Protocol version 4; left out when there is none.
   */
  readonly condition?: PutCondition;
  /**
   * a typed operation (core/crdt/typed.ts) in place of a value: the coordinator joins the
   * typed siblings it holds, applies this, and writes the result (docs/types.md). Answered by
   * `opReply`. `value` is empty, and it takes no context, delete or condition. Protocol
   * version 6; left out when there is none.
   */
  readonly op?: TypedOp;
  /**
   * the value expires this many seconds after its coordinator makes it (core/expiry.ts): a
   * whole number from 1 to MAX_TTL_SECONDS, for a put of a value only. Protocol version 8; left
   * out when there is none.
   */
  readonly ttlSeconds?: number;
}

/** A typed operation applied: the put's answer, with the state its coordinator wrote. */
export interface OpReply {
  readonly type: 'opReply';
  readonly acks: number;
  readonly dot: Dot;
  readonly context: VersionVector;
  /** the encoded state the coordinator wrote (core/crdt/codec.ts) */
  readonly state: Uint8Array;
}

export type PutCondition = 'current' | 'absent';

/** A conditional put that failed: what the coordinator holds for the key, to merge and write back with. */
export interface ConflictReply {
  readonly type: 'conflict';
  readonly set: SiblingSet;
}

export interface PutReply {
  readonly type: 'putReply';
  readonly acks: number;
  /** the dot of the version this put created */
  readonly dot: Dot;
  /** what the writer has now seen: the new version's history */
  readonly context: VersionVector;
}

const PUT_DELETED = 1;
const PUT_HAS_CONTEXT = 2;
const PUT_FORWARDED = 4;
/** version 4 on: the put's condition (at most one of the two) */
const PUT_IF_CURRENT = 8;
const PUT_IF_ABSENT = 16;
const CONDITIONS_SINCE = 4;
/** version 6 on: the blob is a typed operation (core/crdt/codec.ts encodeOp), not a value */
const PUT_TYPED_OP = 32;
const TYPED_SINCE = 6;
/** version 8 on: a u32 TTL in seconds follows the context (core/expiry.ts) */
const PUT_TTL = 64;
const TTL_SINCE = EXPIRY_SINCE;

function conditionFlags(c: PutCondition | undefined): number {
  return c === 'current' ? PUT_IF_CURRENT : c === 'absent' ? PUT_IF_ABSENT : 0;
}

const put = request<PutRequest>('put', 14, {
  since: 1,
  needs: (m) => (m.ttlSeconds !== undefined ? TTL_SINCE : m.op ? TYPED_SINCE : m.condition ? CONDITIONS_SINCE : 1),
  write(w, m) {
    w.str16(m.key);
    writeQuorum(w, m.w);
    writeQuorum(w, m.pw);
    w.u8(
      (m.deleted ? PUT_DELETED : 0) |
        (m.context ? PUT_HAS_CONTEXT : 0) |
        (m.forwarded ? PUT_FORWARDED : 0) |
        conditionFlags(m.condition) |
        (m.op ? PUT_TYPED_OP : 0) |
        (m.ttlSeconds !== undefined ? PUT_TTL : 0),
    );
    if (m.context) writeVV(w, m.context);
    // checked where a put enters (client.ts, coordinator.ts); the reader checks it again
    if (m.ttlSeconds !== undefined) w.u32(m.ttlSeconds);
    w.blob(m.op ? encodeOp(m.op) : m.value);
  },
  read(r, version) {
    const key = readKey(r);
    const w = r.u8();
    const pw = r.u8();
    const conditions = version >= CONDITIONS_SINCE ? PUT_IF_CURRENT | PUT_IF_ABSENT : 0;
    const typed = version >= TYPED_SINCE ? PUT_TYPED_OP : 0;
    const ttl = version >= TTL_SINCE ? PUT_TTL : 0;
    const flags = readFlags(r, PUT_DELETED | PUT_HAS_CONTEXT | PUT_FORWARDED | conditions | typed | ttl, 'put');
    if (flags & PUT_IF_CURRENT && flags & PUT_IF_ABSENT) throw new ProtocolError('a put has at most one condition');
    if (flags & PUT_TYPED_OP && flags & (PUT_DELETED | PUT_HAS_CONTEXT | PUT_IF_CURRENT | PUT_IF_ABSENT)) {
      throw new ProtocolError('a typed operation takes no delete, context or condition');
    }
    if (flags & PUT_TTL && flags & (PUT_DELETED | PUT_TYPED_OP)) {
      throw new ProtocolError('a TTL is for a put of a value: not a delete or a typed operation');
    }
    const context = flags & PUT_HAS_CONTEXT ? readVV(r) : null;
    const ttlSeconds = flags & PUT_TTL ? r.u32() : undefined;
    if (ttlSeconds !== undefined && (ttlSeconds < 1 || ttlSeconds > MAX_TTL_SECONDS)) {
      throw new ProtocolError(`a put's TTL is ${ttlSeconds} s; it must be from 1 to ${MAX_TTL_SECONDS}`);
    }
    let value = r.blob();
    let op: TypedOp | null = null;
    if (flags & PUT_TYPED_OP) {
      op = decodeOp(value);
      if (!op) throw new ProtocolError('a put carries a malformed typed operation');
      value = new Uint8Array(0);
    }
    const deleted = (flags & PUT_DELETED) !== 0;
    const condition: PutCondition | null = flags & PUT_IF_CURRENT ? 'current' : flags & PUT_IF_ABSENT ? 'absent' : null;
    // `forwarded` and `condition` are left out unless set, as the senders write them
    return {
      type: 'put',
      key,
      w,
      pw,
      deleted,
      context,
      value,
      ...(flags & PUT_FORWARDED ? { forwarded: true } : {}),
      ...(condition ? { condition } : {}),
      ...(op ? { op } : {}),
      ...(ttlSeconds !== undefined ? { ttlSeconds } : {}),
    };
  },
});

const opReply = reply<OpReply>('opReply', 88, {
  since: TYPED_SINCE,
  write(w, m) {
    w.u8(m.acks);
    w.str8(m.dot.actor);
    w.u64(m.dot.counter);
    writeVV(w, m.context);
    w.blob(m.state);
  },
  read: (r) => ({ type: 'opReply', acks: r.u8(), dot: { actor: r.str8(), counter: r.u64() }, context: readVV(r), state: r.blob() }),
});

const conflict = reply<ConflictReply>('conflict', 83, {
  since: CONDITIONS_SINCE,
  write: (w, m) => writeSet(w, m.set),
  read: (r) => ({ type: 'conflict', set: readSet(r) }),
});

const putReply = reply<PutReply>('putReply', 15, {
  since: 1,
  write(w, m) {
    w.u8(m.acks);
    w.str8(m.dot.actor);
    w.u64(m.dot.counter);
    writeVV(w, m.context);
  },
  read: (r) => ({ type: 'putReply', acks: r.u8(), dot: { actor: r.str8(), counter: r.u64() }, context: readVV(r) }),
});

// ---------------------------------------------------------------- ring and status

export interface RingRequest {
  readonly type: 'ring';
}

export interface RingReply {
  readonly type: 'ringReply';
  readonly n: number;
  readonly r: number;
  readonly w: number;
  readonly ring: Ring;
}

const ring = request<RingRequest>('ring', 16, { since: 1, write() {}, read: () => ({ type: 'ring' }) });

const ringReply = reply<RingReply>('ringReply', 17, {
  since: 1,
  write(w, m) {
    w.u8(m.n);
    w.u8(m.r);
    w.u8(m.w);
    writeRing(w, m.ring);
  },
  read: (r) => ({ type: 'ringReply', n: r.u8(), r: r.u8(), w: r.u8(), ring: readRing(r) }),
});

export interface StatusRequest {
  readonly type: 'status';
}

export interface StatusReply {
  readonly type: 'statusReply';
  /** a JSON object: NodeStatus in client/src/status.ts */
  readonly json: string;
}

const status = request<StatusRequest>('status', 32, { since: 1, write() {}, read: () => ({ type: 'status' }) });

const statusReply = reply<StatusReply>('statusReply', 33, {
  since: 1,
  write: (w, m) => w.str32(m.json),
  read: (r) => ({ type: 'statusReply', json: r.str32() }),
});

export type ClientRequest = PingRequest | GetRequest | MgetRequest | PutRequest | RingRequest | StatusRequest;
export type ClientReply = ErrorReply | PongReply | GetReply | MgetReply | PutReply | ConflictReply | OpReply | RingReply | StatusReply;

export const clientMessages = {
  error,
  ping,
  pong,
  get,
  getReply,
  mget,
  mgetReply,
  put,
  putReply,
  conflict,
  opReply,
  ring,
  ringReply,
  status,
  statusReply,
};
