// What the typed-value fields (counter.ts, set.ts, map.ts) share: reading a key's joined
// state through the operation's loader, and sending an operation to the key's coordinator,
// with the same scope checks as get and put. docs/types.md gives the semantics.
import { StoreError } from '../client/src/core/errors.ts';
import { canonical } from '../client/src/core/crdt/canonical.ts';
import { joinSiblings, type Typed, type TypedOp, type TypeName } from '../client/src/core/crdt/typed.ts';
import { checkKey, checkQuorum } from '../client/src/core/limits.ts';
import { requireRead, requireWrite } from './access.ts';
import type { GatewayContext } from './context.ts';
import { spend } from './versions.ts';

/** Members or fields one operation may name. */
export const MAX_OP_ITEMS = 1000;
/** A map field's name, in UTF-16 code units. */
export const MAX_FIELD_LENGTH = 256;

/** The join of the key's siblings, read with quorum r; null when the key holds no live value. */
export async function readTyped<T extends TypeName>(
  ctx: GatewayContext,
  key: string,
  type: T,
  r: number | null | undefined,
): Promise<Extract<Typed, { type: T }> | null> {
  checkKey(key);
  requireRead(ctx, key);
  if (r != null) checkQuorum('r', r, ctx.client.defaults.n);
  spend(ctx, 1);
  const [result] = await ctx.reads.load({ keys: [key], r: r ?? 0 });
  if (result instanceof Error) throw result;
  return joinSiblings(key, result!.siblings, type) as Extract<Typed, { type: T }> | null;
}

/** Applies `op` at the key's coordinator; answers the state it wrote. */
export async function updateTyped<T extends TypeName>(
  ctx: GatewayContext,
  key: string,
  op: Extract<TypedOp, { type: T }>,
  w: number | null | undefined,
): Promise<Extract<Typed, { type: T }>> {
  checkKey(key);
  requireWrite(ctx, key);
  // the answer is the key's whole value after the change: writing it tells what the key holds
  requireRead(ctx, key);
  if (w != null) checkQuorum('w', w, ctx.client.defaults.n);
  const result = await ctx.client.update(key, op, { w: w ?? 0 });
  return result.state as Extract<Typed, { type: T }>;
}

/** Canonical JSON texts of the values, refused past the limit. */
export function canonicalAll(values: readonly unknown[], what: string): string[] {
  if (values.length > MAX_OP_ITEMS)
    throw new StoreError('BAD_REQUEST', `at most ${MAX_OP_ITEMS} ${what} per operation, got ${values.length}`);
  return values.map((v) => {
    try {
      return canonical(v);
    } catch (e) {
      throw new StoreError('BAD_REQUEST', `a ${what.replace(/s$/, '')} is not a JSON value: ${(e as Error).message}`);
    }
  });
}
