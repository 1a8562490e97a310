// Simulated time. Events run one at a time in (time, sequence) order; after each, every
// promise continuation it caused runs before the next event, so a run depends only on the
// seed. Nothing here waits on real time.
import type { Clock, Timer } from '../../client/src/runtime.ts';

interface Event {
  readonly at: number;
  readonly seq: number;
  readonly run: () => void;
  readonly owner: string | null;
  cancelled: boolean;
}

export class Scheduler {
  #now = 0;
  #seq = 0;
  /** a binary min-heap by (at, seq) */
  #heap: Event[] = [];
  /** cancelled events still in the heap: dropped all at once when they are half of it */
  #cancelled = 0;
  #steps = 0;

  get now(): number {
    return this.#now;
  }

  get steps(): number {
    return this.#steps;
  }

  /** Runs `fn` after `ms` of simulated time. `owner` tags it so a crash can cancel a node's timers. */
  at(ms: number, fn: () => void, owner: string | null = null): Timer {
    const e: Event = { at: this.#now + Math.max(0, ms), seq: this.#seq++, run: fn, owner, cancelled: false };
    this.#push(e);
    return { cancel: () => this.#cancel(e) };
  }

  cancelOwned(owner: string): void {
    for (const e of this.#heap) if (e.owner === owner) this.#cancel(e);
  }

  /** Events waiting, cancelled ones excluded. */
  get pending(): number {
    return this.#heap.length - this.#cancelled;
  }

  #cancel(e: Event): void {
    if (e.cancelled) return;
    e.cancelled = true;
    this.#cancelled++;
    if (this.#cancelled > 1024 && this.#cancelled * 2 > this.#heap.length) this.#compact();
  }

  /** Runs events until the queue is empty or simulated time passes `until`. */
  async run(until = Infinity): Promise<void> {
    for (;;) {
      const e = this.#pop();
      if (!e) return;
      if (e.at > until) {
        this.#push(e);
        this.#now = until;
        return;
      }
      this.#now = e.at;
      this.#steps++;
      e.run();
      await settle();
    }
  }

  /** Runs until `done()` holds, or fails after `limitMs` of simulated time. */
  async runUntil(done: () => boolean, limitMs: number, what = 'condition'): Promise<void> {
    const deadline = this.#now + limitMs;
    while (!done()) {
      const e = this.#pop();
      if (!e || e.at > deadline) throw new Error(`${what} not reached within ${limitMs} ms of simulated time`);
      this.#now = e.at;
      this.#steps++;
      e.run();
      await settle();
    }
  }

  /** Runs the simulation until the promise settles, and returns its outcome. */
  async drive<T>(p: Promise<T>, limitMs = 600_000): Promise<T> {
    let state: { ok: true; value: T } | { ok: false; error: unknown } | null = null;
    p.then(
      (value) => void (state = { ok: true, value }),
      (error: unknown) => void (state = { ok: false, error }),
    );
    await settle();
    await this.runUntil(() => state !== null, limitMs, 'a driven promise');
    const s = state as unknown as { ok: true; value: T } | { ok: false; error: unknown };
    if (!s.ok) throw s.error;
    return s.value;
  }

  /**
   * A per-node clock: timers tagged with the node; its monotonic clock starts at its own
   * offset (no two nodes' monotonic times are comparable) and its wall clock is skewed.
   */
  clock(owner: string, skewMs = 0, offsetMs = 0): Clock {
    return {
      now: () => this.#now + offsetMs,
      wallNow: () => 1_700_000_000_000 + this.#now + skewMs,
      after: (ms, fn) => this.at(ms, fn, owner),
    };
  }

  #push(e: Event): void {
    const h = this.#heap;
    h.push(e);
    let i = h.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!before(e, h[parent]!)) break;
      h[i] = h[parent]!;
      i = parent;
    }
    h[i] = e;
  }

  /** The earliest event still wanted, removed from the heap. */
  #pop(): Event | undefined {
    for (;;) {
      const e = this.#take();
      if (!e || !e.cancelled) return e;
      this.#cancelled--;
    }
  }

  #take(): Event | undefined {
    const h = this.#heap;
    const top = h[0];
    const last = h.pop();
    if (top === undefined || last === undefined || h.length === 0) return top;
    let i = 0;
    for (;;) {
      const l = 2 * i + 1;
      if (l >= h.length) break;
      const r = l + 1;
      const c = r < h.length && before(h[r]!, h[l]!) ? r : l;
      if (!before(h[c]!, last)) break;
      h[i] = h[c]!;
      i = c;
    }
    h[i] = last;
    return top;
  }

  /** Rebuilds the heap without its cancelled events (the order of the others is kept by (at, seq)). */
  #compact(): void {
    const live = this.#heap.filter((e) => !e.cancelled);
    this.#heap = [];
    this.#cancelled = 0;
    for (const e of live) this.#push(e);
  }
}

function before(a: Event, b: Event): boolean {
  return a.at < b.at || (a.at === b.at && a.seq < b.seq);
}

/** Lets every pending promise continuation run (setImmediate comes after the microtask queue). */
export function settle(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}
