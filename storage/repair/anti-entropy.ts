// Anti-entropy between two replicas of one key range: compare their Merkle trees from the
// root down, descending only into groups and segments that differ, list keys only in the
// differing segments, and exchange just the keys whose versions differ. Both sides merge what
// they receive by the sibling rules, so a sync can only add what a side was missing or
// supersede what was overwritten elsewhere, never lose a write.
//
// A sweep of a key range syncs its replicas pairwise in a fixed order, (A,B), (A,C), (B,C):
// after the three, every replica holds the union of all three.
import { call } from '../../client/src/call.ts';
import { differingKeys, differingSegments, type TreeSide } from '../../client/src/core/merkle.ts';
import type { RingView } from '../../client/src/core/preference.ts';
import type { NodeId } from '../../client/src/core/ring.ts';
import type { Request, TransferEntry } from '../../client/src/protocol/messages.ts';
import type { ReplyOf } from '../../client/src/protocol/replies.ts';
import type { Transport } from '../../client/src/runtime.ts';

export interface SyncOptions {
  readonly transport: Transport;
  readonly timeoutMs: number;
  /** keys read and sent per request */
  readonly batchKeys: number;
  /** waits before each batch of keys is exchanged (rate limiting); defaults to none */
  readonly pace?: (keys: number) => Promise<void>;
}

export interface SyncStats {
  readonly partition: number;
  readonly a: NodeId;
  readonly b: NodeId;
  /** segments whose hashes differed */
  segments: number;
  /** keys listed in those segments, on both sides */
  keysCompared: number;
  /** keys whose versions differed */
  keysDiffering: number;
  /** sibling sets sent to a and to b */
  sentToA: number;
  sentToB: number;
  /** the two roots agreed afterwards */
  rootsEqual: boolean;
}

/** A replica's tree over the network. */
export function remoteTree(o: SyncOptions, node: NodeId, partition: number): TreeSide {
  return {
    async roots() {
      const r = await ask(o, node, { type: 'merkleRoots', partition });
      return { root: Buffer.from(r.root), groups: r.groups.map((g) => Buffer.from(g)) };
    },
    async segments(groups) {
      const r = await ask(o, node, { type: 'merkleSegments', partition, groups });
      return r.segments.map((g) => g.map((h) => Buffer.from(h)));
    },
  };
}

export function syncPair(o: SyncOptions, partition: number, a: NodeId, b: NodeId): Promise<SyncStats> {
  return exchange(o, partition, a, b, true);
}

/**
 * One way only: b ends up holding every version a holds for the key range (what a node does
 * before it drops a range it no longer replicates: Riak's final fold). Only keys whose leaves
 * differ cross.
 */
export function pushRange(o: SyncOptions, partition: number, from: NodeId, to: NodeId): Promise<SyncStats> {
  return exchange(o, partition, from, to, false);
}

async function exchange(o: SyncOptions, partition: number, a: NodeId, b: NodeId, both: boolean): Promise<SyncStats> {
  const stats: SyncStats = { partition, a, b, segments: 0, keysCompared: 0, keysDiffering: 0, sentToA: 0, sentToB: 0, rootsEqual: false };
  const segments = await differingSegments(remoteTree(o, a, partition), remoteTree(o, b, partition));
  stats.segments = segments.length;
  if (segments.length === 0) {
    stats.rootsEqual = true;
    return stats;
  }
  const [ka, kb] = await Promise.all([listKeys(o, a, partition, segments), listKeys(o, b, partition, segments)]);
  stats.keysCompared = ka.size + kb.size;
  const differing = differingKeys(ka, kb);
  stats.keysDiffering = differing.length;
  for (let i = 0; i < differing.length; i += o.batchKeys) {
    const chunk = differing.slice(i, i + o.batchKeys);
    await o.pace?.(chunk.length);
    const [fromA, fromB] = await Promise.all([
      read(
        o,
        a,
        chunk.filter((k) => ka.has(k)),
      ),
      both
        ? read(
            o,
            b,
            chunk.filter((k) => kb.has(k)),
          )
        : [],
    ]);
    await Promise.all([merge(o, b, fromA), merge(o, a, fromB)]);
    stats.sentToB += fromA.length;
    stats.sentToA += fromB.length;
  }
  if (!both) return stats;
  const [ra, rb] = await Promise.all([remoteTree(o, a, partition).roots(), remoteTree(o, b, partition).roots()]);
  stats.rootsEqual = ra.root.equals(rb.root);
  return stats;
}

/** The pairs a sweep of one key range syncs, in order: after them all replicas hold the same. */
export function sweepPairs(view: RingView, partition: number): [NodeId, NodeId][] {
  const replicas = view.primaries(partition);
  const pairs: [NodeId, NodeId][] = [];
  for (let i = 0; i < replicas.length; i++) for (let j = i + 1; j < replicas.length; j++) pairs.push([replicas[i]!, replicas[j]!]);
  return pairs;
}

async function listKeys(o: SyncOptions, node: NodeId, partition: number, segments: readonly number[]): Promise<Map<string, Buffer>> {
  const out = new Map<string, Buffer>();
  for (let i = 0; i < segments.length; i += 256) {
    const r = await ask(o, node, { type: 'segmentKeys', partition, segments: segments.slice(i, i + 256) });
    for (const k of r.keys) out.set(k.key, Buffer.from(k.leaf));
  }
  return out;
}

async function read(o: SyncOptions, node: NodeId, keys: readonly string[]): Promise<readonly TransferEntry[]> {
  if (keys.length === 0) return [];
  const r = await ask(o, node, { type: 'keysRead', keys });
  return r.entries;
}

async function merge(o: SyncOptions, node: NodeId, entries: readonly TransferEntry[]): Promise<void> {
  if (entries.length === 0) return;
  await ask(o, node, { type: 'keysMerge', entries });
}

function ask<R extends Request>(o: SyncOptions, node: NodeId, request: R): Promise<ReplyOf<R['type']>> {
  return call(o.transport, node, request, o.timeoutMs);
}
