// What the repair jobs ask a node: anti-entropy's Merkle-tree comparison (roots, segments,
// keys, reads and merges), tombstone reclamation, and the compaction of quiet keys. Hinted
// handoff's messages are in handoff.ts.
import type { Dot } from '../../core/version-vector.ts';
import { reply, request } from '../entry.ts';
import {
  checkCount,
  readBool,
  readDots,
  readEntries,
  readHash,
  readHashes,
  readKey,
  readKeys,
  readListedHash,
  readNumbers,
  writeBool,
  writeDots,
  writeEntries,
  writeHash,
  writeHashes,
  writeKeys,
  writeListedHash,
  writeNumbers,
  type TransferEntry,
} from '../shapes.ts';

// ---------------------------------------------------------------- the Merkle-tree comparison

/** the key range's tree root and its 32 group hashes */
export interface MerkleRootsRequest {
  readonly type: 'merkleRoots';
  readonly partition: number;
}

export interface MerkleRootsReply {
  readonly type: 'merkleRootsReply';
  readonly root: Uint8Array;
  readonly groups: readonly Uint8Array[];
  readonly keys: number;
}

/** the 32 segment hashes of each named group */
export interface MerkleSegmentsRequest {
  readonly type: 'merkleSegments';
  readonly partition: number;
  readonly groups: readonly number[];
}

export interface MerkleSegmentsReply {
  readonly type: 'merkleSegmentsReply';
  readonly segments: readonly (readonly Uint8Array[])[];
}

/** (key, leaf hash) of every key in the named segments */
export interface SegmentKeysRequest {
  readonly type: 'segmentKeys';
  readonly partition: number;
  readonly segments: readonly number[];
}

export interface SegmentKeysReply {
  readonly type: 'segmentKeysReply';
  readonly keys: readonly { readonly key: string; readonly leaf: Uint8Array }[];
}

const merkleRoots = request<MerkleRootsRequest>('merkleRoots', 50, {
  since: 1,
  write: (w, m) => w.u32(m.partition),
  read: (r) => ({ type: 'merkleRoots', partition: r.u32() }),
});

const merkleRootsReply = reply<MerkleRootsReply>('merkleRootsReply', 51, {
  since: 1,
  write(w, m) {
    writeListedHash(w, m.root);
    writeHashes(w, m.groups);
    w.u32(m.keys);
  },
  read: (r) => ({ type: 'merkleRootsReply', root: readListedHash(r, 'root'), groups: readHashes(r), keys: r.u32() }),
});

const merkleSegments = request<MerkleSegmentsRequest>('merkleSegments', 52, {
  since: 1,
  write(w, m) {
    w.u32(m.partition);
    writeNumbers(w, m.groups);
  },
  read: (r) => ({ type: 'merkleSegments', partition: r.u32(), groups: readNumbers(r) }),
});

const merkleSegmentsReply = reply<MerkleSegmentsReply>('merkleSegmentsReply', 53, {
  since: 1,
  write(w, m) {
    w.u16(m.segments.length);
    for (const g of m.segments) writeHashes(w, g);
  },
  read(r) {
    const n = r.u16();
    checkCount(r, n, 2, 'group');
    const segments: Uint8Array[][] = [];
    for (let i = 0; i < n; i++) segments.push(readHashes(r));
    return { type: 'merkleSegmentsReply', segments };
  },
});

const segmentKeys = request<SegmentKeysRequest>('segmentKeys', 54, {
  since: 1,
  write(w, m) {
    w.u32(m.partition);
    writeNumbers(w, m.segments);
  },
  read: (r) => ({ type: 'segmentKeys', partition: r.u32(), segments: readNumbers(r) }),
});

const segmentKeysReply = reply<SegmentKeysReply>('segmentKeysReply', 55, {
  since: 1,
  write(w, m) {
    w.u32(m.keys.length);
    for (const k of m.keys) {
      w.str16(k.key);
      writeListedHash(w, k.leaf);
    }
  },
  read(r) {
    const n = r.u32();
    checkCount(r, n, 20, 'key');
    const keys: { key: string; leaf: Uint8Array }[] = [];
    for (let i = 0; i < n; i++) keys.push({ key: readKey(r), leaf: readListedHash(r, 'leaf') });
    return { type: 'segmentKeysReply', keys };
  },
});

// ---------------------------------------------------------------- reading and merging keys

/** the node's own sibling sets for these keys */
export interface KeysReadRequest {
  readonly type: 'keysRead';
  readonly keys: readonly string[];
}

export interface KeysReadReply {
  readonly type: 'keysReadReply';
  readonly entries: readonly TransferEntry[];
}

/** merge these sets into the node's own data (it must replicate each key); answered by ack */
export interface KeysMergeRequest {
  readonly type: 'keysMerge';
  readonly entries: readonly TransferEntry[];
}

/** how many of the named things the node acted on */
export interface CountReply {
  readonly type: 'countReply';
  readonly count: number;
}

const keysRead = request<KeysReadRequest>('keysRead', 56, {
  since: 1,
  write: (w, m) => writeKeys(w, m.keys),
  read: (r) => ({ type: 'keysRead', keys: readKeys(r) }),
});

const keysReadReply = reply<KeysReadReply>('keysReadReply', 57, {
  since: 1,
  write: (w, m) => writeEntries(w, m.entries),
  read: (r) => ({ type: 'keysReadReply', entries: readEntries(r) }),
});

const keysMerge = request<KeysMergeRequest>('keysMerge', 58, {
  since: 1,
  write: (w, m) => writeEntries(w, m.entries),
  read: (r) => ({ type: 'keysMerge', entries: readEntries(r) }),
});

const countReply = reply<CountReply>('countReply', 63, {
  since: 1,
  write: (w, m) => w.u32(m.count),
  read: (r) => ({ type: 'countReply', count: r.u32() }),
});

// ---------------------------------------------------------------- tombstone reclamation

/** delete these keys if each still holds exactly these tombstones; answered by countReply */
export interface ReclaimRequest {
  readonly type: 'reclaim';
  readonly keys: readonly { readonly key: string; readonly dots: readonly Dot[] }[];
}

/** keys of a key range whose own versions are all tombstones */
export interface TombstonesRequest {
  readonly type: 'tombstones';
  readonly partition: number;
  readonly limit: number;
}

export interface TombstonesReply {
  readonly type: 'tombstonesReply';
  readonly keys: readonly { readonly key: string; readonly leaf: Uint8Array; readonly dots: readonly Dot[] }[];
}

const reclaim = request<ReclaimRequest>('reclaim', 68, {
  since: 1,
  write(w, m) {
    w.u32(m.keys.length);
    for (const k of m.keys) {
      w.str16(k.key);
      writeDots(w, k.dots);
    }
  },
  read(r) {
    const n = r.u32();
    checkCount(r, n, 4, 'key');
    const keys: { key: string; dots: Dot[] }[] = [];
    for (let i = 0; i < n; i++) keys.push({ key: readKey(r), dots: readDots(r) });
    return { type: 'reclaim', keys };
  },
});

const tombstones = request<TombstonesRequest>('tombstones', 72, {
  since: 1,
  write(w, m) {
    w.u32(m.partition);
    w.u32(m.limit);
  },
  read: (r) => ({ type: 'tombstones', partition: r.u32(), limit: r.u32() }),
});

const tombstonesReply = reply<TombstonesReply>('tombstonesReply', 73, {
  since: 1,
  write(w, m) {
    w.u32(m.keys.length);
    for (const k of m.keys) {
      w.str16(k.key);
      writeListedHash(w, k.leaf);
      writeDots(w, k.dots);
    }
  },
  read(r) {
    const n = r.u32();
    checkCount(r, n, 20, 'key');
    const keys: { key: string; leaf: Uint8Array; dots: Dot[] }[] = [];
    for (let i = 0; i < n; i++) keys.push({ key: readKey(r), leaf: readListedHash(r, 'leaf'), dots: readDots(r) });
    return { type: 'tombstonesReply', keys };
  },
});

// ---------------------------------------------------------------- compaction of quiet keys

/** keys of a key range that compaction may rewrite, at most `limit` */
export interface QuietKeysRequest {
  readonly type: 'quietKeys';
  readonly partition: number;
  readonly limit: number;
}

export interface QuietKey {
  readonly key: string;
  /** the key's leaf hash: a compaction applies only while the key still has it */
  readonly leaf: Uint8Array;
  readonly dots: readonly Dot[];
  readonly tombstones: boolean;
}

export interface QuietKeysReply {
  readonly type: 'quietKeysReply';
  readonly keys: readonly QuietKey[];
}

/** compact each key that still has this leaf hash; answered by countReply */
export interface CompactRequest {
  readonly type: 'compact';
  readonly keys: readonly { readonly key: string; readonly leaf: Uint8Array }[];
}

const quietKeys = request<QuietKeysRequest>('quietKeys', 80, {
  since: 3,
  write(w, m) {
    w.u32(m.partition);
    w.u32(m.limit);
  },
  read: (r) => ({ type: 'quietKeys', partition: r.u32(), limit: r.u32() }),
});

/** key str16 + hash + dots u16 + tombstones u8 */
const MIN_QUIET_KEY_BYTES = 2 + 16 + 2 + 1;

const quietKeysReply = reply<QuietKeysReply>('quietKeysReply', 81, {
  since: 3,
  write(w, m) {
    w.u32(m.keys.length);
    for (const k of m.keys) {
      w.str16(k.key);
      writeHash(w, k.leaf);
      writeDots(w, k.dots);
      writeBool(w, k.tombstones);
    }
  },
  read(r) {
    const n = r.u32();
    checkCount(r, n, MIN_QUIET_KEY_BYTES, 'key');
    const keys: QuietKey[] = [];
    for (let i = 0; i < n; i++) keys.push({ key: readKey(r), leaf: readHash(r), dots: readDots(r), tombstones: readBool(r, 'tombstones') });
    return { type: 'quietKeysReply', keys };
  },
});

const compact = request<CompactRequest>('compact', 82, {
  since: 3,
  write(w, m) {
    w.u32(m.keys.length);
    for (const k of m.keys) {
      w.str16(k.key);
      writeHash(w, k.leaf);
    }
  },
  read(r) {
    const n = r.u32();
    checkCount(r, n, 2 + 16, 'key');
    const keys: { key: string; leaf: Uint8Array }[] = [];
    for (let i = 0; i < n; i++) keys.push({ key: readKey(r), leaf: readHash(r) });
    return { type: 'compact', keys };
  },
});

export type RepairRequest =
  | MerkleRootsRequest
  | MerkleSegmentsRequest
  | SegmentKeysRequest
  | KeysReadRequest
  | KeysMergeRequest
  | ReclaimRequest
  | TombstonesRequest
  | QuietKeysRequest
  | CompactRequest;
export type RepairReply =
  | MerkleRootsReply
  | MerkleSegmentsReply
  | SegmentKeysReply
  | KeysReadReply
  | CountReply
  | TombstonesReply
  | QuietKeysReply;

export const repairMessages = {
  merkleRoots,
  merkleRootsReply,
  merkleSegments,
  merkleSegmentsReply,
  segmentKeys,
  segmentKeysReply,
  keysRead,
  keysReadReply,
  keysMerge,
  countReply,
  reclaim,
  tombstones,
  tombstonesReply,
  quietKeys,
  quietKeysReply,
  compact,
};
