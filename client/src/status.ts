// What a node reports of itself to `status` (the CLI's status, the gateway's admin fields):
// the ring as it sees it, the transfers into it, hints and repair counters. Travels as JSON in
// a statusReply.
import type { NodeId } from './core/ring.ts';

/** One key range being copied into the reporting node (storage/membership/transfers.ts). */
export interface TransferProgress {
  readonly ringVersion: number;
  readonly partition: number;
  readonly sources: readonly NodeId[];
  state: 'running' | 'copied' | 'confirmed' | 'retrying';
  keys: number;
  bytes: number;
  /** keys the sources reported holding when the copy began */
  total: number;
  readonly startedAt: number;
  finishedAt?: number;
  confirmedAt?: number;
  error?: string;
}

/** What the node's repair service has done since start (storage/repair/service.ts). */
export interface RepairCounters {
  /** hints deleted after their delivery was acknowledged */
  hintsReplayed: number;
  /** hints past their age cap, deleted once their keys' primaries held them */
  hintsExpired: number;
  /** sibling sets merged in by anti-entropy */
  keysRepaired: number;
  tombstonesReclaimed: number;
  /** quiet keys whose versions' histories were compacted */
  historiesCompacted: number;
  treeVerifications: number;
  /** verifications that found the incremental tree wrong (and replaced it) */
  treeMismatches: number;
}

export interface MemberStatus {
  readonly id: NodeId;
  readonly address: string;
  readonly weight: number;
  /** "leave" or "remove" while the member's key ranges move away */
  readonly leaving: string | null;
  readonly partitions: number;
  /** as the reporting node sees it */
  readonly reachable: boolean;
  readonly phi: number;
}

export interface TransferStatus extends TransferProgress {
  readonly keysPerSecond: number;
  readonly bytesPerSecond: number;
  readonly etaSeconds: number;
}

export interface NodeStatus {
  readonly id: NodeId;
  readonly cluster: string;
  readonly actor: string;
  readonly counter: number;
  /** the highest counter this node's durable lease covers: what its heartbeat advertises */
  readonly lease: number;
  /** the highest lease heard from each peer in its own heartbeat, by node and epoch (core/leases.ts) */
  readonly heardLeases: Readonly<Record<NodeId, Readonly<Record<string, number>>>>;
  /** null until the node holds a ring */
  readonly ringVersion: number | null;
  readonly claimant: NodeId | null;
  readonly changing: boolean;
  readonly transfersLeft: number;
  readonly transfersTotal: number;
  readonly members: readonly MemberStatus[];
  readonly unreachable: readonly NodeId[];
  readonly partitionsOwned: number;
  readonly transfers: readonly TransferStatus[];
  readonly copiesPlaced: number;
  readonly entriesReceived: number;
  readonly keysDropped: number;
  readonly hintBytes: number;
  readonly hints: number;
  readonly repair: RepairCounters;
  readonly gossipRounds: number;
  /** ring versions this node saw decided twice, differently (see membership/gossip.ts) */
  readonly ringForks: number;
  /** writes whose key's history reached the bound and was pruned (more than 64 actors: see docs/design.md) */
  readonly historyPrunes: number;
  /** expired versions this node's reads found and turned into tombstones (core/expiry.ts) */
  readonly expiredVersions: number;
  /** records on disk that failed their checksum since start: never served, repaired from other replicas */
  readonly corruptRecords: number;
  /** writes the disk refused (each one failed, and memory, Merkle tree and disk agree again) */
  readonly diskErrors: number;
  /** every member answered the start-up check, or the node went on as a new actor (node/restore-check.ts) */
  readonly identityConfirmed: boolean;
  readonly accepting: boolean;
  readonly inflight: number;
}
