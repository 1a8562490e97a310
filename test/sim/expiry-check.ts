// The expiry checker: judges a run with TTLs from what clients did and saw, and when (the
// simulator's true time), never from the versions' own expiry times or any other metadata.
//
// A write with a TTL is made by its coordinator somewhere between the client sending it and
// being answered, with that coordinator's wall clock; a read decides expiry by its own
// coordinator's clock. With wall clocks at most `skewMs` apart, a write w with TTL T:
//   - has expired on every clock from w.answered + T + skewMs on, if it was acknowledged: a read
//     sent from then on must not show it (late);
//   - has expired on no clock before w.sent + T - skewMs: a full read (R=N, after repair, every
//     replica up) answered before then must show it, if it was acknowledged (early).
// Clients write blind only, so nothing a client did removes a version: an acknowledged write
// without a TTL must be in every full read and on every primary at the end (lost), and at the
// end, when every TTL is past on every clock and repair is done, no version of a write with a
// TTL may be live on any primary or in any read (back).
import { valueId } from './checker.ts';
import type { SiblingSet } from '../../client/src/core/siblings.ts';

export interface TtlWrite {
  readonly id: string;
  readonly key: string;
  /** null: no TTL */
  readonly ttlMs: number | null;
  readonly sentAt: number;
  answeredAt: number;
  outcome: 'pending' | 'ok' | 'failed';
}

export interface TtlRead {
  readonly key: string;
  readonly sentAt: number;
  readonly answeredAt: number;
  /** the write ids of the live versions the read returned */
  readonly live: readonly string[];
  /** a full read: R=N, every replica up, after repair */
  readonly full: boolean;
}

export class TtlHistory {
  readonly writes = new Map<string, TtlWrite>();
  readonly reads: TtlRead[] = [];

  read(key: string, sentAt: number, answeredAt: number, set: SiblingSet, full = false): TtlRead {
    const r = { key, sentAt, answeredAt, live: liveIds(set), full };
    this.reads.push(r);
    return r;
  }
}

export function liveIds(set: SiblingSet): string[] {
  return set.filter((v) => !v.deleted).map((v) => valueId(v.value) ?? '?');
}

/**
 * A write the client saw fail may still be made after its answer (a put handed on, waiting on
 * a lease): no coordinator makes one later than this after the client gave up.
 */
export const UNANSWERED_SLACK_MS = 60_000;

export interface TtlFinal {
  /** when the final reads were sent */
  readonly at: number;
  /** each primary's own set of each key, after repair */
  readonly primaries: ReadonlyMap<string, ReadonlyMap<string, SiblingSet>>;
}

export interface TtlVerdict {
  readonly violations: string[];
  /** reads that showed a write past its latest expiry */
  readonly late: number;
  /** full reads that missed an acknowledged write before its earliest expiry, or a write without TTL */
  readonly lost: number;
  /** versions of writes with a TTL live at the end */
  readonly back: number;
  /** full reads made while a write they held or had lost was between its earliest and latest expiry */
  readonly judgedBySkew: number;
}

export function judgeExpiry(history: TtlHistory, final: TtlFinal, skewMs: number): TtlVerdict {
  const violations: string[] = [];
  let late = 0;
  let lost = 0;
  let back = 0;
  let judgedBySkew = 0;
  const writes = [...history.writes.values()];
  for (const r of history.reads) {
    for (const id of r.live) {
      const w = history.writes.get(id);
      if (!w) {
        violations.push(`a read of '${r.key}' returned ${id}, which no client wrote`);
        continue;
      }
      if (w.ttlMs !== null && w.outcome === 'ok' && r.sentAt >= w.answeredAt + w.ttlMs + skewMs) {
        late++;
        violations.push(
          `a read of '${r.key}' sent at ${r.sentAt} ms showed ${id}, answered at ${w.answeredAt} ms with a TTL of ${w.ttlMs} ms: past its expiry on every clock`,
        );
      }
    }
    if (!r.full) continue;
    for (const w of writes) {
      if (w.key !== r.key || w.outcome !== 'ok' || w.answeredAt > r.sentAt) continue;
      const mustLive = w.ttlMs === null || r.answeredAt < w.sentAt + w.ttlMs - skewMs;
      if (w.ttlMs !== null && !mustLive && r.sentAt < w.answeredAt + w.ttlMs + skewMs) judgedBySkew++;
      if (mustLive && !r.live.includes(w.id)) {
        lost++;
        violations.push(
          `a full read of '${r.key}' at ${r.sentAt} ms lost acknowledged ${w.id}${w.ttlMs === null ? ' (no TTL)' : ` (TTL ${w.ttlMs} ms, sent at ${w.sentAt} ms: live on every clock)`}`,
        );
      }
    }
  }
  for (const [key, replicas] of final.primaries) {
    for (const [node, set] of replicas) {
      const ids = liveIds(set);
      for (const id of ids) {
        const w = history.writes.get(id);
        if (w && w.ttlMs !== null && final.at >= w.answeredAt + (w.outcome === 'ok' ? 0 : UNANSWERED_SLACK_MS) + w.ttlMs + skewMs) {
          back++;
          violations.push(`after repair, ${node} holds ${id} of '${key}' live, past its expiry on every clock`);
        }
      }
      for (const w of writes) {
        if (w.key === key && w.outcome === 'ok' && w.ttlMs === null && !ids.includes(w.id)) {
          lost++;
          violations.push(`after repair, ${node} lacks acknowledged ${w.id} of '${key}' (no TTL)`);
        }
      }
    }
  }
  return { violations, late, lost, back, judgedBySkew };
}
