// A storage node: its replica, its coordinator, and its part in membership (gossip, ring
// changes, key-range transfers, hinted handoff), over whatever transport, clock and engine it
// is given. bin/storage-node.ts runs one as a process; the simulator runs many in one process.
// This file wires the parts together; each of the node's own jobs has its file in node/:
// the dispatch table (dispatch.ts, handlers.ts), the restore check, the lease check of sets
// received, corrupt records, the ring and peers' runs on disk (meta.ts), the status report,
// the loops and the work shutdown waits for (work.ts), and hint replay by the node itself.
import { ConflictError, StoreError } from '../client/src/core/errors.ts';
import { receivedSiblingsLimit } from '../client/src/core/limits.ts';
import { RingView } from '../client/src/core/preference.ts';
import type { Member, NodeId, Ring } from '../client/src/core/ring.ts';
import type { SiblingSet } from '../client/src/core/siblings.ts';
import type { Engine, StoreKey } from './engine/engine.ts';
import { RecordEngine, type StoreName } from './engine/records.ts';
import { Coordinator, type CoordinatorConfig, type CoordinatorObserver, type Mint } from './coordinator.ts';
import { Identity } from './identity.ts';
import { ChangeHandler } from './membership/changes.ts';
import { DEFAULT_GOSSIP, Gossiper, type GossipOptions } from './membership/gossip.ts';
import { DEFAULT_TRANSFER, Transfers, type TransferOptions } from './membership/transfers.ts';
import { CorruptRecords } from './node/corrupt.ts';
import { dispatch, type Handlers } from './node/dispatch.ts';
import { nodeHandlers } from './node/handlers.ts';
import { replayOwnHints } from './node/hint-replay.ts';
import { LeaseCheck } from './node/lease-check.ts';
import { heardRuns, isRingOrHeard, persistRing, rememberRun, storedRing } from './node/meta.ts';
import { RestoreCheck } from './node/restore-check.ts';
import { statusReport } from './node/status-report.ts';
import { NodeWork } from './node/work.ts';
import { RepairService } from './repair/service.ts';
import { ExpiryScan } from './repair/expiry-scan.ts';
import { decodeSet } from '../client/src/protocol/codec.ts';
import type { ConflictReply, ErrorReply, Reply, Request } from '../client/src/protocol/messages.ts';
import { Replica, type HintLimits } from './replica.ts';
import type { Clock, Logger, Random, Transport } from '../client/src/runtime.ts';
import type { NodeStatus } from '../client/src/status.ts';
import { Watches } from './watch/watches.ts';

export interface NodeConfig extends CoordinatorConfig {
  readonly id: NodeId;
  readonly cluster: string;
  readonly hints: HintLimits;
  /** nodes always gossiped with (id and address), besides the ring's members */
  readonly seeds: readonly Member[];
  readonly gossip?: GossipOptions;
  readonly transfer?: TransferOptions;
  /**
   * Without a repair queue (no Redis), the node delivers its own hints this often; 0 leaves
   * hinted handoff to the repair workers.
   */
  readonly localHandoffEveryMs?: number;
  /** one key range's Merkle tree is checked against the data this often */
  readonly treeVerifyEveryMs?: number;
  /** start under a new epoch (after restoring the data directory from a backup) */
  readonly newEpoch?: boolean;
}

export interface NodeDeps {
  readonly config: NodeConfig;
  /** the ring to start a new cluster with; ignored when the data directory holds one */
  readonly bootstrap: Ring | null;
  readonly engine: Engine;
  readonly transport: Transport;
  readonly clock: Clock;
  readonly random: Random;
  readonly logger: Logger;
  /** told of every version this node makes (the simulator records them as ground truth) */
  readonly onMint?: (mint: Mint) => void;
  /** told of every get and put this node coordinates (the process's metrics) */
  readonly observer?: CoordinatorObserver;
  /** told of every key this node forgets by reclaiming it, with what it held */
  readonly onReclaim?: (key: string, set: SiblingSet) => void;
}

/** a node that left the ring delivers or passes on the hints it still holds this often */
const DEPARTED_HANDOFF_EVERY_MS = 2000;
const TRANSFER_EVERY_MS = 250;
/** the walk for expired values nobody reads (repair/expiry-scan.ts): keys per tick, and how often */
const EXPIRY_SCAN_KEYS = 1000;
const EXPIRY_SCAN_EVERY_MS = 10_000;
/** keys the walk looks at between turns of the event loop (about 1 ms of a node's time) */
const EXPIRY_SCAN_SLICE = 100;

export class StorageNode {
  readonly config: NodeConfig;
  readonly identity: Identity;
  readonly replica: Replica;
  readonly gossip: Gossiper;
  readonly coordinator: Coordinator;
  /** reads the keys this node holds expired versions of, so they become tombstones though no client reads them */
  readonly expiryScan: ExpiryScan;
  readonly transfers: Transfers;
  readonly repair: RepairService;
  readonly changes: ChangeHandler;
  /** gateways' long polls for new versions (docs/watches.md) */
  readonly watches: Watches;
  readonly #deps: NodeDeps;
  readonly #addresses = new Map<NodeId, string>();
  #view: RingView | null = null;
  #accepting = true;
  readonly #work: NodeWork;
  readonly #restore: RestoreCheck;
  readonly #lease: LeaseCheck;
  readonly #corrupt: CorruptRecords;
  readonly #table: Handlers;
  #ringListeners: ((ring: Ring) => void)[] = [];
  #returnListeners: ((node: NodeId) => void)[] = [];

  private constructor(deps: NodeDeps, identity: Identity, ring: Ring | null) {
    this.#deps = deps;
    this.config = deps.config;
    this.identity = identity;
    const { config, clock, logger, transport, engine } = deps;
    this.#work = new NodeWork(clock, logger);
    const track = (work: Promise<unknown>, what: string) => this.#work.track(work, what);
    this.#corrupt = new CorruptRecords(identity, logger, track);
    this.#restore = new RestoreCheck({
      self: config.id,
      cluster: config.cluster,
      identity,
      transport,
      clock,
      logger,
      gossip: () => this.gossip,
      view: () => this.#view,
      running: () => this.#accepting,
    });
    const setLimits = { maxSiblings: receivedSiblingsLimit(config.maxSiblings), maxActors: config.maxActors };
    this.#lease = new LeaseCheck({ self: config.id, identity, limits: setLimits, clock, gossip: () => this.gossip });
    for (const s of config.seeds) this.#addresses.set(s.id, s.address);
    if (ring) this.#view = new RingView(ring);
    const view = () => this.#view;
    this.gossip = new Gossiper({
      self: config.id,
      cluster: config.cluster,
      generation: () => identity.generation,
      life: identity.life,
      options: config.gossip ?? DEFAULT_GOSSIP,
      clock,
      random: deps.random,
      transport,
      logger,
      ring: () => this.#view?.ring ?? null,
      adopt: (r) => this.adoptRing(r),
      seeds: () => config.seeds.map((s) => s.id),
      partitions: () => this.#view?.ring.partitions,
      onReturn: (node) => {
        for (const l of this.#returnListeners) l(node);
      },
      remembered: heardRuns(engine.meta),
      remember: (b) => {
        const saved = rememberRun(engine.meta, b);
        track(saved, 'remember a peer run');
        return saved;
      },
      knowsRun: (life) => identity.knowsRun(life),
      onOlderSelf: (beat) =>
        void this.#restore.restored(beat).catch((e: unknown) => logger.error('could not record a new epoch', { error: String(e) })),
      lease: () => ({ epoch: identity.epoch, counter: identity.lease }),
      onLease: (node, lease) => this.leases.heard(node, lease.epoch, lease.counter),
    });
    const place = (key: string) => this.#requireView().place(key);
    this.replica = new Replica(engine, place, config.hints, config.maxActors, (set, from) => this.#lease.check(set, from));
    this.watches = new Watches((key) => this.replica.read(key), deps.clock);
    this.replica.onStored = (key) => this.watches.stored(key);
    this.coordinator = new Coordinator({
      self: config.id,
      config,
      view: () => this.#requireView(),
      replica: this.replica,
      identity,
      transport,
      clock,
      liveness: this.gossip,
      logger,
      track: (work) => track(work, 'replica write'),
      onMint: deps.onMint,
      rangeReady: (p) => this.#corrupt.rangeReady(p),
      observer: deps.observer,
    });
    this.expiryScan = new ExpiryScan({
      partitions: () => this.#view?.partitionsReplicatedBy(deps.config.id) ?? [],
      keysOf: (p, after) => this.replica.keysOf(p, after),
      decode: (bytes) => decodeSet(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength)),
      now: () => deps.clock.wallNow(),
      read: (key) => this.coordinator.get(key, 0, 0),
      limit: EXPIRY_SCAN_KEYS,
      slice: EXPIRY_SCAN_SLICE,
      pause: () => new Promise((resolve) => deps.clock.after(0, resolve)),
    });
    this.changes = new ChangeHandler({
      self: config.id,
      ring: () => this.#view?.ring ?? null,
      adopt: (r) => this.adoptRing(r),
      liveness: this.gossip,
      transport,
      logger,
      learnAddress: (id, address) => this.#addresses.set(id, address),
      timeoutMs: config.requestTimeoutMs,
    });
    this.transfers = new Transfers({
      self: config.id,
      options: config.transfer ?? DEFAULT_TRANSFER,
      clock,
      transport,
      replica: this.replica,
      liveness: this.gossip,
      logger,
      view,
      confirm: (partition) => this.changes.transferDone(partition, config.id),
      newIncarnation: (p) => this.identity.newIncarnation(p),
      loopback: this.loopback,
    });
    this.repair = new RepairService({
      self: config.id,
      replica: this.replica,
      identity,
      clock,
      logger,
      view: () => this.#requireView(),
      onReclaim: deps.onReclaim,
    });
    this.#table = nodeHandlers({
      node: this,
      clock,
      readiness: this.#restore.readiness,
      failure: (e, request) => this.#failure(e, request),
    });
  }

  static async open(given: NodeDeps): Promise<StorageNode> {
    // every value on disk is a record with its own format and checksum (engine/records.ts); a
    // record that fails its check is reported here, and before the node exists, remembered
    let node: StorageNode | null = null;
    const early: StoreKey[] = [];
    const report = (store: StoreName, key: StoreKey) =>
      node ? node.#corrupt.report(store, key) : store === 'meta' ? void early.push(key) : undefined;
    const { engine, migrated } = await RecordEngine.open(given.engine, report);
    const deps: NodeDeps = { ...given, engine };
    if (migrated > 0) deps.logger.info('migrated the data directory to the current format', { records: migrated });
    // reading every meta record once reports the corrupt ones; a corrupt record of the node's own
    // identity (epoch, lease, incarnations, runs) means it may no longer know which dots it made,
    // so it goes on as a new actor
    void [...deps.engine.meta.range()];
    const distrust = early.filter((k) => !isRingOrHeard(k));
    if (distrust.length > 0)
      deps.logger.error('corrupt identity records: going on as a new actor', { records: distrust.map((k) => JSON.stringify(k)) });
    const identity = await Identity.open(
      deps.engine.meta,
      deps.config.id,
      deps.config.cluster,
      deps.random,
      deps.config.newEpoch || distrust.length > 0,
    );
    if (deps.engine.buffered && !identity.previousRunStoppedCleanly) {
      // with buffered durability a crash can lose versions this node made and sent on: their
      // dots must never be claimed by a later dot of the same actor
      deps.logger.warn('the last run did not stop cleanly and writes are buffered: going on as a new actor');
      await identity.renewEpoch();
    }
    const stored = storedRing(deps.engine.meta);
    const ring = stored ?? deps.bootstrap;
    if (stored && deps.bootstrap)
      deps.logger.info('using the ring stored in the data directory; the node list only bootstraps new clusters');
    deps.logger.info('node open', {
      node: deps.config.id,
      actor: identity.actor,
      counter: identity.counter,
      generation: identity.generation,
      ringVersion: ring?.version ?? null,
    });
    const opened = new StorageNode(deps, identity, ring);
    node = opened;
    opened.#corrupt.count = early.length;
    if (ring && !stored) await persistRing(deps.engine.meta, ring);
    return opened;
  }

  /** Records on disk that failed their checksum since start (each counted once). */
  get corruptRecords(): number {
    return this.#corrupt.count;
  }

  /** the dot-counter leases peers advertised in their own heartbeats, in memory (core/leases.ts) */
  get leases(): LeaseCheck['leases'] {
    return this.#lease.leases;
  }

  /** received sets naming an actor of another node whose lease was heard */
  get setsJudgedByLease(): number {
    return this.#lease.setsJudged;
  }

  /** of those, sets refused for a counter above it */
  get setsRefusedByLease(): number {
    return this.#lease.setsRefused;
  }

  get id(): NodeId {
    return this.config.id;
  }

  /** The current ring view; throws UNAVAILABLE before the node has one (waiting to join). */
  get view(): RingView {
    return this.#requireView();
  }

  get ring(): Ring | null {
    return this.#view?.ring ?? null;
  }

  /** Where a node listens: from the ring, the seeds, or a join in progress. */
  addressOf(id: NodeId): string | undefined {
    return this.#view?.ring.members.find((m) => m.id === id)?.address ?? this.#addresses.get(id);
  }

  onRing(listener: (ring: Ring) => void): void {
    this.#ringListeners.push(listener);
  }

  /** Called when a peer this node could not reach answers again (to schedule its hints' replay). */
  onPeerReturn(listener: (node: NodeId) => void): void {
    this.#returnListeners.push(listener);
  }

  /** Owners this node holds hints for. */
  hintOwners(): NodeId[] {
    return this.replica.hintedOwners();
  }

  /** A transport that reaches this node directly and every other through the network. */
  get loopback(): Transport {
    return {
      request: (to, message, timeoutMs) =>
        to === this.id ? this.handle(this.id, message) : this.#deps.transport.request(to, message, timeoutMs),
    };
  }

  /**
   * Takes a newer ring (from gossip or a decided change), keeps it on disk and acts on it.
   * Resolves once it is on disk (a claimant answers for a change only then).
   */
  adoptRing(ring: Ring): Promise<void> {
    const before = this.#view?.ring;
    if (before && ring.version < before.version) return Promise.resolve();
    if (before && ring.n !== before.n) {
      this.#deps.logger.error('refused a ring with another N', { mine: before.n, theirs: ring.n });
      return Promise.resolve();
    }
    this.#view = new RingView(ring);
    const persisted = persistRing(this.#deps.engine.meta, ring);
    this.#work.track(persisted, 'persist the ring');
    if (!before || before.version !== ring.version) {
      const transfersLeft = ring.transfers.filter((t) => !t.done).length;
      this.#deps.logger.info('ring', { version: ring.version, members: ring.members.length, changing: ring.next !== null, transfersLeft });
    }
    this.transfers.tick();
    for (const l of this.#ringListeners) l(ring);
    return persisted;
  }

  /**
   * Starts the restore check (node/restore-check.ts) and the background loops: gossip rounds,
   * transfers, hint delivery, the walk for expired values.
   */
  start(): void {
    void this.#restore.run();
    const every = (ms: number, work: () => Promise<unknown> | void) => this.#work.every(ms, work);
    every((this.config.gossip ?? DEFAULT_GOSSIP).intervalMs, () => this.gossip.tick());
    every(TRANSFER_EVERY_MS, () => this.transfers.tick());
    every(this.config.treeVerifyEveryMs ?? 60_000, () => {
      if (this.#view) this.repair.verifyNextTree();
    });
    every(this.config.localHandoffEveryMs || DEPARTED_HANDOFF_EVERY_MS, () => replayOwnHints(this, this.#view));
    every(EXPIRY_SCAN_EVERY_MS, () => this.expiryScan.tick());
  }

  /** Serves one request. Never rejects: failures become error replies. */
  handle = async (from: NodeId | null, request: Request): Promise<Reply> => {
    if (from !== null) this.gossip.success(from);
    if (!this.#accepting) return errorReply(new StoreError('SHUTTING_DOWN', `node ${this.id} is shutting down`));
    const work = this.#lease.serve(request, () => dispatch(this.#table, request, from)).catch((e: unknown) =>
      // a failed condition answers with the set the coordinator held, for the writer to merge
      e instanceof ConflictError ? ({ type: 'conflict', set: e.siblings } satisfies ConflictReply) : this.#failure(e, request),
    );
    this.#work.track(work, request.type);
    return work;
  };

  status(): NodeStatus {
    const state = {
      now: this.#deps.clock.now(),
      identityConfirmed: this.#restore.confirmed,
      accepting: this.#accepting,
      inflight: this.#work.size,
    };
    return statusReport(this, state);
  }

  /** Stops taking requests, stops the loops, lets work in flight finish, and flushes. */
  async drain(): Promise<void> {
    this.#accepting = false;
    this.watches.close();
    await this.#work.drain();
    // without the mark, the next start takes this stop for a crash: safe, at the cost of an actor
    const { logger } = this.#deps;
    await this.identity.stoppedCleanly().catch((e: unknown) => logger.warn('could not record the clean stop', { error: String(e) }));
    await this.#deps.engine.flushed();
  }

  #requireView(): RingView {
    if (!this.#view) throw new StoreError('UNAVAILABLE', `node ${this.id} has not joined a ring yet`);
    return this.#view;
  }

  #failure(e: unknown, request: Request): ErrorReply {
    if (e instanceof StoreError) return errorReply(e);
    this.#deps.logger.error('request failed', { type: request.type, error: e instanceof Error ? e.stack : String(e) });
    return { type: 'error', code: 'INTERNAL', message: 'internal error', details: {} };
  }
}

export function errorReply(e: StoreError): ErrorReply {
  return { type: 'error', code: e.code, message: e.message, details: e.details };
}
