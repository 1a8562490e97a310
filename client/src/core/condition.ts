// The condition of a conditional put, checked by the key's coordinator over everything it
// holds for the key, in the same synchronous step that makes the new version (coordinator.ts):
// puts to one key are serialized there, so of several conditional writes through one
// coordinator made with the same context, exactly one passes. It is a check at one
// coordinator, not a compare-and-set across replicas: see docs/graphql.md, Conditional writes.
import type { PutCondition } from '../protocol/messages.ts';
import { isExpired } from './expiry.ts';
import { contextCovers, contextOf, type SiblingSet } from './siblings.ts';
import { EMPTY_VV, formatDot, join, type VersionVector } from './version-vector.ts';

/**
 * Why the condition fails over `current` (what the coordinator holds), or null when the write
 * may go on.
 *   current: every version held is covered by the context (no context: the key holds none,
 *            tombstones included). A delete the writer has not seen is a conflict too.
 *   absent:  no live version is held; tombstones and versions expired by `now` (the
 *            coordinator's wall clock, core/expiry.ts) do not count.
 */
export function conditionFailure(
  condition: PutCondition,
  context: VersionVector | null,
  current: SiblingSet,
  now = -Infinity,
): string | null {
  if (condition === 'current') {
    const unseen = current.filter((v) => !contextCovers(context ?? EMPTY_VV, v));
    if (unseen.length === 0) return null;
    return `the key holds ${unseen.length === 1 ? 'a version' : `${unseen.length} versions`} the context does not cover (${unseen.map((v) => formatDot(v.dot) + (v.deleted ? ' deleted' : '')).join(', ')})`;
  }
  const live = current.filter((v) => !v.deleted && !isExpired(v, now));
  if (live.length === 0) return null;
  return `the key holds ${live.length === 1 ? 'a live version' : `${live.length} live versions`} (${live.map((v) => formatDot(v.dot)).join(', ')})`;
}

/**
 * The context a conditional write is made over once its condition holds. A put if absent
 * replaces the tombstones it found, so the created value is the key's one version: its
 * context is the writer's joined with theirs. Otherwise the writer's context, as for any put.
 */
export function conditionalContext(condition: PutCondition, context: VersionVector | null, current: SiblingSet): VersionVector | null {
  if (condition !== 'absent' || current.length === 0) return context;
  return join(context ?? EMPTY_VV, contextOf(current));
}
