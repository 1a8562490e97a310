// The phi-accrual failure detector (Hayashibara et al.; Akka's variant): instead of a yes/no
// timeout, a suspicion level phi that grows with the time since the last heartbeat, measured
// against the distribution of past intervals. phi = 8 means roughly a one in 10^8 chance that
// a peer this late is still alive. Time is passed in.

export interface PhiOptions {
  /** suspicion above which a peer counts as unreachable */
  readonly threshold: number;
  /** intervals remembered */
  readonly windowSize: number;
  /** floor on the standard deviation, so very regular heartbeats do not make the detector twitchy */
  readonly minStdMs: number;
  /** a pause this long beyond the usual interval is tolerated (GC, a busy event loop) */
  readonly acceptablePauseMs: number;
  /** the interval assumed before any has been measured */
  readonly firstIntervalMs: number;
}

// with gossip every second these detect a silent peer in about 4-6 s (see docs/membership.md)
export const DEFAULT_PHI: PhiOptions = { threshold: 8, windowSize: 100, minStdMs: 200, acceptablePauseMs: 2000, firstIntervalMs: 1000 };

export class PhiAccrual {
  readonly #o: PhiOptions;
  readonly #intervals: number[] = [];
  #sum = 0;
  #sumSquares = 0;
  #last: number | null = null;

  constructor(options: PhiOptions = DEFAULT_PHI) {
    this.#o = options;
    // two assumed intervals around the first estimate give a mean and a spread to start from
    this.#add(options.firstIntervalMs - options.firstIntervalMs / 4);
    this.#add(options.firstIntervalMs + options.firstIntervalMs / 4);
  }

  /** A heartbeat arrived at `now` (monotonic ms). */
  heartbeat(now: number): void {
    if (this.#last !== null && now > this.#last) this.#add(now - this.#last);
    this.#last = now;
  }

  /** Something else showed the peer alive (a reply): no interval is learned, the clock restarts. */
  alive(now: number): void {
    if (this.#last === null || now > this.#last) this.#last = now;
  }

  get lastHeartbeat(): number | null {
    return this.#last;
  }

  /** `pauseScale` multiplies the tolerated pause (a node that is itself slow tolerates more: core/awareness.ts). */
  phi(now: number, pauseScale = 1): number {
    if (this.#last === null) return 0;
    const elapsed = now - this.#last;
    const n = this.#intervals.length;
    const mean = this.#sum / n + this.#o.acceptablePauseMs * pauseScale;
    const variance = Math.max(0, this.#sumSquares / n - (this.#sum / n) ** 2);
    const std = Math.max(Math.sqrt(variance), this.#o.minStdMs);
    // logistic approximation of the normal CDF (as Akka's PhiAccrualFailureDetector)
    const y = (elapsed - mean) / std;
    const e = Math.exp(-y * (1.5976 + 0.070566 * y * y));
    return elapsed > mean ? -Math.log10(e / (1 + e)) : -Math.log10(1 - 1 / (1 + e));
  }

  isAvailable(now: number, pauseScale = 1): boolean {
    return this.phi(now, pauseScale) < this.#o.threshold;
  }

  #add(interval: number): void {
    this.#intervals.push(interval);
    this.#sum += interval;
    this.#sumSquares += interval * interval;
    if (this.#intervals.length > this.#o.windowSize) {
      const old = this.#intervals.shift()!;
      this.#sum -= old;
      this.#sumSquares -= old * old;
    }
  }
}
