// A node's report of itself (storage/status.ts), for `status`, the CLI and the gateway's admin fields.
import { claimantOf } from '../core/ring-change.ts';
import { partitionCounts, type NodeId } from '../../client/src/core/ring.ts';
import type { StorageNode } from '../node.ts';
import type { NodeStatus } from '../../client/src/status.ts';

/** What the node itself knows beyond its parts: its clock, and how far it is through start and shutdown. */
export interface StatusState {
  readonly now: number;
  readonly identityConfirmed: boolean;
  readonly accepting: boolean;
  readonly inflight: number;
}

export function statusReport(node: StorageNode, state: StatusState): NodeStatus {
  const { identity, gossip, transfers, replica } = node;
  const ring = node.ring;
  const counts = ring ? partitionCounts(ring) : new Map<NodeId, number>();
  const transfersNow = transfers.progress().map((p) => {
    const seconds = Math.max(0.001, ((p.finishedAt ?? state.now) - p.startedAt) / 1000);
    const rate = p.keys / seconds;
    const etaSeconds = p.state === 'running' && rate > 0 && p.total > p.keys ? Math.round((p.total - p.keys) / rate) : 0;
    return { ...p, keysPerSecond: Math.round(rate), bytesPerSecond: Math.round(p.bytes / seconds), etaSeconds };
  });
  return {
    id: node.id,
    cluster: node.config.cluster,
    actor: identity.actor,
    counter: identity.counter,
    lease: identity.lease,
    heardLeases: node.leases.all(),
    ringVersion: ring?.version ?? null,
    claimant: ring ? claimantOf(ring) : null,
    changing: ring ? ring.next !== null : false,
    transfersLeft: ring ? ring.transfers.filter((t) => !t.done).length : 0,
    transfersTotal: ring?.transfers.length ?? 0,
    members: (ring?.members ?? []).map((m) => ({
      id: m.id,
      address: m.address,
      weight: m.weight,
      leaving: m.leaving ?? null,
      partitions: counts.get(m.id) ?? 0,
      reachable: gossip.isUp(m.id),
      phi: m.id === node.id ? 0 : Math.round(gossip.phi(m.id) * 100) / 100,
    })),
    unreachable: gossip.down(),
    partitionsOwned: counts.get(node.id) ?? 0,
    transfers: transfersNow,
    copiesPlaced: transfers.copiesPlaced,
    entriesReceived: transfers.entriesReceived,
    keysDropped: transfers.keysDropped,
    hintBytes: replica.hintBytes,
    hints: replica.hintCount,
    repair: node.repair.counters,
    gossipRounds: gossip.rounds,
    ringForks: gossip.ringForks,
    corruptRecords: node.corruptRecords,
    historyPrunes: node.coordinator.historyPrunes,
    expiredVersions: node.coordinator.expiredVersions,
    diskErrors: replica.diskErrors,
    identityConfirmed: state.identityConfirmed,
    accepting: state.accepting,
    inflight: state.inflight,
  };
}
