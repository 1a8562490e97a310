// A typed value: one of the CRDTs with its type, the operations a client sends, and the join
// of a key's siblings. Pure: the coordinator (storage/coordinator.ts) calls applyOp in the step
// that makes the new version's dot; readers call joinSiblings.
import { StoreError } from '../errors.ts';
import type { SiblingSet } from '../siblings.ts';
import type { ActorId } from '../version-vector.ts';
import { decodeTyped, encodeTyped } from './codec.ts';
import { EMPTY_COUNTER, increment, joinCounters, type Counter } from './counter.ts';
import { EMPTY_MAP, joinMaps, updateMap, type CrdtMap, type MapUpdate } from './map.ts';
import { add, EMPTY_SET_STATE, joinSets, remove, type Orswot } from './orswot.ts';

export type TypeName = 'counter' | 'set' | 'map';

export type Typed =
  | { readonly type: 'counter'; readonly state: Counter }
  | { readonly type: 'set'; readonly state: Orswot }
  | { readonly type: 'map'; readonly state: CrdtMap };

/** What a client asks the coordinator to do to a typed key. Members and register values are canonical JSON text. */
export type TypedOp =
  | { readonly type: 'counter'; readonly by: number }
  | { readonly type: 'set'; readonly add: readonly string[]; readonly remove: readonly string[] }
  | { readonly type: 'map'; readonly updates: readonly MapUpdate[] };

export function empty(type: TypeName): Typed {
  switch (type) {
    case 'counter':
      return { type, state: EMPTY_COUNTER };
    case 'set':
      return { type, state: EMPTY_SET_STATE };
    case 'map':
      return { type, state: EMPTY_MAP };
  }
}

/** The join of two states of one type. */
export function joinTyped(a: Typed, b: Typed): Typed {
  if (a.type === 'counter' && b.type === 'counter') return { type: 'counter', state: joinCounters(a.state, b.state) };
  if (a.type === 'set' && b.type === 'set') return { type: 'set', state: joinSets(a.state, b.state) };
  if (a.type === 'map' && b.type === 'map') return { type: 'map', state: joinMaps(a.state, b.state) };
  throw new StoreError('BAD_REQUEST', `a ${a.type} and a ${b.type} cannot be joined`);
}

/** `actor` applies `op` to `s`. A set's op removes first, then adds: a member in both stays. */
export function applyOp(s: Typed, actor: ActorId, op: TypedOp): Typed {
  if (s.type === 'counter' && op.type === 'counter') return { type: 'counter', state: increment(s.state, actor, op.by) };
  if (s.type === 'set' && op.type === 'set') {
    let state = s.state;
    for (const m of op.remove) state = remove(state, m);
    for (const m of op.add) state = add(state, actor, m);
    return { type: 'set', state };
  }
  if (s.type === 'map' && op.type === 'map') return { type: 'map', state: updateMap(s.state, actor, op.updates) };
  throw new StoreError('BAD_REQUEST', `a ${op.type} operation cannot apply to a ${s.type}`);
}

/**
 * The join of every live sibling's state, or null when the key holds no live version
 * (nothing, or tombstones only: a delete resets a typed key). A live sibling that is not a
 * typed value, or siblings of different types, are a BAD_REQUEST naming the key: a typed
 * operation never overwrites plain bytes or another type. `expect`, when given, is the type
 * the caller wants.
 */
export function joinSiblings(key: string, set: SiblingSet, expect?: TypeName): Typed | null {
  let out: Typed | null = null;
  for (const v of set) {
    if (v.deleted) continue;
    const typed = decodeTyped(v.value);
    if (!typed)
      throw new StoreError('BAD_REQUEST', `key '${key}' holds a plain value, not a ${expect ?? 'typed value'}: use get, or another key`);
    if (expect && typed.type !== expect) throw new StoreError('BAD_REQUEST', `key '${key}' holds a ${typed.type}, not a ${expect}`);
    if (out && out.type !== typed.type)
      throw new StoreError('BAD_REQUEST', `key '${key}' holds siblings of two types (${out.type} and ${typed.type})`);
    out = out ? joinTyped(out, typed) : typed;
  }
  return out;
}

/**
 * What a coordinator writes for `op` over the siblings it holds (`current`): their joined
 * state, or the type's empty state, with the operation applied as `actor`, encoded.
 */
export function operate(key: string, current: SiblingSet, actor: ActorId, op: TypedOp): Uint8Array {
  const base = joinSiblings(key, current, op.type) ?? empty(op.type);
  try {
    return encodeTyped(applyOp(base, actor, op));
  } catch (e) {
    if (e instanceof RangeError) throw new StoreError('BAD_REQUEST', `${op.type} operation on key '${key}' refused: ${e.message}`);
    throw e;
  }
}
