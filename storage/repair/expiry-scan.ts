// Values nobody reads after they expire: each node walks its own key ranges a slice at a time
// and reads, as a client would, every key it holds an expired version of. The read's coordinator
// (this node) turns the version into its tombstone and read repair writes it to the replicas
// (core/expiry.ts), so the decision is a read's, as for any other, and no replica drops or
// changes data by itself. The walk is bounded per tick; a read that fails is tried again on the
// next pass. A tick walks its keys in slices, letting the node's event loop run between them: a
// thousand keys decoded in one go held a node's requests for about 10 ms (30-50 ms before the code
// was optimised), the open loop's tail.
import { hasExpired } from '../../client/src/core/expiry.ts';
import type { SiblingSet } from '../../client/src/core/siblings.ts';

export interface ExpiryScanDeps {
  /** the key ranges this node holds a primary replica of, in order */
  readonly partitions: () => readonly number[];
  /** a range's keys in store order after `after`, with their stored bytes (replica.ts keysOf) */
  readonly keysOf: (partition: number, after: string) => Iterable<{ key: string; bytes: Uint8Array }>;
  readonly decode: (bytes: Uint8Array) => SiblingSet;
  /** this node's wall clock, ms since 1970 */
  readonly now: () => number;
  /** a read of the key coordinated here, with read repair */
  readonly read: (key: string) => Promise<unknown>;
  /** keys looked at per tick */
  readonly limit: number;
  /** keys looked at in one go, before `pause` (default: all of a tick's) */
  readonly slice?: number;
  /** lets other work run between slices (a zero-delay timer) */
  readonly pause?: () => Promise<void>;
}

export class ExpiryScan {
  /** keys read because they held an expired version */
  keysRead = 0;

  readonly #d: ExpiryScanDeps;
  #index = 0;
  #after = '';
  constructor(deps: ExpiryScanDeps) {
    this.#d = deps;
  }

  /** Looks at up to `limit` keys from where the last tick stopped; returns the keys it read. */
  async tick(): Promise<number> {
    const partitions = this.#d.partitions();
    if (partitions.length === 0) return 0;
    const now = this.#d.now();
    const found: string[] = [];
    const slice = Math.min(this.#d.slice ?? this.#d.limit, this.#d.limit);
    // at most once round every range (and into the first again), and `limit` keys, a slice at a time
    const walk = { ranges: 0, seen: 0 };
    while (this.#walk(partitions, walk, Math.min(walk.seen + slice, this.#d.limit), now, found)) await this.#d.pause?.();
    const read = await Promise.all(found.map((key) => this.#d.read(key).then(() => 1, () => 0)));
    const n = read.reduce<number>((a, b) => a + b, 0);
    this.keysRead += n;
    return n;
  }

  /**
   * Walks on from where the walk stopped until `walk.seen` reaches `until`, collecting the keys
   * holding an expired version; true when the tick has more to look at.
   */
  #walk(partitions: readonly number[], walk: { ranges: number; seen: number }, until: number, now: number, found: string[]): boolean {
    for (; walk.ranges <= partitions.length; walk.ranges++) {
      const p = partitions[this.#index % partitions.length]!;
      for (const { key, bytes } of this.#d.keysOf(p, this.#after)) {
        if (walk.seen >= until) return until < this.#d.limit;
        walk.seen++;
        this.#after = key;
        if (hasExpired(this.#d.decode(bytes), now)) found.push(key);
      }
      this.#index = (this.#index + 1) % partitions.length;
      this.#after = '';
    }
    return false;
  }
}
