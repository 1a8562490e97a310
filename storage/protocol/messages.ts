// Every message of the binary protocol, as one union keyed by `type`. docs/protocol.md gives
// the byte layout of each; codec.ts is the only place that reads or writes them.
//
// The type numbers are part of the protocol: only append, never renumber or reuse.
import type { ErrorCode, ErrorDetails } from '../core/errors.ts';
import type { Ring } from '../core/ring.ts';
import type { SiblingSet } from '../core/siblings.ts';
import type { Dot, VersionVector } from '../core/version-vector.ts';

export const PROTOCOL_VERSION = 2;

export const MESSAGE_TYPES = {
  error: 1,
  ping: 2,
  pong: 3,
  get: 10,
  getReply: 11,
  mget: 12,
  mgetReply: 13,
  put: 14,
  putReply: 15,
  ring: 16,
  ringReply: 17,
  replicaRead: 20,
  replicaReadReply: 21,
  replicaWrite: 22,
  ack: 23,
  hints: 30,
  hintsReply: 31,
  status: 32,
  statusReply: 33,
  gossip: 40,
  gossipReply: 41,
  ringPush: 42,
  change: 44,
  changeReply: 45,
  transferRead: 46,
  transferBatch: 47,
  transferDone: 48,
  merkleRoots: 50,
  merkleRootsReply: 51,
  merkleSegments: 52,
  merkleSegmentsReply: 53,
  segmentKeys: 54,
  segmentKeysReply: 55,
  keysRead: 56,
  keysReadReply: 57,
  keysMerge: 58,
  hintsRead: 60,
  hintsBatch: 61,
  hintsAck: 62,
  countReply: 63,
  hintsExpired: 64,
  hintsExpiredReply: 65,
  hintsDrop: 66,
  reclaim: 68,
  hintsFor: 70,
  hintsForReply: 71,
  tombstones: 72,
  tombstonesReply: 73,
  replicaReadMany: 74,
  replicaReadManyReply: 75,
  lastBeat: 76,
  lastBeatReply: 77,
} as const;

export type MessageType = keyof typeof MESSAGE_TYPES;

/** 0 in a quorum field means "the cluster's default". */
export interface GetRequest {
  readonly type: 'get';
  readonly key: string;
  readonly r: number;
  readonly pr: number;
}

export interface MgetRequest {
  readonly type: 'mget';
  readonly keys: readonly string[];
  readonly r: number;
  readonly pr: number;
}

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
}

export interface ReplicaReadRequest {
  readonly type: 'replicaRead';
  readonly key: string;
}

export interface ReplicaWriteRequest {
  readonly type: 'replicaWrite';
  readonly key: string;
  /** set when the receiver holds the write for an unreachable primary (a hint) */
  readonly hintFor: string | null;
  readonly set: SiblingSet;
}

export interface HintsRequest {
  readonly type: 'hints';
  /** only hints for this owner; null for all */
  readonly owner: string | null;
  readonly limit: number;
}

/** A node's heartbeat as gossip carries it: newer is a higher (generation, beat). */
export interface Heartbeat {
  readonly node: string;
  /** bumped every time the node starts */
  readonly generation: number;
  /** bumped every gossip round */
  readonly beat: number;
  /** random per process start: tells this run's beats from another run's with the same generation */
  readonly life: string;
}

export interface RingDigestWire {
  readonly version: number;
  readonly hash: string;
}

export interface GossipRequest {
  readonly type: 'gossip';
  readonly cluster: string;
  readonly from: string;
  readonly digest: RingDigestWire;
  readonly beats: readonly Heartbeat[];
}

export interface GossipReply {
  readonly type: 'gossipReply';
  readonly digest: RingDigestWire;
  readonly beats: readonly Heartbeat[];
  /** the replier's ring, when it is newer than the sender's */
  readonly ring: Ring | null;
  /** the sender's ring is newer: push it */
  readonly wantRing: boolean;
}

export type ChangeKind = 'join' | 'leave' | 'remove' | 'replace';

export interface ChangeRequest {
  readonly type: 'change';
  readonly kind: ChangeKind;
  /** the node joining, leaving, removed or replaced */
  readonly node: string;
  /** join: the new node's address and weight; replace: the replacement's */
  readonly address: string;
  readonly weight: number;
  /** replace: the replacement's id */
  readonly by: string;
  /** refuse unless the ring is still at this version (0: any) */
  readonly expectedVersion: number;
}

export interface TransferReadRequest {
  readonly type: 'transferRead';
  readonly partition: number;
  /** the last key already received; '' to start */
  readonly after: string;
  readonly limit: number;
  readonly maxBytes: number;
}

export interface TransferEntry {
  readonly key: string;
  readonly set: SiblingSet;
}

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

export interface TransferBatchReply {
  readonly type: 'transferBatch';
  /** keys in the range when the first batch was read (0 after the first batch) */
  readonly total: number;
  readonly done: boolean;
  readonly entries: readonly TransferEntry[];
}

export type Request =
  | { readonly type: 'ping' }
  | GossipRequest
  | { readonly type: 'ringPush'; readonly cluster: string; readonly ring: Ring }
  | ChangeRequest
  | TransferReadRequest
  | { readonly type: 'transferDone'; readonly partition: number; readonly to: string }
  /** anti-entropy: the key range's tree root and its 32 group hashes */
  | { readonly type: 'merkleRoots'; readonly partition: number }
  /** anti-entropy: the 32 segment hashes of each named group */
  | { readonly type: 'merkleSegments'; readonly partition: number; readonly groups: readonly number[] }
  /** anti-entropy: (key, leaf hash) of every key in the named segments */
  | { readonly type: 'segmentKeys'; readonly partition: number; readonly segments: readonly number[] }
  /** the node's own sibling sets for these keys */
  | { readonly type: 'keysRead'; readonly keys: readonly string[] }
  /** merge these sets into the node's own data (it must replicate each key) */
  | { readonly type: 'keysMerge'; readonly entries: readonly TransferEntry[] }
  /** hinted handoff: a batch of hints (for one owner, or all), after a cursor */
  | { readonly type: 'hintsRead'; readonly owner: string; readonly after: { owner: string; partition: number; key: string } | null; readonly limit: number }
  /** hinted handoff: these hints were delivered; delete each if it still holds exactly those versions */
  | { readonly type: 'hintsAck'; readonly hints: readonly HintRef[] }
  | { readonly type: 'hintsExpired'; readonly limit: number }
  /** drop expired hints (anti-entropy has been asked to cover their key ranges); counted */
  | { readonly type: 'hintsDrop'; readonly hints: readonly HintRef[] }
  /** delete these keys if each still holds exactly these tombstones */
  | { readonly type: 'reclaim'; readonly keys: readonly { readonly key: string; readonly dots: readonly Dot[] }[] }
  /** which of these keys the node holds hints for */
  | { readonly type: 'hintsFor'; readonly keys: readonly string[] }
  /** keys of a key range whose own versions are all tombstones */
  | { readonly type: 'tombstones'; readonly partition: number; readonly limit: number }
  | GetRequest
  | MgetRequest
  | PutRequest
  | { readonly type: 'ring' }
  | ReplicaReadRequest
  /** what the node holds (own data and hints) for each key, in order */
  | { readonly type: 'replicaReadMany'; readonly keys: readonly string[] }
  | ReplicaWriteRequest
  | HintsRequest
  | { readonly type: 'status' }
  /** a starting node asks for the newest heartbeat the receiver heard from it before, and tells its own */
  | { readonly type: 'lastBeat'; readonly cluster: string; readonly beat: Heartbeat };

export interface ErrorReply {
  readonly type: 'error';
  readonly code: ErrorCode;
  readonly message: string;
  readonly details: ErrorDetails;
}

export interface GetReply {
  readonly type: 'getReply';
  /** how many replicas answered before the reply */
  readonly replies: number;
  readonly set: SiblingSet;
}

export type MgetItem = GetReply | ErrorReply;

export interface PutReply {
  readonly type: 'putReply';
  readonly acks: number;
  /** the dot of the version this put created */
  readonly dot: Dot;
  /** what the writer has now seen: the new version's history */
  readonly context: VersionVector;
}

export interface RingReply {
  readonly type: 'ringReply';
  readonly n: number;
  readonly r: number;
  readonly w: number;
  readonly ring: Ring;
}

export interface HintSummary {
  readonly owner: string;
  readonly key: string;
  readonly storedAt: number;
  readonly siblings: number;
}

export type Reply =
  | ErrorReply
  | { readonly type: 'pong' }
  | GetReply
  | { readonly type: 'mgetReply'; readonly items: readonly MgetItem[] }
  | PutReply
  | RingReply
  | { readonly type: 'replicaReadReply'; readonly set: SiblingSet }
  | { readonly type: 'replicaReadManyReply'; readonly sets: readonly SiblingSet[] }
  | { readonly type: 'ack' }
  | { readonly type: 'hintsReply'; readonly total: number; readonly hints: readonly HintSummary[] }
  | { readonly type: 'statusReply'; readonly json: string }
  | { readonly type: 'lastBeatReply'; readonly beat: Heartbeat | null }
  | GossipReply
  | { readonly type: 'changeReply'; readonly version: number; readonly transfers: number; readonly claimant: string }
  | TransferBatchReply
  | { readonly type: 'merkleRootsReply'; readonly root: Uint8Array; readonly groups: readonly Uint8Array[]; readonly keys: number }
  | { readonly type: 'merkleSegmentsReply'; readonly segments: readonly (readonly Uint8Array[])[] }
  | { readonly type: 'segmentKeysReply'; readonly keys: readonly { readonly key: string; readonly leaf: Uint8Array }[] }
  | { readonly type: 'keysReadReply'; readonly entries: readonly TransferEntry[] }
  | { readonly type: 'hintsBatch'; readonly hints: readonly HintEntry[]; readonly done: boolean }
  | { readonly type: 'countReply'; readonly count: number }
  | { readonly type: 'hintsExpiredReply'; readonly total: number; readonly hints: readonly HintEntry[] }
  | { readonly type: 'hintsForReply'; readonly keys: readonly string[] }
  | { readonly type: 'tombstonesReply'; readonly keys: readonly { readonly key: string; readonly leaf: Uint8Array; readonly dots: readonly Dot[] }[] };

export type Message = Request | Reply;

/** A decoded frame: one message and the request id that pairs a reply with its request. */
export interface Frame<M extends Message = Message> {
  readonly id: number;
  readonly message: M;
}

export function isRequest(m: Message): m is Request {
  return REQUEST_TYPES.has(m.type);
}

const REQUEST_TYPES = new Set<string>([
  'ping',
  'get',
  'mget',
  'put',
  'ring',
  'replicaRead',
  'replicaReadMany',
  'replicaWrite',
  'hints',
  'status',
  'gossip',
  'ringPush',
  'change',
  'transferRead',
  'transferDone',
  'merkleRoots',
  'merkleSegments',
  'segmentKeys',
  'keysRead',
  'keysMerge',
  'hintsRead',
  'hintsAck',
  'hintsExpired',
  'hintsDrop',
  'reclaim',
  'hintsFor',
  'tombstones',
  'lastBeat',
]);
