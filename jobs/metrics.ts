// Prometheus metrics of the repair workers (the nodes export their own at /metrics).
import { Counter, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

export class RepairMetrics {
  readonly registry = new Registry();
  readonly hintsReplayed = new Counter({
    name: 'dynamo_repair_hints_replayed_total',
    help: 'Hints delivered and deleted by replay jobs',
    registers: [this.registry],
  });
  readonly hintsExpired = new Counter({
    name: 'dynamo_repair_hints_expired_total',
    help: "Hints past their age cap handed to their keys' primaries and deleted",
    registers: [this.registry],
  });
  readonly keysCompared = new Counter({
    name: 'dynamo_repair_keys_compared_total',
    help: 'Keys listed by anti-entropy in segments that differed',
    registers: [this.registry],
  });
  readonly keysRepaired = new Counter({
    name: 'dynamo_repair_keys_repaired_total',
    help: 'Sibling sets sent between replicas by anti-entropy',
    registers: [this.registry],
  });
  readonly tombstonesReclaimed = new Counter({
    name: 'dynamo_repair_tombstones_reclaimed_total',
    help: 'Tombstones reclaimed after the grace period',
    registers: [this.registry],
  });
  readonly historiesCompacted = new Counter({
    name: 'dynamo_repair_histories_compacted_total',
    help: "Quiet keys whose versions' histories were compacted after the grace period",
    registers: [this.registry],
  });
  readonly partitionsSwept = new Counter({
    name: 'dynamo_repair_partitions_swept_total',
    help: 'Key ranges whose replicas were all synced',
    registers: [this.registry],
  });
  readonly syncSeconds = new Histogram({
    name: 'dynamo_repair_sync_seconds',
    help: 'Duration of one anti-entropy sync of a replica pair',
    buckets: [0.005, 0.02, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
    registers: [this.registry],
  });
  readonly jobFailures = new Counter({
    name: 'dynamo_repair_job_failures_total',
    help: 'Repair job attempts that failed',
    labelNames: ['queue'],
    registers: [this.registry],
  });

  constructor() {
    collectDefaultMetrics({ register: this.registry });
  }
}
