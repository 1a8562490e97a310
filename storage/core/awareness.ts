// Local health, after memberlist's awareness.go: a node that is itself slow (a stalled event
// loop, a starved CPU) sees every peer answer late and every heartbeat arrive late, and would
// declare them all down, falling back to sloppy quorum exactly when it is slowest. So the node
// keeps a score of its own health, from 0 (healthy) up to `max`, and is that much slower to
// suspect others:
//   - the score rises by one each time its own periodic work (the gossip round) runs late by
//     more than a quarter of its interval, and falls by one each time it runs on time;
//   - a peer becomes suspect after `timeoutsToSuspect + score` timed-out requests in a row (a
//     request that could not reach the peer at all still counts at once);
//   - the pause a failure detector tolerates is multiplied by `1 + score`.
// All of it is pure: the caller reports how late its round ran and what its requests did.

export interface AwarenessOptions {
  /** the highest score: timeouts and pauses are scaled by at most 1 + max */
  readonly max: number;
  /** timed-out requests in a row after which a healthy node suspects a peer */
  readonly timeoutsToSuspect: number;
}

export const DEFAULT_AWARENESS: AwarenessOptions = { max: 8, timeoutsToSuspect: 1 };

export class LocalHealth {
  #score = 0;
  readonly options: AwarenessOptions;

  constructor(options: AwarenessOptions = DEFAULT_AWARENESS) {
    this.options = options;
  }

  /** 0 when healthy; higher the more this node's own work runs late. */
  get score(): number {
    return this.#score;
  }

  /** How much longer than usual to wait before thinking ill of a peer. */
  get multiplier(): number {
    return 1 + this.#score;
  }

  /** The node's periodic round of `intervalMs` ran `lateMs` after it was due. */
  round(lateMs: number, intervalMs: number): void {
    this.#apply(lateMs > intervalMs / 4 ? 1 : -1);
  }

  /** Timed-out requests in a row after which a peer is suspect, now. */
  get timeoutsToSuspect(): number {
    return this.options.timeoutsToSuspect + this.#score;
  }

  #apply(delta: number): void {
    this.#score = Math.min(this.options.max, Math.max(0, this.#score + delta));
  }
}
