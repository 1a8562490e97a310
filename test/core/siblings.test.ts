// Dotted version vectors and sibling sets against a naive model that keeps each version's
// whole causal history as an explicit set of dots.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import {
  actorCounters,
  applyWrite,
  bound,
  contextCovers,
  contextOf,
  merge,
  supersedes,
  type SiblingSet,
  type Version,
} from '../../client/src/core/siblings.ts';
import {
  compare,
  compareDots,
  coversDot,
  equalVV,
  formatDot,
  join,
  leq,
  meet,
  EMPTY_VV,
  type Dot,
  type VersionVector,
} from '../../client/src/core/version-vector.ts';

// ------------------------------------------------------------------ the naive model

interface NaiveVersion {
  readonly dot: string;
  /** every dot this version's writer had seen, and its own */
  readonly history: ReadonlySet<string>;
}
type NaiveSet = readonly NaiveVersion[];

const naiveWrite = (set: NaiveSet, context: ReadonlySet<string>, dot: string): NaiveSet => [
  ...set.filter((s) => !context.has(s.dot)),
  { dot, history: new Set([...context, dot]) },
];
const naiveMerge = (a: NaiveSet, b: NaiveSet): NaiveSet => {
  const all = [...a, ...b.filter((v) => !a.some((x) => x.dot === v.dot))];
  return all.filter((v) => !all.some((x) => x.dot !== v.dot && x.history.has(v.dot)));
};
const naiveContext = (set: NaiveSet): Set<string> => new Set(set.flatMap((v) => [...v.history]));

// ------------------------------------------------------------------ executions

/** One step of a run over `replicas` replicas of one key. */
type Step =
  | { kind: 'write'; at: number; readFrom: number[]; blind: boolean; gap: number }
  | { kind: 'sync'; from: number; to: number }
  | { kind: 'wipe'; at: number }
  | { kind: 'renew'; at: number };

const step = (replicas: number, renewals: number): fc.Arbitrary<Step> =>
  fc.oneof(
    {
      weight: 5,
      arbitrary: fc.record({
        kind: fc.constant('write' as const),
        at: fc.nat(replicas - 1),
        readFrom: fc.uniqueArray(fc.nat(replicas - 1), { minLength: 1, maxLength: replicas }),
        blind: fc.boolean(),
        gap: fc.nat(3),
      }),
    },
    { weight: 4, arbitrary: fc.record({ kind: fc.constant('sync' as const), from: fc.nat(replicas - 1), to: fc.nat(replicas - 1) }) },
    { weight: 1, arbitrary: fc.record({ kind: fc.constant('wipe' as const), at: fc.nat(replicas - 1) }) },
    { weight: renewals, arbitrary: fc.record({ kind: fc.constant('renew' as const), at: fc.nat(replicas - 1) }) },
  );

/** Runs of up to 60 steps; `renewals` weighs how often a replica goes on as a new actor, keeping its data. */
const runWith = (renewals: number, minLength = 0, maxLength = 60) =>
  fc
    .integer({ min: 2, max: 4 })
    .chain((replicas) =>
      fc.record({ replicas: fc.constant(replicas), steps: fc.array(step(replicas, renewals), { minLength, maxLength }) }),
    );
const run = runWith(0);

interface World {
  real: SiblingSet[];
  naive: NaiveSet[];
  actors: string[];
  counters: Map<string, number>;
  epoch: number;
  writes: Version[];
  /** every write's whole history in the naive model: what its writer had seen, and itself */
  seen: Map<string, ReadonlySet<string>>;
  /** writes and merges whose result the bound pruned */
  pruned: number;
}

function execute(
  replicas: number,
  steps: Step[],
  onStep?: (w: World, s: Step, context?: VersionVector) => void,
  maxActors = Infinity,
): World {
  const w: World = {
    real: Array.from({ length: replicas }, () => []),
    naive: Array.from({ length: replicas }, () => []),
    actors: Array.from({ length: replicas }, (_, i) => `r${i}@0`),
    counters: new Map(),
    epoch: 0,
    writes: [],
    seen: new Map(),
    pruned: 0,
  };
  const bounded = (set: SiblingSet, prefer: string[] = []) => {
    const b = bound(set, maxActors, prefer);
    if (b !== set) w.pruned++;
    return b;
  };
  for (const s of steps) {
    if (s.kind === 'write') {
      // a client reads some replicas, then writes through replica `at`, which uses its own actor
      let read: SiblingSet = [];
      let naiveRead: NaiveSet = [];
      for (const r of s.readFrom) {
        read = merge(read, w.real[r]!, maxActors);
        naiveRead = naiveMerge(naiveRead, w.naive[r]!);
      }
      const context = s.blind ? EMPTY_VV : contextOf(read);
      const naiveCtx = s.blind ? new Set<string>() : naiveContext(naiveRead);
      const actor = w.actors[s.at]!;
      // counters are per node, shared by all keys: gaps stand for writes to other keys
      const counter = (w.counters.get(actor) ?? 0) + 1 + s.gap;
      w.counters.set(actor, counter);
      const v: Version = { dot: { actor, counter }, past: context, deleted: false, writtenAt: 0, value: new Uint8Array() };
      w.writes.push(v);
      w.real[s.at] = bounded(
        applyWrite(w.real[s.at]!, v),
        w.real[s.at]!.map((x) => x.dot.actor),
      );
      w.naive[s.at] = naiveWrite(w.naive[s.at]!, naiveCtx, formatDot(v.dot));
      w.seen.set(formatDot(v.dot), new Set([...naiveCtx, formatDot(v.dot)]));
      onStep?.(w, s, context);
    } else if (s.kind === 'sync') {
      w.real[s.to] = bounded(merge(w.real[s.to]!, w.real[s.from]!, Infinity));
      w.naive[s.to] = naiveMerge(w.naive[s.to]!, w.naive[s.from]!);
      onStep?.(w, s);
    } else if (s.kind === 'wipe') {
      // the replica's disk is lost: it comes back empty under a new actor
      w.real[s.at] = [];
      w.naive[s.at] = [];
      w.actors[s.at] = `r${s.at}@${++w.epoch}`;
      onStep?.(w, s);
    } else {
      // the replica goes on as a new actor with its data (a start that could not rule out a restored backup)
      w.actors[s.at] = `r${s.at}@${++w.epoch}`;
      onStep?.(w, s);
    }
  }
  return w;
}

const dots = (set: SiblingSet) => set.map((v) => formatDot(v.dot)).sort();
const naiveDots = (set: NaiveSet) => set.map((v) => v.dot).sort();

test('sibling sets agree with the naive explicit-history model on every replica after every step', () => {
  fc.assert(
    fc.property(run, ({ replicas, steps }) => {
      execute(replicas, steps, (w) => {
        for (let r = 0; r < replicas; r++) assert.deepEqual(dots(w.real[r]!), naiveDots(w.naive[r]!));
      });
    }),
    { numRuns: 500 },
  );
});

test('merge is commutative, associative and idempotent, and never keeps a superseded version', () => {
  fc.assert(
    fc.property(run, ({ replicas, steps }) => {
      const w = execute(replicas, steps);
      const [a, b, c] = [w.real[0]!, w.real[1]!, w.real[replicas - 1]!];
      assert.deepEqual(dots(merge(a, b)), dots(merge(b, a)));
      assert.deepEqual(dots(merge(merge(a, b), c)), dots(merge(a, merge(b, c))));
      assert.deepEqual(dots(merge(a, a)), dots(a));
      const m = merge(a, b);
      for (const x of m) for (const y of m) assert.ok(!supersedes(x, y));
    }),
    { numRuns: 300 },
  );
});

/** merge as it was before its shortcuts (the same versions on both sides, one side's versions kept whole); sets bounded alike. */
function referenceMerge(a: SiblingSet, b: SiblingSet, maxActors: number): SiblingSet {
  if (b.length === 0) return a;
  if (a.length === 0) return b;
  const all: Version[] = [...a];
  for (const v of b) {
    const i = all.findIndex((x) => x.dot.actor === v.dot.actor && x.dot.counter === v.dot.counter);
    if (i < 0) all.push(v);
    else if (!equalVV(all[i]!.past, v.past)) all[i] = { ...all[i]!, past: meet(all[i]!.past, v.past) };
  }
  const maximal = all.filter((v) => !all.some((x) => supersedes(x, v)));
  return bound(maximal.sort((x, y) => compareDots(x.dot, y.dot)), maxActors);
}

test('merge gives what the merge without shortcuts gives, and a side itself when the result is its versions', () => {
  fc.assert(
    fc.property(runWith(1), fc.integer({ min: 2, max: 8 }), ({ replicas, steps }, max) => {
      execute(replicas, steps, (w) => {
        for (const a of w.real) {
          for (const b of w.real) {
            const m = merge(a, b, max);
            assert.deepEqual(m, referenceMerge(a, b, max));
            // the result made of one side's very versions is a side itself (either, when both hold them)
            const sides = [a, b].filter((s) => s.length === m.length && m.every((v, i) => v === s[i]));
            if (m.length > 0 && sides.length > 0) assert.ok(sides.includes(m), 'a side itself');
          }
        }
      }, max);
    }),
    { numRuns: 300, seed: Number(process.env.SIBLINGS_SEED ?? Date.now() % 2 ** 31) },
  );
});

test('a context covers exactly what its read saw: no dot it covers was missing from the read', () => {
  fc.assert(
    fc.property(run, ({ replicas, steps }) => {
      execute(replicas, steps, (w, s, context) => {
        if (s.kind !== 'write' || !context || s.blind) return;
        let read: NaiveSet = [];
        for (const r of s.readFrom) read = naiveMerge(read, w.naive[r]!);
        const seen = naiveContext(read);
        // every earlier write whose dot the context covers was seen by the read
        for (const v of w.writes.slice(0, -1)) {
          if (coversDot(context, v.dot)) assert.ok(seen.has(formatDot(v.dot)), `context covers unseen ${formatDot(v.dot)}`);
        }
      });
    }),
    { numRuns: 300 },
  );
});

test('two blind writes through one coordinator both survive; a write over a full read leaves one version', () => {
  const a = { actor: 'n1@e', counter: 3 };
  const b = { actor: 'n1@e', counter: 5 };
  const v = (dot: Dot, past: VersionVector = EMPTY_VV): Version => ({ dot, past, deleted: false, writtenAt: 0, value: new Uint8Array() });
  let set = applyWrite([], v(a));
  set = applyWrite(set, v(b));
  assert.deepEqual(dots(set), ['n1@e:3', 'n1@e:5']);
  assert.deepEqual(dots(merge(set, [v(b)])), dots(set));
  const merged = applyWrite(set, v({ actor: 'n2@e', counter: 1 }, contextOf(set)));
  assert.deepEqual(dots(merged), ['n2@e:1']);
  assert.ok(contextCovers(contextOf(merged), merged[0]!));
});

let prunedRuns = 0;
test('bounded histories: a key names at most the bound (beyond its siblings\' actors), no write is lost, and read-modify-writes over a full read end with one version everywhere within two rounds when the bound exceeds the siblings\' actors', () => {
  fc.assert(
    fc.property(runWith(3, 40, 120), fc.integer({ min: 2, max: 6 }), ({ replicas, steps }, max) => {
      const w = execute(
        replicas,
        steps,
        (world) => {
          for (const set of world.real) {
            const siblingsActors = new Set(set.map((v) => v.dot.actor)).size;
            assert.ok(actorCounters(set).size <= Math.max(max, siblingsActors), `${actorCounters(set).size} actors, bound ${max}`);
          }
        },
        max,
      );
      if (w.pruned > 0) prunedRuns++;
      // without lost disks, every write is still somewhere or was seen by the writer of a surviving version
      if (!steps.some((s) => s.kind === 'wipe')) {
        let all: SiblingSet = [];
        for (const set of w.real) all = merge(all, set, max);
        for (const x of w.writes) {
          const id = formatDot(x.dot);
          const kept = all.some((s) => formatDot(s.dot) === id || w.seen.get(formatDot(s.dot))!.has(id));
          assert.ok(kept, `write ${id} was lost`);
        }
      }
      // a client reads every replica and writes back through one, then the replicas sync: a
      // write over a pruned history may leave one extra sibling, which the next round removes
      const one = () => w.real.every((set) => set.length === 1) && new Set(w.real.map((set) => formatDot(set[0]!.dot))).size === 1;
      for (let round = 1; round <= 2 && !one(); round++) {
        let read: SiblingSet = [];
        for (const set of w.real) read = merge(read, set, max);
        // the writer's own actor must fit beside those of the siblings it replaces
        if (new Set(read.map((x) => x.dot.actor)).size >= max) return;
        const v: Version = {
          dot: { actor: 'client-merge@x', counter: round },
          past: contextOf(read),
          deleted: false,
          writtenAt: 0,
          value: new Uint8Array(),
        };
        w.real[0] = bound(applyWrite(w.real[0]!, v), max, w.real[0]!.map((x) => x.dot.actor));
        for (let sync = 0; sync < 2; sync++)
          for (let a = 0; a < replicas; a++) for (let b = 0; b < replicas; b++) w.real[b] = merge(w.real[b]!, w.real[a]!, max);
      }
      assert.ok(one(), `after two rounds: ${w.real.map((set) => dots(set).join(',')).join(' | ')}`);
    }),
    { numRuns: 400 },
  );
  process.stdout.write(`# ${prunedRuns} of 400 runs pruned a history\n`);
  assert.ok(prunedRuns > 40, `only ${prunedRuns} runs reached the bound`);
});

/** A version with an empty value and the given past, for the examples below. */
const version = (actor: string, counter: number, past: [string, number][]): Version => ({
  dot: { actor, counter },
  past: new Map(past),
  deleted: false,
  writtenAt: 0,
  value: new Uint8Array(),
});

test('bound() keeps the actors of siblings and drops the same entries from every version, so a context still covers whole versions', () => {
  const set = [version('a', 9, [['x', 1], ['y', 7], ['b', 2]]), version('b', 4, [['x', 3], ['z', 5]])];
  const b = bound(set, 3);
  assert.deepEqual([...actorCounters(b).keys()].sort(), ['a', 'b', 'y']);
  const ctx = contextOf(b);
  for (const s of b) assert.ok(contextCovers(ctx, s));
  assert.equal(bound(set, 10), set, 'under the bound a set is left as it is');
});

test('a version whose trimmed past names the dot of another but not all that one had overwritten does not supersede it, so what it overwrote cannot come back', () => {
  const old = version('d', 1, []);
  const b = version('b', 2, [['d', 1]]); // written over old
  const a = version('a', 1, [['b', 2]]); // written over b, its past trimmed of d's entry
  assert.equal(supersedes(a, b), false);
  const held = merge([b], [a]);
  assert.deepEqual(dots(held), ['a:1', 'b:2']);
  // a stale replica still holding the overwritten version syncs with this one
  assert.deepEqual(dots(merge(held, [old])), ['a:1', 'b:2'], 'the overwritten version stays gone');
});

test('vector order: compare agrees with leq both ways, and join is the least upper bound', () => {
  const vv = fc.dictionary(fc.constantFrom('a', 'b', 'c', 'd'), fc.integer({ min: 1, max: 5 })).map((o) => new Map(Object.entries(o)));
  fc.assert(
    fc.property(vv, vv, (a, b) => {
      const j = join(a, b);
      assert.ok(leq(a, j) && leq(b, j));
      for (const [k, n] of j) assert.equal(n, Math.max(a.get(k) ?? 0, b.get(k) ?? 0));
      const o = compare(a, b);
      assert.equal(o === 'equal' || o === 'before', leq(a, b));
      assert.equal(o === 'equal' || o === 'after', leq(b, a));
    }),
  );
});
