// The node's local replica: its own data, a Merkle tree per key range it holds, and the
// hints it keeps for unreachable owners, over one engine.
//
// Every change to a key is a read-compute-write done in one synchronous step against the
// latest state, including writes still on their way to disk (`#pending`), so changes to one
// key are serialized without locks and each is computed from the one before. The promise a
// change returns resolves once that change is durable. The key range's tree is updated in the
// same step. Trees live in memory: each is built from the data the first time it is needed
// (so after a crash it is rebuilt, never trusted from a file), and verify() rebuilds one to
// check the incremental one against the data.
//
// Data is stored under [partition, segment, key], so a key range and a tree segment are each
// one range of the store. Hints are kept apart from the node's own data (Dynamo: "a separate
// local database"), one entry per (intended owner, key) holding the merged sibling set, with an
// index by key so a read at a fallback sees what it holds for others.
import { StoreError } from './core/errors.ts';
import type { Place } from './core/hash.ts';
import { MerkleTree, leafHash } from './core/merkle.ts';
import { merge, EMPTY_SET, sameSet, type SiblingSet } from './core/siblings.ts';
import type { NodeId } from './core/ring.ts';
import type { Dot } from './core/version-vector.ts';
import { decodeSet, encodeSet, Reader, Writer, readSet, writeSet } from './protocol/codec.ts';
import type { Engine } from './engine/engine.ts';

export interface HintLimits {
  /** total encoded bytes of hints this node will hold; beyond it, new hints are refused */
  readonly maxBytes: number;
  /** hints older than this are dropped, once anti-entropy has been asked to cover their key ranges */
  readonly maxAgeMs: number;
}

export interface Hint {
  readonly owner: NodeId;
  readonly partition: number;
  readonly key: string;
  readonly storedAt: number;
  readonly set: SiblingSet;
}

/** A change made visible at once, and the promise of its reaching the disk. */
export interface Staged {
  readonly set: SiblingSet;
  readonly durable: Promise<void>;
}

interface Stored {
  readonly set: SiblingSet;
  readonly bytes: Uint8Array;
}

export class Replica {
  readonly #engine: Engine;
  readonly #place: (key: string) => Place;
  readonly #pending = new Map<string, Stored | null>();
  readonly #pendingHints = new Map<string, { storedAt: number; set: SiblingSet }>();
  readonly #trees = new Map<number, MerkleTree>();
  readonly #limits: HintLimits;
  #hintBytes = 0;
  #hintCount = 0;

  constructor(engine: Engine, place: (key: string) => Place, limits: HintLimits) {
    this.#engine = engine;
    this.#place = place;
    this.#limits = limits;
    for (const e of engine.hints.range({ start: ['h'], end: ['i'] })) {
      this.#hintBytes += e.value.byteLength;
      this.#hintCount++;
    }
  }

  get hintBytes(): number {
    return this.#hintBytes;
  }

  get hintCount(): number {
    return this.#hintCount;
  }

  get limits(): HintLimits {
    return this.#limits;
  }

  /** Everything this node holds for the key: its own data merged with any hints. */
  read(key: string): SiblingSet {
    const place = this.#place(key);
    let set = this.#stored(place, key)?.set ?? EMPTY_SET;
    for (const owner of this.#hintOwners(place.partition, key)) set = merge(set, this.readHint(owner, key)?.set ?? EMPTY_SET);
    return set;
  }

  /** The node's own data for the key. */
  readOwn(key: string): SiblingSet {
    return this.#stored(this.#place(key), key)?.set ?? EMPTY_SET;
  }

  #stored(place: Place, key: string): Stored | null {
    const id = dataId(place.partition, key);
    if (this.#pending.has(id)) return this.#pending.get(id)!;
    const raw = this.#engine.data.get([place.partition, place.segment, key]);
    return raw ? { set: decodeSet(asBuffer(raw)), bytes: raw } : null;
  }

  /**
   * Replaces the key's own data with compute(current), in one synchronous step: `compute` may
   * throw to abort, and the new set is what every later read and write sees at once. Returns it
   * with a promise that resolves once it is durable (at once when nothing changed).
   */
  stage(key: string, compute: (current: SiblingSet) => SiblingSet): Staged {
    const place = this.#place(key);
    const before = this.#stored(place, key);
    const current = before?.set ?? EMPTY_SET;
    const next = compute(current);
    if (next === current || sameSet(next, current)) return { set: current, durable: Promise.resolve() };
    return { set: next, durable: this.#write(place, key, before, { set: next, bytes: encodeSet(next) }) };
  }

  /** stage(), resolving with the new set once it is durable. */
  async update(key: string, compute: (current: SiblingSet) => SiblingSet): Promise<SiblingSet> {
    const staged = this.stage(key, compute);
    await staged.durable;
    return staged.set;
  }

  /** Merges a sibling set received from another replica into the key's own data. */
  mergeIn(key: string, set: SiblingSet): Promise<SiblingSet> {
    return this.update(key, (current) => merge(current, set));
  }

  /** Deletes the key's own data if it still holds exactly these versions (tombstone reclamation). */
  async removeIf(key: string, dots: readonly Dot[]): Promise<boolean> {
    const place = this.#place(key);
    const before = this.#stored(place, key);
    if (!before || !sameDots(before.set, dots)) return false;
    await this.#write(place, key, before, null);
    return true;
  }

  async #write(place: Place, key: string, before: Stored | null, after: Stored | null): Promise<void> {
    const id = dataId(place.partition, key);
    this.#trees.get(place.partition)?.update(place.segment, before && leafHash(key, before.bytes), after && leafHash(key, after.bytes));
    this.#pending.set(id, after);
    const storeKey = [place.partition, place.segment, key];
    try {
      await (after ? this.#engine.data.put(storeKey, after.bytes) : this.#engine.data.remove(storeKey));
    } finally {
      if (this.#pending.get(id) === after) this.#pending.delete(id);
    }
  }

  // ------------------------------------------------------------ key ranges and trees

  /** Whether the node holds any data of a key range. */
  holds(partition: number): boolean {
    return [...this.#engine.data.range({ start: [partition], end: [partition + 1], limit: 1 })].length > 0;
  }

  /** The keys of a key range in store order, after `after` (exclusive), up to `limit`. */
  *keysOf(partition: number, after = ''): Iterable<{ key: string; bytes: Uint8Array }> {
    const start = after === '' ? [partition] : this.#storeKeyAfter(partition, after);
    for (const e of this.#engine.data.range({ start, end: [partition + 1] })) yield { key: String(e.key[2]), bytes: e.value };
  }

  #storeKeyAfter(partition: number, key: string): (string | number)[] {
    return [partition, this.#place(key).segment, key + '\u0000'];
  }

  /** The key range's tree, built from the data on first use. */
  tree(partition: number): MerkleTree {
    let t = this.#trees.get(partition);
    if (!t) {
      t = this.#build(partition);
      this.#trees.set(partition, t);
    }
    return t;
  }

  /** Rebuilds a key range's tree from the data; true when the incremental one agreed. */
  verify(partition: number): boolean {
    const fresh = this.#build(partition);
    const current = this.#trees.get(partition);
    this.#trees.set(partition, fresh);
    return !current || current.root().equals(fresh.root());
  }

  #build(partition: number): MerkleTree {
    const t = new MerkleTree();
    const seen = new Set<string>();
    for (const e of this.#engine.data.range({ start: [partition], end: [partition + 1] })) {
      const key = String(e.key[2]);
      const id = dataId(partition, key);
      seen.add(id);
      const pending = this.#pending.has(id) ? this.#pending.get(id)! : undefined;
      const bytes = pending === undefined ? e.value : pending?.bytes;
      if (bytes) t.update(Number(e.key[1]), null, leafHash(key, bytes));
    }
    // keys whose first write is still on its way to disk
    for (const [id, stored] of this.#pending) {
      if (!stored || seen.has(id)) continue;
      const [p, key] = splitDataId(id);
      if (p === partition) t.update(this.#place(key).segment, null, leafHash(key, stored.bytes));
    }
    return t;
  }

  /** (key, leaf hash) of every key in the given segments of a key range. */
  segmentKeys(partition: number, segments: readonly number[]): { key: string; leaf: Buffer }[] {
    const out = new Map<string, Buffer>();
    for (const s of segments) {
      for (const e of this.#engine.data.range({ start: [partition, s], end: [partition, s + 1] })) {
        const key = String(e.key[2]);
        out.set(key, leafHash(key, e.value));
      }
    }
    for (const [id, stored] of this.#pending) {
      const [p, key] = splitDataId(id);
      if (p !== partition || !segments.includes(this.#place(key).segment)) continue;
      if (stored) out.set(key, leafHash(key, stored.bytes));
      else out.delete(key);
    }
    return [...out].map(([key, leaf]) => ({ key, leaf }));
  }

  /** Forgets a key range this node no longer replicates. Returns the keys removed. */
  async drop(partition: number): Promise<number> {
    const keys = [...this.#engine.data.range({ start: [partition], end: [partition + 1] })].map((e) => e.key);
    await Promise.all(keys.map((k) => this.#engine.data.remove(k)));
    this.#trees.delete(partition);
    return keys.length;
  }

  // ------------------------------------------------------------ hints

  hintOwners(key: string): NodeId[] {
    return this.#hintOwners(this.#place(key).partition, key);
  }

  #hintOwners(p: number, key: string): NodeId[] {
    // most reads happen on nodes that hold no hints at all
    if (this.#hintCount === 0 && this.#pendingHints.size === 0) return [];
    const owners = new Set<NodeId>();
    for (const e of this.#engine.hints.range({ start: ['k', p, key], end: ['k', p, key, '\uffff'] })) owners.add(String(e.key[3]));
    for (const id of this.#pendingHints.keys()) {
      const [owner, hp, hk] = JSON.parse(id) as [string, number, string];
      if (hp === p && hk === key) owners.add(owner);
    }
    return [...owners];
  }

  readHint(owner: NodeId, key: string): Hint | undefined {
    const p = this.#place(key).partition;
    const pending = this.#pendingHints.get(hintId(owner, p, key));
    if (pending) return { owner, partition: p, key, ...pending };
    const raw = this.#engine.hints.get(['h', owner, p, key]);
    return raw ? { owner, partition: p, key, ...decodeHint(raw) } : undefined;
  }

  /** Like stage(), for the hint this node holds for `owner`. Refuses new hints beyond the size cap. */
  stageHint(owner: NodeId, key: string, now: number, compute: (current: SiblingSet) => SiblingSet): Staged {
    const p = this.#place(key).partition;
    const id = hintId(owner, p, key);
    const before = this.readHint(owner, key);
    const current = before?.set ?? EMPTY_SET;
    const next = compute(current);
    if (before && sameSet(next, current)) return { set: current, durable: Promise.resolve() };
    const storedAt = before?.storedAt ?? now;
    const encoded = encodeHint(storedAt, next);
    const oldBytes = before ? encodeHint(before.storedAt, before.set).byteLength : 0;
    if (this.#hintBytes - oldBytes + encoded.byteLength > this.#limits.maxBytes) {
      throw new StoreError('OVERLOADED', `hint store is full (${this.#hintBytes} of ${this.#limits.maxBytes} bytes)`);
    }
    this.#hintBytes += encoded.byteLength - oldBytes;
    if (!before) this.#hintCount++;
    this.#pendingHints.set(id, { storedAt, set: next });
    if (!before) void this.#engine.hints.put(['k', p, key, owner], new Uint8Array(0));
    const durable = this.#engine.hints.put(['h', owner, p, key], encoded).finally(() => {
      if (this.#pendingHints.get(id)?.set === next) this.#pendingHints.delete(id);
    });
    return { set: next, durable };
  }

  async storeHint(owner: NodeId, key: string, set: SiblingSet, now: number): Promise<SiblingSet> {
    const staged = this.stageHint(owner, key, now, (current) => merge(current, set));
    await staged.durable;
    return staged.set;
  }

  /**
   * Deletes the hint for (owner, key) only if it still holds exactly the versions `dots` names:
   * a hint that gained versions since it was read stays, to be delivered again.
   */
  async deleteHintIf(owner: NodeId, key: string, dots: readonly Dot[]): Promise<boolean> {
    const current = this.readHint(owner, key);
    if (!current || !sameDots(current.set, dots)) return false;
    const p = this.#place(key).partition;
    if (this.#pendingHints.has(hintId(owner, p, key))) return false;
    this.#hintBytes -= encodeHint(current.storedAt, current.set).byteLength;
    this.#hintCount--;
    await Promise.all([this.#engine.hints.remove(['h', owner, p, key]), this.#engine.hints.remove(['k', p, key, owner])]);
    return true;
  }

  /** Hints in (owner, partition, key) order, optionally for one owner, after a cursor. */
  *hints(owner?: NodeId, after?: { owner: NodeId; partition: number; key: string }): Iterable<Hint> {
    const start = after ? ['h', after.owner, after.partition, after.key + '\u0000'] : owner === undefined ? ['h'] : ['h', owner];
    const end = owner === undefined ? ['i'] : ['h', owner, '\uffff'];
    for (const e of this.#engine.hints.range({ start, end })) {
      const [, o, p, k] = e.key as [string, string, number, string];
      yield { owner: o, partition: p, key: k, ...decodeHint(e.value) };
    }
  }

  /** Hints older than the age cap at `now`. */
  *expiredHints(now: number): Iterable<Hint> {
    for (const h of this.hints()) if (now - h.storedAt > this.#limits.maxAgeMs) yield h;
  }
}

export function dotsOf(set: SiblingSet): Dot[] {
  return set.map((v) => v.dot);
}

function sameDots(set: SiblingSet, dots: readonly Dot[]): boolean {
  return set.length === dots.length && set.every((v, i) => v.dot.actor === dots[i]!.actor && v.dot.counter === dots[i]!.counter);
}

function dataId(p: number, key: string): string {
  return `${p}\u0000${key}`;
}

function splitDataId(id: string): [number, string] {
  const at = id.indexOf('\u0000');
  return [Number(id.slice(0, at)), id.slice(at + 1)];
}

function hintId(owner: NodeId, p: number, key: string): string {
  return JSON.stringify([owner, p, key]);
}

function encodeHint(storedAt: number, set: SiblingSet): Buffer {
  const w = new Writer(64 + set.reduce((n, v) => n + v.value.byteLength + 64, 0));
  w.f64(storedAt);
  writeSet(w, set);
  return w.result();
}

function decodeHint(raw: Uint8Array): { storedAt: number; set: SiblingSet } {
  const r = new Reader(asBuffer(raw));
  const storedAt = r.f64();
  const set = readSet(r);
  r.done();
  return { storedAt, set };
}

function asBuffer(b: Uint8Array): Buffer {
  return Buffer.isBuffer(b) ? b : Buffer.from(b.buffer, b.byteOffset, b.byteLength);
}
