// Dotted version vectors and sibling sets against a naive model that keeps each version's
// whole causal history as an explicit set of dots.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { applyWrite, contextCovers, contextOf, merge, supersedes, type SiblingSet, type Version } from '../../storage/core/siblings.ts';
import { compare, coversDot, formatDot, join, leq, trim, EMPTY_VV, type Dot, type VersionVector } from '../../storage/core/version-vector.ts';

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
  | { kind: 'wipe'; at: number };

const step = (replicas: number): fc.Arbitrary<Step> =>
  fc.oneof(
    { weight: 5, arbitrary: fc.record({ kind: fc.constant('write' as const), at: fc.nat(replicas - 1), readFrom: fc.uniqueArray(fc.nat(replicas - 1), { minLength: 1, maxLength: replicas }), blind: fc.boolean(), gap: fc.nat(3) }) },
    { weight: 4, arbitrary: fc.record({ kind: fc.constant('sync' as const), from: fc.nat(replicas - 1), to: fc.nat(replicas - 1) }) },
    { weight: 1, arbitrary: fc.record({ kind: fc.constant('wipe' as const), at: fc.nat(replicas - 1) }) },
  );

const run = fc.integer({ min: 2, max: 4 }).chain((replicas) => fc.record({ replicas: fc.constant(replicas), steps: fc.array(step(replicas), { maxLength: 60 }) }));

interface World {
  real: SiblingSet[];
  naive: NaiveSet[];
  actors: string[];
  counters: Map<string, number>;
  epoch: number;
  writes: Version[];
}

function execute(replicas: number, steps: Step[], onStep?: (w: World, s: Step, context?: VersionVector) => void, maxContext = 1000): World {
  const w: World = {
    real: Array.from({ length: replicas }, () => []),
    naive: Array.from({ length: replicas }, () => []),
    actors: Array.from({ length: replicas }, (_, i) => `r${i}@0`),
    counters: new Map(),
    epoch: 0,
    writes: [],
  };
  for (const s of steps) {
    if (s.kind === 'write') {
      // a client reads some replicas, then writes through replica `at`, which uses its own actor
      let read: SiblingSet = [];
      let naiveRead: NaiveSet = [];
      for (const r of s.readFrom) {
        read = merge(read, w.real[r]!);
        naiveRead = naiveMerge(naiveRead, w.naive[r]!);
      }
      const context = s.blind ? EMPTY_VV : contextOf(read);
      const naiveCtx = s.blind ? new Set<string>() : naiveContext(naiveRead);
      const actor = w.actors[s.at]!;
      // counters are per node, shared by all keys: gaps stand for writes to other keys
      const counter = (w.counters.get(actor) ?? 0) + 1 + s.gap;
      w.counters.set(actor, counter);
      const past = trim(context, maxContext, new Set(w.real[s.at]!.map((v) => v.dot.actor)));
      const v: Version = { dot: { actor, counter }, past, deleted: false, writtenAt: 0, value: new Uint8Array() };
      w.writes.push(v);
      w.real[s.at] = applyWrite(w.real[s.at]!, v);
      w.naive[s.at] = naiveWrite(w.naive[s.at]!, naiveCtx, formatDot(v.dot));
      onStep?.(w, s, context);
    } else if (s.kind === 'sync') {
      w.real[s.to] = merge(w.real[s.to]!, w.real[s.from]!);
      w.naive[s.to] = naiveMerge(w.naive[s.to]!, w.naive[s.from]!);
      onStep?.(w, s);
    } else {
      // the replica's disk is lost: it comes back empty under a new actor
      w.real[s.at] = [];
      w.naive[s.at] = [];
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

test('trimming contexts: may leave extra siblings, never loses a write, never brings back an overwritten one', () => {
  fc.assert(
    fc.property(run, fc.integer({ min: 1, max: 3 }), ({ replicas, steps }, bound) => {
      const removed: Set<string>[] = Array.from({ length: replicas }, () => new Set());
      let previous: string[][] = Array.from({ length: replicas }, () => []);
      const w = execute(
        replicas,
        steps,
        (world, s) => {
          for (let r = 0; r < replicas; r++) {
            const now = dots(world.real[r]!);
            if (s.kind === 'wipe' && s.at === r) removed[r] = new Set();
            else for (const d of previous[r]!) if (!now.includes(d)) removed[r]!.add(d);
            for (const d of now) assert.ok(!removed[r]!.has(d), `replica ${r}: ${d} came back after being overwritten`);
            for (const v of world.real[r]!) assert.ok(v.past.size <= bound);
          }
          previous = world.real.map(dots);
        },
        bound,
      );
      // without lost disks, every write is still somewhere or superseded by a surviving version
      if (steps.some((s) => s.kind === 'wipe')) return;
      let all: SiblingSet = [];
      for (const set of w.real) all = merge(all, set);
      for (const x of w.writes) {
        const kept = all.some((s) => formatDot(s.dot) === formatDot(x.dot) || contextCovers(s.past, x));
        assert.ok(kept, `write ${formatDot(x.dot)} was lost`);
      }
    }),
    { numRuns: 300 },
  );
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
