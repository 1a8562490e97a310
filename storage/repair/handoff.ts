// Hinted handoff: delivering the versions a fallback holds for other replicas.
//
// Whoever runs a replay (a BullMQ worker, or the simulator's tick) reads the holder's hints
// in batches over the binary protocol and writes each to where it belongs now: its intended
// owner while that node still replicates the key, otherwise (after a ring change moved the
// key range) the key's current replicas. Receivers merge it like any replica write, so a
// replay can never overwrite a newer version. Only then does the replayer ask the holder to
// delete the hint, naming the exact versions it delivered: a hint that gained versions in the
// meantime stays and goes out again. So a crash mid-batch, a retried job or two replays at
// once lose nothing and duplicate nothing.
//
// A holder that is leaving the ring hands on the hints it cannot deliver: to a staying node,
// as hints for the same owner.
import { StoreError } from '../../client/src/core/errors.ts';
import type { RingView } from '../../client/src/core/preference.ts';
import type { NodeId } from '../../client/src/core/ring.ts';
import { call } from '../../client/src/call.ts';
import type { HintEntry, HintRef, Request } from '../../client/src/protocol/messages.ts';
import type { ReplyOf } from '../../client/src/protocol/replies.ts';
import type { Transport } from '../../client/src/runtime.ts';

/** Where a hint goes now: its owner while that node replicates the key, else the key's current replicas. */
export function hintTargets(view: RingView, hint: { owner: NodeId; key: string }, holder: NodeId): NodeId[] {
  const p = view.partitionOf(hint.key);
  if (view.replicates(hint.owner, p)) return [hint.owner];
  return [...view.primaries(p), ...view.pending(p)].filter((n) => n !== holder || view.replicates(holder, p));
}

export interface ReplayStats {
  /** hints read from the holder */
  read: number;
  /** hints written to every target */
  delivered: number;
  /** hints the holder deleted (those unchanged since they were read) */
  deleted: number;
  /** hints a leaving holder passed to a staying node */
  passedOn: number;
  /** hints that could not be delivered this time */
  failed: number;
}

export interface ReplayOptions {
  readonly transport: Transport;
  readonly view: RingView;
  readonly holder: NodeId;
  /** only hints for this owner; '' for all */
  readonly owner: NodeId | '';
  /** hints per batch */
  readonly batch: number;
  readonly timeoutMs: number;
  /** called after every batch */
  readonly onProgress?: (stats: ReplayStats) => void | Promise<void>;
  /** waits before each batch (rate limiting); defaults to none */
  readonly pace?: (hints: number) => Promise<void>;
}

export async function replayHints(o: ReplayOptions): Promise<ReplayStats> {
  const stats: ReplayStats = { read: 0, delivered: 0, deleted: 0, passedOn: 0, failed: 0 };
  const me = o.view.ring.members.find((m) => m.id === o.holder);
  const leaving = !me || me.leaving !== undefined;
  let after: { owner: NodeId; partition: number; key: string } | null = null;
  for (;;) {
    const reply: ReplyOf<'hintsRead'> = await ask(o, o.holder, { type: 'hintsRead', owner: o.owner, after, limit: o.batch });
    await o.pace?.(reply.hints.length);
    stats.read += reply.hints.length;
    const acks: HintRef[] = [];
    await Promise.all(
      reply.hints.map(async (h) => {
        const ref = { owner: h.owner, key: h.key, dots: h.set.map((v) => v.dot) };
        const targets = hintTargets(o.view, h, o.holder);
        try {
          if (targets.length === 0) throw new StoreError('UNAVAILABLE', `no replica for '${h.key}'`);
          await Promise.all(targets.map((t) => deliver(o, t, h, null)));
          stats.delivered++;
          acks.push(ref);
        } catch (e) {
          if (leaving && (await passOn(o, h))) {
            stats.passedOn++;
            acks.push(ref);
          } else {
            stats.failed++;
          }
          void e;
        }
      }),
    );
    if (acks.length > 0) {
      const done = await ask(o, o.holder, { type: 'hintsAck', hints: acks });
      stats.deleted += done.count;
    }
    await o.onProgress?.(stats);
    const last = reply.hints[reply.hints.length - 1];
    if (reply.done || !last) return stats;
    after = { owner: last.owner, partition: last.partition, key: last.key };
  }
}

async function deliver(o: ReplayOptions, target: NodeId, h: HintEntry, hintFor: NodeId | null): Promise<void> {
  await ask(o, target, { type: 'replicaWrite', key: h.key, hintFor, set: h.set });
}

/** A leaving holder's hint goes to the first staying node that is neither the owner nor the holder and takes it. */
async function passOn(o: ReplayOptions, h: HintEntry): Promise<boolean> {
  const staying = new Set(o.view.ring.members.filter((m) => !m.leaving).map((m) => m.id));
  for (const n of o.view.walk(o.view.partitionOf(h.key))) {
    if (n === o.holder || n === h.owner || !staying.has(n)) continue;
    try {
      await deliver(o, n, h, h.owner);
      return true;
    } catch {
      // try the next
    }
  }
  return false;
}

function ask<R extends Request>(o: ReplayOptions, node: NodeId, request: R): Promise<ReplyOf<R['type']>> {
  return call(o.transport, node, request, o.timeoutMs);
}
