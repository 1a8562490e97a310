// Hints past their age cap. A hint may hold the only copies of an acknowledged write (the
// acknowledgments can all have come from fallbacks), so it is never simply dropped: its
// versions are first handed to every reachable current primary of the key, which merge them
// into their own data, and the hint is deleted only once at least two primaries (one when N is
// 1) hold them, so expiry never leaves fewer copies than it found. A hint no primary can take
// yet stays, and is tried again on the next pass. (Hints past the size cap are never stored:
// the write goes to the next fallback instead.)
import { call } from '../../client/src/call.ts';
import type { RingView } from '../../client/src/core/preference.ts';
import type { NodeId } from '../../client/src/core/ring.ts';
import type { HintEntry, HintRef } from '../../client/src/protocol/messages.ts';
import type { Transport } from '../../client/src/runtime.ts';

export interface ExpiryOptions {
  readonly transport: Transport;
  readonly view: RingView;
  /** the node whose expired hints are handled */
  readonly node: NodeId;
  readonly limit: number;
  readonly timeoutMs: number;
}

export interface ExpiryStats {
  /** hints past the age cap */
  expired: number;
  /** of those, hints whose versions enough primaries now hold, deleted */
  handedOff: number;
  /** hints kept because too few primaries could take them */
  kept: number;
}

export async function expireHints(o: ExpiryOptions): Promise<ExpiryStats> {
  const r = await call(o.transport, o.node, { type: 'hintsExpired', limit: o.limit }, o.timeoutMs);
  const stats: ExpiryStats = { expired: r.hints.length, handedOff: 0, kept: 0 };
  const done: HintRef[] = [];
  await Promise.all(
    r.hints.map(async (h) => {
      if ((await handOff(o, h)) >= Math.min(2, o.view.n)) done.push({ owner: h.owner, key: h.key, dots: h.set.map((v) => v.dot) });
      else stats.kept++;
    }),
  );
  if (done.length > 0) {
    const dropped = await call(o.transport, o.node, { type: 'hintsDrop', hints: done }, o.timeoutMs);
    stats.handedOff = dropped.count;
  }
  return stats;
}

/** Writes a hint's versions to every reachable primary of its key; returns how many now hold them. */
async function handOff(o: ExpiryOptions, h: HintEntry): Promise<number> {
  const primaries = o.view.primaries(o.view.partitionOf(h.key)).filter((n) => n !== o.node);
  const results = await Promise.all(
    primaries.map((p) =>
      call(o.transport, p, { type: 'replicaWrite', key: h.key, hintFor: null, set: h.set }, o.timeoutMs).then(
        () => true,
        () => false,
      ),
    ),
  );
  return results.filter(Boolean).length;
}
