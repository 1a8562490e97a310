// Canonical JSON: object keys sorted, no spaces, so equal values have equal text. Set members
// and register values are kept as this text, which is also how they are compared.

/** The canonical text of a JSON value; refuses what JSON cannot carry (undefined, NaN, functions). */
export function canonical(value: unknown): string {
  return JSON.stringify(sorted(value, 0));
}

const MAX_DEPTH = 64;

function sorted(value: unknown, depth: number): unknown {
  if (depth > MAX_DEPTH) throw new RangeError(`a JSON value nests deeper than ${MAX_DEPTH}`);
  if (value === null || typeof value === 'string' || typeof value === 'boolean') return value;
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) throw new RangeError(`${value} is not a JSON number`);
    return value;
  }
  if (Array.isArray(value)) return value.map((v) => sorted(v, depth + 1));
  // GraphQL literals arrive as objects without a prototype
  const proto: unknown = typeof value === 'object' ? Object.getPrototypeOf(value) : undefined;
  if (typeof value === 'object' && (proto === Object.prototype || proto === null)) {
    const out: Record<string, unknown> = {};
    for (const k of Object.keys(value).sort()) out[k] = sorted((value as Record<string, unknown>)[k], depth + 1);
    return out;
  }
  throw new RangeError(`${typeof value} is not a JSON value`);
}

export function compareStrings(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
