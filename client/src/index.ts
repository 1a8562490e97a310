// dynamo-gateway-client: the client library of a Dynamo-style key-value cluster, for another
// project to import. DynamoClient.connect learns the ring from any node and sends each request
// straight to a replica of its key (docs/architecture.md); the protocol's message types and the
// versions, contexts and errors it answers with are exported beside it.
export { DynamoClient, decodeContext, encodeContext } from './client.ts';
export type { ClientOptions, ReadOptions, ReadResult, ReplicaCopy, UpdateResult, WriteOptions, WriteResult } from './client.ts';
export { ConflictError, StoreError } from './core/errors.ts';
export type { ErrorCode, ErrorDetails } from './core/errors.ts';
export { contextOf, isLive } from './core/siblings.ts';
export type { SiblingSet, Version } from './core/siblings.ts';
export type { ActorId, Dot, VersionVector } from './core/version-vector.ts';
export type { Member, NodeId, Ring } from './core/ring.ts';
export type { Typed, TypedOp, TypeName } from './core/crdt/typed.ts';
export { loadIdentity } from './auth/identity-file.ts';
export type { ProcessIdentity } from './auth/identity-file.ts';
export type { ClientTls } from './transport/tls.ts';
export type { NodeStatus } from './status.ts';
export { MESSAGE_TYPES, PROTOCOL_MAX, PROTOCOL_MIN } from './protocol/messages.ts';
export type * from './protocol/messages.ts';
