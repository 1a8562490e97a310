// Reads: Versions, Sibling, and the get and getMany queries.
import { StoreError } from '../client/src/core/errors.ts';
import { checkKey, checkQuorum, MAX_MGET_KEYS } from '../client/src/core/limits.ts';
import { contextOf, isLive, type SiblingSet, type Version } from '../client/src/core/siblings.ts';
import { formatDot } from '../client/src/core/version-vector.ts';
import { requireRead } from './access.ts';
import { builder } from './builder.ts';
import type { GatewayContext, ReadResults } from './context.ts';
import { decodeValue } from './values.ts';

interface VersionsShape {
  readonly key: string;
  readonly set: SiblingSet;
}

export const Sibling = builder.objectRef<Version>('Sibling').implement({
  description: 'One version of a key. Several siblings mean concurrent writes: merge them and write back with the context.',
  fields: (t) => ({
    value: t.field({
      type: 'JSON',
      nullable: true,
      description: 'The value; null for a delete (tombstone).',
      resolve: (v) => (v.deleted ? null : decodeValue(v.value)),
    }),
    deleted: t.boolean({ description: 'True for a delete: a tombstone that conflicts with concurrent edits.', resolve: (v) => v.deleted }),
    dot: t.string({
      description: 'The node actor and counter that wrote this version, e.g. "n2@k3x9a1:17".',
      resolve: (v) => formatDot(v.dot),
    }),
    writtenAt: t.string({
      nullable: true,
      description: "The coordinator's clock when the version was written (ISO 8601). For display only: it never decides anything.",
      resolve: (v) => new Date(v.writtenAt).toISOString(),
    }),
    expiresAt: t.string({
      nullable: true,
      description:
        "For a value written with ttlSeconds: when it expires (ISO 8601), by its coordinator's clock. " +
        'An expired value reads as a delete (deleted, value null) and is deleted. Null without a TTL.',
      resolve: (v) => (v.expiresAt === undefined ? null : new Date(v.expiresAt).toISOString()),
    }),
  }),
});

export const Versions = builder.objectRef<VersionsShape>('Versions').implement({
  description: 'Every causally-maximal version of a key, tombstones included, and one context covering them all.',
  fields: (t) => ({
    key: t.exposeString('key'),
    found: t.boolean({ description: 'True when at least one sibling is not a delete.', resolve: (v) => isLive(v.set) }),
    siblings: t.field({ type: [Sibling], resolve: (v) => v.set }),
    context: t.string({
      nullable: true,
      description: 'Opaque. Pass it to put or delete to supersede exactly these siblings. Null when the key was never written.',
      // signed only when asked for
      resolve: (v, _args, ctx) => (v.set.length > 0 ? ctx.contexts.sign(v.key, contextOf(v.set)) : null),
    }),
  }),
});

/** Keys one operation may read, over all its fields: aliases cannot multiply a getMany past this. */
export const MAX_OPERATION_KEYS = 5 * MAX_MGET_KEYS;

export function spend(ctx: GatewayContext, keys: number): void {
  ctx.readBudget.left -= keys;
  if (ctx.readBudget.left < 0) {
    throw new StoreError('BAD_REQUEST', `one operation may read at most ${MAX_OPERATION_KEYS} keys in all; split it into several`);
  }
}

/** Reads one key through the operation's loader (batched, deduplicated, grouped by coordinator). */
async function load(ctx: GatewayContext, key: string, r: number | null | undefined): Promise<VersionsShape> {
  checkKey(key);
  requireRead(ctx, key);
  if (r != null) checkQuorum('r', r, ctx.client.defaults.n);
  const [result] = await ctx.reads.load({ keys: [key], r: r ?? 0 });
  if (result instanceof Error) throw result;
  return { key, set: result!.siblings };
}

/**
 * Reads many keys through the loader in one load, each checked as `load` checks one: the
 * answer is one list, not a promise per key. A key refused or failed is its Error in place.
 */
async function loadAll(ctx: GatewayContext, keys: readonly string[], r: number | null | undefined): Promise<(VersionsShape | Error)[]> {
  const out: (VersionsShape | Error)[] = new Array(keys.length);
  const asked: string[] = [];
  const at: number[] = [];
  keys.forEach((key, i) => {
    try {
      checkKey(key);
      requireRead(ctx, key);
      if (r != null) checkQuorum('r', r, ctx.client.defaults.n);
      asked.push(key);
      at.push(i);
    } catch (e) {
      out[i] = e as Error;
    }
  });
  if (asked.length === 0) return out;
  let results: ReadResults;
  try {
    results = await ctx.reads.load({ keys: asked, r: r ?? 0 });
  } catch (e) {
    // the whole read failed: every key asked fails with it
    results = asked.map(() => e as Error);
  }
  results.forEach((result, j) => {
    const i = at[j]!;
    out[i] = result instanceof Error ? result : { key: keys[i]!, set: result.siblings };
  });
  return out;
}

builder.queryFields((t) => ({
  get: t.field({
    type: Versions,
    nullable: true,
    description: 'All siblings of a key and a context. A key never written has no siblings and a null context.',
    args: {
      key: t.arg.string({ required: true, description: '1 to 1024 bytes of UTF-8.' }),
      r: t.arg.int({ description: 'Replicas that must answer (1..N); the cluster default when omitted.' }),
    },
    resolve: (_root, args, ctx) => {
      spend(ctx, 1);
      return load(ctx, args.key, args.r);
    },
  }),
  getMany: t.field({
    type: [Versions],
    nullable: { list: false, items: true },
    description: `Up to ${MAX_MGET_KEYS} keys, answered in the order asked (duplicates each time). A key that fails is null, with its error in "errors".`,
    args: {
      keys: t.arg.stringList({ required: true }),
      r: t.arg.int(),
    },
    resolve: (_root, args, ctx) => {
      if (args.keys.length > MAX_MGET_KEYS) {
        throw new StoreError('BAD_REQUEST', `getMany takes at most ${MAX_MGET_KEYS} keys, got ${args.keys.length}`);
      }
      spend(ctx, args.keys.length);
      // an Error in the list is that item's error: GraphQL answers null there and reports it
      return loadAll(ctx, args.keys, args.r) as Promise<VersionsShape[]>;
    },
  }),
}));
