// Which replies answer each request, besides an error reply: the one table the call helper
// checks a reply against and the node's dispatch table is typed by. The type checker refuses
// a request type without a row, as it does in the codec's registry and the role table.
import type { Reply, Request } from './messages.ts';

export type RequestType = Request['type'];
export type ReplyType = Reply['type'];

/** The request of one type. */
export type RequestOf<T extends RequestType> = Extract<Request, { type: T }>;

export const REPLIES = {
  // checked by the server when a connection opens (transport/server.ts): never answered
  hello: [],
  ping: ['pong'],
  get: ['getReply'],
  mget: ['mgetReply'],
  // a put with a condition that fails is answered with what the coordinator held; a typed operation with its state
  put: ['putReply', 'conflict', 'opReply'],
  ring: ['ringReply'],
  status: ['statusReply'],
  replicaRead: ['replicaReadReply'],
  replicaReadMany: ['replicaReadManyReply'],
  replicaWrite: ['ack'],
  hints: ['hintsReply'],
  inspect: ['inspectReply'],
  gossip: ['gossipReply'],
  ringPush: ['ack'],
  change: ['changeReply'],
  transferRead: ['transferBatch'],
  transferDone: ['ack'],
  lastBeat: ['lastBeatReply'],
  merkleRoots: ['merkleRootsReply'],
  merkleSegments: ['merkleSegmentsReply'],
  segmentKeys: ['segmentKeysReply'],
  keysRead: ['keysReadReply'],
  keysMerge: ['ack'],
  reclaim: ['countReply'],
  tombstones: ['tombstonesReply'],
  quietKeys: ['quietKeysReply'],
  compact: ['countReply'],
  hintsRead: ['hintsBatch'],
  hintsAck: ['countReply'],
  hintsExpired: ['hintsExpiredReply'],
  hintsDrop: ['countReply'],
  hintsFor: ['hintsForReply'],
  watch: ['watchReply'],
} as const satisfies { readonly [T in RequestType]: readonly Exclude<ReplyType, 'error'>[] };

/** What a request of type T is answered with when it is not refused. */
export type ReplyOf<T extends RequestType> = Extract<Reply, { type: (typeof REPLIES)[T][number] }>;

/** Whether `reply` is one of the replies that answer a request of type `type` (an error reply is not). */
export function answers<T extends RequestType>(type: T, reply: Reply): reply is ReplyOf<T> {
  return (REPLIES[type] as readonly ReplyType[]).includes(reply.type);
}
