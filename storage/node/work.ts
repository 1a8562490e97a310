// A node's background loops, and the work in flight that shutdown waits for.
import type { Clock, Logger, Timer } from '../../client/src/runtime.ts';

export class NodeWork {
  readonly #clock: Clock;
  readonly #logger: Logger;
  /** work shutdown waits for, with what it is (for the log when a drain is slow) */
  readonly #inflight = new Map<Promise<unknown>, string>();
  readonly #timers: Timer[] = [];
  #running = true;

  constructor(clock: Clock, logger: Logger) {
    this.#clock = clock;
    this.#logger = logger;
  }

  /** Work in flight. */
  get size(): number {
    return this.#inflight.size;
  }

  /** Shutdown waits for `work`; `what` names it in the log when a drain is slow. */
  track(work: Promise<unknown>, what: string): void {
    this.#inflight.set(work, what);
    const done = () => void this.#inflight.delete(work);
    work.then(done, done);
  }

  /** Runs `work` every `ms` after the last run finished, until the drain; a failure is logged and the loop goes on. */
  every(ms: number, work: () => Promise<unknown> | void): void {
    const loop = () => {
      const t = this.#clock.after(ms, () => {
        void Promise.resolve(work())
          .catch((e: unknown) => this.#logger.warn('background work failed', { error: String(e) }))
          .finally(() => {
            if (this.#running) loop();
          });
      });
      this.#timers.push(t);
    };
    loop();
  }

  /** Stops the loops and waits for the work in flight, logging what it waits for every 5 s. */
  async drain(): Promise<void> {
    this.#running = false;
    for (const t of this.#timers) t.cancel();
    const clock = this.#clock;
    const started = clock.now();
    while (this.#inflight.size > 0) {
      const waiting = [...this.#inflight];
      let slow: Timer | null = null;
      await Promise.race([
        Promise.allSettled(waiting.map(([p]) => p)),
        new Promise<void>((resolve) => {
          slow = clock.after(5000, () => {
            const kinds = new Map<string, number>();
            for (const [, what] of waiting) kinds.set(what, (kinds.get(what) ?? 0) + 1);
            this.#logger.warn('still draining', { ms: Math.round(clock.now() - started), inflight: Object.fromEntries(kinds) });
            resolve();
          });
        }),
      ]);
      (slow as Timer | null)?.cancel();
    }
  }
}
