// Prometheus metrics of one storage node, served at its /metrics: the latency of the gets and
// puts it coordinates, quorum failures by reason, the hints it holds, transfer progress during
// ring changes, and the repair counters. Gauges and counters kept by the node are read at
// scrape time; latencies and quorum failures come from the coordinator as they happen.
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { QUORUM_FAILURE_REASONS, type QuorumFailureReason } from '../client/src/core/errors.ts';
import type { CoordinatorObserver } from './coordinator.ts';
import type { StorageNode } from './node.ts';
import type { Clock } from '../client/src/runtime.ts';

// from half a millisecond (a local read) to the longest request timeout worth waiting for
const LATENCY_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

const TRANSFER_STATES = ['running', 'retrying', 'copied', 'confirmed'] as const;

export class NodeMetrics {
  readonly registry = new Registry();
  readonly #latency: Record<'get' | 'put', Histogram<'outcome'>>;
  readonly #quorumFailures: Counter<'kind' | 'reason'>;

  constructor() {
    collectDefaultMetrics({ register: this.registry });
    const registers = [this.registry];
    this.#latency = {
      get: new Histogram({
        name: 'dynamo_get_duration_seconds',
        help: 'Key reads this node coordinated (each key of a multi-get), until R replicas answered or the read failed; outcome ok or the error code',
        labelNames: ['outcome'],
        buckets: LATENCY_BUCKETS,
        registers,
      }),
      put: new Histogram({
        name: 'dynamo_put_duration_seconds',
        help: 'Puts this node coordinated, until W replicas acknowledged or the put failed; outcome ok or the error code',
        labelNames: ['outcome'],
        buckets: LATENCY_BUCKETS,
        registers,
      }),
    };
    this.#quorumFailures = new Counter({
      name: 'dynamo_quorum_failures_total',
      help: 'Reads and writes this node coordinated that missed their quorum: reason timeout, replicas_unavailable or primaries_unavailable',
      labelNames: ['kind', 'reason'],
      registers,
    });
    // every series exists from the start at zero, so a rate or an alert has something to read
    for (const kind of ['read', 'write']) for (const reason of QUORUM_FAILURE_REASONS) this.#quorumFailures.inc({ kind, reason }, 0);
    this.#latency.get.zero({ outcome: 'ok' });
    this.#latency.put.zero({ outcome: 'ok' });
  }

  /** What the coordinator reports to (node.ts passes it on). */
  readonly observer: CoordinatorObserver = {
    request: (kind: 'get' | 'put', ms: number, outcome: string) => this.#latency[kind].observe({ outcome }, ms / 1000),
    quorumFailure: (kind: 'read' | 'write', reason: QuorumFailureReason) => this.#quorumFailures.inc({ kind, reason }),
  };

  /** Registers the figures read from the node at each scrape. */
  watch(node: StorageNode, clock: Clock): void {
    const registers = [this.registry];
    const gauge = (name: string, help: string, value: () => number) =>
      new Gauge({
        name,
        help,
        registers,
        collect() {
          this.set(value());
        },
      });
    const counter = (name: string, help: string, value: () => number) =>
      new Counter({ name, help, registers, collect() { this.reset(); this.inc(value()); } });

    // hints
    gauge('dynamo_hints_stored', 'Hints this node holds for unreachable replicas', () => node.replica.hintCount);
    gauge('dynamo_hint_bytes', 'Bytes of hints this node holds', () => node.replica.hintBytes);
    gauge('dynamo_hint_oldest_age_seconds', 'Age of the oldest hint this node holds (0 without hints)', () => {
      const oldest = node.replica.oldestHintAt;
      return oldest === null ? 0 : Math.max(0, (clock.wallNow() - oldest) / 1000);
    });
    counter('dynamo_hints_replayed_total', 'Hints delivered and deleted', () => node.repair.counters.hintsReplayed);
    counter(
      'dynamo_hints_expired_total',
      "Hints past their age cap handed to their keys' primaries and deleted",
      () => node.repair.counters.hintsExpired,
    );

    // requests
    counter('dynamo_read_repairs_total', 'Replicas sent the merged set after a read found them behind', () => node.coordinator.readRepairs);
    counter(
      'dynamo_reads_widened_total',
      'Keys whose read asked the rest of their replicas after one of the first R failed or did not answer within --read-hedge-ms',
      () => node.coordinator.widenedReads,
    );
    counter('dynamo_puts_forwarded_total', 'Puts handed to another node to coordinate', () => node.coordinator.putsForwarded);

    // repair
    counter('dynamo_keys_repaired_total', 'Sibling sets merged in by anti-entropy', () => node.repair.counters.keysRepaired);
    counter('dynamo_tombstones_reclaimed_total', 'Tombstones reclaimed', () => node.repair.counters.tombstonesReclaimed);
    counter(
      'dynamo_corrupt_records_total',
      'Records on disk that failed their checksum (never served; repaired from other replicas)',
      () => node.corruptRecords,
    );
    counter(
      'dynamo_histories_compacted_total',
      "Quiet keys whose versions' histories were compacted",
      () => node.repair.counters.historiesCompacted,
    );
    counter('dynamo_merkle_mismatches_total', 'Merkle trees found to disagree with the data', () => node.repair.counters.treeMismatches);

    // ring and transfers
    gauge('dynamo_ring_version', 'Ring version this node holds', () => node.ring?.version ?? 0);
    gauge('dynamo_unreachable_peers', 'Peers this node cannot reach', () => node.gossip.down().length);
    gauge(
      'dynamo_ring_transfers_pending',
      "Key-range transfers of the ring change in progress not yet done, cluster-wide as this node's ring shows them (0 when no change is in progress)",
      () => (node.ring?.next ? node.ring.transfers.filter((t) => !t.done).length : 0),
    );
    gauge(
      'dynamo_ring_transfers_completed',
      "Key-range transfers of the ring change in progress already done, cluster-wide as this node's ring shows them",
      () => (node.ring?.next ? node.ring.transfers.filter((t) => t.done).length : 0),
    );
    new Gauge({
      name: 'dynamo_transfers',
      help: 'Key ranges this node receives for the current or last ring change, by state: running, retrying, copied (held here, not yet confirmed to the claimant), confirmed',
      labelNames: ['state'],
      registers,
      collect() {
        const progress = node.transfers.progress();
        for (const state of TRANSFER_STATES) this.set({ state }, progress.filter((p) => p.state === state).length);
      },
    });
    gauge(
      'dynamo_transfer_keys_remaining',
      'Keys the running transfers into this node have still to copy (as their sources counted them at the start)',
      () =>
        node.transfers
          .progress()
          .reduce((sum, p) => sum + (p.state === 'running' || p.state === 'retrying' ? Math.max(0, p.total - p.keys) : 0), 0),
    );
    counter('dynamo_transfer_entries_received_total', 'Entries received through key-range transfers', () => node.transfers.entriesReceived);
    counter(
      'dynamo_transfer_copies_placed_total',
      'Key copies this node came to hold through transfers',
      () => node.transfers.copiesPlaced,
    );
    counter('dynamo_keys_dropped_total', 'Keys dropped from key ranges this node no longer replicates', () => node.transfers.keysDropped);
  }
}
