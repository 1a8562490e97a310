// Which peers this node can reach, as it sees it. Coordinators skip unreachable peers
// (sloppy quorum) and use them again as soon as they answer.
//
// A request that cannot reach a peer, or a few timed-out ones in a row, count against it, any answer for it; membership/ implements
// it with heartbeats and the phi-accrual detector.
import type { NodeId } from '../client/src/core/ring.ts';

export interface Liveness {
  isUp(node: NodeId): boolean;
  /** the peer answered */
  success(node: NodeId): void;
  /**
   * a request to the peer could not reach it ('unreachable': the peer is suspect at once) or was
   * not answered in time ('timeout': a few in a row, more when this node is itself slow, make it
   * suspect: core/awareness.ts)
   */
  failure(node: NodeId, kind?: 'timeout' | 'unreachable'): void;
  /** peers currently considered unreachable */
  down(): NodeId[];
}
