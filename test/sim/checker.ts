// Records what clients attempted and what the cluster acknowledged, and checks the final
// state against it. The properties are those of the storage core and the fault issue:
//   1. every acknowledged write is a sibling, or covered by the context of a later write;
//   2. every sibling is a write someone attempted, with its value and its delete flag;
//   3. all replicas of a key hold the same sibling set (checked when asked);
//   4. nothing covered by an acknowledged write's context comes back (no resurrection);
//   5. no sibling set holds a version that supersedes another;
//   6. a read's context claims only writes that read saw (the dotted-vector invariant).
import { contextOf, supersedes, type SiblingSet } from '../../storage/core/siblings.ts';
import { coversDot, equalDots, formatDot, type Dot, type VersionVector } from '../../storage/core/version-vector.ts';

export interface WriteRecord {
  readonly id: string;
  readonly key: string;
  readonly deleted: boolean;
  readonly context: VersionVector | null;
  outcome: 'pending' | 'ok' | 'failed';
  dot?: Dot;
  /** the context the version was written over, when known */
  past?: VersionVector;
}

interface ReadRecord {
  readonly key: string;
  readonly set: SiblingSet;
}

export class History {
  readonly writes = new Map<string, WriteRecord>();
  readonly reads: ReadRecord[] = [];

  attempt(id: string, key: string, deleted: boolean, context: VersionVector | null): WriteRecord {
    const w: WriteRecord = { id, key, deleted, context, outcome: 'pending' };
    this.writes.set(id, w);
    return w;
  }

  read(key: string, set: SiblingSet): void {
    this.reads.push({ key, set });
  }

  acknowledged(): WriteRecord[] {
    return [...this.writes.values()].filter((w) => w.outcome === 'ok');
  }
}

/** The id a workload writes into every value (deletes carry none; their id comes from the attempt). */
export function valueId(value: Uint8Array): string {
  return (JSON.parse(Buffer.from(value).toString('utf8')) as { id: string }).id;
}

export interface Verdict {
  readonly violations: string[];
  readonly acknowledged: number;
  readonly found: number;
  readonly lost: number;
}

/**
 * `finals` maps each key to the merged state of all its replicas; `replicaStates`, when
 * given, to each replica's own set (for properties 3 and 5).
 */
export function check(
  history: History,
  finals: ReadonlyMap<string, SiblingSet>,
  replicaStates?: ReadonlyMap<string, ReadonlyMap<string, SiblingSet>>,
  requireConvergence = false,
): Verdict {
  const violations: string[] = [];
  const byDot = new Map<string, WriteRecord>();
  for (const w of history.writes.values()) if (w.dot) byDot.set(formatDot(w.dot), w);
  let found = 0;
  let lost = 0;

  for (const w of history.acknowledged()) {
    const final = finals.get(w.key) ?? [];
    const dot = w.dot!;
    const present = final.some((s) => equalDots(s.dot, dot));
    const covered = final.some((s) => coversDot(s.past, dot));
    if (present) found++;
    if (!present && !covered) {
      lost++;
      violations.push(`acknowledged write ${w.id} (${formatDot(dot)}) on '${w.key}' is neither a sibling nor covered by one`);
    }
    if (w.past) {
      for (const s of final) {
        if (!equalDots(s.dot, dot) && coversDot(w.past, s.dot)) {
          violations.push(`'${w.key}': ${formatDot(s.dot)} came back although acknowledged write ${w.id} was made over it`);
        }
      }
    }
  }

  const attemptedIds = new Map([...history.writes.values()].map((w) => [w.id, w]));
  for (const [key, final] of finals) {
    for (const s of final) {
      const w = byDot.get(formatDot(s.dot)) ?? (s.deleted ? undefined : attemptedIds.get(valueId(s.value)));
      if (!w) {
        if (!s.deleted) violations.push(`'${key}': sibling ${formatDot(s.dot)} is no write anyone attempted`);
        continue;
      }
      if (w.key !== key || w.deleted !== s.deleted) {
        violations.push(`'${key}': sibling ${formatDot(s.dot)} does not match attempted write ${w.id}`);
      }
    }
  }

  for (const r of history.reads) {
    const ctx = contextOf(r.set);
    for (const w of history.acknowledged()) {
      if (w.key !== r.key || !coversDot(ctx, w.dot!)) continue;
      const seen = r.set.some((s) => equalDots(s.dot, w.dot!) || coversDot(s.past, w.dot!));
      if (!seen) violations.push(`a read of '${r.key}' returned a context covering ${w.id} (${formatDot(w.dot!)}) without seeing it`);
    }
  }

  if (replicaStates) {
    for (const [key, replicas] of replicaStates) {
      const sets = [...replicas.entries()];
      for (const [node, set] of sets) {
        for (const a of set) for (const b of set) {
          if (supersedes(a, b)) violations.push(`'${key}' on ${node}: ${formatDot(a.dot)} supersedes sibling ${formatDot(b.dot)}`);
        }
      }
      if (requireConvergence && sets.length > 1) {
        const sig = (set: SiblingSet) => set.map((v) => formatDot(v.dot)).join(',');
        const first = sig(sets[0]![1]);
        for (const [node, set] of sets.slice(1)) {
          if (sig(set) !== first) violations.push(`'${key}': ${node} holds [${sig(set)}] but ${sets[0]![0]} holds [${first}]`);
        }
      }
    }
  }

  return { violations, acknowledged: history.acknowledged().length, found, lost };
}
