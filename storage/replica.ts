// The node's local replica: its own data, a Merkle tree per key range it holds, and the
// hints it keeps for unreachable owners, over one engine.
//
// Every change to a key is a read-compute-write done in one synchronous step against the
// latest state, including writes still on their way to disk, so changes to one key are
// serialized without locks and each is computed from the one before. Engines show a write to
// readers only once it commits, so the replica reads through an overlay of its own pending
// writes (engine/overlay.ts). The promise a change returns resolves once that change is
// durable; when the engine fails it, the key goes back to what the disk holds, and so does its
// Merkle leaf, so memory, tree and disk agree after any engine error.
//
// Trees live in memory: each is built from the data the first time it is needed (so after a
// crash it is rebuilt, never trusted from a file), and verify() rebuilds one to check the
// incremental one against the data.
//
// Data is stored under [partition, segment, key], so a key range and a tree segment are each
// one range of the store. Hints are kept apart from the node's own data (Dynamo: "a separate
// local database"), one entry per (intended owner, key) holding the merged sibling set. Which
// owners a key has hints for is kept in memory, built from the hint store at start and
// changed in the same synchronous step as the hints themselves, so it can never disagree with
// what reads see.
import { StoreError } from '../client/src/core/errors.ts';
import { DEFAULT_MAX_SIBLINGS, MAX_ACTORS_PER_KEY, receivedSiblingsLimit } from '../client/src/core/limits.ts';
import { checkSet } from './core/set-check.ts';
import type { Place } from '../client/src/core/hash.ts';
import { MerkleTree, leafHash } from '../client/src/core/merkle.ts';
import { merge, EMPTY_SET, sameSet, type SiblingSet } from '../client/src/core/siblings.ts';
import type { NodeId } from '../client/src/core/ring.ts';
import { EMPTY_VV, type Dot } from '../client/src/core/version-vector.ts';
import { decodeSet, encodeSet, Reader, Writer, readSet, writeSet } from '../client/src/protocol/codec.ts';
import type { Engine, StoreKey } from './engine/engine.ts';
import { OverlayStore } from './engine/overlay.ts';

export interface HintLimits {
  /** total encoded bytes of hints this node will hold; beyond it, new hints are refused */
  readonly maxBytes: number;
  /** hints older than this are handed to the key's reachable primaries (repair/expiry.ts) */
  readonly maxAgeMs: number;
}

export interface Hint {
  readonly owner: NodeId;
  readonly partition: number;
  readonly key: string;
  /** when the hint was first stored, by this node's wall clock (ms since 1970): kept across restarts, unlike the monotonic clock */
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
  readonly #place: (key: string) => Place;
  readonly #data: OverlayStore;
  readonly #hints: OverlayStore;
  readonly #trees = new Map<number, MerkleTree>();
  readonly #limits: HintLimits;
  readonly #maxActors: number;
  /** for each (partition, key) holding hints: the owners, and each hint's encoded size and first storing */
  readonly #hintIndex = new Map<string, Map<NodeId, { readonly bytes: number; readonly storedAt: number }>>();
  #hintBytes = 0;
  #hintCount = 0;
  /** writes the engine failed */
  diskErrors = 0;
  /** hints written (new, or grown by a later version) */
  hintWrites = 0;

  /** throws when a received set cannot have come from a replica (core/set-check.ts); `from`: the node that sent it, when one did */
  readonly #check: (set: SiblingSet, from: NodeId | null) => void;
  /** told of each key whose own data or hint was durably written (live watches: storage/watch/) */
  onStored: ((key: string) => void) | null = null;

  constructor(
    engine: Engine,
    place: (key: string) => Place,
    limits: HintLimits,
    maxActors = MAX_ACTORS_PER_KEY,
    check?: (set: SiblingSet, from: NodeId | null) => void,
  ) {
    this.#place = place;
    this.#check = check ?? ((set) => checkSet(set, { maxSiblings: receivedSiblingsLimit(DEFAULT_MAX_SIBLINGS), maxActors }));
    this.#limits = limits;
    this.#maxActors = maxActors;
    this.#data = new OverlayStore(engine.data, (key, failed, now) => this.#dataReverted(key, failed, now));
    this.#hints = new OverlayStore(engine.hints, (key, _failed, now) => this.#hintReverted(key, now));
    for (const e of engine.hints.range({ start: ['h'], end: ['i'] })) {
      const [, owner, p, key] = e.key as [string, string, number, string];
      this.#indexHint(owner, p, key, e.value);
    }
  }

  get hintBytes(): number {
    return this.#hintBytes;
  }

  get hintCount(): number {
    return this.#hintCount;
  }

  /** When the oldest hint held was first stored (wall-clock ms), or null without hints. */
  get oldestHintAt(): number | null {
    let oldest: number | null = null;
    for (const owners of this.#hintIndex.values())
      for (const h of owners.values()) if (oldest === null || h.storedAt < oldest) oldest = h.storedAt;
    return oldest;
  }

  get limits(): HintLimits {
    return this.#limits;
  }

  /** Writes issued to the engine and not yet settled. */
  get pendingWrites(): number {
    return this.#data.pendingCount + this.#hints.pendingCount;
  }

  /** Everything this node holds for the key: its own data merged with any hints. */
  read(key: string): SiblingSet {
    const place = this.#place(key);
    let set = this.#stored(place, key)?.set ?? EMPTY_SET;
    for (const owner of this.#hintOwners(place.partition, key))
      set = merge(set, this.readHint(owner, key)?.set ?? EMPTY_SET, this.#maxActors);
    return set;
  }

  /** The node's own data for the key. */
  readOwn(key: string): SiblingSet {
    return this.#stored(this.#place(key), key)?.set ?? EMPTY_SET;
  }

  #stored(place: Place, key: string): Stored | null {
    const raw = this.#data.get([place.partition, place.segment, key]);
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

  /**
   * Throws BAD_REQUEST when a set received from the wire cannot have come from a replica
   * (core/set-check.ts). mergeIn and storeHint check each set; a batch is checked whole first,
   * so that a bad entry changes nothing.
   */
  checkReceived(set: SiblingSet, from: NodeId | null = null): void {
    this.#check(set, from);
  }

  /** Merges a sibling set received from another replica (`from`, when a node sent it) into the key's own data; refuses a set checkReceived refuses. */
  mergeIn(key: string, set: SiblingSet, from: NodeId | null = null): Promise<SiblingSet> {
    this.#check(set, from);
    return this.update(key, (current) => merge(current, set, this.#maxActors));
  }

  /** Deletes the key's own data if it still holds exactly these versions, all tombstones (reclamation). */
  async removeIf(key: string, dots: readonly Dot[]): Promise<boolean> {
    const place = this.#place(key);
    const before = this.#stored(place, key);
    if (!before || !sameDots(before.set, dots) || !before.set.every((v) => v.deleted)) return false;
    await this.#write(place, key, before, null);
    return true;
  }

  /**
   * Empties the history of every version of the key, if its stored bytes still have this leaf
   * hash (a quiet key every primary holds alike: repair/reclaim.ts). The versions stay; what
   * they were written over is forgotten, so the key's context names only its siblings' actors.
   */
  async compactIf(key: string, leaf: Buffer): Promise<boolean> {
    const place = this.#place(key);
    const before = this.#stored(place, key);
    if (!before || !leafHash(key, before.bytes).equals(leaf) || before.set.every((v) => v.past.size === 0)) return false;
    const set = before.set.map((v) => (v.past.size === 0 ? v : { ...v, past: EMPTY_VV }));
    await this.#write(place, key, before, { set, bytes: encodeSet(set) });
    return true;
  }

  #write(place: Place, key: string, before: Stored | null, after: Stored | null): Promise<void> {
    this.#trees.get(place.partition)?.update(place.segment, before && leafHash(key, before.bytes), after && leafHash(key, after.bytes));
    const storeKey = [place.partition, place.segment, key];
    return this.#told(key, after ? this.#data.put(storeKey, after.bytes) : this.#data.remove(storeKey));
  }

  /** Tells `onStored` once a write of the key is durable (a failed one is the writer's to report). */
  #told(key: string, durable: Promise<void>): Promise<void> {
    const onStored = this.onStored;
    if (onStored)
      durable.then(
        () => onStored(key),
        () => undefined,
      );
    return durable;
  }

  /** A failed write was the key's latest: its tree leaf goes back to what the disk holds. */
  #dataReverted(storeKey: StoreKey, failed: Uint8Array | null, now: Uint8Array | null): void {
    this.diskErrors++;
    const [partition, segment, key] = storeKey as [number, number, string];
    this.#trees.get(partition)?.update(segment, failed && leafHash(key, failed), now && leafHash(key, now));
  }

  // ------------------------------------------------------------ key ranges and trees

  /** Whether the node holds any data of a key range. */
  holds(partition: number): boolean {
    return [...this.#data.range({ start: [partition], end: [partition + 1], limit: 1 })].length > 0;
  }

  /** The keys of a key range in store order, after `after` (exclusive), with their stored bytes. */
  *keysOf(partition: number, after = ''): Iterable<{ key: string; bytes: Uint8Array }> {
    const start = after === '' ? [partition] : [partition, this.#place(after).segment, after + '\u0000'];
    for (const e of this.#data.range({ start, end: [partition + 1] })) yield { key: String(e.key[2]), bytes: e.value };
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
    for (const e of this.#data.range({ start: [partition], end: [partition + 1] }))
      t.update(Number(e.key[1]), null, leafHash(String(e.key[2]), e.value));
    return t;
  }

  /** (key, leaf hash) of every key in the given segments of a key range. */
  segmentKeys(partition: number, segments: readonly number[]): { key: string; leaf: Buffer }[] {
    const out: { key: string; leaf: Buffer }[] = [];
    for (const s of segments) {
      for (const e of this.#data.range({ start: [partition, s], end: [partition, s + 1] })) {
        const key = String(e.key[2]);
        out.push({ key, leaf: leafHash(key, e.value) });
      }
    }
    return out;
  }

  /**
   * Forgets a key range this node no longer replicates, once every write to it already issued
   * has settled. Returns the keys removed.
   */
  async drop(partition: number): Promise<number> {
    const range = { start: [partition], end: [partition + 1] };
    await this.#data.settle(range);
    const keys = [...this.#data.range(range)].map((e) => e.key);
    await Promise.all(keys.map((k) => this.#data.remove(k)));
    this.#trees.delete(partition);
    return keys.length;
  }

  // ------------------------------------------------------------ hints

  hintOwners(key: string): readonly NodeId[] {
    return this.#hintOwners(this.#place(key).partition, key);
  }

  /** Every read asks, so a node holding no hints answers without building the key's index id. */
  #hintOwners(p: number, key: string): readonly NodeId[] {
    if (this.#hintIndex.size === 0) return NO_OWNERS;
    const owners = this.#hintIndex.get(dataId(p, key));
    return owners ? [...owners.keys()] : NO_OWNERS;
  }

  readHint(owner: NodeId, key: string): Hint | undefined {
    const p = this.#place(key).partition;
    const raw = this.#hints.get(['h', owner, p, key]);
    return raw ? { owner, partition: p, key, ...decodeHint(raw) } : undefined;
  }

  /** Like stage(), for the hint this node holds for `owner`. Refuses new hints beyond the size cap. */
  stageHint(owner: NodeId, key: string, now: number, compute: (current: SiblingSet) => SiblingSet): Staged {
    const p = this.#place(key).partition;
    const before = this.readHint(owner, key);
    const current = before?.set ?? EMPTY_SET;
    const next = compute(current);
    if (before && sameSet(next, current)) return { set: current, durable: Promise.resolve() };
    const encoded = encodeHint(before?.storedAt ?? now, next);
    const oldBytes = this.#hintIndex.get(dataId(p, key))?.get(owner)?.bytes ?? 0;
    if (this.#hintBytes - oldBytes + encoded.byteLength > this.#limits.maxBytes) {
      throw new StoreError('OVERLOADED', `hint store is full (${this.#hintBytes} of ${this.#limits.maxBytes} bytes)`);
    }
    this.#unindexHint(owner, p, key);
    this.#indexHint(owner, p, key, encoded);
    this.hintWrites++;
    return { set: next, durable: this.#told(key, this.#hints.put(['h', owner, p, key], encoded)) };
  }

  async storeHint(owner: NodeId, key: string, set: SiblingSet, now: number, from: NodeId | null = null): Promise<SiblingSet> {
    this.#check(set, from);
    const staged = this.stageHint(owner, key, now, (current) => merge(current, set, this.#maxActors));
    await staged.durable;
    return staged.set;
  }

  /**
   * Deletes the hint for (owner, key) only if it still holds exactly the versions `dots` names:
   * a hint that gained versions since it was read stays, to be delivered again. The check and
   * the deletion are one synchronous step, so a hinted write arriving while the deletion is on
   * its way to disk finds no hint and starts a new one.
   */
  async deleteHintIf(owner: NodeId, key: string, dots: readonly Dot[]): Promise<boolean> {
    const current = this.readHint(owner, key);
    if (!current || !sameDots(current.set, dots)) return false;
    this.#unindexHint(owner, current.partition, key);
    await this.#hints.remove(['h', owner, current.partition, key]);
    return true;
  }

  #indexHint(owner: NodeId, p: number, key: string, encoded: Uint8Array): void {
    const id = dataId(p, key);
    let owners = this.#hintIndex.get(id);
    if (!owners) this.#hintIndex.set(id, (owners = new Map()));
    owners.set(owner, { bytes: encoded.byteLength, storedAt: storedAtOf(encoded) });
    this.#hintBytes += encoded.byteLength;
    this.#hintCount++;
  }

  #unindexHint(owner: NodeId, p: number, key: string): void {
    const id = dataId(p, key);
    const owners = this.#hintIndex.get(id);
    const held = owners?.get(owner);
    if (owners === undefined || held === undefined) return;
    owners.delete(owner);
    if (owners.size === 0) this.#hintIndex.delete(id);
    this.#hintBytes -= held.bytes;
    this.#hintCount--;
  }

  /** A failed hint write or deletion was the latest: the index follows what the disk holds. */
  #hintReverted(storeKey: StoreKey, now: Uint8Array | null): void {
    this.diskErrors++;
    const [, owner, p, key] = storeKey as [string, string, number, string];
    this.#unindexHint(owner, p, key);
    if (now) this.#indexHint(owner, p, key, now);
  }

  /** Hints in (owner, partition, key) order, optionally for one owner, after a cursor. */
  *hints(owner?: NodeId, after?: { owner: NodeId; partition: number; key: string }): Iterable<Hint> {
    const start = after ? ['h', after.owner, after.partition, after.key + '\u0000'] : owner === undefined ? ['h'] : ['h', owner];
    const end = owner === undefined ? ['i'] : ['h', owner, '\uffff'];
    for (const e of this.#hints.range({ start, end })) {
      const [, o, p, k] = e.key as [string, string, number, string];
      yield { owner: o, partition: p, key: k, ...decodeHint(e.value) };
    }
  }

  /** The owners this replica holds hints for: one seek per owner, not a walk over every hint. */
  hintedOwners(): NodeId[] {
    const owners: NodeId[] = [];
    let start: StoreKey = ['h'];
    while (this.#hintCount > 0) {
      let next: NodeId | undefined;
      for (const e of this.#hints.range({ start, end: ['i'], limit: 1 })) {
        next = (e.key as [string, NodeId])[1];
        break;
      }
      if (next === undefined) break;
      owners.push(next);
      start = ['h', next, '\uffff'];
    }
    return owners;
  }

  /** Hints older than the age cap at `now` (wall-clock ms). */
  *expiredHints(now: number): Iterable<Hint> {
    for (const h of this.hints()) if (now - h.storedAt > this.#limits.maxAgeMs) yield h;
  }
}

function sameDots(set: SiblingSet, dots: readonly Dot[]): boolean {
  return set.length === dots.length && set.every((v, i) => v.dot.actor === dots[i]!.actor && v.dot.counter === dots[i]!.counter);
}

const NO_OWNERS: readonly NodeId[] = [];

function dataId(p: number, key: string): string {
  return `${p}\u0000${key}`;
}

function encodeHint(storedAt: number, set: SiblingSet): Buffer {
  const w = new Writer(64 + set.reduce((n, v) => n + v.value.byteLength + 64, 0));
  w.f64(storedAt);
  writeSet(w, set);
  return w.result();
}

function storedAtOf(raw: Uint8Array): number {
  return new Reader(asBuffer(raw)).f64();
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
