// An add-wins observed-remove set without tombstones (Riak's riak_dt_orswot). The state is a
// clock (every add event the replica has seen, per actor) and, for each member, the dots of
// the adds that put it there. An add makes a new dot and gives the member that dot alone (the
// adder has seen its earlier ones); a remove drops the member's dots, which the clock still
// covers. Join: a dot both sides hold stays; a dot one side holds stays unless the other's
// clock covers it (the other saw it and removed it). So a remove takes away only the adds it
// saw, and an add concurrent with a remove survives: add wins. Members are JSON values,
// identified by their canonical JSON text (canonical.ts).
import { compareStrings } from './canonical.ts';
import { coversDot, join as joinClocks, type ActorId, type Dot, type VersionVector } from '../version-vector.ts';

export interface Orswot {
  readonly clock: VersionVector;
  /** member (canonical JSON) → actor → counter of the add's dot: at most one dot per actor */
  readonly entries: ReadonlyMap<string, ReadonlyMap<ActorId, number>>;
}

export const EMPTY_SET_STATE: Orswot = { clock: new Map(), entries: new Map() };

/** The members, in canonical order. */
export function members(s: Orswot): string[] {
  return [...s.entries.keys()].sort(compareStrings);
}

export function add(s: Orswot, actor: ActorId, member: string): Orswot {
  const counter = (s.clock.get(actor) ?? 0) + 1;
  const clock = new Map(s.clock).set(actor, counter);
  const entries = new Map(s.entries).set(member, new Map([[actor, counter]]));
  return { clock, entries };
}

export function remove(s: Orswot, member: string): Orswot {
  if (!s.entries.has(member)) return s;
  const entries = new Map(s.entries);
  entries.delete(member);
  return { clock: s.clock, entries };
}

export function joinSets(a: Orswot, b: Orswot): Orswot {
  const entries = new Map<string, ReadonlyMap<ActorId, number>>();
  for (const member of new Set([...a.entries.keys(), ...b.entries.keys()])) {
    const dots = new Map<ActorId, number>();
    const ours = a.entries.get(member) ?? new Map<ActorId, number>();
    const theirs = b.entries.get(member) ?? new Map<ActorId, number>();
    // a dot both hold stays; one only this side holds stays unless the other side saw it (and so removed it)
    const keep = (actor: ActorId, counter: number, otherClock: VersionVector, other: ReadonlyMap<ActorId, number>) => {
      const dot: Dot = { actor, counter };
      if (other.get(actor) === counter || !coversDot(otherClock, dot)) dots.set(actor, Math.max(counter, dots.get(actor) ?? 0));
    };
    for (const [actor, counter] of ours) keep(actor, counter, b.clock, theirs);
    for (const [actor, counter] of theirs) keep(actor, counter, a.clock, ours);
    if (dots.size > 0) entries.set(member, dots);
  }
  return { clock: joinClocks(a.clock, b.clock), entries };
}
