// Moving key ranges during a ring change, from the receiving side: a node that is to become
// a replica of a key range pulls it, in throttled batches, from the replica whose place it
// takes (or, when that one was removed as dead, from every old replica), merges each key by
// the sibling rules, and tells the claimant once it holds everything. Writes made meanwhile
// reach it directly (coordinators send them to pending replicas too).
//
// After a change commits, a node drops the key ranges it no longer replicates, once a grace
// period has let every coordinator learn the new ring, and only once every current replica of
// the range holds every version the node holds (a final one-way anti-entropy pass, Riak's
// final fold): writes that reached only the old replicas, from coordinators that learned of
// the change late, move on before the copy here goes. A replica that cannot be reached holds
// the drop back. Before it forgets the range, the node moves its actor for the range on
// (identity.ts): should it ever replicate those keys again, it must not make dots there under
// an actor whose earlier dots it no longer holds.
import { call } from '../../client/src/call.ts';
import { StoreError } from '../../client/src/core/errors.ts';
import type { RingView } from '../../client/src/core/preference.ts';
import type { NodeId, Ring } from '../../client/src/core/ring.ts';
import type { SiblingSet } from '../../client/src/core/siblings.ts';
import { encodeSet } from '../../client/src/protocol/codec.ts';
import { pushRange } from '../repair/anti-entropy.ts';
import type { TransferBatchReply, TransferReadRequest } from '../../client/src/protocol/messages.ts';
import type { Liveness } from '../liveness.ts';
import type { Replica } from '../replica.ts';
import type { Clock, Logger, Transport } from '../../client/src/runtime.ts';
import type { TransferProgress } from '../../client/src/status.ts';

export interface TransferOptions {
  /** keys per batch */
  readonly batchKeys: number;
  /** bytes per batch (at least one key is sent) */
  readonly batchBytes: number;
  /** throttle: the receiving side keeps its pull rate under this */
  readonly maxBytesPerSecond: number;
  /** key ranges pulled at once */
  readonly concurrency: number;
  /** how long a node keeps key ranges it no longer replicates after a change commits */
  readonly dropGraceMs: number;
}

// 16 MiB/s of transfer keeps a 2-core node's foreground p99 within a few ms in our runs
export const DEFAULT_TRANSFER: TransferOptions = {
  batchKeys: 500,
  batchBytes: 4 * 1024 * 1024,
  maxBytesPerSecond: 16 * 1024 * 1024,
  concurrency: 4,
  dropGraceMs: 10_000,
};

/** a confirmed copy the ring does not show as done after this long is confirmed again */
const RECONFIRM_AFTER_MS = 5000;

export interface TransferDeps {
  readonly self: NodeId;
  readonly options: TransferOptions;
  readonly clock: Clock;
  readonly transport: Transport;
  readonly replica: Replica;
  readonly liveness: Liveness;
  readonly logger: Logger;
  readonly view: () => RingView | null;
  /** tells the claimant the key range is here; resolves once the claimant took note */
  readonly confirm: (partition: number) => Promise<void>;
  /** called, and waited for, before a key range is dropped */
  readonly newIncarnation: (partition: number) => Promise<void>;
  /** reaches this node too (for the final pass, which reads the range here) */
  readonly loopback: Transport;
}

export class Transfers {
  readonly #d: TransferDeps;
  readonly #progress = new Map<string, TransferProgress>();
  readonly #running = new Set<string>();
  /** key ranges held but no longer replicated, and since when */
  readonly #dropSeen = new Map<number, number>();
  /** the ring version #dropSeen was computed for */
  #scanned = -1;
  /** the planned owners of the change in progress, naming it */
  #plan = '';
  #dropping = false;
  /** key copies this node came to hold through transfers, and entries it received (more when pulling from several sources) */
  copiesPlaced = 0;
  entriesReceived = 0;
  keysDropped = 0;
  /** keys the last pass before a drop found missing on a replica, and sent */
  keysSentBeforeDrop = 0;

  constructor(deps: TransferDeps) {
    this.#d = deps;
  }

  /** Progress of the copies this node is receiving or has received for the current change. */
  progress(): TransferProgress[] {
    return [...this.#progress.values()];
  }

  /** Starts the copies this node owes the current change, confirms finished ones, drops what it no longer holds. */
  tick(): void {
    const view = this.#d.view();
    if (!view) return;
    const ring = view.ring;
    // progress of an earlier change stays visible until the next one is planned
    if (ring.next) {
      const plan = ring.next.join(',');
      if (plan !== this.#plan) {
        this.#plan = plan;
        this.#progress.clear();
      }
    }
    for (const t of ring.transfers) {
      if (t.to !== this.#d.self || t.done) continue;
      const id = `p${t.partition}`;
      // confirmed already: the ring saying so is on its way through gossip; should it not come
      // (the claimant failed before its ring reached its disk), confirm again
      const done = this.#progress.get(id);
      if (done?.state === 'confirmed') {
        if (this.#d.clock.now() - (done.confirmedAt ?? 0) < RECONFIRM_AFTER_MS) continue;
        done.state = 'copied';
      }
      if (this.#running.has(id) || this.#running.size >= this.#d.options.concurrency) continue;
      this.#running.add(id);
      void this.#run(ring, t.partition, t.from).finally(() => {
        this.#running.delete(id);
        // start the next range at once rather than at the next tick
        this.tick();
      });
    }
    if (!ring.next && !this.#dropping) {
      this.#dropping = true;
      void this.#dropStale(view).finally(() => (this.#dropping = false));
    }
  }

  /** The source side: one batch of a key range, in store order after the key `after`. */
  serve(req: TransferReadRequest): TransferBatchReply {
    const { partition, after } = req;
    const limit = Math.max(1, Math.min(req.limit, 10_000));
    const maxBytes = Math.max(1, req.maxBytes);
    const entries: { key: string; set: SiblingSet }[] = [];
    let bytes = 0;
    let done = true;
    for (const e of this.#d.replica.keysOf(partition, after)) {
      if (entries.length >= limit || (entries.length > 0 && bytes + e.bytes.byteLength > maxBytes)) {
        done = false;
        break;
      }
      entries.push({ key: e.key, set: this.#d.replica.readOwn(e.key) });
      bytes += e.bytes.byteLength;
    }
    let total = 0;
    if (after === '') for (const _ of this.#d.replica.keysOf(partition)) total++;
    return { type: 'transferBatch', total, done, entries };
  }

  async #run(ring: Ring, partition: number, from: NodeId | ''): Promise<void> {
    const id = `p${partition}`;
    const view = this.#d.view()!;
    const fallbackSources = () =>
      view
        .primaries(partition)
        .filter((n) => n !== this.#d.self && !ring.members.some((m) => m.id === n && m.leaving === 'remove') && this.#d.liveness.isUp(n));
    const sources = from !== '' && this.#d.liveness.isUp(from) ? [from] : fallbackSources();
    // a range already copied only needs its confirmation retried
    const existing = this.#progress.get(id);
    const p: TransferProgress =
      existing?.state === 'copied'
        ? existing
        : { ringVersion: ring.version, partition, sources, state: 'running', keys: 0, bytes: 0, total: 0, startedAt: this.#d.clock.now() };
    this.#progress.set(id, p);
    try {
      if (p.state !== 'copied') {
        if (sources.length === 0) throw new StoreError('UNAVAILABLE', `no replica of key range ${partition} is reachable to copy from`);
        const placed = new Set<string>();
        for (const source of sources) await this.#pull(source, partition, p, placed);
        this.copiesPlaced += placed.size;
        p.state = 'copied';
        p.finishedAt = this.#d.clock.now();
        this.#d.logger.info('key range copied', {
          partition,
          keys: p.keys,
          bytes: p.bytes,
          sources,
          ms: Math.round(p.finishedAt - p.startedAt),
        });
      }
      await this.#d.confirm(partition);
      p.state = 'confirmed';
      p.confirmedAt = this.#d.clock.now();
      p.error = undefined;
    } catch (e) {
      p.state = p.state === 'copied' ? 'copied' : 'retrying';
      p.error = (e as Error).message;
      this.#d.logger.warn('key range transfer will be retried', { partition, error: p.error });
      await this.#sleep(1000);
    }
  }

  async #pull(source: NodeId, partition: number, p: TransferProgress, placed: Set<string>): Promise<void> {
    let after = '';
    const { batchKeys, batchBytes, maxBytesPerSecond } = this.#d.options;
    const began = this.#d.clock.now();
    let pulled = 0;
    for (;;) {
      const request: TransferReadRequest = { type: 'transferRead', partition, after, limit: batchKeys, maxBytes: batchBytes };
      const reply = await call(this.#d.transport, source, request, 30_000);
      if (after === '') p.total += reply.total;
      for (const e of reply.entries) this.#d.replica.checkReceived(e.set, source);
      await Promise.all(reply.entries.map((e) => this.#d.replica.mergeIn(e.key, e.set, source)));
      for (const e of reply.entries) {
        const size = encodeSet(e.set).byteLength;
        p.bytes += size;
        pulled += size;
      }
      p.keys += reply.entries.length;
      this.entriesReceived += reply.entries.length;
      for (const e of reply.entries) placed.add(e.key);
      if (reply.done || reply.entries.length === 0) return;
      after = reply.entries[reply.entries.length - 1]!.key;
      // throttle: stay under the byte rate, so foreground requests keep their latency
      const ahead = (pulled / maxBytesPerSecond) * 1000 - (this.#d.clock.now() - began);
      if (ahead > 0) await this.#sleep(ahead);
    }
  }

  /**
   * Drops key ranges this node no longer replicates, a grace period after the change that
   * moved them. The ranges to look at are found once per ring version, not on every tick.
   */
  async #dropStale(view: RingView): Promise<void> {
    const now = this.#d.clock.now();
    const ring = view.ring;
    if (this.#scanned !== ring.version) {
      this.#scanned = ring.version;
      for (let p = 0; p < ring.partitions; p++) {
        if (view.isPrimary(this.#d.self, p)) this.#dropSeen.delete(p);
        else if (!this.#dropSeen.has(p) && this.#d.replica.holds(p)) this.#dropSeen.set(p, now);
      }
    }
    for (const [p, seen] of this.#dropSeen) {
      if (now - seen < this.#d.options.dropGraceMs) continue;
      const replicas = view.primaries(p).filter((n) => n !== this.#d.self);
      try {
        let pushed = 0;
        for (const to of replicas) {
          const stats = await pushRange(
            { transport: this.#d.loopback, timeoutMs: 30_000, batchKeys: this.#d.options.batchKeys },
            p,
            this.#d.self,
            to,
          );
          pushed += stats.sentToB;
        }
        this.keysSentBeforeDrop += pushed;
        if (this.#d.view()?.ring !== ring) return; // the ring moved on meanwhile: look again
        await this.#d.newIncarnation(p);
        const keys = await this.#d.replica.drop(p);
        this.keysDropped += keys;
        this.#dropSeen.delete(p);
        this.#d.logger.info('dropped a key range this node no longer replicates', {
          partition: p,
          keys,
          pushedToReplicas: pushed,
          ringVersion: ring.version,
        });
      } catch (e) {
        this.#d.logger.warn('a key range this node no longer replicates is kept until its replicas hold it', {
          partition: p,
          error: (e as Error).message,
        });
      }
    }
  }

  #sleep(ms: number): Promise<void> {
    return new Promise((resolve) => this.#d.clock.after(ms, resolve));
  }
}

