// Repair without BullMQ: one tick() that replays every node's hints, drops expired ones after
// sweeping their key ranges, and sweeps key ranges. The simulator drives the cluster's repair
// with it; the BullMQ workers run the same functions, one job at a time.
import type { RingView } from '../../client/src/core/preference.ts';
import type { NodeId } from '../../client/src/core/ring.ts';
import type { Transport } from '../../client/src/runtime.ts';
import { syncPair, sweepPairs, type SyncStats } from './anti-entropy.ts';
import { expireHints } from './expiry.ts';
import { replayHints, type ReplayStats } from './handoff.ts';
import { reclaim, type CandidateStore } from './reclaim.ts';

export interface TickerOptions {
  readonly transport: Transport;
  readonly view: () => RingView;
  readonly timeoutMs: number;
  readonly candidates: CandidateStore;
  /** the caller's clock, for the reclaim grace period */
  readonly now: () => number;
  readonly reclaimGraceMs: number;
}

export interface SweepReport {
  partitions: number;
  keysCompared: number;
  keysSent: number;
  rootsEqual: boolean;
  reclaimed: number;
  compacted: number;
}

export class RepairTicker {
  private readonly o: TickerOptions;
  constructor(o: TickerOptions) {
    this.o = o;
  }

  /** Delivers every hint whose targets answer. */
  async replayAll(): Promise<ReplayStats> {
    const total: ReplayStats = { read: 0, delivered: 0, deleted: 0, passedOn: 0, failed: 0 };
    const view = this.o.view();
    for (const m of view.ring.members) {
      const stats = await replayHints({
        transport: this.o.transport,
        view,
        holder: m.id,
        owner: '',
        batch: 500,
        timeoutMs: this.o.timeoutMs,
      }).catch(() => null);
      if (!stats) continue;
      for (const k of Object.keys(total) as (keyof ReplayStats)[]) total[k] += stats[k];
    }
    return total;
  }

  /** Syncs every pair of replicas of the given key ranges (all when omitted), then reclaims quiet keys (repair/reclaim.ts). */
  async sweep(partitions?: readonly number[]): Promise<SweepReport> {
    const view = this.o.view();
    const ps = partitions ?? Array.from({ length: view.ring.partitions }, (_, p) => p);
    const report: SweepReport = { partitions: 0, keysCompared: 0, keysSent: 0, rootsEqual: true, reclaimed: 0, compacted: 0 };
    for (const p of ps) {
      const pairs: SyncStats[] = [];
      for (const [a, b] of sweepPairs(view, p))
        pairs.push(await syncPair({ transport: this.o.transport, timeoutMs: this.o.timeoutMs, batchKeys: 200 }, p, a, b));
      const quiet = await reclaim({
        transport: this.o.transport,
        view,
        partition: p,
        now: this.o.now(),
        graceMs: this.o.reclaimGraceMs,
        candidates: this.o.candidates,
        timeoutMs: this.o.timeoutMs,
        limit: 10_000,
      });
      report.partitions++;
      report.keysCompared += pairs.reduce((n, s) => n + s.keysCompared, 0);
      report.keysSent += pairs.reduce((n, s) => n + s.sentToA + s.sentToB, 0);
      report.rootsEqual &&= pairs.every((s) => s.rootsEqual);
      report.reclaimed += quiet.reclaimed;
      report.compacted += quiet.compacted;
    }
    return report;
  }

  /** Hands hints past their age cap to their keys' primaries; returns how many were handed off and deleted. */
  async expire(nodes: readonly NodeId[]): Promise<number> {
    let handedOff = 0;
    for (const node of nodes)
      handedOff += (
        await expireHints({ transport: this.o.transport, view: this.o.view(), node, limit: 10_000, timeoutMs: this.o.timeoutMs })
      ).handedOff;
    return handedOff;
  }
}
