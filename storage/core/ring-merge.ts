// Which of two rings a node keeps when gossip brings it another: the higher version, and
// for one version (which a correct cluster never has twice) the one with the larger digest,
// so the choice is a lattice join: commutative, associative, idempotent, and every node
// ends with the same ring. A ring that does not hold together is refused before it gets here.
import { createHash } from 'node:crypto';
import { partitionBits } from '../../client/src/core/hash.ts';
import { RingError, type Ring } from '../../client/src/core/ring.ts';

export interface RingDigest {
  readonly version: number;
  /** 16 hex digits of MD5 over the ring's canonical form */
  readonly hash: string;
}

export function digestOf(ring: Ring): RingDigest {
  const canonical = JSON.stringify([
    ring.version,
    ring.partitions,
    ring.n,
    ring.members.map((m) => [m.id, m.address, m.weight, m.leaving ?? '']),
    ring.owners,
    ring.next,
    ring.transfers.map((t) => [t.partition, t.to, t.from, t.done]),
  ]);
  return { version: ring.version, hash: createHash('md5').update(canonical).digest('hex').slice(0, 16) };
}

/** Orders digests: positive when a is newer than b. */
export function compareDigests(a: RingDigest, b: RingDigest): number {
  return a.version - b.version || (a.hash < b.hash ? -1 : a.hash > b.hash ? 1 : 0);
}

export function mergeRings(a: Ring, b: Ring): Ring {
  return compareDigests(digestOf(a), digestOf(b)) >= 0 ? a : b;
}

/** Throws a RingError naming the first thing wrong with a ring received from elsewhere. */
export function validateRing(ring: Ring, partitions?: number): void {
  partitionBits(ring.partitions);
  if (partitions !== undefined && ring.partitions !== partitions) {
    throw new RingError(`ring has ${ring.partitions} partitions; this cluster has ${partitions}`);
  }
  if (!Number.isInteger(ring.version) || ring.version < 1) throw new RingError('ring version must be a positive integer');
  if (!Number.isInteger(ring.n) || ring.n < 1) throw new RingError('ring N must be a positive integer');
  if (ring.members.length === 0) throw new RingError('ring has no members');
  const ids = new Set(ring.members.map((m) => m.id));
  if (ids.size !== ring.members.length) throw new RingError('ring lists a member twice');
  if (new Set(ring.members.map((m) => m.address)).size !== ring.members.length) throw new RingError('ring lists an address twice');
  if (ring.owners.length !== ring.partitions) throw new RingError('ring owner table has the wrong length');
  for (const o of ring.owners) if (!ids.has(o)) throw new RingError(`ring owner ${o} is not a member`);
  if (ring.next) {
    if (ring.next.length !== ring.partitions) throw new RingError('ring next-owner table has the wrong length');
    const leaving = new Set(ring.members.filter((m) => m.leaving).map((m) => m.id));
    for (const o of ring.next) if (!ids.has(o) || leaving.has(o)) throw new RingError(`planned owner ${o} is not a staying member`);
  } else if (ring.transfers.length > 0 || ring.members.some((m) => m.leaving)) {
    throw new RingError('ring has transfers or leaving members but no change in progress');
  }
}
