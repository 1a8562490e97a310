// Hints past their age cap: dropped only after anti-entropy has been asked to cover their key
// ranges, and counted. (Hints past the size cap are never stored: the write goes to the next
// fallback instead.)
import { StoreError } from '../core/errors.ts';
import type { NodeId } from '../core/ring.ts';
import type { Transport } from '../runtime.ts';

export interface ExpiryOptions {
  readonly transport: Transport;
  readonly node: NodeId;
  readonly limit: number;
  readonly timeoutMs: number;
  /** schedules sweeps of these key ranges; resolves once they are queued */
  readonly requestSweeps: (partitions: readonly number[]) => Promise<void>;
}

export async function expireHints(o: ExpiryOptions): Promise<{ expired: number; dropped: number; partitions: number[] }> {
  const r = await o.transport.request(o.node, { type: 'hintsExpired', limit: o.limit }, o.timeoutMs);
  if (r.type !== 'hintsExpiredReply') throw new StoreError('PROTOCOL', `${o.node} answered ${r.type}`);
  if (r.hints.length === 0) return { expired: 0, dropped: 0, partitions: [] };
  const partitions = [...new Set(r.hints.map((h) => h.partition))].sort((a, b) => a - b);
  await o.requestSweeps(partitions);
  const dropped = await o.transport.request(o.node, { type: 'hintsDrop', hints: r.hints.map((h) => ({ owner: h.owner, key: h.key, dots: h.set.map((v) => v.dot) })) }, o.timeoutMs);
  if (dropped.type !== 'countReply') throw new StoreError('PROTOCOL', `${o.node} answered ${dropped.type}`);
  return { expired: r.hints.length, dropped: dropped.count, partitions };
}
