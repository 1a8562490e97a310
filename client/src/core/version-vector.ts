// Version vectors and dots.
//
// An actor is one incarnation of a node's counter: `${nodeId}@${epoch}`. The epoch changes
// whenever the node's data directory is new, lost or restored, and the counter survives
// restarts, so a dot (actor, counter) names exactly one write forever (the lesson of Riak's
// kv679, where reused dots silently dropped acknowledged writes).
//
// A version vector maps actors to counters and stands for the set of dots it covers: for
// each actor, every counter up to the entry. Vectors here are immutable Maps.

export type ActorId = string;
export type VersionVector = ReadonlyMap<ActorId, number>;

export interface Dot {
  readonly actor: ActorId;
  readonly counter: number;
}

export const EMPTY_VV: VersionVector = new Map();

export function coversDot(vv: VersionVector, dot: Dot): boolean {
  return (vv.get(dot.actor) ?? 0) >= dot.counter;
}

/** a ≤ b: every dot a covers, b covers too. */
export function leq(a: VersionVector, b: VersionVector): boolean {
  for (const [actor, n] of a) if (n > (b.get(actor) ?? 0)) return false;
  return true;
}

export type Order = 'equal' | 'before' | 'after' | 'concurrent';

export function compare(a: VersionVector, b: VersionVector): Order {
  const ab = leq(a, b);
  const ba = leq(b, a);
  return ab && ba ? 'equal' : ab ? 'before' : ba ? 'after' : 'concurrent';
}

/** Pointwise maximum: the dots either vector covers. */
export function join(a: VersionVector, b: VersionVector): VersionVector {
  if (b.size === 0) return a;
  if (a.size === 0) return b;
  const out = new Map(a);
  for (const [actor, n] of b) if (n > (out.get(actor) ?? 0)) out.set(actor, n);
  return out;
}

export function withDot(vv: VersionVector, dot: Dot): VersionVector {
  if ((vv.get(dot.actor) ?? 0) >= dot.counter) return vv;
  const out = new Map(vv);
  out.set(dot.actor, dot.counter);
  return out;
}

export function equalDots(a: Dot, b: Dot): boolean {
  return a.counter === b.counter && a.actor === b.actor;
}

export function compareDots(a: Dot, b: Dot): number {
  return a.actor < b.actor ? -1 : a.actor > b.actor ? 1 : a.counter - b.counter;
}

export function formatDot(dot: Dot): string {
  return `${dot.actor}:${dot.counter}`;
}

/** Entries sorted by actor: the canonical order for encoding and comparison. */
export function entries(vv: VersionVector): [ActorId, number][] {
  return [...vv].sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
}

/** Same entries on both sides. */
export function equalVV(a: VersionVector, b: VersionVector): boolean {
  if (a.size !== b.size) return false;
  for (const [actor, n] of a) if (b.get(actor) !== n) return false;
  return true;
}

/** Pointwise minimum over the actors both name: the dots both vectors cover. */
export function meet(a: VersionVector, b: VersionVector): VersionVector {
  if (a === b) return a;
  const out = new Map<ActorId, number>();
  for (const [actor, n] of a) {
    const m = b.get(actor);
    if (m !== undefined) out.set(actor, Math.min(n, m));
  }
  return out;
}
