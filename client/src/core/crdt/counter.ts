// A PN-counter: per actor, the sum of its increments and the sum of its decrements. Each
// actor only ever grows its own two entries, so the join (the pointwise maximum) keeps every
// increment any replica saw exactly once, whatever the order, grouping or repetition of joins.
import type { ActorId } from '../version-vector.ts';

export interface Counter {
  /** actor → total of its positive increments */
  readonly p: ReadonlyMap<ActorId, number>;
  /** actor → total of its decrements, as a positive number */
  readonly n: ReadonlyMap<ActorId, number>;
}

export const EMPTY_COUNTER: Counter = { p: new Map(), n: new Map() };

export function counterValue(c: Counter): number {
  let sum = 0;
  for (const x of c.p.values()) sum += x;
  for (const x of c.n.values()) sum -= x;
  return sum;
}

/** `actor` adds `by` (negative to decrement). */
export function increment(c: Counter, actor: ActorId, by: number): Counter {
  if (!Number.isSafeInteger(by)) throw new RangeError(`a counter increment is an integer, got ${by}`);
  if (by === 0) return c;
  const side = by > 0 ? 'p' : 'n';
  const next = new Map(c[side]);
  const total = (next.get(actor) ?? 0) + Math.abs(by);
  if (!Number.isSafeInteger(total)) throw new RangeError(`the counter's total for ${actor} would pass ${Number.MAX_SAFE_INTEGER}`);
  next.set(actor, total);
  return side === 'p' ? { p: next, n: c.n } : { p: c.p, n: next };
}

export function joinCounters(a: Counter, b: Counter): Counter {
  return { p: maxPointwise(a.p, b.p), n: maxPointwise(a.n, b.n) };
}

function maxPointwise(a: ReadonlyMap<ActorId, number>, b: ReadonlyMap<ActorId, number>): ReadonlyMap<ActorId, number> {
  if (b.size === 0) return a;
  if (a.size === 0) return b;
  const out = new Map(a);
  for (const [k, v] of b) if (v > (out.get(k) ?? 0)) out.set(k, v);
  return out;
}
