// Every message of the binary protocol, as one union keyed by `type`: the module the rest of
// the code imports messages from. Each message's type is declared beside its codec entry in
// messages/ (client, replica, membership, repair, handoff, hello, watch); docs/protocol.md gives the byte
// layouts, and codec.ts is the only place that reads or writes them.
//
// The type numbers are part of the protocol: only append, never renumber or reuse.
import type { ClientReply, ClientRequest } from './messages/client.ts';
import type { HandoffReply, HandoffRequest } from './messages/handoff.ts';
import type { HelloRequest } from './messages/hello.ts';
import type { MembershipReply, MembershipRequest } from './messages/membership.ts';
import type { RepairReply, RepairRequest } from './messages/repair.ts';
import type { ReplicaReply, ReplicaRequest } from './messages/replica.ts';
import type { TraceContext } from './trace-context.ts';
import type { WatchReply, WatchRequest } from './messages/watch.ts';

export type * from './messages/client.ts';
export type * from './messages/replica.ts';
export type * from './messages/membership.ts';
export type * from './messages/repair.ts';
export type * from './messages/handoff.ts';
export type * from './messages/hello.ts';
export type * from './messages/watch.ts';
export type { TransferEntry } from './shapes.ts';
export type { TraceContext } from './trace-context.ts';
export { isRequest, MESSAGE_TYPES, PROTOCOL_MAX, PROTOCOL_MIN, PROTOCOL_VERSION } from './codec.ts';

export type Request = ClientRequest | ReplicaRequest | MembershipRequest | RepairRequest | HandoffRequest | HelloRequest | WatchRequest;

export type Reply = ClientReply | ReplicaReply | MembershipReply | RepairReply | HandoffReply | WatchReply;

export type Message = Request | Reply;

export type MessageType = Message['type'];

/** A decoded frame: one message and the request id that pairs a reply with its request. */
export interface Frame<M extends Message = Message> {
  readonly id: number;
  readonly message: M;
  /** the sender's trace context, on a request from protocol version 8 (trace-context.ts) */
  readonly trace?: TraceContext;
}
