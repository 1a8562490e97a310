// The page's merge rule for the delivery note, a plain key: every distinct live value, sorted, joined.
export interface Sibling {
  readonly value?: unknown;
  readonly deleted: boolean;
}

export const SEPARATOR = ' / ';

export function mergeNotes(siblings: readonly Sibling[]): string {
  const parts = new Set<string>();
  for (const s of siblings) {
    if (s.deleted) continue;
    for (const part of String(s.value ?? '').split(SEPARATOR)) if (part.trim()) parts.add(part.trim());
  }
  return [...parts].sort().join(SEPARATOR);
}
