// Hinted handoff as the repair jobs drive it: reading a holder's hints in batches, deleting
// those delivered, finding and dropping expired ones, and asking which keys have hints.
import type { SiblingSet } from '../../core/siblings.ts';
import type { Dot } from '../../core/version-vector.ts';
import { reply, request } from '../entry.ts';
import { checkCount, readBool, readDots, readKey, readKeys, readSet, writeBool, writeDots, writeKeys, writeSet } from '../shapes.ts';
import type { Reader, Writer } from '../wire.ts';

// ---------------------------------------------------------------- hint entries and references

/** A hint's identity and the exact versions it held when read: it is deleted only if it still holds exactly those. */
export interface HintRef {
  readonly owner: string;
  readonly key: string;
  readonly dots: readonly Dot[];
}

export interface HintEntry {
  readonly owner: string;
  readonly key: string;
  readonly partition: number;
  readonly storedAt: number;
  readonly set: SiblingSet;
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
  checkCount(r, n, 5, 'hint');
  const out: HintRef[] = [];
  for (let i = 0; i < n; i++) out.push({ owner: r.str8(), key: readKey(r), dots: readDots(r) });
  return out;
}

function writeHintEntries(w: Writer, list: readonly HintEntry[]): void {
  w.u32(list.length);
  for (const h of list) {
    w.str8(h.owner);
    w.str16(h.key);
    w.u32(h.partition);
    w.f64(h.storedAt);
    writeSet(w, h.set);
  }
}

function readHintEntries(r: Reader): HintEntry[] {
  const n = r.u32();
  checkCount(r, n, 17, 'hint');
  const out: HintEntry[] = [];
  for (let i = 0; i < n; i++) out.push({ owner: r.str8(), key: readKey(r), partition: r.u32(), storedAt: r.f64(), set: readSet(r) });
  return out;
}

// ---------------------------------------------------------------- delivery

export interface HintCursor {
  readonly owner: string;
  readonly partition: number;
  readonly key: string;
}

/** a batch of hints (for one owner, or all), after a cursor */
export interface HintsReadRequest {
  readonly type: 'hintsRead';
  readonly owner: string;
  readonly after: HintCursor | null;
  readonly limit: number;
}

export interface HintsBatchReply {
  readonly type: 'hintsBatch';
  readonly hints: readonly HintEntry[];
  readonly done: boolean;
}

/** these hints were delivered: delete each if it still holds exactly those versions; answered by countReply */
export interface HintsAckRequest {
  readonly type: 'hintsAck';
  readonly hints: readonly HintRef[];
}

const hintsRead = request<HintsReadRequest>('hintsRead', 60, {
  since: 1,
  write(w, m) {
    w.str8(m.owner);
    writeBool(w, m.after !== null);
    if (m.after) {
      w.str8(m.after.owner);
      w.u32(m.after.partition);
      w.str16(m.after.key);
    }
    w.u32(m.limit);
  },
  read(r) {
    const owner = r.str8();
    const after = readBool(r, 'cursor') ? { owner: r.str8(), partition: r.u32(), key: readKey(r) } : null;
    return { type: 'hintsRead', owner, after, limit: r.u32() };
  },
});

const hintsBatch = reply<HintsBatchReply>('hintsBatch', 61, {
  since: 1,
  write(w, m) {
    writeHintEntries(w, m.hints);
    writeBool(w, m.done);
  },
  read: (r) => ({ type: 'hintsBatch', hints: readHintEntries(r), done: readBool(r, 'done') }),
});

const hintsAck = request<HintsAckRequest>('hintsAck', 62, {
  since: 1,
  write: (w, m) => writeHintRefs(w, m.hints),
  read: (r) => ({ type: 'hintsAck', hints: readHintRefs(r) }),
});

// ---------------------------------------------------------------- expiry

export interface HintsExpiredRequest {
  readonly type: 'hintsExpired';
  readonly limit: number;
}

export interface HintsExpiredReply {
  readonly type: 'hintsExpiredReply';
  readonly total: number;
  readonly hints: readonly HintEntry[];
}

/** drop expired hints (anti-entropy has been asked to cover their key ranges); answered by countReply */
export interface HintsDropRequest {
  readonly type: 'hintsDrop';
  readonly hints: readonly HintRef[];
}

const hintsExpired = request<HintsExpiredRequest>('hintsExpired', 64, {
  since: 1,
  write: (w, m) => w.u32(m.limit),
  read: (r) => ({ type: 'hintsExpired', limit: r.u32() }),
});

const hintsExpiredReply = reply<HintsExpiredReply>('hintsExpiredReply', 65, {
  since: 1,
  write(w, m) {
    w.u32(m.total);
    writeHintEntries(w, m.hints);
  },
  read: (r) => ({ type: 'hintsExpiredReply', total: r.u32(), hints: readHintEntries(r) }),
});

const hintsDrop = request<HintsDropRequest>('hintsDrop', 66, {
  since: 1,
  write: (w, m) => writeHintRefs(w, m.hints),
  read: (r) => ({ type: 'hintsDrop', hints: readHintRefs(r) }),
});

// ---------------------------------------------------------------- which keys have hints

/** which of these keys the node holds hints for */
export interface HintsForRequest {
  readonly type: 'hintsFor';
  readonly keys: readonly string[];
}

export interface HintsForReply {
  readonly type: 'hintsForReply';
  readonly keys: readonly string[];
}

const hintsFor = request<HintsForRequest>('hintsFor', 70, {
  since: 1,
  write: (w, m) => writeKeys(w, m.keys),
  read: (r) => ({ type: 'hintsFor', keys: readKeys(r) }),
});

const hintsForReply = reply<HintsForReply>('hintsForReply', 71, {
  since: 1,
  write: (w, m) => writeKeys(w, m.keys),
  read: (r) => ({ type: 'hintsForReply', keys: readKeys(r) }),
});

export type HandoffRequest = HintsReadRequest | HintsAckRequest | HintsExpiredRequest | HintsDropRequest | HintsForRequest;
export type HandoffReply = HintsBatchReply | HintsExpiredReply | HintsForReply;

export const handoffMessages = {
  hintsRead,
  hintsBatch,
  hintsAck,
  hintsExpired,
  hintsExpiredReply,
  hintsDrop,
  hintsFor,
  hintsForReply,
};
