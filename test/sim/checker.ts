// The checker: judges a run from what clients were told and from ground truth the simulator
// observed (which request each dot was minted for, and what a coordinator held when it made a
// blind delete), never from the system's own causal metadata. A version's `past` is what the
// system claims; the checker tests those claims, it does not rely on them.
//
// Against real processes there is no ground truth: a version is then known by the dot its
// acknowledgment named or by the id in its value, a tombstone of a delete that was not
// acknowledged by its key and its past (the context the delete carried, when the workload
// recorded it), or, seen only without its past, by elimination (the one tombstone of a key left
// unknown and the one delete of that key left unnamed; otherwise it stays unidentified), and
// the claims of a context are checked against the acknowledged writes alone. Real-process
// workloads delete only over a read.
//
// What each write could have seen, from the client history alone:
//   - a write made with a context saw the versions the read it took the context from returned;
//   - a blind delete saw what its coordinator held at that moment (recorded from the
//     coordinator's state when the dot was minted: ground truth, not version metadata);
//   - a blind write saw nothing;
//   and, transitively, whatever those versions' writes saw.
//
// Properties:
//   lost       an acknowledged write is in the final state (read as clients read, R=N), or some
//              acknowledged or final write saw it, or it is a delete whose tombstone was
//              reclaimed (recorded when a node forgot the key);
//   returned   nothing an acknowledged or final write saw is in the final state;
//   phantom    every version anywhere is a write someone attempted, with its value and delete flag;
//   minted     every dot is minted once, each write gets at most one dot, and an acknowledgment
//              names the dot the coordinator minted;
//   claims     a context (a read's, or one a coordinator built for a write) claims only
//              acknowledged writes its holder saw: the dotted-version-vector invariant (a claim
//              of a write that failed may name a version that never reached any disk, which
//              can supersede nothing);
//   maximal    no set holds a version that supersedes another;
//   converged  every primary holds the same versions, and no hint is left (checked when asked);
//   writable   a read-modify-write over a full read ends with exactly one version (checked by the
//              caller, reported here).
import { contextOf, supersedes, type SiblingSet, type Version } from '../../client/src/core/siblings.ts';
import { coversDot, equalVV, formatDot, type Dot, type VersionVector } from '../../client/src/core/version-vector.ts';

export interface WriteRecord {
  readonly id: string;
  readonly key: string;
  readonly deleted: boolean;
  /** the read whose context the write carried, or null for a blind write or delete */
  readonly readId: string | null;
  readonly context: VersionVector | null;
  outcome: 'pending' | 'ok' | 'failed';
  /** the dot the acknowledgment named */
  dot?: Dot;
}

export interface ReadRecord {
  readonly id: string;
  readonly key: string;
  readonly set: SiblingSet;
}

/** Ground truth from the simulator: a dot minted by a coordinator for a write. */
export interface MintRecord {
  readonly writeId: string;
  readonly key: string;
  readonly node: string;
  readonly version: Version;
  /** the versions the coordinator held for the key at that moment */
  readonly held: readonly Dot[];
}

export class History {
  readonly writes = new Map<string, WriteRecord>();
  readonly reads = new Map<string, ReadRecord>();
  readonly mints: MintRecord[] = [];
  /** dots of versions a node forgot by reclaiming their key (ground truth) */
  readonly reclaims = new Set<string>();
  #reads = 0;

  attempt(id: string, key: string, deleted: boolean, readId: string | null, context: VersionVector | null): WriteRecord {
    const w: WriteRecord = { id, key, deleted, readId, context, outcome: 'pending' };
    this.writes.set(id, w);
    return w;
  }

  read(key: string, set: SiblingSet): ReadRecord {
    const r = { id: `r${this.#reads++}`, key, set };
    this.reads.set(r.id, r);
    return r;
  }

  minted(m: MintRecord): void {
    this.mints.push(m);
  }

  reclaimed(_key: string, dots: readonly Dot[]): void {
    for (const dot of dots) this.reclaims.add(formatDot(dot));
  }

  acknowledged(): WriteRecord[] {
    return [...this.writes.values()].filter((w) => w.outcome === 'ok');
  }
}

/** The id a workload writes into every value, deletes included (a coordinator keeps no value for a delete). */
export function valueId(value: Uint8Array): string | null {
  try {
    return (JSON.parse(Buffer.from(value).toString('utf8')) as { id?: string }).id ?? null;
  } catch {
    return null;
  }
}

export interface FinalState {
  /** each key as a client reads it after repair: R=N through a coordinator */
  readonly reads: ReadonlyMap<string, SiblingSet>;
  /** each key's own set on each of its primaries */
  readonly primaries?: ReadonlyMap<string, ReadonlyMap<string, SiblingSet>>;
  /** hints still held anywhere, one line each */
  readonly hintsLeft?: readonly string[];
  /** keys a final read-modify-write could not bring to one version, with why */
  readonly unwritable?: readonly string[];
}

export interface Verdict {
  readonly violations: string[];
  readonly acknowledged: number;
  /** acknowledged writes present in the final state */
  readonly found: number;
  readonly lost: number;
  /** acknowledged deletes whose tombstones were reclaimed */
  readonly reclaimed: number;
  readonly returned: number;
  /** the most siblings and the most actors (dot and past entries) seen in any set of one key */
  readonly maxSiblings: number;
  readonly maxActors: number;
  /** against real processes: tombstones of deletes the client saw fail, named by their past, by elimination, or left unknown */
  readonly failedDeleteTombstones: { readonly byPast: number; readonly byElimination: number; readonly unknown: number };
}

const d = formatDot;

export function actorsOf(set: SiblingSet): number {
  const actors = new Set<string>();
  for (const v of set) {
    actors.add(v.dot.actor);
    for (const a of v.past.keys()) actors.add(a);
  }
  return actors.size;
}

export interface CheckOptions {
  /** every primary holds the same versions after repair, and no hint is left */
  readonly converge?: boolean;
  /**
   * histories were pruned to a small bound: an overwritten version may come back as a sibling
   * (the documented cost of pruning, client/src/core/siblings.ts), so versions back are counted, not
   * failed; every other property still holds
   */
  readonly pruned?: boolean;
}

export function check(history: History, final: FinalState, options: CheckOptions = {}): Verdict {
  const requireConvergence = options.converge ?? false;
  const violations: string[] = [];
  const writes = history.writes;

  // ---- ground truth: which write each dot was minted for (or, without it, what clients learned)
  const groundTruth = history.mints.length > 0;
  const writeOf = new Map<string, string>();
  const mintOf = new Map<string, MintRecord>();
  const failedDeleteTombstones = { byPast: 0, byElimination: 0, unknown: 0 };
  if (!groundTruth) {
    for (const w of history.acknowledged()) if (w.dot) writeOf.set(d(w.dot), w.id);
    // a tombstone keeps no value, but a coordinator makes a delete's version over exactly the
    // context the delete carried: one whose delete was not acknowledged (it timed out, say, yet
    // was applied) is known by its key and its past
    const unacknowledgedDeletes = new Map<string, WriteRecord[]>();
    for (const w of writes.values()) {
      if (w.deleted && w.outcome !== 'ok' && w.context) unacknowledgedDeletes.set(w.key, [...(unacknowledgedDeletes.get(w.key) ?? []), w]);
    }
    const named = new Set<string>();
    const tombstoneOf = (key: string, v: Version): string | undefined => {
      const candidates = (unacknowledgedDeletes.get(key) ?? []).filter((w) => equalVV(w.context!, v.past));
      // deletes over one context claim the same versions: once each has a tombstone, any of them stands for another
      const w = candidates.find((c) => !named.has(c.id)) ?? candidates[0];
      if (w) named.add(w.id);
      return w?.id;
    };
    const learn = (key: string, set: SiblingSet) => {
      for (const v of set) {
        if (writeOf.has(d(v.dot))) continue;
        const id = v.deleted ? tombstoneOf(key, v) : (valueId(v.value) ?? '');
        if (id !== undefined) writeOf.set(d(v.dot), id);
        if (id !== undefined && v.deleted) failedDeleteTombstones.byPast++;
      }
    };
    for (const r of history.reads.values()) learn(r.key, r.set);
    for (const [key, set] of final.reads) learn(key, set);
    for (const [key, replicas] of final.primaries ?? []) for (const set of replicas.values()) learn(key, set);
    // a tombstone seen only where pasts are not shown (a GraphQL read) and never again once it
    // was superseded: when exactly one unacknowledged delete of its key is left unnamed, and only
    // one such tombstone, it is that delete's (tombstones come from deletes alone)
    // (one shown with a past that matches no delete's context is a stranger, never eliminated)
    const unknown = new Map<string, Dot[]>();
    const strangers = new Set<string>();
    const seen = (key: string, set: SiblingSet) => {
      for (const v of set) {
        if (!v.deleted || writeOf.has(d(v.dot))) continue;
        if (v.past.size > 0) strangers.add(d(v.dot));
        const list = unknown.get(key) ?? [];
        if (!list.some((x) => d(x) === d(v.dot))) unknown.set(key, [...list, v.dot]);
      }
    };
    for (const r of history.reads.values()) seen(r.key, r.set);
    for (const [key, set] of final.reads) seen(key, set);
    for (const [key, replicas] of final.primaries ?? []) for (const set of replicas.values()) seen(key, set);
    for (const [key, dots] of unknown) {
      if (dots.some((x) => strangers.has(d(x)))) continue;
      const left = (unacknowledgedDeletes.get(key) ?? []).filter((w) => !named.has(w.id));
      if (dots.length === 1 && left.length === 1 && !coversDot(left[0]!.context!, dots[0]!)) {
        writeOf.set(d(dots[0]!), left[0]!.id);
        named.add(left[0]!.id);
        failedDeleteTombstones.byElimination++;
      } else {
        failedDeleteTombstones.unknown += dots.length;
      }
    }
  }
  for (const m of history.mints) {
    const key = d(m.version.dot);
    const other = writeOf.get(key);
    if (other !== undefined) violations.push(`dot ${key} was minted twice: for ${other} and for ${m.writeId}`);
    writeOf.set(key, m.writeId);
    const earlier = mintOf.get(m.writeId);
    if (earlier) violations.push(`write ${m.writeId} was applied twice: as ${d(earlier.version.dot)} and as ${key}`);
    else mintOf.set(m.writeId, m);
  }
  for (const w of groundTruth ? history.acknowledged() : []) {
    const m = mintOf.get(w.id);
    if (!m) violations.push(`write ${w.id} was acknowledged as ${w.dot ? d(w.dot) : '?'} but no coordinator minted a dot for it`);
    else if (!w.dot || d(w.dot) !== d(m.version.dot))
      violations.push(`write ${w.id} was acknowledged as ${w.dot ? d(w.dot) : '?'} but minted as ${d(m.version.dot)}`);
  }

  // ---- every version anywhere is an attempted write, with its value and delete flag
  const phantom = new Set<string>();
  const identify = (where: string, key: string, v: Version): string | null => {
    const id = writeOf.get(d(v.dot));
    const w = id === undefined ? undefined : writes.get(id);
    if (!w && !groundTruth && v.deleted) return null; // a delete not acknowledged: unidentified, not a phantom
    if (!w) {
      if (!phantom.has(d(v.dot)))
        violations.push(`${where}: '${key}' holds ${d(v.dot)}, which no coordinator minted for an attempted write`);
      phantom.add(d(v.dot));
      return null;
    }
    if (w.key !== key || w.deleted !== v.deleted || (!v.deleted && valueId(v.value) !== w.id)) {
      violations.push(`${where}: '${key}' holds ${d(v.dot)}, which does not match attempted write ${w.id}`);
    }
    return w.id;
  };
  const setWrites = (where: string, key: string, set: SiblingSet) => set.flatMap((v) => identify(where, key, v) ?? []);

  // ---- what each write saw, directly and transitively
  const direct = new Map<string, string[]>();
  for (const w of writes.values()) {
    const r = w.readId === null ? undefined : history.reads.get(w.readId);
    if (r) direct.set(w.id, setWrites(`read ${r.id}`, r.key, r.set));
    else if (w.deleted) direct.set(w.id, (mintOf.get(w.id)?.held ?? []).flatMap((dot) => writeOf.get(d(dot)) ?? []));
    else direct.set(w.id, []);
  }
  const closures = new Map<string, Set<string>>();
  const closure = (id: string): Set<string> => {
    let c = closures.get(id);
    if (c) return c;
    c = new Set();
    closures.set(id, c); // a cycle (impossible for a correct history) ends here
    for (const u of direct.get(id) ?? []) {
      c.add(u);
      for (const x of closure(u)) c.add(x);
    }
    return c;
  };
  const closureOfSet = (ids: readonly string[]) => {
    const c = new Set<string>(ids);
    for (const id of ids) for (const x of closure(id)) c.add(x);
    return c;
  };

  // ---- claims: a context covers only what its holder saw
  const ackedByKey = new Map<string, { dot: Dot; id: string }[]>();
  for (const w of history.acknowledged()) {
    const dot = mintOf.get(w.id)?.version.dot ?? w.dot;
    if (dot) ackedByKey.set(w.key, [...(ackedByKey.get(w.key) ?? []), { dot, id: w.id }]);
  }
  const checkClaims = (what: string, key: string, vv: VersionVector, saw: Set<string>) => {
    for (const a of ackedByKey.get(key) ?? []) {
      if (coversDot(vv, a.dot) && !saw.has(a.id))
        violations.push(`${what} claims ${d(a.dot)} (${a.id}) on '${key}' without having seen it`);
    }
  };
  for (const r of history.reads.values())
    checkClaims(`read ${r.id}`, r.key, contextOf(r.set), closureOfSet(setWrites(`read ${r.id}`, r.key, r.set)));
  for (const m of history.mints) {
    const w = writes.get(m.writeId);
    if (!w) {
      violations.push(`${d(m.version.dot)} was minted for ${m.writeId}, which no client attempted`);
      continue;
    }
    // the version's past, as the coordinator made it, may claim only what the writer saw
    checkClaims(`${d(m.version.dot)} (${w.id}, made by ${m.node})`, m.key, m.version.past, closure(w.id));
  }

  // ---- lost and returned, against the final state
  let found = 0;
  let lost = 0;
  let reclaimed = 0;
  let returned = 0;
  const finalWrites = new Map<string, Set<string>>();
  for (const [key, set] of final.reads) finalWrites.set(key, new Set(setWrites('final read', key, set)));
  const excused = new Map<string, Set<string>>();
  const reclaimedWrite = (w: WriteRecord) => {
    const m = mintOf.get(w.id);
    return m !== undefined && m.version.deleted && history.reclaims.has(d(m.version.dot));
  };
  for (const w of writes.values()) {
    // a write counts once it was acknowledged, is in the final state, or is a tombstone every primary held until it was reclaimed
    const present = (finalWrites.get(w.key)?.has(w.id) ?? false) || reclaimedWrite(w);
    if (w.outcome !== 'ok' && !present) continue;
    const e = excused.get(w.key) ?? new Set<string>();
    for (const x of closure(w.id)) e.add(x);
    excused.set(w.key, e);
    for (const u of closure(w.id)) {
      if (u !== w.id && finalWrites.get(w.key)?.has(u)) {
        returned++;
        if (!options.pruned)
          violations.push(
            `'${w.key}': ${u} is in the final state although ${w.id} (${w.outcome === 'ok' ? 'acknowledged' : 'applied'}) saw it`,
          );
      }
    }
  }
  for (const w of history.acknowledged()) {
    const present = finalWrites.get(w.key)?.has(w.id) ?? false;
    if (present) found++;
    else if (reclaimedWrite(w)) reclaimed++;
    else if (!excused.get(w.key)?.has(w.id)) {
      lost++;
      violations.push(
        `acknowledged write ${w.id} (${w.dot ? d(w.dot) : '?'}) on '${w.key}' is not in the final state and no later write saw it`,
      );
    }
  }

  // ---- maximal sets, bounds, convergence
  let maxSiblings = 0;
  let maxActors = 0;
  const look = (where: string, key: string, set: SiblingSet) => {
    maxSiblings = Math.max(maxSiblings, set.length);
    maxActors = Math.max(maxActors, actorsOf(set));
    for (const a of set)
      for (const b of set)
        if (supersedes(a, b)) violations.push(`${where}: '${key}' holds ${d(a.dot)}, which supersedes its sibling ${d(b.dot)}`);
  };
  for (const r of history.reads.values()) look(`read ${r.id}`, r.key, r.set);
  for (const [key, set] of final.reads) look('final read', key, set);
  for (const [key, replicas] of final.primaries ?? []) {
    for (const [node, set] of replicas) {
      look(`${node}`, key, set);
      setWrites(`${node}`, key, set);
    }
    if (!requireConvergence) continue;
    const sigs = [...replicas].map(([node, set]) => [node, set.map((v) => d(v.dot)).join(',')] as const);
    for (const [node, sig] of sigs.slice(1)) {
      if (sig !== sigs[0]![1]) violations.push(`'${key}': ${node} holds [${sig}] but ${sigs[0]![0]} holds [${sigs[0]![1]}]`);
    }
  }
  if (requireConvergence) for (const h of final.hintsLeft ?? []) violations.push(`a hint was never delivered: ${h}`);
  for (const u of final.unwritable ?? []) violations.push(`a read-modify-write over a full read did not end with one version: ${u}`);

  return {
    violations,
    acknowledged: history.acknowledged().length,
    found,
    lost,
    reclaimed,
    returned,
    maxSiblings,
    maxActors,
    failedDeleteTombstones,
  };
}

/**
 * One key's history, as the checker saw it, to print beside a violation: every write (with the
 * read it wrote over and the dot it was acknowledged as), in the simulator every dot minted (with
 * what its coordinator held), every read's versions, and the final set.
 */
export function story(history: History, final: FinalState, key: string): string[] {
  const version = (v: Version) =>
    `${d(v.dot)}${v.deleted ? ' tombstone' : ` ${valueId(v.value) ?? '?'}`}${v.past.size > 0 ? ` over {${[...v.past].map(([a, c]) => `${a}:${c}`).join(' ')}}` : ''}`;
  const lines: string[] = [];
  const reads = [...history.reads.values()].filter((r) => r.key === key);
  for (const w of history.writes.values()) {
    if (w.key !== key) continue;
    const context = w.context ? ` context {${[...w.context].map(([a, c]) => `${a}:${c}`).join(' ')}}` : '';
    lines.push(
      `${w.id} ${w.deleted ? 'delete' : 'put'} ${w.outcome}${w.dot ? ` as ${d(w.dot)}` : ''} over ${w.readId ?? 'nothing'}${context}`,
    );
  }
  for (const m of history.mints)
    if (m.key === key) lines.push(`${m.writeId} minted by ${m.node} as ${version(m.version)}, holding [${m.held.map(d).join(', ')}]`);
  for (const r of reads) lines.push(`${r.id} returned [${r.set.map(version).join(', ')}]`);
  lines.push(`final [${(final.reads.get(key) ?? []).map(version).join(', ')}]`);
  return lines.map((l) => `'${key}' ${l}`);
}
