// Prints the wire-compatibility fixture: a deterministic sample of every message type (seeded
// draws from arbitraries.ts plus the hand-picked cases below, which reach every flag and
// optional part) with the exact bytes the codec writes for each frame.
//
// frames-v2.json was printed by this script from the codec as it stood before the messages
// were split into per-type entries (one writer switch, one reader switch), by
//   node --import tsx test/protocol/capture-frames.ts > test/protocol/frames-v2.json
// It is the record of what version 2 puts on the wire: wire-compat.test.ts checks today's codec
// against it. Printing it again from a later codec proves nothing, so it is not regenerated (a
// later codec that still writes version 2 the same prints the same file: the draws are seeded).
import fc from 'fast-check';
import { encodeFrame, messageSince } from '../../client/src/protocol/codec.ts';
import { MESSAGE_TYPES, type Message, type MessageType } from '../../client/src/protocol/messages.ts';
import { arbitraries } from './arbitraries.ts';
import { toJson, type Fixture } from './fixture-json.ts';

const VERSION = 2;
const SEED = 20261125;
const DRAWS = 3;

const set = [
  {
    dot: { actor: 'a1@x', counter: 7 },
    past: new Map([['a1@x', 6], ['b2@y', 2 ** 40]]),
    deleted: false,
    writtenAt: 1_700_000_000_000,
    value: Uint8Array.from([1, 2, 3]),
  },
  { dot: { actor: 'b2@y', counter: Number.MAX_SAFE_INTEGER }, past: new Map(), deleted: true, writtenAt: 0, value: new Uint8Array(0) },
];
const ring = {
  version: 9,
  partitions: 4,
  n: 2,
  members: [
    { id: 'a', address: '127.0.0.1:1', weight: 1 },
    { id: 'b', address: '127.0.0.1:2', weight: 2, leaving: 'leave' as const },
    { id: 'c', address: '127.0.0.1:3', weight: 1, leaving: 'remove' as const },
  ],
  owners: ['a', 'b', 'a', 'c'],
  next: ['a', 'a', 'a', 'a'],
  transfers: [
    { partition: 1, to: 'a', from: 'b', done: true },
    { partition: 3, to: 'a', from: '' as const, done: false },
  ],
};
const beat = { node: 'n1', generation: 3, beat: 2 ** 33, life: 'abcdefgh' };

/** Cases a few random draws might miss: every flag combination and every optional part, both ways. */
const EDGES: Message[] = [
  ...[0, 1, 2, 3, 4, 5, 6, 7].map((f): Message => ({
    type: 'put',
    key: 'k',
    value: Uint8Array.from([f]),
    deleted: (f & 1) !== 0,
    context: f & 2 ? new Map([['a1@x', 1]]) : null,
    w: 2,
    pw: 1,
    ...(f & 4 ? { forwarded: true } : {}),
  })),
  { type: 'get', key: 'é'.repeat(512), r: 0, pr: 0 },
  { type: 'getReply', replies: 3, set },
  {
    type: 'mgetReply',
    items: [{ type: 'getReply', replies: 2, set }, { type: 'error', code: 'TIMEOUT', message: 'slow', details: { needed: 2, got: 1 } }],
  },
  { type: 'replicaWrite', key: 'k', hintFor: null, set },
  { type: 'replicaWrite', key: 'k', hintFor: 'n2', set },
  { type: 'hints', owner: null, limit: 10 },
  { type: 'ringReply', n: 3, r: 2, w: 2, ring },
  { type: 'ringReply', n: 3, r: 2, w: 2, ring: { ...ring, next: null, transfers: [] } },
  { type: 'gossipReply', digest: { version: 9, hash: 'ff' }, beats: [beat], ring, wantRing: false },
  { type: 'gossipReply', digest: { version: 9, hash: '' }, beats: [], ring: null, wantRing: true },
  { type: 'transferRead', partition: 1, after: '', limit: 100, maxBytes: 1 << 20 },
  { type: 'transferBatch', total: 2, done: true, entries: [{ key: 'k', set }] },
  { type: 'hintsRead', owner: '', after: null, limit: 5 },
  { type: 'hintsRead', owner: 'n1', after: { owner: 'n1', partition: 3, key: 'k' }, limit: 5 },
  { type: 'lastBeat', cluster: 'dev', beat },
  { type: 'lastBeatReply', beat: null },
  { type: 'lastBeatReply', beat },
  { type: 'change', kind: 'replace', node: 'n1', address: '127.0.0.1:9', weight: 1, by: 'n9', expectedVersion: 0 },
];

const types = (Object.keys(MESSAGE_TYPES) as MessageType[])
  .filter((type) => messageSince(type) <= VERSION)
  .sort((a, b) => MESSAGE_TYPES[a] - MESSAGE_TYPES[b]);
const messages: Message[] = [];
for (const type of types) messages.push(...fc.sample<Message>(arbitraries[type], { seed: SEED + MESSAGE_TYPES[type], numRuns: DRAWS }));
messages.push(...EDGES);

const fixture: Fixture = {
  protocolVersion: VERSION,
  note: 'Frames as protocol version 2 encodes them, printed by test/protocol/capture-frames.ts. Do not regenerate.',
  frames: messages.map((message, i) => {
    // ids reach the full u32 range, high byte set included
    const id = i % 5 === 4 ? 0xffffffff - i : i;
    return { id, message: toJson(message), hex: encodeFrame(id, message, VERSION).toString('hex') };
  }),
};
// one frame a line, so a diff of the record (there should never be one) stays readable
const lines = fixture.frames.map((f) => `  ${JSON.stringify(f)}`);
const head = `{\n "protocolVersion": ${fixture.protocolVersion},\n "note": ${JSON.stringify(fixture.note)},\n "frames": [\n`;
process.stdout.write(`${head}${lines.join(',\n')}\n ]\n}\n`);
