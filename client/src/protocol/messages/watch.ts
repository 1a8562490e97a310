// Live watches (docs/watches.md): a gateway asks a replica to answer once it holds a version of
// any of these keys that the gateway has not seen. A long poll: the node answers at once when
// one is already there, else when one is stored, else after `waitMs` with nothing. A newer
// watch from the same `watcher` answers the older one with nothing, so a gateway that changes
// its keys never leaves a poll behind.
import type { SiblingSet } from '../../core/siblings.ts';
import type { VersionVector } from '../../core/version-vector.ts';
import { reply, request } from '../entry.ts';
import { checkCount, readEntries, readKey, readVV, writeEntries, writeVV } from '../shapes.ts';
import { ProtocolError } from '../wire.ts';

/** Keys one watch request may name: a gateway with more sends several, each its own watcher. */
export const MAX_WATCH_KEYS = 1000;
/** The longest a node holds a watch before answering with nothing. */
export const MAX_WATCH_WAIT_MS = 60_000;

export interface WatchedKey {
  readonly key: string;
  /** the context the watcher has seen: a stored version it does not cover is news */
  readonly seen: VersionVector;
}

export interface WatchRequest {
  readonly type: 'watch';
  /** names the poll: the node keeps one per watcher and connection's caller */
  readonly watcher: string;
  readonly waitMs: number;
  readonly keys: readonly WatchedKey[];
}

export interface WatchReply {
  readonly type: 'watchReply';
  /** each key with news, and everything the node holds for it; empty when the wait ran out */
  readonly changed: readonly { readonly key: string; readonly set: SiblingSet }[];
}

/** Version 8: watch and watchReply. */
export const WATCH_SINCE = 8;

const watch = request<WatchRequest>('watch', 89, {
  since: WATCH_SINCE,
  write(w, m) {
    w.str8(m.watcher);
    w.u32(m.waitMs);
    w.u32(m.keys.length);
    for (const k of m.keys) {
      w.str16(k.key);
      writeVV(w, k.seen);
    }
  },
  read(r) {
    const watcher = r.str8();
    const waitMs = r.u32();
    if (waitMs > MAX_WATCH_WAIT_MS) throw new ProtocolError(`a watch waits at most ${MAX_WATCH_WAIT_MS} ms, asked ${waitMs}`);
    const count = r.u32();
    if (count > MAX_WATCH_KEYS) throw new ProtocolError(`a watch of ${count} keys; the limit is ${MAX_WATCH_KEYS}`);
    checkCount(r, count, 3, 'watched key');
    const keys: WatchedKey[] = [];
    for (let i = 0; i < count; i++) keys.push({ key: readKey(r), seen: readVV(r) });
    return { type: 'watch', watcher, waitMs, keys };
  },
});

const watchReply = reply<WatchReply>('watchReply', 90, {
  since: WATCH_SINCE,
  write: (w, m) => writeEntries(w, m.changed),
  read: (r) => ({ type: 'watchReply', changed: readEntries(r) }),
});

export const watchMessages = { watch, watchReply } as const;
