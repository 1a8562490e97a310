// What nodes tell each other about the cluster: gossip (heartbeats and ring digests), ring
// pushes, planned changes and the key-range transfers they need, and the lastBeat question a
// starting node asks.
import type { Ring } from '../../core/ring.ts';
import { reply, request } from '../entry.ts';
import { checkCount, readBool, readEntries, readRing, writeBool, writeEntries, writeRing, type TransferEntry } from '../shapes.ts';
import { ProtocolError, type Reader, type Writer } from '../wire.ts';

// ---------------------------------------------------------------- heartbeats and digests

/** A node's heartbeat as gossip carries it: newer is a higher (generation, beat). */
export interface Heartbeat {
  readonly node: string;
  /** bumped every time the node starts */
  readonly generation: number;
  /** bumped every gossip round */
  readonly beat: number;
  /** random per process start: tells this run's beats from another run's with the same generation */
  readonly life: string;
  /** version 7 on: the node's epoch and the highest dot counter its durable lease covers; absent when unknown */
  readonly lease?: AdvertisedLease;
}

/** What a node advertises of its dot counters (identity.ts): every dot it made is at or below `counter`, give or take the lease it is writing. */
export interface AdvertisedLease {
  readonly epoch: string;
  readonly counter: number;
}

export interface RingDigestWire {
  readonly version: number;
  readonly hash: string;
}

/** node str8 + generation u64 + beat u64 + life str8 */
const MIN_BEAT_BYTES = 18;
/** the protocol version heartbeats first carry a lease in: before it, the lease is left out */
const LEASE_SINCE = 7;

function writeBeats(w: Writer, beats: readonly Heartbeat[], version: number): void {
  w.u32(beats.length);
  for (const b of beats) {
    w.str8(b.node);
    w.u64(b.generation);
    w.u64(b.beat);
    w.str8(b.life);
    if (version >= LEASE_SINCE) {
      // an empty epoch (and counter 0) says the lease is unknown
      w.str8(b.lease?.epoch ?? '');
      w.u64(b.lease?.counter ?? 0);
    }
  }
}

function readBeats(r: Reader, version: number): Heartbeat[] {
  const count = r.u32();
  checkCount(r, count, MIN_BEAT_BYTES, 'heartbeat');
  const beats: Heartbeat[] = [];
  for (let i = 0; i < count; i++) {
    const beat: Heartbeat = { node: r.str8(), generation: r.u64(), beat: r.u64(), life: r.str8() };
    if (version < LEASE_SINCE) {
      beats.push(beat);
      continue;
    }
    const epoch = r.str8();
    const counter = r.u64();
    if (epoch === '' && counter !== 0) throw new ProtocolError('a heartbeat leases counters without an epoch');
    beats.push(epoch === '' ? beat : { ...beat, lease: { epoch, counter } });
  }
  return beats;
}

function writeDigest(w: Writer, d: RingDigestWire): void {
  w.u32(d.version);
  w.str8(d.hash);
}

function readDigest(r: Reader): RingDigestWire {
  return { version: r.u32(), hash: r.str8() };
}

// ---------------------------------------------------------------- gossip

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

const gossip = request<GossipRequest>('gossip', 40, {
  since: 1,
  write(w, m, version) {
    w.str8(m.cluster);
    w.str8(m.from);
    writeDigest(w, m.digest);
    writeBeats(w, m.beats, version);
  },
  read: (r, version) => ({ type: 'gossip', cluster: r.str8(), from: r.str8(), digest: readDigest(r), beats: readBeats(r, version) }),
});

const gossipReply = reply<GossipReply>('gossipReply', 41, {
  since: 1,
  write(w, m, version) {
    writeDigest(w, m.digest);
    writeBeats(w, m.beats, version);
    writeBool(w, m.ring !== null);
    if (m.ring) writeRing(w, m.ring);
    writeBool(w, m.wantRing);
  },
  read(r, version) {
    const digest = readDigest(r);
    const beats = readBeats(r, version);
    const ring = readBool(r, 'ring present') ? readRing(r) : null;
    return { type: 'gossipReply', digest, beats, ring, wantRing: readBool(r, 'want ring') };
  },
});

export interface RingPushRequest {
  readonly type: 'ringPush';
  readonly cluster: string;
  readonly ring: Ring;
}

const ringPush = request<RingPushRequest>('ringPush', 42, {
  since: 1,
  write(w, m) {
    w.str8(m.cluster);
    writeRing(w, m.ring);
  },
  read: (r) => ({ type: 'ringPush', cluster: r.str8(), ring: readRing(r) }),
});

// ---------------------------------------------------------------- changes

export type ChangeKind = 'join' | 'leave' | 'remove' | 'replace';

/** On the wire, a change kind is its index here. */
const CHANGE_KINDS: readonly ChangeKind[] = ['join', 'leave', 'remove', 'replace'];

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

export interface ChangeReply {
  readonly type: 'changeReply';
  /** the ring version the change was planned at */
  readonly version: number;
  readonly transfers: number;
  readonly claimant: string;
}

const change = request<ChangeRequest>('change', 44, {
  since: 1,
  write(w, m) {
    w.u8(CHANGE_KINDS.indexOf(m.kind));
    w.str8(m.node);
    w.str16(m.address);
    w.u16(m.weight);
    w.str8(m.by);
    w.u32(m.expectedVersion);
  },
  read(r) {
    const kind = CHANGE_KINDS[r.u8()];
    if (!kind) throw new ProtocolError('unknown change kind');
    return { type: 'change', kind, node: r.str8(), address: r.str16(), weight: r.u16(), by: r.str8(), expectedVersion: r.u32() };
  },
});

const changeReply = reply<ChangeReply>('changeReply', 45, {
  since: 1,
  write(w, m) {
    w.u32(m.version);
    w.u32(m.transfers);
    w.str8(m.claimant);
  },
  read: (r) => ({ type: 'changeReply', version: r.u32(), transfers: r.u32(), claimant: r.str8() }),
});

// ---------------------------------------------------------------- transfers

export interface TransferReadRequest {
  readonly type: 'transferRead';
  readonly partition: number;
  /** the last key already received; '' to start */
  readonly after: string;
  readonly limit: number;
  readonly maxBytes: number;
}

export interface TransferBatchReply {
  readonly type: 'transferBatch';
  /** keys in the range when the first batch was read (0 after the first batch) */
  readonly total: number;
  readonly done: boolean;
  readonly entries: readonly TransferEntry[];
}

export interface TransferDoneRequest {
  readonly type: 'transferDone';
  readonly partition: number;
  readonly to: string;
}

const transferRead = request<TransferReadRequest>('transferRead', 46, {
  since: 1,
  write(w, m) {
    w.u32(m.partition);
    w.str16(m.after);
    w.u32(m.limit);
    w.u32(m.maxBytes);
  },
  read: (r) => ({ type: 'transferRead', partition: r.u32(), after: r.str16(), limit: r.u32(), maxBytes: r.u32() }),
});

const transferBatch = reply<TransferBatchReply>('transferBatch', 47, {
  since: 1,
  write(w, m) {
    w.u32(m.total);
    writeBool(w, m.done);
    writeEntries(w, m.entries);
  },
  read: (r) => ({ type: 'transferBatch', total: r.u32(), done: readBool(r, 'transfer done'), entries: readEntries(r) }),
});

const transferDone = request<TransferDoneRequest>('transferDone', 48, {
  since: 1,
  write(w, m) {
    w.u32(m.partition);
    w.str8(m.to);
  },
  read: (r) => ({ type: 'transferDone', partition: r.u32(), to: r.str8() }),
});

// ---------------------------------------------------------------- a starting node's question

/** a starting node asks for the newest heartbeat the receiver heard from it, and tells its own */
export interface LastBeatRequest {
  readonly type: 'lastBeat';
  readonly cluster: string;
  readonly beat: Heartbeat;
}

export interface LastBeatReply {
  readonly type: 'lastBeatReply';
  readonly beat: Heartbeat | null;
}

// both carry their heartbeat as a list (of exactly one, and of at most one)
const lastBeat = request<LastBeatRequest>('lastBeat', 76, {
  since: 2,
  write(w, m, version) {
    w.str8(m.cluster);
    writeBeats(w, [m.beat], version);
  },
  read(r, version) {
    const cluster = r.str8();
    const [beat, ...more] = readBeats(r, version);
    if (!beat || more.length > 0) throw new ProtocolError('a lastBeat carries exactly one heartbeat');
    return { type: 'lastBeat', cluster, beat };
  },
});

const lastBeatReply = reply<LastBeatReply>('lastBeatReply', 77, {
  since: 2,
  write: (w, m, version) => writeBeats(w, m.beat ? [m.beat] : [], version),
  read(r, version) {
    const beats = readBeats(r, version);
    if (beats.length > 1) throw new ProtocolError('more than one heartbeat in a lastBeatReply');
    return { type: 'lastBeatReply', beat: beats[0] ?? null };
  },
});

export type MembershipRequest =
  | GossipRequest
  | RingPushRequest
  | ChangeRequest
  | TransferReadRequest
  | TransferDoneRequest
  | LastBeatRequest;
export type MembershipReply = GossipReply | ChangeReply | TransferBatchReply | LastBeatReply;

export const membershipMessages = {
  gossip,
  gossipReply,
  ringPush,
  change,
  changeReply,
  transferRead,
  transferBatch,
  transferDone,
  lastBeat,
  lastBeatReply,
};
