// Generators for every message of the protocol, one per message type. The map is typed by
// MessageType, so a new message type does not compile until it has a generator here, and
// every codec property (round-trip, fuzz, byte compatibility) then covers it.
//
// Values stay inside what the wire can carry (a str8 fits 255 bytes, counters stay below
// 2^53, keys are well-formed and at most 1024 bytes): the properties test the codec, and
// the codec's own refusals are tested on purpose elsewhere.
import fc from 'fast-check';
import { ERROR_CODES, type ErrorCode } from '../../client/src/core/errors.ts';
import type { Member, Ring } from '../../client/src/core/ring.ts';
import type { Version } from '../../client/src/core/siblings.ts';
import type { Dot } from '../../client/src/core/version-vector.ts';
import { canonical } from '../../client/src/core/crdt/canonical.ts';
import type { TypedOp } from '../../client/src/core/crdt/typed.ts';
import type { Heartbeat, Message, MessageType } from '../../client/src/protocol/messages.ts';

type Of<T extends MessageType> = Extract<Message, { type: T }>;
export type MessageArbitraries = { readonly [T in MessageType]: fc.Arbitrary<Of<T>> };

const u8 = fc.integer({ min: 0, max: 0xff });
const u16 = fc.integer({ min: 0, max: 0xffff });
const u32 = fc.nat({ max: 0xffffffff });
const u64 = fc.nat({ max: Number.MAX_SAFE_INTEGER });
/** Any well-formed text, up to 4 bytes a code point: 40 code points fit a str8. */
const text = (maxLength = 40) => fc.string({ unit: 'binary', maxLength }).filter((s) => s.isWellFormed());
const name = fc.stringMatching(/^n[0-9]{1,3}$/);
const actor = fc.stringMatching(/^[a-z0-9]{1,12}@[a-z0-9]{1,8}$/);
const counter = fc.integer({ min: 1, max: Number.MAX_SAFE_INTEGER });
const key = fc.string({ unit: 'binary', minLength: 1, maxLength: 40 }).filter((k) => k.isWellFormed());
const keys = fc.array(key, { maxLength: 5 });
const quorum = u8;
const time = fc.integer({ min: 0, max: 2 ** 45 });
const hash = fc.uint8Array({ minLength: 16, maxLength: 16 });
const dot: fc.Arbitrary<Dot> = fc.record({ actor, counter });
const dots = fc.array(dot, { maxLength: 4 });
const vv = fc.uniqueArray(fc.tuple(actor, counter), { selector: (e) => e[0], maxLength: 6 }).map((e) => new Map(e));
// a version's expiry time exists from version 8 (messageNeeds raises a message carrying one)
const version: fc.Arbitrary<Version> = fc.record(
  { dot, past: vv, deleted: fc.boolean(), writtenAt: time, value: fc.uint8Array({ maxLength: 48 }), expiresAt: time },
  { requiredKeys: ['dot', 'past', 'deleted', 'writtenAt', 'value'] },
);
const set = fc.array(version, { maxLength: 3 });
const entries = fc.array(fc.record({ key, set }), { maxLength: 3 });
// a heartbeat's lease exists from version 7 (asOfVersion drops it below)
const beat = fc.record(
  {
    node: name,
    generation: u64,
    beat: u64,
    life: fc.stringMatching(/^[a-z0-9]{8}$/),
    lease: fc.record({ epoch: fc.stringMatching(/^[a-z0-9]{1,8}$/), counter: u64 }),
  },
  { requiredKeys: ['node', 'generation', 'beat', 'life'] },
);
const digest = fc.record({ version: u32, hash: fc.stringMatching(/^[0-9a-f]{0,32}$/) });
const hintEntries = fc.array(fc.record({ owner: name, key, partition: u32, storedAt: time, set }), { maxLength: 3 });
const hintRefs = fc.array(fc.record({ owner: name, key, dots }), { maxLength: 3 });
const keyed = <T>(arb: fc.Arbitrary<T>) => fc.array(arb, { maxLength: 4 });

const detail = fc.oneof(fc.string({ maxLength: 8 }), fc.integer(), fc.boolean());
const details = fc.dictionary(fc.string({ maxLength: 8 }), detail, { maxKeys: 3 });
const errorReply = fc.record({
  type: fc.constant('error' as const),
  code: fc.constantFrom(...(Object.keys(ERROR_CODES) as ErrorCode[])),
  message: text(),
  details,
});
const getReply = fc.record({ type: fc.constant('getReply' as const), replies: u8, set });

/** A ring as the wire carries it, including one in the middle of a change (next owners, transfers). */
export const ring: fc.Arbitrary<Ring> = fc
  .record({
    members: fc.uniqueArray(
      fc.record({
        id: name,
        address: fc.stringMatching(/^127\.0\.0\.1:[0-9]{1,5}$/),
        weight: u16,
        leaving: fc.constantFrom(undefined, 'leave', 'remove'),
      }),
      { selector: (m) => m.id, minLength: 1, maxLength: 5 },
    ),
    bits: fc.integer({ min: 0, max: 6 }),
    version: u32,
    n: fc.integer({ min: 1, max: 5 }),
    changing: fc.boolean(),
    seed: fc.array(fc.nat(), { minLength: 200, maxLength: 200 }),
  })
  .map(({ members, bits, version, n, changing, seed }) => {
    const partitions = 2 ** bits;
    const ms: Member[] = members.map(({ leaving, ...m }) => (leaving ? { ...m, leaving } : m));
    const pick = (i: number) => ms[seed[i % seed.length]! % ms.length]!.id;
    const owners = Array.from({ length: partitions }, (_, p) => pick(p));
    const next = changing ? Array.from({ length: partitions }, (_, p) => pick(p + 64)) : null;
    const transfers = changing
      ? Array.from({ length: seed[199]! % 4 }, (_, i) => ({
          partition: seed[i + 130]! % partitions,
          to: pick(i + 140),
          from: seed[i + 150]! % 3 === 0 ? ('' as const) : pick(i + 160),
          done: seed[i + 170]! % 2 === 0,
        }))
      : [];
    return { version, partitions, n, members: ms, owners, next, transfers };
  });

const member = fc.jsonValue({ maxDepth: 2 }).map(canonical);
const typedOp: fc.Arbitrary<TypedOp> = fc.oneof(
  fc.integer().map((by): TypedOp => ({ type: 'counter', by })),
  fc
    .record({ add: fc.array(member, { maxLength: 3 }), remove: fc.array(member, { maxLength: 3 }) })
    .map((o): TypedOp => ({ type: 'set', ...o })),
  fc
    .array(fc.oneof(fc.record({ field: fc.string(), register: member }), fc.record({ field: fc.string(), increment: fc.integer() })), {
      maxLength: 3,
    })
    .map((updates): TypedOp => ({ type: 'map', updates: updates.map((u) => ({ ...u })) })),
);

const t = <T extends MessageType>(type: T) => fc.constant(type);

export const arbitraries: MessageArbitraries = {
  error: errorReply,
  ping: fc.constant({ type: 'ping' }),
  pong: fc.constant({ type: 'pong' }),
  get: fc.record({ type: t('get'), key, r: quorum, pr: quorum }),
  getReply,
  mget: fc.record({ type: t('mget'), keys, r: quorum, pr: quorum }),
  mgetReply: fc.record({ type: t('mgetReply'), items: fc.array(fc.oneof(getReply, errorReply), { maxLength: 3 }) }),
  put: fc
    .record({
      type: t('put'),
      key,
      value: fc.uint8Array({ maxLength: 48 }),
      deleted: fc.boolean(),
      context: fc.option(vv, { nil: null }),
      w: quorum,
      pw: quorum,
      forwarded: fc.boolean(),
      condition: fc.constantFrom(undefined, 'current' as const, 'absent' as const),
      op: fc.option(typedOp, { nil: undefined }),
      ttlSeconds: fc.option(fc.integer({ min: 1, max: 315_360_000 }), { nil: undefined }),
    })
    // the decoder leaves `forwarded`, `condition`, `op` and `ttlSeconds` out unless they are set; an op comes alone,
    // with an empty value; a TTL comes only with a put of a value
    .map(({ forwarded, condition, op, ttlSeconds, ...m }) =>
      op
        ? { ...m, value: new Uint8Array(0), deleted: false, context: null, ...(forwarded ? { forwarded } : {}), op }
        : {
            ...m,
            ...(forwarded ? { forwarded } : {}),
            ...(condition ? { condition } : {}),
            ...(ttlSeconds !== undefined && !m.deleted ? { ttlSeconds } : {}),
          },
    ),
  putReply: fc.record({ type: t('putReply'), acks: u8, dot, context: vv }),
  conflict: fc.record({ type: t('conflict'), set }),
  opReply: fc.record({ type: t('opReply'), acks: u8, dot, context: vv, state: fc.uint8Array({ maxLength: 48 }) }),
  ring: fc.constant({ type: 'ring' }),
  ringReply: fc.record({ type: t('ringReply'), n: u8, r: u8, w: u8, ring }),
  replicaRead: fc.record({ type: t('replicaRead'), key }),
  replicaReadReply: fc.record({ type: t('replicaReadReply'), set }),
  replicaWrite: fc.record({ type: t('replicaWrite'), key, hintFor: fc.option(name, { nil: null }), set }),
  ack: fc.constant({ type: 'ack' }),
  hints: fc.record({ type: t('hints'), owner: fc.option(name, { nil: null }), limit: u32 }),
  hintsReply: fc.record({
    type: t('hintsReply'),
    total: u32,
    hints: keyed(fc.record({ owner: name, key, storedAt: time, siblings: u16 })),
  }),
  status: fc.constant({ type: 'status' }),
  statusReply: fc.record({ type: t('statusReply'), json: fc.json({ maxDepth: 2 }) }),
  gossip: fc.record({ type: t('gossip'), cluster: name, from: name, digest, beats: keyed(beat) }),
  gossipReply: fc.record({
    type: t('gossipReply'),
    digest,
    beats: keyed(beat),
    ring: fc.option(ring, { nil: null }),
    wantRing: fc.boolean(),
  }),
  ringPush: fc.record({ type: t('ringPush'), cluster: name, ring }),
  change: fc.record({
    type: t('change'),
    kind: fc.constantFrom('join', 'leave', 'remove', 'replace'),
    node: name,
    address: text(),
    weight: u16,
    by: fc.oneof(fc.constant(''), name),
    expectedVersion: u32,
  }),
  changeReply: fc.record({ type: t('changeReply'), version: u32, transfers: u32, claimant: name }),
  transferRead: fc.record({ type: t('transferRead'), partition: u32, after: fc.oneof(fc.constant(''), key), limit: u32, maxBytes: u32 }),
  transferBatch: fc.record({ type: t('transferBatch'), total: u32, done: fc.boolean(), entries }),
  transferDone: fc.record({ type: t('transferDone'), partition: u32, to: name }),
  merkleRoots: fc.record({ type: t('merkleRoots'), partition: u32 }),
  merkleRootsReply: fc.record({ type: t('merkleRootsReply'), root: hash, groups: fc.array(hash, { maxLength: 32 }), keys: u32 }),
  merkleSegments: fc.record({ type: t('merkleSegments'), partition: u32, groups: fc.array(u32, { maxLength: 32 }) }),
  merkleSegmentsReply: fc.record({ type: t('merkleSegmentsReply'), segments: keyed(fc.array(hash, { maxLength: 8 })) }),
  segmentKeys: fc.record({ type: t('segmentKeys'), partition: u32, segments: fc.array(u32, { maxLength: 32 }) }),
  segmentKeysReply: fc.record({ type: t('segmentKeysReply'), keys: keyed(fc.record({ key, leaf: hash })) }),
  keysRead: fc.record({ type: t('keysRead'), keys }),
  keysReadReply: fc.record({ type: t('keysReadReply'), entries }),
  keysMerge: fc.record({ type: t('keysMerge'), entries }),
  hintsRead: fc.record({
    type: t('hintsRead'),
    owner: fc.oneof(fc.constant(''), name),
    after: fc.option(fc.record({ owner: name, partition: u32, key }), { nil: null }),
    limit: u32,
  }),
  hintsBatch: fc.record({ type: t('hintsBatch'), hints: hintEntries, done: fc.boolean() }),
  hintsAck: fc.record({ type: t('hintsAck'), hints: hintRefs }),
  countReply: fc.record({ type: t('countReply'), count: u32 }),
  hintsExpired: fc.record({ type: t('hintsExpired'), limit: u32 }),
  hintsExpiredReply: fc.record({ type: t('hintsExpiredReply'), total: u32, hints: hintEntries }),
  hintsDrop: fc.record({ type: t('hintsDrop'), hints: hintRefs }),
  reclaim: fc.record({ type: t('reclaim'), keys: keyed(fc.record({ key, dots })) }),
  hintsFor: fc.record({ type: t('hintsFor'), keys }),
  hintsForReply: fc.record({ type: t('hintsForReply'), keys }),
  tombstones: fc.record({ type: t('tombstones'), partition: u32, limit: u32 }),
  tombstonesReply: fc.record({ type: t('tombstonesReply'), keys: keyed(fc.record({ key, leaf: hash, dots })) }),
  replicaReadMany: fc.record({ type: t('replicaReadMany'), keys }),
  replicaReadManyReply: fc.record({ type: t('replicaReadManyReply'), sets: keyed(set) }),
  lastBeat: fc.record({ type: t('lastBeat'), cluster: name, beat }),
  lastBeatReply: fc.record({ type: t('lastBeatReply'), beat: fc.option(beat, { nil: null }) }),
  inspect: fc.record({ type: t('inspect'), key }),
  inspectReply: fc.record({ type: t('inspectReply'), own: set, hints: keyed(fc.record({ owner: name, set })) }),
  quietKeys: fc.record({ type: t('quietKeys'), partition: u32, limit: u32 }),
  quietKeysReply: fc.record({ type: t('quietKeysReply'), keys: keyed(fc.record({ key, leaf: hash, dots, tombstones: fc.boolean() })) }),
  compact: fc.record({ type: t('compact'), keys: keyed(fc.record({ key, leaf: hash })) }),
  hello: fc.record({ type: t('hello'), signature: fc.uint8Array({ minLength: 64, maxLength: 64 }) }),
  watch: fc.record({
    type: t('watch'),
    watcher: text(),
    waitMs: fc.integer({ min: 0, max: 60_000 }),
    keys: keyed(fc.record({ key, seen: vv })),
  }),
  watchReply: fc.record({ type: t('watchReply'), changed: entries }),
};

/** Any message, every type equally likely. */
export const anyMessage: fc.Arbitrary<Message> = fc.oneof(...Object.values<fc.Arbitrary<Message>>(arbitraries));

/** Decoded values come back as Buffers and vectors as Maps: compare contents, not classes. */
export function normalize(m: unknown): unknown {
  if (m instanceof Uint8Array) return [...m];
  if (m instanceof Map) return [...m].sort();
  if (Array.isArray(m)) return m.map(normalize);
  if (m && typeof m === 'object') return Object.fromEntries(Object.entries(m).map(([k, v]) => [k, normalize(v)]));
  return m;
}

/** A message as a frame of `version` carries it: heartbeats lose their lease below version 7. */
export function asOfVersion(m: Message, version: number): Message {
  if (version >= 7) return m;
  const strip = (b: Heartbeat): Heartbeat => ({ node: b.node, generation: b.generation, beat: b.beat, life: b.life });
  switch (m.type) {
    case 'gossip':
    case 'gossipReply':
      return { ...m, beats: m.beats.map(strip) };
    case 'lastBeat':
      return { ...m, beat: strip(m.beat) };
    case 'lastBeatReply':
      return { ...m, beat: m.beat && strip(m.beat) };
    default:
      return m;
  }
}
