// The typed values (client/src/core/crdt/) against naive models. Each property runs a random
// history over three replicas, each its own actor: a step applies an operation at one replica
// (as a coordinator does, over everything it holds) or joins one replica's state into
// another's (as a read, read repair or anti-entropy brings siblings together). The models
// record every event and what each replica had seen when it happened.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { canonical } from '../../client/src/core/crdt/canonical.ts';
import { decodeOp, decodeTyped, encodeOp, encodeTyped } from '../../client/src/core/crdt/codec.ts';
import { counterValue } from '../../client/src/core/crdt/counter.ts';
import { members } from '../../client/src/core/crdt/orswot.ts';
import { applyOp, empty, joinSiblings, joinTyped, type Typed, type TypedOp, type TypeName } from '../../client/src/core/crdt/typed.ts';
import type { Version } from '../../client/src/core/siblings.ts';

const ACTORS = ['n1@1', 'n2@1', 'n3@2'];
const MEMBERS = ['"apple"', '"pear"', '{"id":1}', '7'];
const FIELDS = ['name', 'qty'];

type Step = { kind: 'op'; at: number; op: TypedOp } | { kind: 'sync'; from: number; to: number };

const at = fc.integer({ min: 0, max: ACTORS.length - 1 });
const sync = fc.record({ kind: fc.constant('sync' as const), from: at, to: at });
const counterOp = fc.integer({ min: -50, max: 50 }).map((by): TypedOp => ({ type: 'counter', by }));
const setOp = fc
  .tuple(fc.subarray(MEMBERS), fc.subarray(MEMBERS))
  .map(([add, remove]): TypedOp => ({ type: 'set', add, remove }));
const mapOp = fc
  .array(
    fc.oneof(
      fc.record({ field: fc.constantFrom(...FIELDS), register: fc.constantFrom(...MEMBERS) }),
      fc.record({ field: fc.constantFrom(...FIELDS), increment: fc.integer({ min: -5, max: 5 }) }),
    ),
    { minLength: 1, maxLength: 3 },
  )
  .map((updates): TypedOp => ({ type: 'map', updates: updates.map((u) => ({ ...u })) }));
const opsOf: Record<TypeName, fc.Arbitrary<TypedOp>> = { counter: counterOp, set: setOp, map: mapOp };

function history(type: TypeName) {
  return fc.array(fc.oneof(fc.record({ kind: fc.constant('op' as const), at, op: opsOf[type] }), sync), { maxLength: 40 });
}

interface Run {
  readonly states: Typed[];
  /** every operation, with the ids of the operations its replica had seen (itself included) */
  readonly events: { id: number; at: number; op: TypedOp; seen: Set<number> }[];
  readonly seen: Set<number>[];
}

/** Runs a history; every state goes through the codec on each step, as a stored value does. */
function run(type: TypeName, steps: readonly Step[]): Run {
  const states = ACTORS.map(() => empty(type));
  const seen = ACTORS.map(() => new Set<number>());
  const events: Run['events'] = [];
  const stored = (t: Typed) => decodeTyped(encodeTyped(t))!;
  for (const s of steps) {
    if (s.kind === 'op') {
      const id = events.length;
      seen[s.at]!.add(id);
      events.push({ id, at: s.at, op: s.op, seen: new Set(seen[s.at]) });
      states[s.at] = stored(applyOp(states[s.at]!, ACTORS[s.at]!, s.op));
    } else {
      states[s.to] = stored(joinTyped(states[s.to]!, states[s.from]!));
      for (const id of seen[s.from]!) seen[s.to]!.add(id);
    }
  }
  return { states, events, seen };
}

const all = (states: readonly Typed[]) => states.reduce(joinTyped);
const bytes = (t: Typed) => Buffer.from(encodeTyped(t)).toString('hex');

for (const type of ['counter', 'set', 'map'] as const) {
  test(`${type}: the join is commutative, associative and idempotent, to the byte`, () => {
    fc.assert(
      fc.property(history(type), (steps) => {
        const [a, b, c] = run(type, steps).states as [Typed, Typed, Typed];
        assert.equal(bytes(joinTyped(a, b)), bytes(joinTyped(b, a)));
        assert.equal(bytes(joinTyped(joinTyped(a, b), c)), bytes(joinTyped(a, joinTyped(b, c))));
        assert.equal(bytes(joinTyped(a, a)), bytes(a));
        // a state joined with one it has already absorbed is unchanged
        assert.equal(bytes(joinTyped(joinTyped(a, b), b)), bytes(joinTyped(a, b)));
      }),
      { numRuns: 300 },
    );
  });

  test(`${type}: every replica that has seen every event holds the same bytes, whatever the order of joins`, () => {
    fc.assert(
      fc.property(history(type), fc.array(fc.tuple(at, at), { maxLength: 12 }), (steps, gossip) => {
        const { states } = run(type, steps);
        // extra joins in a random order, then each replica joins everyone
        for (const [from, to] of gossip) states[to] = joinTyped(states[to]!, states[from]!);
        const finals = states.map((s, i) => states.reduce((acc, o, j) => (i === j ? acc : joinTyped(acc, o)), s));
        for (const f of finals) assert.equal(bytes(f), bytes(finals[0]!));
      }),
      { numRuns: 200 },
    );
  });
}

test('counter: the value after all joins is the sum of every increment applied at any replica', () => {
  fc.assert(
    fc.property(history('counter'), (steps) => {
      const { states, events } = run('counter', steps);
      const sum = events.reduce((n, e) => n + (e.op.type === 'counter' ? e.op.by : 0), 0);
      const joined = all(states);
      assert.equal(joined.type === 'counter' && counterValue(joined.state), sum);
    }),
    { numRuns: 300 },
  );
});

test('set: add wins; a member is present exactly when one of its adds was seen by no remove of it', () => {
  fc.assert(
    fc.property(history('set'), (steps) => {
      const { states, events } = run('set', steps);
      const expected = MEMBERS.filter((m) =>
        events.some(
          (add) =>
            add.op.type === 'set' &&
            add.op.add.includes(m) &&
            // removed only by a later remove of m that had seen this add (the op's own removes come before its adds)
            !events.some((rm) => rm.op.type === 'set' && rm.op.remove.includes(m) && rm.seen.has(add.id) && rm.id !== add.id),
        ),
      ).sort();
      const joined = all(states);
      assert.deepEqual(joined.type === 'set' && members(joined.state), expected);
    }),
    { numRuns: 400 },
  );
});

test('set: a concurrent add and remove of one member keeps it', () => {
  const a = applyOp(empty('set'), ACTORS[0]!, { type: 'set', add: ['"x"'], remove: [] });
  const b = joinTyped(empty('set'), a);
  const removed = applyOp(b, ACTORS[1]!, { type: 'set', add: [], remove: ['"x"'] });
  const readded = applyOp(a, ACTORS[0]!, { type: 'set', add: ['"x"'], remove: [] });
  const joined = joinTyped(removed, readded);
  assert.deepEqual(joined.type === 'set' && members(joined.state), ['"x"']);
  // with no concurrent add the remove holds
  const gone = joinTyped(removed, a);
  assert.deepEqual(gone.type === 'set' && members(gone.state), []);
});

test('map: counters sum every increment; a register holds a write no other write had seen', () => {
  fc.assert(
    fc.property(history('map'), (steps) => {
      const { states, events } = run('map', steps);
      const joined = all(states);
      assert.ok(joined.type === 'map');
      for (const field of FIELDS) {
        const sum = events.reduce(
          (n, e) =>
            n + (e.op.type === 'map' ? e.op.updates.reduce((k, u) => k + ('increment' in u && u.field === field ? u.increment : 0), 0) : 0),
          0,
        );
        const c = joined.state.counters.get(field);
        assert.equal(c ? counterValue(c) : 0, sum, `counter ${field}`);
        const writes = events.filter((e) => e.op.type === 'map' && e.op.updates.some((u) => 'register' in u && u.field === field));
        const r = joined.state.registers.get(field);
        if (writes.length === 0) {
          assert.equal(r, undefined);
          continue;
        }
        // the winner's value is the last this field got in some write that no later write to the field had seen
        const lastValue = (e: Run['events'][number]) => {
          const us = e.op.type === 'map' ? e.op.updates.filter((u) => 'register' in u && u.field === field) : [];
          const u = us[us.length - 1]!;
          return 'register' in u ? u.register : '';
        };
        const maximal = writes.filter((w) => !writes.some((o) => o.id !== w.id && o.seen.has(w.id)));
        assert.ok(
          maximal.some((w) => lastValue(w) === r!.value && ACTORS[w.at] === r!.actor),
          `register ${field}: ${r!.value} by ${r!.actor} is not a causally latest write`,
        );
      }
    }),
    { numRuns: 300 },
  );
});

test('a register write that saw another wins over it, whatever the actors and wall clocks', () => {
  const first = applyOp(empty('map'), 'zzz@9', { type: 'map', updates: [{ field: 'f', register: '"old"' }] });
  const second = applyOp(first, 'aaa@1', { type: 'map', updates: [{ field: 'f', register: '"new"' }] });
  for (const joined of [joinTyped(first, second), joinTyped(second, first)]) {
    assert.equal(joined.type === 'map' && joined.state.registers.get('f')?.value, '"new"');
  }
});

test('the codec: a state has one encoding; plain values, other bytes and non-canonical states do not decode', () => {
  fc.assert(
    fc.property(fc.constantFrom<TypeName>('counter', 'set', 'map'), fc.jsonValue(), fc.uint8Array({ maxLength: 40 }), (type, json, raw) => {
      assert.equal(decodeTyped(Buffer.from(JSON.stringify(json) ?? 'null')), null);
      const typed = decodeTyped(raw);
      if (typed) assert.equal(bytes(typed), Buffer.from(raw).toString('hex'));
      const e = empty(type);
      assert.equal(bytes(decodeTyped(encodeTyped(e))!), bytes(e));
    }),
  );
  const c = applyOp(empty('counter'), 'b', { type: 'counter', by: 2 });
  const text = Buffer.from(encodeTyped(c)).toString('latin1');
  assert.equal(
    decodeTyped(Buffer.from(text.replace('{"n":[],"p":[["b",2]]}', '{"p":[["b",2]],"n":[]}'), 'latin1')),
    null,
    'keys out of order',
  );
  assert.equal(decodeTyped(Buffer.from(text.replace('2', '0'), 'latin1')), null, 'a zero total');
});

test('operations round-trip through their encoding; malformed ones do not decode', () => {
  fc.assert(
    fc.property(fc.oneof(counterOp, setOp, mapOp), (op) => {
      assert.deepEqual(decodeOp(encodeOp(op)), op);
    }),
  );
  assert.equal(decodeOp(Buffer.from([1, ...Buffer.from('{"by":1.5}')])), null);
  assert.equal(
    decodeOp(Buffer.from([2, ...Buffer.from('{"add":["{\\"b\\":1,\\"a\\":2}"],"remove":[]}')])),
    null,
    'a member not in canonical form',
  );
  assert.equal(decodeOp(Buffer.from([9, ...Buffer.from('{}')])), null);
  assert.equal(canonical({ b: 1, a: [{ d: 1, c: 2 }] }), '{"a":[{"c":2,"d":1}],"b":1}');
  // as GraphQL parses an object literal
  assert.equal(canonical(Object.assign(Object.create(null) as object, { b: 1, a: 2 })), '{"a":2,"b":1}');
  assert.throws(() => canonical(new Date(0)), /object is not a JSON value/);
  assert.throws(() => canonical(Number.NaN), /NaN is not a JSON number/);
});

test('joinSiblings joins live siblings, skips tombstones, and refuses plain values and mixed types', () => {
  const v = (counter: number, value: Uint8Array, deleted = false): Version => ({
    dot: { actor: 'n1@1', counter },
    past: new Map(),
    deleted,
    writtenAt: 0,
    value,
  });
  const a = applyOp(empty('counter'), 'a', { type: 'counter', by: 3 });
  const b = applyOp(empty('counter'), 'b', { type: 'counter', by: 4 });
  const joined = joinSiblings('k', [v(1, encodeTyped(a)), v(2, encodeTyped(b)), v(3, new Uint8Array(0), true)], 'counter');
  assert.equal(joined?.type === 'counter' && counterValue(joined.state), 7);
  assert.equal(joinSiblings('k', [v(3, new Uint8Array(0), true)]), null);
  assert.throws(() => joinSiblings('k', [v(1, Buffer.from('"hello"'))], 'counter'), /key 'k' holds a plain value, not a counter/);
  assert.throws(() => joinSiblings('k', [v(1, encodeTyped(a))], 'set'), /key 'k' holds a counter, not a set/);
  assert.throws(() => joinSiblings('k', [v(1, encodeTyped(a)), v(2, encodeTyped(empty('set')))]), /siblings of two types/);
});
