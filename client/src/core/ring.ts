// The consistent-hash ring: Q equal partitions (the Dynamo paper's strategy 3) placed on
// physical nodes by weight, and the preference lists derived from that placement.
//
// Pure data and pure functions. A Ring is a plain value that gossip can carry and compare;
// RingView (preference.ts) indexes one for the request path, ring-change.ts plans and commits
// membership changes, ring-merge.ts decides which of two rings wins.
import { partitionBits } from './hash.ts';

export type NodeId = string;

export interface Member {
  readonly id: NodeId;
  /** host:port where the node's binary protocol listens */
  readonly address: string;
  /** relative capacity: a node of weight 2 is given twice the partitions of weight 1 */
  readonly weight: number;
  /** set while the member's partitions move away: it left on its own, or an operator removed it (dead) */
  readonly leaving?: 'leave' | 'remove';
}

/** One key range's copy on its way to a new replica during a change. */
export interface Transfer {
  /** the key range: the keys whose partition is this */
  readonly partition: number;
  readonly to: NodeId;
  /** the replica whose place `to` takes, which sends its copy; '' when that one is gone (pull from every old replica) */
  readonly from: NodeId | '';
  readonly done: boolean;
}

export interface Ring {
  /** bumped by every change; one cluster never has two different rings of one version */
  readonly version: number;
  /** Q: fixed when the cluster is created */
  readonly partitions: number;
  /** N: replicas per key, fixed when the cluster is created */
  readonly n: number;
  /** sorted by id; during a change, joining members (owning nothing yet) and leaving ones included */
  readonly members: readonly Member[];
  /** owners[p] is the node that owns partition p */
  readonly owners: readonly NodeId[];
  /** during a change: the owners once it is committed; null otherwise */
  readonly next: readonly NodeId[] | null;
  /** during a change: the copies the new owners must receive before it commits */
  readonly transfers: readonly Transfer[];
}

export class RingError extends Error {
  override readonly name = 'RingError';
}

/**
 * How many partitions each member should own: its weight's share of Q, rounded by largest
 * remainder (so every quota is the floor or the ceiling of the exact share), and at least one.
 */
export function targetCounts(members: readonly Member[], partitions: number): Map<NodeId, number> {
  if (members.length === 0) throw new RingError('a ring needs at least one member');
  if (members.length > partitions)
    throw new RingError(`partitions (${partitions}) must be at least the number of nodes (${members.length})`);
  // members whose share is below one get exactly one; the rest share what is left
  let fixed = members.filter(() => false);
  for (;;) {
    const free = members.filter((m) => !fixed.includes(m));
    const total = free.reduce((sum, m) => sum + m.weight, 0);
    const small = free.filter((m) => ((partitions - fixed.length) * m.weight) / total < 1);
    if (small.length === 0) break;
    fixed = [...fixed, ...small];
  }
  const free = members.filter((m) => !fixed.includes(m));
  const total = free.reduce((sum, m) => sum + m.weight, 0);
  const room = partitions - fixed.length;
  const exact = free.map((m) => ({ id: m.id, share: (room * m.weight) / total }));
  const counts = new Map<NodeId, number>([
    ...fixed.map((m) => [m.id, 1] as const),
    ...exact.map((e) => [e.id, Math.floor(e.share)] as const),
  ]);
  let left = room - exact.reduce((sum, e) => sum + Math.floor(e.share), 0);
  const byRemainder = [...exact].sort((a, b) => b.share - Math.floor(b.share) - (a.share - Math.floor(a.share)) || compareIds(a.id, b.id));
  for (const e of byRemainder) {
    if (left === 0) break;
    counts.set(e.id, counts.get(e.id)! + 1);
    left--;
  }
  return counts;
}

export function validateMembers(members: readonly Member[], partitions: number): void {
  partitionBits(partitions);
  if (members.length === 0) throw new RingError('a ring needs at least one member');
  if (members.length > partitions) {
    throw new RingError(`partitions (${partitions}) must be at least the number of nodes (${members.length})`);
  }
  const seen = new Set<string>();
  for (const m of members) {
    if (!m.id || seen.has(m.id)) throw new RingError(`node ids must be unique and non-empty, got '${m.id}' twice`);
    seen.add(m.id);
    if (!Number.isInteger(m.weight) || m.weight < 1 || m.weight > 1000) {
      throw new RingError(`node ${m.id}: weight must be an integer from 1 to 1000, got ${m.weight}`);
    }
  }
  const addresses = new Set(members.map((m) => m.address));
  if (addresses.size !== members.length) throw new RingError('two members share one address');
}

/**
 * A new ring. Partitions are dealt out in ring order, each to the member with the largest
 * remaining quota that does not own any of the previous `spacing - 1` partitions, so that
 * any `spacing` consecutive partitions sit on distinct nodes wherever the counts allow it.
 */
export function createRing(members: readonly Member[], partitions: number, n: number): Ring {
  const spacing = n;
  validateMembers(members, partitions);
  const sorted = sortMembers(members);
  const left = targetCounts(sorted, partitions);
  const owners: NodeId[] = [];
  for (let p = 0; p < partitions; p++) {
    const near = new Set<NodeId>();
    for (let d = 1; d < spacing && d <= p; d++) near.add(owners[p - d]!);
    // near the end of the ring the first partitions are neighbours too
    for (let d = 0; d < spacing - (partitions - p) && d < p; d++) near.add(owners[d]!);
    let best: NodeId | undefined;
    let bestFree: NodeId | undefined;
    for (const m of sorted) {
      const quota = left.get(m.id)!;
      if (quota === 0) continue;
      if (!near.has(m.id) && (best === undefined || quota > left.get(best)!)) best = m.id;
      if (bestFree === undefined || quota > left.get(bestFree)!) bestFree = m.id;
    }
    const chosen = best ?? bestFree!;
    owners.push(chosen);
    left.set(chosen, left.get(chosen)! - 1);
  }
  return { version: 1, partitions, n: spacing, members: sorted, owners, next: null, transfers: [] };
}

/**
 * Where partitions go when the ring is placed on a new member set (see rebalance()).
 */
export function rebalanceOwners(ring: Ring, members: readonly Member[], spacing: number): NodeId[] {
  return [...rebalance(ring, members, spacing).owners];
}

/**
 * Places the ring on a new member set, moving as few partitions as possible. First the
 * partitions of departed members go to the members furthest below their quota (a replacement
 * node, arriving empty, takes them); then new members take partitions from members above
 * their quota. Members that stay never receive anything but a departed member's partitions,
 * so a join moves only what the newcomer takes and a leave only what the leaver had. Within
 * those rules a receiver prefers places that keep `spacing` consecutive partitions on
 * distinct nodes. Returns the new ring (version + 1).
 */
export function rebalance(ring: Ring, members: readonly Member[], spacing: number): Ring {
  validateMembers(members, ring.partitions);
  const sorted = sortMembers(members);
  const target = targetCounts(sorted, ring.partitions);
  const owners = [...ring.owners];
  const q = ring.partitions;
  const before = new Set(ring.members.map((m) => m.id));
  const count = new Map<NodeId, number>(sorted.map((m) => [m.id, 0]));
  for (const o of owners) if (count.has(o)) count.set(o, count.get(o)! + 1);
  const deficit = (id: NodeId) => target.get(id)! - count.get(id)!;

  const ownsNear = (node: NodeId, p: number): boolean => {
    for (let d = 1; d < spacing && d < q; d++) {
      if (owners[(p + d) % q] === node || owners[(p - d + q) % q] === node) return true;
    }
    return false;
  };
  const move = (p: number, to: NodeId) => {
    const from = owners[p]!;
    if (count.has(from)) count.set(from, count.get(from)! - 1);
    owners[p] = to;
    count.set(to, count.get(to)! + 1);
  };
  /** The member furthest below quota among `candidates`; with `anyway`, the least loaded when all are full. */
  const receiverAmong = (candidates: readonly Member[], anyway: boolean): NodeId | undefined => {
    let best: NodeId | undefined;
    for (const m of candidates) {
      if (!anyway && deficit(m.id) <= 0) continue;
      if (best === undefined || deficit(m.id) > deficit(best)) best = m.id;
    }
    return best;
  };
  /** The best partition for `to` among those `movable` allows: spacing kept first, then the most loaded donor. */
  const pick = (to: NodeId, movable: (p: number) => number): number => {
    let best = -1;
    let bestScore = -Infinity;
    for (let p = 0; p < q; p++) {
      const excess = movable(p);
      if (excess <= 0) continue;
      const score = (ownsNear(to, p) ? 0 : 2) + excess / (q + 1);
      if (score > bestScore) {
        bestScore = score;
        best = p;
      }
    }
    return best;
  };

  // 1. partitions of departed members
  for (;;) {
    const orphans = owners.filter((o) => !count.has(o)).length;
    if (orphans === 0) break;
    const to = receiverAmong(sorted, true)!;
    move(pick(to, (p) => (count.has(owners[p]!) ? 0 : 1)), to);
  }
  // 2. newcomers take from members above quota
  const newcomers = sorted.filter((m) => !before.has(m.id));
  for (;;) {
    const to = receiverAmong(newcomers, false);
    if (to === undefined) break;
    const p = pick(to, (x) => {
      const o = owners[x]!;
      return newcomers.some((m) => m.id === o) ? 0 : count.get(o)! - target.get(o)!;
    });
    if (p < 0) break;
    move(p, to);
  }
  return { version: ring.version + 1, partitions: q, n: ring.n, members: sorted, owners, next: null, transfers: [] };
}

export function partitionCounts(ring: Ring): Map<NodeId, number> {
  const counts = new Map<NodeId, number>(ring.members.map((m) => [m.id, 0]));
  for (const o of ring.owners) counts.set(o, (counts.get(o) ?? 0) + 1);
  return counts;
}

/** Every member in clockwise order of first appearance from partition p: primaries first, then fallbacks. */
export function walkFrom(ring: Ring, partition: number): NodeId[] {
  return walkOwners(ring.owners, partition, ring.members.length);
}

/** The distinct owners met walking clockwise from partition p over an owner table (at most `limit`). */
export function walkOwners(owners: readonly NodeId[], partition: number, limit = Infinity): NodeId[] {
  const seen = new Set<NodeId>();
  const order: NodeId[] = [];
  const q = owners.length;
  for (let i = 0; i < q && order.length < limit; i++) {
    const o = owners[(partition + i) % q]!;
    if (!seen.has(o)) {
      seen.add(o);
      order.push(o);
    }
  }
  return order;
}

export function memberOf(ring: Ring, id: NodeId): Member | undefined {
  return ring.members.find((m) => m.id === id);
}

function sortMembers(members: readonly Member[]): Member[] {
  return [...members].sort((a, b) => compareIds(a.id, b.id));
}

function compareIds(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
