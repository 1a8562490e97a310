// The node's side of repair: it answers the tree, key and hint requests that hinted handoff,
// anti-entropy and tombstone reclamation send it, and counts what it did for metrics.
import { StoreError } from '../../client/src/core/errors.ts';
import { leafHash } from '../../client/src/core/merkle.ts';
import type { RingView } from '../../client/src/core/preference.ts';
import type { NodeId } from '../../client/src/core/ring.ts';
import type { Identity } from '../identity.ts';
import type { HintEntry, HintRef } from '../../client/src/protocol/messages.ts';
import type { HandlersOf } from '../node/dispatch.ts';
import type { Replica } from '../replica.ts';
import type { Clock, Logger } from '../../client/src/runtime.ts';
import type { RepairCounters } from '../../client/src/status.ts';
import type { SiblingSet } from '../../client/src/core/siblings.ts';

/** The request types this service serves: its rows of the node's dispatch table. */
export type RepairRequestType =
  | 'merkleRoots'
  | 'merkleSegments'
  | 'segmentKeys'
  | 'keysRead'
  | 'keysMerge'
  | 'hintsRead'
  | 'hintsAck'
  | 'hintsExpired'
  | 'hintsDrop'
  | 'reclaim'
  | 'hintsFor'
  | 'tombstones'
  | 'quietKeys'
  | 'compact';

export interface RepairServiceDeps {
  readonly self: NodeId;
  readonly replica: Replica;
  readonly identity: Identity;
  readonly clock: Clock;
  readonly logger: Logger;
  readonly view: () => RingView;
  /** told of every key reclaimed, with what it held */
  readonly onReclaim?: (key: string, set: SiblingSet) => void;
}

export class RepairService {
  readonly counters: RepairCounters = {
    hintsReplayed: 0,
    hintsExpired: 0,
    keysRepaired: 0,
    tombstonesReclaimed: 0,
    historiesCompacted: 0,
    treeVerifications: 0,
    treeMismatches: 0,
  };
  #verifyNext = 0;

  private readonly d: RepairServiceDeps;
  constructor(d: RepairServiceDeps) {
    this.d = d;
  }

  /** The rows of the node's dispatch table (node/dispatch.ts) this service serves. */
  readonly handlers: HandlersOf<RepairRequestType> = {
    merkleRoots: (req) => {
      const t = this.d.replica.tree(req.partition);
      return { type: 'merkleRootsReply', root: t.root(), groups: t.groups(), keys: t.size };
    },
    merkleSegments: (req) => {
      const t = this.d.replica.tree(req.partition);
      return { type: 'merkleSegmentsReply', segments: req.groups.map((g) => t.segmentsOf(g)) };
    },
    segmentKeys: (req) => ({ type: 'segmentKeysReply', keys: this.d.replica.segmentKeys(req.partition, req.segments) }),
    keysRead: (req) => ({
      type: 'keysReadReply',
      entries: req.keys.map((key) => ({ key, set: this.d.replica.readOwn(key) })).filter((e) => e.set.length > 0),
    }),
    keysMerge: async (req) => {
      const { replica } = this.d;
      const view = this.d.view();
      for (const e of req.entries) {
        if (!view.replicates(this.d.self, view.partitionOf(e.key)))
          throw new StoreError('STALE_RING', `node ${this.d.self} does not replicate '${e.key}'`);
      }
      for (const e of req.entries) replica.checkReceived(e.set);
      const before = req.entries.map((e) => replica.readOwn(e.key));
      const after = await Promise.all(req.entries.map((e) => replica.mergeIn(e.key, e.set)));
      this.counters.keysRepaired += after.filter((a, i) => a !== before[i]).length;
      return { type: 'ack' };
    },
    hintsRead: (req) => {
      const hints: HintEntry[] = [];
      let done = true;
      for (const h of this.d.replica.hints(req.owner || undefined, req.after ?? undefined)) {
        if (hints.length >= Math.max(1, Math.min(req.limit, 10_000))) {
          done = false;
          break;
        }
        hints.push(h);
      }
      return { type: 'hintsBatch', hints, done };
    },
    hintsAck: async (req) => {
      const n = await this.#deleteHints(req.hints);
      this.counters.hintsReplayed += n;
      return { type: 'countReply', count: n };
    },
    hintsExpired: (req) => {
      const hints: HintEntry[] = [];
      let total = 0;
      for (const h of this.d.replica.expiredHints(this.d.clock.wallNow())) {
        if (hints.length < req.limit) hints.push(h);
        total++;
      }
      return { type: 'hintsExpiredReply', total, hints };
    },
    hintsDrop: async (req) => {
      const n = await this.#deleteHints(req.hints);
      this.counters.hintsExpired += n;
      if (n > 0) this.d.logger.warn("deleted hints past their age cap, whose versions their keys' primaries now hold", { deleted: n });
      return { type: 'countReply', count: n };
    },
    reclaim: async (req) => {
      const { replica } = this.d;
      const held = req.keys.map((k) => replica.readOwn(k.key));
      const results = await Promise.all(req.keys.map((k) => replica.removeIf(k.key, k.dots)));
      results.forEach((removed, i) => removed && this.d.onReclaim?.(req.keys[i]!.key, held[i]!));
      const n = results.filter(Boolean).length;
      this.counters.tombstonesReclaimed += n;
      return { type: 'countReply', count: n };
    },
    hintsFor: (req) => {
      // copies outside the primaries' data: hints, and keys of ranges this node no longer
      // replicates and has not dropped yet (their last pass would bring back what a
      // reclamation removed meanwhile)
      const { replica } = this.d;
      const view = this.d.view();
      const stale = (k: string) => !view.isPrimary(this.d.self, view.partitionOf(k)) && replica.readOwn(k).length > 0;
      return { type: 'hintsForReply', keys: req.keys.filter((k) => replica.hintOwners(k).length > 0 || stale(k)) };
    },
    quietKeys: (req) => {
      const quiet = this.#keysWhere(req.partition, req.limit, (set) => allDeleted(set) || set.some((v) => v.past.size > 0));
      return { type: 'quietKeysReply', keys: quiet.map(({ key, leaf, dots, set }) => ({ key, leaf, dots, tombstones: allDeleted(set) })) };
    },
    compact: async (req) => {
      const results = await Promise.all(req.keys.map((k) => this.d.replica.compactIf(k.key, Buffer.from(k.leaf))));
      const n = results.filter(Boolean).length;
      this.counters.historiesCompacted += n;
      return { type: 'countReply', count: n };
    },
    tombstones: (req) => {
      const keys = this.#keysWhere(req.partition, req.limit, allDeleted).map(({ key, leaf, dots }) => ({ key, leaf, dots }));
      return { type: 'tombstonesReply', keys };
    },
  };

  /** Up to `limit` keys of a key range whose own versions `wanted` picks, in key order, with their leaf hash and dots. */
  #keysWhere(partition: number, limit: number, wanted: (set: SiblingSet) => boolean) {
    const { replica } = this.d;
    const keys = [];
    for (const e of replica.keysOf(partition)) {
      if (keys.length >= limit) break;
      const set = replica.readOwn(e.key);
      if (wanted(set)) keys.push({ key: e.key, leaf: leafHash(e.key, e.bytes), dots: set.map((v) => v.dot), set });
    }
    return keys;
  }

  /** Rebuilds one key range's tree from the data and compares (a slow, round-robin schedule calls this). */
  verifyNextTree(): void {
    const view = this.d.view();
    const mine = view.partitionsReplicatedBy(this.d.self);
    if (mine.length === 0) return;
    const p = mine[this.#verifyNext++ % mine.length]!;
    this.counters.treeVerifications++;
    if (!this.d.replica.verify(p)) {
      this.counters.treeMismatches++;
      this.d.logger.error('a Merkle tree disagreed with the data and was rebuilt', { partition: p });
    }
  }

  /**
   * Deleting a hint makes this node forget its versions. Among them may be dots this node made
   * as a fallback coordinator, or versions that superseded such dots; so when its actor for the
   * key range made a dot there, that actor moves on first (identity.ts), and the node never
   * makes a dot claiming one it no longer holds.
   */
  async #deleteHints(refs: readonly HintRef[]): Promise<number> {
    if (refs.length === 0) return 0;
    const { replica, identity } = this.d;
    const view = this.d.view();
    for (const p of new Set(refs.map((h) => view.partitionOf(h.key)))) if (identity.hasMinted(p)) await identity.newIncarnation(p);
    const results = await Promise.all(refs.map((h) => replica.deleteHintIf(h.owner, h.key, h.dots)));
    return results.filter(Boolean).length;
  }
}

/** A set of tombstones only: a key deleted everywhere it was written. */
function allDeleted(set: SiblingSet): boolean {
  return set.length > 0 && set.every((v) => v.deleted);
}
