// How typed values are stored: a fixed header (a zero byte, "CRDT", the type's tag) and then
// the state as canonical JSON, every list sorted, so the same state always has the same bytes
// and replicas' Merkle leaves agree. Decoding is strict: a value decodes only when encoding
// what it read gives back exactly its bytes, so plain bytes are never taken for a state and a
// state has one encoding. The header's zero byte never starts a JSON text, which is what the
// gateway stores for plain values.
import type { ActorId, VersionVector } from '../version-vector.ts';
import { canonical, compareStrings } from './canonical.ts';
import type { Counter } from './counter.ts';
import type { CrdtMap } from './map.ts';
import type { Orswot } from './orswot.ts';
import type { Register } from './register.ts';
import type { Typed, TypedOp, TypeName } from './typed.ts';
import type { MapUpdate } from './map.ts';

const MAGIC = [0x00, 0x43, 0x52, 0x44, 0x54]; // \0 C R D T
const TAGS: Record<TypeName, number> = { counter: 1, set: 2, map: 3 };
const BY_TAG = new Map<number, TypeName>(Object.entries(TAGS).map(([k, v]) => [v, k as TypeName]));
const HEADER = MAGIC.length + 1;

type Pairs = [string, number][];

export function encodeTyped(t: Typed): Uint8Array {
  const body = JSON.stringify(toJson(t));
  const text = Buffer.from(body, 'utf8');
  const out = Buffer.allocUnsafe(HEADER + text.length);
  out.set(MAGIC, 0);
  out[MAGIC.length] = TAGS[t.type];
  out.set(text, HEADER);
  return out;
}

/** True when the bytes start as a typed value does (cheap: no decode). */
export function looksTyped(bytes: Uint8Array): boolean {
  return bytes.length > HEADER && MAGIC.every((b, i) => bytes[i] === b);
}

/** The typed value `bytes` hold, or null when they are not exactly one's encoding. */
export function decodeTyped(bytes: Uint8Array): Typed | null {
  if (!looksTyped(bytes)) return null;
  const type = BY_TAG.get(bytes[MAGIC.length]!);
  if (!type) return null;
  try {
    const json: unknown = JSON.parse(Buffer.from(bytes.buffer, bytes.byteOffset + HEADER, bytes.byteLength - HEADER).toString('utf8'));
    const typed = fromJson(type, json);
    return Buffer.from(encodeTyped(typed)).equals(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength)) ? typed : null;
  } catch {
    return null;
  }
}

// ---------------------------------------------------------------- to JSON, sorted

function pairs(m: ReadonlyMap<string, number>): Pairs {
  return [...m].sort((a, b) => compareStrings(a[0], b[0]));
}

function counterJson(c: Counter) {
  return { n: pairs(c.n), p: pairs(c.p) };
}

function registerJson(r: Register) {
  return { actor: r.actor, time: r.time, value: r.value };
}

function toJson(t: Typed): unknown {
  switch (t.type) {
    case 'counter':
      return counterJson(t.state);
    case 'set':
      return {
        clock: pairs(t.state.clock),
        entries: [...t.state.entries].sort((a, b) => compareStrings(a[0], b[0])).map(([m, dots]) => [m, pairs(dots)]),
      };
    case 'map':
      return {
        counters: [...t.state.counters].sort((a, b) => compareStrings(a[0], b[0])).map(([f, c]) => [f, counterJson(c)]),
        registers: [...t.state.registers].sort((a, b) => compareStrings(a[0], b[0])).map(([f, r]) => [f, registerJson(r)]),
      };
  }
}

// ---------------------------------------------------------------- from JSON, checked

class Bad extends Error {}

function check(ok: boolean): void {
  if (!ok) throw new Bad();
}

function object(x: unknown, keys: readonly string[]): Record<string, unknown> {
  check(typeof x === 'object' && x !== null && !Array.isArray(x));
  const o = x as Record<string, unknown>;
  check(Object.keys(o).length === keys.length && keys.every((k) => k in o));
  return o;
}

function list(x: unknown): unknown[] {
  check(Array.isArray(x));
  return x as unknown[];
}

function pairList<T>(x: unknown, value: (v: unknown) => T): Map<string, T> {
  const out = new Map<string, T>();
  for (const item of list(x)) {
    const [k, v, ...rest] = list(item);
    check(typeof k === 'string' && rest.length === 0 && !out.has(k as string));
    out.set(k as string, value(v));
  }
  return out;
}

function positive(v: unknown): number {
  check(typeof v === 'number' && Number.isSafeInteger(v) && v > 0);
  return v as number;
}

function text(v: unknown): string {
  check(typeof v === 'string');
  return v as string;
}

/** A member or register value: the canonical text of a JSON value. */
function jsonText(v: unknown): string {
  const t = text(v);
  check(canonical(JSON.parse(t)) === t);
  return t;
}

function counterFrom(x: unknown): Counter {
  const o = object(x, ['n', 'p']);
  return { n: pairList(o.n, positive), p: pairList(o.p, positive) };
}

function fromJson(type: TypeName, json: unknown): Typed {
  switch (type) {
    case 'counter':
      return { type, state: counterFrom(json) };
    case 'set': {
      const o = object(json, ['clock', 'entries']);
      const clock: VersionVector = pairList(o.clock, positive);
      const entries = pairList(o.entries, (dots) => {
        const m: Map<ActorId, number> = pairList(dots, positive);
        check(m.size > 0);
        return m;
      });
      for (const m of entries.keys()) jsonText(m);
      return { type, state: { clock, entries } satisfies Orswot };
    }
    case 'map': {
      const o = object(json, ['counters', 'registers']);
      const registers = pairList(o.registers, (r): Register => {
        const ro = object(r, ['actor', 'time', 'value']);
        return { actor: text(ro.actor), time: positive(ro.time), value: jsonText(ro.value) };
      });
      return { type, state: { counters: pairList(o.counters, counterFrom), registers } satisfies CrdtMap };
    }
  }
}

// ---------------------------------------------------------------- operations, as a put carries them

/** An operation as bytes: its type's tag, then canonical JSON. */
export function encodeOp(op: TypedOp): Uint8Array {
  const { type, ...body } = op;
  const json = Buffer.from(JSON.stringify(body), 'utf8');
  const out = Buffer.allocUnsafe(1 + json.length);
  out[0] = TAGS[type];
  out.set(json, 1);
  return out;
}

/** The operation `bytes` hold, or null when they are not one. */
export function decodeOp(bytes: Uint8Array): TypedOp | null {
  const type = BY_TAG.get(bytes[0] ?? 0);
  if (!type) return null;
  try {
    const json: unknown = JSON.parse(Buffer.from(bytes.buffer, bytes.byteOffset + 1, bytes.byteLength - 1).toString('utf8'));
    switch (type) {
      case 'counter': {
        const o = object(json, ['by']);
        check(typeof o.by === 'number' && Number.isSafeInteger(o.by));
        return { type, by: o.by as number };
      }
      case 'set': {
        const o = object(json, ['add', 'remove']);
        return { type, add: list(o.add).map(jsonText), remove: list(o.remove).map(jsonText) };
      }
      case 'map': {
        const o = object(json, ['updates']);
        const updates = list(o.updates).map((u): MapUpdate => {
          check(typeof u === 'object' && u !== null);
          if ('register' in (u as object)) {
            const uo = object(u, ['field', 'register']);
            return { field: text(uo.field), register: jsonText(uo.register) };
          }
          const uo = object(u, ['field', 'increment']);
          check(typeof uo.increment === 'number' && Number.isSafeInteger(uo.increment));
          return { field: text(uo.field), increment: uo.increment as number };
        });
        return { type, updates };
      }
    }
  } catch {
    return null;
  }
}
