// Who may send what on the node protocol: one row per request type, naming the roles allowed
// to send it. The node checks it before the handler runs (transport/server.ts); anything else
// is answered with FORBIDDEN and changes nothing. The type checker refuses a request type
// without a row, so a new message cannot be added without deciding who may send it.
//
//   peer    a storage node: replication, gossip, transfers, and what clients and repair may
//   client  a gateway or an application: reads, writes, the ring, liveness and status
//   repair  the repair workers: hint replay, hint expiry, anti-entropy, tombstone reclaim
//   admin   an operator's CLI: what a client may, and ring changes through the claimant,
//           inspection of a key's copies and of hints; never a raw ringPush
import type { Request } from '../protocol/messages.ts';

export const ROLES = ['peer', 'client', 'repair', 'admin'] as const;
export type Role = (typeof ROLES)[number];

export type RequestType = Request['type'];

const ANY: readonly Role[] = ['peer', 'client', 'repair', 'admin'];
const DATA: readonly Role[] = ['peer', 'client', 'admin'];
const REPAIR: readonly Role[] = ['peer', 'repair'];
const OPERATOR: readonly Role[] = ['peer', 'repair', 'admin'];
const PEER: readonly Role[] = ['peer'];

export const ALLOWED: Readonly<Record<RequestType, readonly Role[]>> = {
  // proves the caller's identity on a connection: handled by the server itself, never by a node
  hello: ANY,
  ping: ANY,
  ring: ANY,
  status: ANY,
  get: DATA,
  mget: DATA,
  // a delete is a put of a tombstone
  put: DATA,
  // a gateway's long poll for new versions of keys it may read (docs/watches.md)
  watch: DATA,
  // the listing the workers scan for hint owners, and the operator's `dynamo hints`
  hints: OPERATOR,
  inspect: ['peer', 'admin'],
  // planned by the claimant, which checks the change (ring-change.ts); a peer forwards an
  // operator's change to the claimant, so peers may send it too
  change: ['peer', 'admin'],
  // hint replay delivers a held copy to its owner (repair/handoff.ts, expiry.ts); the set is
  // checked like any other (core/set-check.ts)
  replicaWrite: REPAIR,
  hintsRead: REPAIR,
  hintsAck: REPAIR,
  hintsExpired: REPAIR,
  hintsDrop: REPAIR,
  hintsFor: REPAIR,
  merkleRoots: REPAIR,
  merkleSegments: REPAIR,
  segmentKeys: REPAIR,
  keysRead: REPAIR,
  keysMerge: REPAIR,
  reclaim: REPAIR,
  tombstones: REPAIR,
  quietKeys: REPAIR,
  compact: REPAIR,
  replicaRead: PEER,
  replicaReadMany: PEER,
  gossip: PEER,
  lastBeat: PEER,
  ringPush: PEER,
  transferRead: PEER,
  transferDone: PEER,
};

export function allowed(role: Role, type: RequestType): boolean {
  return ALLOWED[type].includes(role);
}

export function isRole(s: string): s is Role {
  return (ROLES as readonly string[]).includes(s);
}
