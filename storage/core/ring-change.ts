// Changing the ring, as riak_core's claimant does: a change is planned from the current
// ring, the key ranges whose replica sets change are copied to their new replicas, and only
// when every copy is confirmed does the change commit. One change at a time; each step is a
// new ring version, decided by one node (the claimant), so two different rings never share
// a version.
import { RingError, rebalanceOwners, walkOwners, type Member, type NodeId, type Ring, type Transfer } from '../../client/src/core/ring.ts';

export type Change =
  | { readonly kind: 'join'; readonly member: Member }
  | { readonly kind: 'leave'; readonly node: NodeId }
  | { readonly kind: 'remove'; readonly node: NodeId }
  | { readonly kind: 'replace'; readonly node: NodeId; readonly by: Member };

/** The node that decides changes for a ring: its lowest-id member that is not leaving. */
export function claimantOf(ring: Ring): NodeId {
  const m = ring.members.find((x) => !x.leaving);
  if (!m) throw new RingError('a ring without members has no claimant');
  return m.id;
}

export function inProgress(ring: Ring): boolean {
  return ring.next !== null;
}

/** Plans a change: the target owners, the members marked leaving or added, and the copies it needs. */
export function planChange(ring: Ring, change: Change, n: number, expectedVersion?: number): Ring {
  if (expectedVersion !== undefined && expectedVersion !== ring.version) {
    throw new RingError(`the ring is at version ${ring.version}, not ${expectedVersion}: look again before changing it`);
  }
  if (inProgress(ring)) {
    const left = ring.transfers.filter((t) => !t.done).length;
    throw new RingError(`a change is in progress (${left} of ${ring.transfers.length} transfers left): one change at a time`);
  }
  const has = (id: NodeId) => ring.members.some((m) => m.id === id);
  const staying = ring.members.filter((m) => !m.leaving);
  let members: Member[];
  let next: NodeId[];
  switch (change.kind) {
    case 'join': {
      checkNew(ring, change.member);
      members = [...ring.members, change.member];
      next = rebalanceOwners(ring, [...staying, change.member], n);
      break;
    }
    case 'leave':
    case 'remove': {
      if (!has(change.node)) throw new RingError(`${change.node} is not a member`);
      if (staying.length - 1 < n)
        throw new RingError(`${change.kind} of ${change.node} would leave ${staying.length - 1} nodes, fewer than N=${n}`);
      members = ring.members.map((m) => (m.id === change.node ? { ...m, leaving: change.kind } : m));
      next = rebalanceOwners(ring, staying.filter((m) => m.id !== change.node), n);
      break;
    }
    case 'replace': {
      if (!has(change.node)) throw new RingError(`${change.node} is not a member`);
      checkNew(ring, change.by);
      members = [...ring.members.map((m) => (m.id === change.node ? { ...m, leaving: 'remove' as const } : m)), change.by];
      // the replacement takes exactly the replaced node's partitions
      next = ring.owners.map((o) => (o === change.node ? change.by.id : o));
      break;
    }
  }
  members.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  const planned: Ring = { ...ring, version: ring.version + 1, members, next, transfers: [] };
  return commitIfComplete({ ...planned, transfers: planTransfers(planned, n) });
}

/**
 * The copies a change needs: for every key range whose replica set changes, each new replica
 * receives the range from the replica whose place it takes (pairing them in ring order), so
 * a version held by k old replicas is held by at least k new ones. When that replica was
 * removed as dead, the source is '' and the new replica pulls from every old replica.
 */
export function planTransfers(ring: Ring, n: number): Transfer[] {
  if (!ring.next) return [];
  const removed = new Set(ring.members.filter((m) => m.leaving === 'remove').map((m) => m.id));
  const transfers: Transfer[] = [];
  for (let p = 0; p < ring.partitions; p++) {
    const before = walkOwners(ring.owners, p, n);
    const after = walkOwners(ring.next, p, n);
    const gone = before.filter((x) => !after.includes(x));
    const arriving = after.filter((x) => !before.includes(x));
    arriving.forEach((to, i) => {
      const from = gone[i];
      transfers.push({ partition: p, to, from: from === undefined || removed.has(from) ? '' : from, done: false });
    });
  }
  return transfers;
}

/** Records that `to` holds all of key range `partition`; commits once every copy is confirmed. */
export function completeTransfer(ring: Ring, partition: number, to: NodeId): Ring {
  const i = ring.transfers.findIndex((t) => t.partition === partition && t.to === to);
  if (i < 0) throw new RingError(`no transfer of key range ${partition} to ${to} at ring version ${ring.version}`);
  if (ring.transfers[i]!.done) return ring;
  const transfers = ring.transfers.map((t, j) => (j === i ? { ...t, done: true } : t));
  return commitIfComplete({ ...ring, version: ring.version + 1, transfers });
}

/** Makes the planned owners current once nothing is left to copy; leaving members go. */
export function commitIfComplete(ring: Ring): Ring {
  if (!ring.next || ring.transfers.some((t) => !t.done)) return ring;
  return {
    version: ring.version + 1,
    partitions: ring.partitions,
    n: ring.n,
    members: ring.members.filter((m) => !m.leaving),
    owners: ring.next,
    next: null,
    transfers: [],
  };
}

function checkNew(ring: Ring, m: Member): void {
  if (ring.members.some((x) => x.id === m.id)) throw new RingError(`${m.id} is already a member`);
  const at = ring.members.find((x) => x.address === m.address);
  if (at) throw new RingError(`address ${m.address} is already in the ring (node ${at.id})`);
  if (!/^[A-Za-z0-9_.-]{1,64}$/.test(m.id)) throw new RingError(`node id '${m.id}' must be 1-64 letters, digits, _ . -`);
  if (!/^[^\s:/]+:\d{1,5}$/.test(m.address)) throw new RingError(`address '${m.address}' is not host:port`);
  if (!Number.isInteger(m.weight) || m.weight < 1 || m.weight > 1000) throw new RingError(`weight must be an integer from 1 to 1000`);
  if (ring.members.filter((x) => !x.leaving).length + 1 > ring.partitions) {
    throw new RingError(`the ring has ${ring.partitions} partitions: it cannot hold more nodes`);
  }
}
