// Reclamation of quiet keys, by one protocol. A key is quiet when (1) every primary holds it
// alike (the same leaf hash), (2) no member holds a copy outside the primaries' data (a hint, or
// a range it no longer replicates and has not dropped yet) and no ring change is under way, and
// (3) that has stayed so, on one ring version, for a grace period longer than any message, hint
// or old owner's last pass can still be on its way, so nothing can bring an older version
// back. The grace must be longer than the nodes' drop grace: a node that left the ring is no
// longer asked, and its last pass comes up to a drop grace after the change. Then:
//   - a key whose versions are all deletes is forgotten (its tombstones reclaimed);
//   - any other key's versions forget their histories (compaction): what each was written over
//     is dropped, so the key's context names only the actors of its siblings. This is what keeps
//     a key's history bounded by its replicas for the life of the key: actors that left the
//     ring, old epochs and incarnations leave every quiet key (docs/design.md).
// Each primary acts only if it still holds exactly what was seen (the dots, or the leaf hash).
// Dots are never reused (counters are per node and leased), so a context from before can never
// cover a write made after it.
import { call } from '../../client/src/call.ts';
import type { RingView } from '../../client/src/core/preference.ts';
import type { NodeId } from '../../client/src/core/ring.ts';
import type { Dot } from '../../client/src/core/version-vector.ts';
import type { CompactRequest, ReclaimRequest, Request } from '../../client/src/protocol/messages.ts';
import type { ReplyOf } from '../../client/src/protocol/replies.ts';
import type { Transport } from '../../client/src/runtime.ts';

/** Remembers since when a key has been quiet (Redis for the workers, memory in the simulator). */
export interface CandidateStore {
  /** the time a candidate with this leaf hash was first seen, recording `now` if it is new or changed */
  seen(partition: number, key: string, leaf: string, now: number): Promise<number>;
  forget(partition: number, keys: readonly string[]): Promise<void>;
}

export function memoryCandidates(): CandidateStore {
  const m = new Map<string, { leaf: string; since: number }>();
  return {
    async seen(p, key, leaf, now) {
      const id = `${p}\u0000${key}`;
      const c = m.get(id);
      if (c && c.leaf === leaf) return c.since;
      m.set(id, { leaf, since: now });
      return now;
    },
    async forget(p, keys) {
      for (const k of keys) m.delete(`${p}\u0000${k}`);
    },
  };
}

export interface ReclaimOptions {
  readonly transport: Transport;
  readonly view: RingView;
  readonly partition: number;
  /** ms since 1970 as the caller's clock reads it */
  readonly now: number;
  /** longer than any message, hint or replica can lag */
  readonly graceMs: number;
  readonly candidates: CandidateStore;
  readonly timeoutMs: number;
  readonly limit: number;
}

export interface ReclaimStats {
  /** keys every primary holds alike and that are tombstones or carry histories */
  candidates: number;
  /** keys forgotten (all tombstones) */
  reclaimed: number;
  /** keys whose histories were emptied */
  compacted: number;
}

interface Candidate {
  readonly key: string;
  readonly leaf: string;
  readonly dots: readonly Dot[];
  readonly tombstones: boolean;
}

export async function reclaim(o: ReclaimOptions): Promise<ReclaimStats> {
  const stats: ReclaimStats = { candidates: 0, reclaimed: 0, compacted: 0 };
  if (o.view.ring.next) return stats;
  const primaries = o.view.primaries(o.partition);
  const lists = await Promise.all(
    primaries.map(async (n) => {
      const r = await ask(o, n, { type: 'quietKeys', partition: o.partition, limit: o.limit });
      return new Map(
        r.keys.map((k) => [k.key, { key: k.key, leaf: Buffer.from(k.leaf).toString('hex'), dots: k.dots, tombstones: k.tombstones }]),
      );
    }),
  );
  // (1) alike on every primary
  const alike: Candidate[] = [];
  for (const [key, c] of lists[0] ?? []) if (lists.every((l) => l.get(key)?.leaf === c.leaf)) alike.push(c);
  stats.candidates = alike.length;
  if (alike.length === 0) return stats;
  // (3) for long enough, on one ring: after a change, a node that left the ring or no longer
  // replicates the range keeps its copy for a while, and its last pass sends it to the primaries
  const ripe: Candidate[] = [];
  for (const c of alike)
    if (o.now - (await o.candidates.seen(o.partition, c.key, `${c.leaf}@${o.view.ring.version}`, o.now)) >= o.graceMs) ripe.push(c);
  if (ripe.length === 0) return stats;
  // (2) no hint anywhere
  const hinted = new Set<string>();
  for (const m of o.view.ring.members) {
    const r = await ask(o, m.id, { type: 'hintsFor', keys: ripe.map((c) => c.key) });
    for (const k of r.keys) hinted.add(k);
  }
  const go = ripe.filter((c) => !hinted.has(c.key));
  const tombstones = go.filter((c) => c.tombstones);
  const histories = go.filter((c) => !c.tombstones);
  for (const n of primaries) {
    if (tombstones.length > 0)
      stats.reclaimed = Math.max(
        stats.reclaimed,
        await count(o, n, { type: 'reclaim', keys: tombstones.map((c) => ({ key: c.key, dots: c.dots })) }),
      );
    if (histories.length > 0)
      stats.compacted = Math.max(
        stats.compacted,
        await count(o, n, { type: 'compact', keys: histories.map((c) => ({ key: c.key, leaf: Buffer.from(c.leaf, 'hex') })) }),
      );
  }
  await o.candidates.forget(o.partition, go.map((c) => c.key));
  return stats;
}

async function count(o: ReclaimOptions, node: NodeId, request: ReclaimRequest | CompactRequest): Promise<number> {
  return (await ask(o, node, request)).count;
}

function ask<R extends Request>(o: ReclaimOptions, node: NodeId, request: R): Promise<ReplyOf<R['type']>> {
  return call(o.transport, node, request, o.timeoutMs);
}
