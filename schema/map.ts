// Maps: a key holding named registers and counters that merges itself (docs/types.md).
import { StoreError } from '../client/src/core/errors.ts';
import { counterValue } from '../client/src/core/crdt/counter.ts';
import { EMPTY_MAP, type CrdtMap, type MapUpdate } from '../client/src/core/crdt/map.ts';
import { compareStrings } from '../client/src/core/crdt/canonical.ts';
import { builder } from './builder.ts';
import { canonicalAll, MAX_FIELD_LENGTH, MAX_OP_ITEMS, readTyped, updateTyped } from './typed.ts';

interface RegisterShape {
  readonly field: string;
  readonly value: unknown;
}

interface CounterShape {
  readonly field: string;
  readonly value: number;
}

interface MapShape {
  readonly key: string;
  readonly registers: readonly RegisterShape[];
  readonly counters: readonly CounterShape[];
}

const MapRegister = builder.objectRef<RegisterShape>('MapRegister').implement({
  description: 'A register field: the value of the causally latest write (concurrent writes: the one with the higher Lamport time, then actor).',
  fields: (t) => ({
    field: t.exposeString('field'),
    value: t.field({ type: 'JSON', nullable: true, description: 'Null once cleared.', resolve: (r) => r.value }),
  }),
});

const MapCounter = builder.objectRef<CounterShape>('MapCounter').implement({
  description: 'A counter field: the sum of every increment.',
  fields: (t) => ({ field: t.exposeString('field'), value: t.exposeInt('value') }),
});

const TypedMap = builder.objectRef<MapShape>('TypedMap').implement({
  description: 'A map of registers and counters, its siblings joined. A name may be both a register and a counter: they are two fields.',
  fields: (t) => ({
    key: t.exposeString('key'),
    registers: t.field({ type: [MapRegister], description: 'Ordered by field name.', resolve: (m) => m.registers }),
    counters: t.field({ type: [MapCounter], description: 'Ordered by field name.', resolve: (m) => m.counters }),
  }),
});

const MapRegisterInput = builder.inputType('MapRegisterInput', {
  description: 'Set a register field.',
  fields: (t) => ({
    field: t.string({ required: true }),
    value: t.field({ type: 'JSON', required: false, description: 'Null (or omitted) clears it.' }),
  }),
});

const MapIncrementInput = builder.inputType('MapIncrementInput', {
  description: 'Add to a counter field (negative to subtract).',
  fields: (t) => ({
    field: t.string({ required: true }),
    by: t.int({ required: true }),
  }),
});

function shape(key: string, m: CrdtMap): MapShape {
  const byField = <T extends { field: string }>(a: T, b: T) => compareStrings(a.field, b.field);
  return {
    key,
    registers: [...m.registers].map(([field, r]) => ({ field, value: JSON.parse(r.value) as unknown })).sort(byField),
    counters: [...m.counters].map(([field, c]) => ({ field, value: counterValue(c) })).sort(byField),
  };
}

function checkField(field: string): string {
  if (field.length === 0 || field.length > MAX_FIELD_LENGTH)
    throw new StoreError('BAD_REQUEST', `a map field name is 1 to ${MAX_FIELD_LENGTH} characters, got ${field.length}`);
  return field;
}

builder.queryFields((t) => ({
  map: t.field({
    type: TypedMap,
    description: 'A map of registers and counters, its siblings joined. Empty for a key never written or deleted. BAD_REQUEST when the key holds a plain value or another type.',
    args: {
      key: t.arg.string({ required: true }),
      r: t.arg.int({ description: 'Replicas that must answer (1..N); the cluster default when omitted.' }),
    },
    resolve: async (_root, args, ctx) => shape(args.key, (await readTyped(ctx, args.key, 'map', args.r))?.state ?? EMPTY_MAP),
  }),
}));

builder.mutationFields((t) => ({
  mapUpdate: t.field({
    type: TypedMap,
    description:
      "Sets register fields and increments counter fields at the key's coordinating replica, in one write. Returns the map after the change as that replica sees it. Needs read and write scope.",
    args: {
      key: t.arg.string({ required: true }),
      registers: t.arg({ type: [MapRegisterInput], description: 'Applied in order: a field set twice keeps the last.' }),
      increments: t.arg({ type: [MapIncrementInput] }),
      w: t.arg.int({ description: 'Replicas that must have the write on disk (1..N); the cluster default when omitted.' }),
    },
    resolve: async (_root, args, ctx) => {
      const registers = args.registers ?? [];
      const increments = args.increments ?? [];
      if (registers.length + increments.length === 0)
        throw new StoreError('BAD_REQUEST', 'mapUpdate needs at least one register or increment');
      if (registers.length + increments.length > MAX_OP_ITEMS)
        throw new StoreError('BAD_REQUEST', `at most ${MAX_OP_ITEMS} field updates per operation`);
      const values = canonicalAll(registers.map((r) => r.value ?? null), 'register values');
      const updates: MapUpdate[] = [
        ...registers.map((r, i) => ({ field: checkField(r.field), register: values[i]! })),
        ...increments.map((inc) => ({ field: checkField(inc.field), increment: inc.by })),
      ];
      return shape(args.key, (await updateTyped(ctx, args.key, { type: 'map', updates }, args.w)).state);
    },
  }),
}));
