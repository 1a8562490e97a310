// What a coordinator asks the replicas of a key, and what operators ask a node about the
// data it holds: replica reads and writes, the hints it keeps for others, and inspect.
import type { SiblingSet } from '../../core/siblings.ts';
import { reply, request } from '../entry.ts';
import { checkCount, readKey, readKeys, readOptionalName, readSet, writeKeys, writeOptionalName, writeSet } from '../shapes.ts';
import { ProtocolError } from '../wire.ts';

// ---------------------------------------------------------------- reads

export interface ReplicaReadRequest {
  readonly type: 'replicaRead';
  readonly key: string;
}

export interface ReplicaReadReply {
  readonly type: 'replicaReadReply';
  /** everything the replica holds for the key: its own data and hints */
  readonly set: SiblingSet;
}

const replicaRead = request<ReplicaReadRequest>('replicaRead', 20, {
  since: 1,
  write: (w, m) => w.str16(m.key),
  read: (r) => ({ type: 'replicaRead', key: readKey(r) }),
});

const replicaReadReply = reply<ReplicaReadReply>('replicaReadReply', 21, {
  since: 1,
  write: (w, m) => writeSet(w, m.set),
  read: (r) => ({ type: 'replicaReadReply', set: readSet(r) }),
});

/** what the node holds (own data and hints) for each key, in order */
export interface ReplicaReadManyRequest {
  readonly type: 'replicaReadMany';
  readonly keys: readonly string[];
}

export interface ReplicaReadManyReply {
  readonly type: 'replicaReadManyReply';
  readonly sets: readonly SiblingSet[];
}

const replicaReadMany = request<ReplicaReadManyRequest>('replicaReadMany', 74, {
  since: 1,
  write: (w, m) => writeKeys(w, m.keys),
  read: (r) => ({ type: 'replicaReadMany', keys: readKeys(r) }),
});

const replicaReadManyReply = reply<ReplicaReadManyReply>('replicaReadManyReply', 75, {
  since: 1,
  write(w, m) {
    w.u32(m.sets.length);
    for (const set of m.sets) writeSet(w, set);
  },
  read(r) {
    const n = r.u32();
    checkCount(r, n, 2, 'set');
    const sets: SiblingSet[] = [];
    for (let i = 0; i < n; i++) sets.push(readSet(r));
    return { type: 'replicaReadManyReply', sets };
  },
});

// ---------------------------------------------------------------- writes

export interface ReplicaWriteRequest {
  readonly type: 'replicaWrite';
  readonly key: string;
  /** set when the receiver holds the write for an unreachable primary (a hint) */
  readonly hintFor: string | null;
  readonly set: SiblingSet;
}

export interface AckReply {
  readonly type: 'ack';
}

const replicaWrite = request<ReplicaWriteRequest>('replicaWrite', 22, {
  since: 1,
  write(w, m) {
    w.str16(m.key);
    writeOptionalName(w, m.hintFor);
    writeSet(w, m.set);
  },
  read: (r) => ({ type: 'replicaWrite', key: readKey(r), hintFor: readOptionalName(r), set: readSet(r) }),
});

const ack = reply<AckReply>('ack', 23, { since: 1, write() {}, read: () => ({ type: 'ack' }) });

// ---------------------------------------------------------------- hints held here

export interface HintsRequest {
  readonly type: 'hints';
  /** only hints for this owner; null for all */
  readonly owner: string | null;
  readonly limit: number;
}

export interface HintSummary {
  readonly owner: string;
  readonly key: string;
  readonly storedAt: number;
  readonly siblings: number;
}

export interface HintsReply {
  readonly type: 'hintsReply';
  readonly total: number;
  readonly hints: readonly HintSummary[];
}

const hints = request<HintsRequest>('hints', 30, {
  since: 1,
  write(w, m) {
    writeOptionalName(w, m.owner);
    w.u32(m.limit);
  },
  read: (r) => ({ type: 'hints', owner: readOptionalName(r), limit: r.u32() }),
});

const hintsReply = reply<HintsReply>('hintsReply', 31, {
  since: 1,
  write(w, m) {
    w.u32(m.total);
    w.u32(m.hints.length);
    for (const h of m.hints) {
      w.str8(h.owner);
      w.str16(h.key);
      w.f64(h.storedAt);
      w.u16(h.siblings);
    }
  },
  read(r) {
    const total = r.u32();
    const count = r.u32();
    checkCount(r, count, 1, 'hint');
    const list: HintSummary[] = [];
    for (let i = 0; i < count; i++) list.push({ owner: r.str8(), key: r.str16(), storedAt: r.f64(), siblings: r.u16() });
    return { type: 'hintsReply', total, hints: list };
  },
});

// ---------------------------------------------------------------- inspect

/** What one node holds for a key, in its own data and in each hint, read without repair. */
export interface InspectRequest {
  readonly type: 'inspect';
  readonly key: string;
}

export interface InspectReply {
  readonly type: 'inspectReply';
  /** the node's own replica of the key (empty when it holds none) */
  readonly own: SiblingSet;
  /** one per hint the node keeps for the key, by the owner it is kept for */
  readonly hints: readonly { readonly owner: string; readonly set: SiblingSet }[];
}

const inspect = request<InspectRequest>('inspect', 78, {
  since: 3,
  write: (w, m) => w.str16(m.key),
  read: (r) => ({ type: 'inspect', key: readKey(r) }),
});

const inspectReply = reply<InspectReply>('inspectReply', 79, {
  since: 3,
  write(w, m) {
    writeSet(w, m.own);
    w.u32(m.hints.length);
    for (const h of m.hints) {
      if (h.owner === '') throw new ProtocolError('a hint names the owner it is kept for');
      w.str8(h.owner);
      writeSet(w, h.set);
    }
  },
  read(r) {
    const own = readSet(r);
    const count = r.u32();
    checkCount(r, count, 3, 'hint');
    const list: { owner: string; set: SiblingSet }[] = [];
    for (let i = 0; i < count; i++) {
      const owner = r.str8();
      if (owner === '') throw new ProtocolError('a hint names the owner it is kept for');
      list.push({ owner, set: readSet(r) });
    }
    return { type: 'inspectReply', own, hints: list };
  },
});

export type ReplicaRequest = ReplicaReadRequest | ReplicaReadManyRequest | ReplicaWriteRequest | HintsRequest | InspectRequest;
export type ReplicaReply = ReplicaReadReply | ReplicaReadManyReply | AckReply | HintsReply | InspectReply;

export const replicaMessages = {
  replicaRead,
  replicaReadReply,
  replicaReadMany,
  replicaReadManyReply,
  replicaWrite,
  ack,
  hints,
  hintsReply,
  inspect,
  inspectReply,
};
