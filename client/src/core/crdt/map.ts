// A map of named fields, each a register (register.ts) or a counter (counter.ts). As in Riak,
// a field is named by its name and its type, so `n` the counter and `n` the register are two
// fields, and a concurrent use of one name as both types loses nothing. The join is the join
// of each field. Fields are never removed: a register is cleared by assigning null.
import { EMPTY_COUNTER, increment, joinCounters, type Counter } from './counter.ts';
import { assign, joinRegisters, type Register } from './register.ts';
import type { ActorId } from '../version-vector.ts';

export interface CrdtMap {
  readonly registers: ReadonlyMap<string, Register>;
  readonly counters: ReadonlyMap<string, Counter>;
}

export const EMPTY_MAP: CrdtMap = { registers: new Map(), counters: new Map() };

/** One change to one field. */
export type MapUpdate = { readonly field: string; readonly register: string } | { readonly field: string; readonly increment: number };

export function updateMap(m: CrdtMap, actor: ActorId, updates: readonly MapUpdate[]): CrdtMap {
  const registers = new Map(m.registers);
  const counters = new Map(m.counters);
  for (const u of updates) {
    if ('register' in u) registers.set(u.field, assign(registers.get(u.field), actor, u.register));
    else counters.set(u.field, increment(counters.get(u.field) ?? EMPTY_COUNTER, actor, u.increment));
  }
  return { registers, counters };
}

export function joinMaps(a: CrdtMap, b: CrdtMap): CrdtMap {
  return { registers: joinFields(a.registers, b.registers, joinRegisters), counters: joinFields(a.counters, b.counters, joinCounters) };
}

function joinFields<T>(a: ReadonlyMap<string, T>, b: ReadonlyMap<string, T>, joinOne: (x: T, y: T) => T): ReadonlyMap<string, T> {
  if (b.size === 0) return a;
  if (a.size === 0) return b;
  const out = new Map(a);
  for (const [k, v] of b) {
    const mine = out.get(k);
    out.set(k, mine === undefined ? v : joinOne(mine, v));
  }
  return out;
}
