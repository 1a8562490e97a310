// Which peers this node can reach, as it sees it. Coordinators skip unreachable peers
// (sloppy quorum) and use them again as soon as they answer.
//
// This is the request-traffic half of failure detection: a failed or timed-out request marks
// a peer unreachable, any answer marks it reachable. membership/ adds heartbeats and the
// phi-accrual detector on top of the same interface.
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

export class RequestLiveness implements Liveness {
  readonly #down = new Set<NodeId>();

  constructor(private readonly self: NodeId) {}

  isUp(node: NodeId): boolean {
    return node === this.self || !this.#down.has(node);
  }

  success(node: NodeId): void {
    this.#down.delete(node);
  }

  failure(node: NodeId): void {
    if (node !== this.self) this.#down.add(node);
  }

  down(): NodeId[] {
    return [...this.#down];
  }
}
