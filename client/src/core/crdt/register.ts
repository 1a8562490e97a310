// A register whose winner is decided by causality. Each write is stamped with a Lamport time
// one above the register's time as its writer saw it (the coordinator joined every sibling it
// held first), so a write that saw another always has the higher time; writes that did not
// see each other may tie on time, and the higher actor name wins them. The stamp (time, actor)
// orders writes totally, extending causality, so the join (the higher stamp) is a semilattice.
// Wall clocks decide nothing: nodes' clocks may be minutes apart.
import { compareStrings } from './canonical.ts';
import type { ActorId } from '../version-vector.ts';

export interface Register {
  /** canonical JSON text of the value */
  readonly value: string;
  readonly time: number;
  readonly actor: ActorId;
}

export function assign(r: Register | undefined, actor: ActorId, value: string): Register {
  return { value, time: (r?.time ?? 0) + 1, actor };
}

export function joinRegisters(a: Register, b: Register): Register {
  if (a.time !== b.time) return a.time > b.time ? a : b;
  const byActor = compareStrings(a.actor, b.actor);
  if (byActor !== 0) return byActor > 0 ? a : b;
  // one actor stamps each of its writes to a register with a new time: equal stamps are one write
  return a;
}
