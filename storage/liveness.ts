// Which peers this node can reach, as it sees it. Coordinators skip unreachable peers
// (sloppy quorum) and use them again as soon as they answer.
//
// A failed or timed-out request counts against a peer, any answer for it; membership/ implements
// it with heartbeats and the phi-accrual detector.
import type { NodeId } from './core/ring.ts';

export interface Liveness {
  isUp(node: NodeId): boolean;
  /** the peer answered */
  success(node: NodeId): void;
  /** a request to the peer failed or timed out */
  failure(node: NodeId): void;
  /** peers currently considered unreachable */
  down(): NodeId[];
}
