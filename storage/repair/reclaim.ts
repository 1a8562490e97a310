// Reclaiming tombstones, by one protocol only. A key whose versions are all deletes can be
// forgotten when (1) every primary holds exactly the same tombstones, (2) no node holds a hint
// for it and no ring change is moving its key range, and (3) that has stayed so for a grace
// period longer than a hint's lifetime, so no replay or stale replica can still bring an older
// version back. Each primary then deletes the key only if it still holds exactly those
// tombstones. Dots are never reused (counters are per node and leased), so a context from
// before the reclaim can never cover a write made after it.
import { StoreError } from '../core/errors.ts';
import type { RingView } from '../core/preference.ts';
import type { NodeId } from '../core/ring.ts';
import type { Dot } from '../core/version-vector.ts';
import type { Reply, Request } from '../protocol/messages.ts';
import type { Transport } from '../runtime.ts';

/** Remembers since when a key has been a reclaim candidate (Redis for the workers, memory in the simulator). */
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
  /** longer than the hint age cap */
  readonly graceMs: number;
  readonly candidates: CandidateStore;
  readonly timeoutMs: number;
  readonly limit: number;
}

export async function reclaimTombstones(o: ReclaimOptions): Promise<{ candidates: number; reclaimed: number }> {
  if (o.view.ring.next) return { candidates: 0, reclaimed: 0 };
  const primaries = o.view.primaries(o.partition);
  const lists = await Promise.all(
    primaries.map(async (n) => {
      const r = await ask(o, n, { type: 'tombstones', partition: o.partition, limit: o.limit });
      if (r.type !== 'tombstonesReply') throw unexpected(n, r);
      return new Map(r.keys.map((k) => [k.key, { leaf: Buffer.from(k.leaf).toString('hex'), dots: k.dots }]));
    }),
  );
  // (1) the same tombstones on every primary
  const same: { key: string; leaf: string; dots: readonly Dot[] }[] = [];
  for (const [key, t] of lists[0] ?? []) if (lists.every((l) => l.get(key)?.leaf === t.leaf)) same.push({ key, ...t });
  if (same.length === 0) return { candidates: 0, reclaimed: 0 };
  // (3) for long enough
  const ripe: typeof same = [];
  for (const c of same) if (o.now - (await o.candidates.seen(o.partition, c.key, c.leaf, o.now)) >= o.graceMs) ripe.push(c);
  if (ripe.length === 0) return { candidates: same.length, reclaimed: 0 };
  // (2) no hint anywhere
  const hinted = new Set<string>();
  for (const m of o.view.ring.members) {
    const r = await ask(o, m.id, { type: 'hintsFor', keys: ripe.map((c) => c.key) });
    if (r.type !== 'hintsForReply') throw unexpected(m.id, r);
    for (const k of r.keys) hinted.add(k);
  }
  const go = ripe.filter((c) => !hinted.has(c.key));
  let reclaimed = 0;
  for (const n of primaries) {
    const r = await ask(o, n, { type: 'reclaim', keys: go.map((c) => ({ key: c.key, dots: c.dots })) });
    if (r.type !== 'countReply') throw unexpected(n, r);
    reclaimed = Math.max(reclaimed, r.count);
  }
  await o.candidates.forget(o.partition, go.map((c) => c.key));
  return { candidates: same.length, reclaimed };
}

function ask(o: ReclaimOptions, node: NodeId, request: Request): Promise<Reply> {
  return o.transport.request(node, request, o.timeoutMs);
}

function unexpected(node: NodeId, reply: Reply): StoreError {
  if (reply.type === 'error') return new StoreError(reply.code, `${node}: ${reply.message}`, reply.details);
  return new StoreError('PROTOCOL', `${node} answered ${reply.type}`);
}
