// A storage node: its replica, its coordinator, and its part in membership (gossip, ring
// changes, key-range transfers, hinted handoff), over whatever transport, clock and engine it
// is given. storage/main.ts runs one as a process; the simulator runs many in one process.
import { ConflictError, StoreError } from './core/errors.ts';
import { MAX_MGET_KEYS, receivedSiblingsLimit } from './core/limits.ts';
import { actorNodeEpoch, HeardLeases } from './core/leases.ts';
import { checkSet, setProblem } from './core/set-check.ts';
import { RingView } from './core/preference.ts';
import { claimantOf } from './core/ring-change.ts';
import { partitionCounts, type Member, type NodeId, type Ring } from './core/ring.ts';
import type { Engine, StoreKey } from './engine/engine.ts';
import { RecordEngine, type StoreName } from './engine/records.ts';
import { Coordinator, type CoordinatorConfig, type CoordinatorObserver, type Mint, type Readiness } from './coordinator.ts';
import { Identity } from './identity.ts';
import { ChangeHandler } from './membership/changes.ts';
import { DEFAULT_GOSSIP, Gossiper, type GossipOptions } from './membership/gossip.ts';
import { DEFAULT_TRANSFER, Transfers, type TransferOptions } from './membership/transfers.ts';
import { replayHints } from './repair/handoff.ts';
import { RepairService } from './repair/service.ts';
import { Reader, Writer, readRing, writeRing } from './protocol/codec.ts';
import type { ConflictReply, ErrorReply, Heartbeat, HintsRequest, MgetItem, Reply, Request } from './protocol/messages.ts';
import { Replica, type HintLimits } from './replica.ts';
import { actorCounters, type SiblingSet } from './core/siblings.ts';
import type { Clock, Logger, Random, Timer, Transport } from './runtime.ts';
import type { NodeStatus } from './status.ts';

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

const RING_KEY = ['ring'];

/** Meta records the node can lose without doubt about its own dots: the ring (gossip brings it) and peers' runs. */
function isRingOrHeard(key: StoreKey): boolean {
  const first = Array.isArray(key) ? key[0] : key;
  return first === 'ring' || first === HEARD;
}
/** a node that left the ring delivers or passes on the hints it still holds this often */
const DEPARTED_HANDOFF_EVERY_MS = 2000;
const TRANSFER_EVERY_MS = 250;
/** How long a node that could not be asked for its lease goes unjudged: until gossip has had a few rounds to reach it. */
const UNASKED_MS = 10_000;

/** A set refused only for counters above the leases heard from `nodes`. */
class LeaseRefusal extends StoreError {
  readonly nodes: readonly NodeId[];
  constructor(message: string, nodes: readonly NodeId[]) {
    super('BAD_REQUEST', message);
    this.nodes = nodes;
  }
}

/** How long a starting node waits for a member's word on its last run before asking again (see #checkRestored). */
const RESTORE_CHECK_TIMEOUT_MS = 500;
const RESTORE_CHECK_RETRY_MS = 250;
/** meta keys [HEARD, node]: the newest generation and life heard of each peer */
const HEARD = 'heard';

export class StorageNode {
  readonly config: NodeConfig;
  readonly identity: Identity;
  readonly replica: Replica;
  readonly gossip: Gossiper;
  /** the dot-counter leases peers advertised in their own heartbeats, in memory (core/leases.ts) */
  readonly leases = new HeardLeases();
  readonly coordinator: Coordinator;
  readonly transfers: Transfers;
  readonly repair: RepairService;
  readonly changes: ChangeHandler;
  readonly #deps: NodeDeps;
  readonly #addresses = new Map<NodeId, string>();
  #view: RingView | null = null;
  #accepting = true;
  /** work shutdown waits for, with what it is (for the log when a drain is slow) */
  readonly #inflight = new Map<Promise<unknown>, string>();
  readonly #timers: Timer[] = [];
  /** every member has answered the restore check, or the node went on as a new actor (see #checkRestored) */
  #confirmed = false;
  readonly #confirmWaiters: (() => void)[] = [];
  readonly #readiness: Readiness;
  #ringListeners: ((ring: Ring) => void)[] = [];
  #returnListeners: ((node: NodeId) => void)[] = [];

  private constructor(deps: NodeDeps, identity: Identity, ring: Ring | null) {
    this.#deps = deps;
    this.#readiness = this.#makeReadiness();
    this.config = deps.config;
    this.identity = identity;
    for (const s of deps.config.seeds) this.#addresses.set(s.id, s.address);
    if (ring) this.#view = new RingView(ring);
    const view = () => this.#view;
    this.gossip = new Gossiper({
      self: deps.config.id,
      cluster: deps.config.cluster,
      generation: () => identity.generation,
      life: identity.life,
      options: deps.config.gossip ?? DEFAULT_GOSSIP,
      clock: deps.clock,
      random: deps.random,
      transport: deps.transport,
      logger: deps.logger,
      ring: () => this.#view?.ring ?? null,
      adopt: (r) => this.adoptRing(r),
      seeds: () => deps.config.seeds.map((s) => s.id),
      partitions: () => this.#view?.ring.partitions,
      onReturn: (node) => {
        for (const l of this.#returnListeners) l(node);
      },
      remembered: [...deps.engine.meta.range({ start: [HEARD], end: [`${HEARD}\u0000`] })].flatMap((e) => {
        const r = new Reader(Buffer.from(e.value));
        return [{ node: String(e.key[1]), generation: r.u64(), beat: 0, life: r.str8() }];
      }),
      remember: (b) => {
        const w = new Writer(32);
        w.u64(b.generation);
        w.str8(b.life);
        const saved = deps.engine.meta.put([HEARD, b.node], w.result());
        this.#track(saved, 'remember a peer run');
        return saved;
      },
      knowsRun: (life) => identity.knowsRun(life),
      onOlderSelf: (beat) => void this.#restored(beat).catch((e: unknown) => deps.logger.error('could not record a new epoch', { error: String(e) })),
      lease: () => ({ epoch: identity.epoch, counter: identity.lease }),
      onLease: (node, lease) => this.leases.heard(node, lease.epoch, lease.counter),
    });
    const setLimits = { maxSiblings: receivedSiblingsLimit(deps.config.maxSiblings), maxActors: deps.config.maxActors };
    this.replica = new Replica(deps.engine, (key) => this.#requireView().place(key), deps.config.hints, deps.config.maxActors, (set, from) => {
      const own = { owns: (actor: string) => this.identity.owns(actor), counter: this.identity.counter };
      let judged = false;
      const limit = (actor: string) => {
        const node = actorNodeEpoch(actor)?.node;
        // a node's own actors, in a set it sends: it is the authority on its counters (it could advertise any lease), and
        // its newest dots reach a replica before its heartbeat does, several blocks ahead when it restarted meanwhile
        // and a set this node's own coordinator built (from this node itself) is made of what it read, which is not judged
        if (node === undefined || node === from || from === this.id || this.#unasked(node)) return undefined;
        const l = this.leases.limit(actor);
        judged ||= l !== undefined;
        return l;
      };
      try {
        checkSet(set, setLimits, own, limit);
      } catch (e) {
        if (judged && setProblem(set, setLimits, own) === null) {
          // above a lease heard: the nodes named may have restarted (each run starts a block further on) since they were heard
          const over = [...actorCounters(set)].filter(([actor, n]) => n > (limit(actor) ?? Infinity)).map(([actor]) => actorNodeEpoch(actor)!.node);
          throw new LeaseRefusal((e as Error).message, [...new Set(over)]);
        }
        throw e;
      } finally {
        if (judged) this.setsJudgedByLease++;
      }
    });
    this.coordinator = new Coordinator({
      self: deps.config.id,
      config: deps.config,
      view: () => this.#requireView(),
      replica: this.replica,
      identity,
      transport: deps.transport,
      clock: deps.clock,
      liveness: this.gossip,
      logger: deps.logger,
      track: (work) => this.#track(work, 'replica write'),
      onMint: deps.onMint,
      rangeReady: (p) => this.#incarnating.get(p) ?? null,
      observer: deps.observer,
    });
    this.changes = new ChangeHandler({
      self: deps.config.id,
      ring: () => this.#view?.ring ?? null,
      adopt: (r) => this.adoptRing(r),
      liveness: this.gossip,
      transport: deps.transport,
      logger: deps.logger,
      learnAddress: (id, address) => this.#addresses.set(id, address),
      timeoutMs: deps.config.requestTimeoutMs,
    });
    this.transfers = new Transfers({
      self: deps.config.id,
      options: deps.config.transfer ?? DEFAULT_TRANSFER,
      clock: deps.clock,
      transport: deps.transport,
      replica: this.replica,
      liveness: this.gossip,
      logger: deps.logger,
      view,
      confirm: (partition) => this.changes.transferDone(partition, deps.config.id),
      newIncarnation: (p) => this.identity.newIncarnation(p),
      loopback: this.loopback,
    });
    this.repair = new RepairService({
      self: deps.config.id,
      replica: this.replica,
      identity,
      clock: deps.clock,
      logger: deps.logger,
      view: () => this.#requireView(),
      onReclaim: deps.onReclaim,
    });
  }

  static async open(given: NodeDeps): Promise<StorageNode> {
    // every value on disk is a record with its own format and checksum (engine/records.ts); a
    // record that fails its check is reported here, and before the node exists, remembered
    let node: StorageNode | null = null;
    const early: StoreKey[] = [];
    const { engine, migrated } = await RecordEngine.open(given.engine, (store, key) => (node ? node.#corrupt(store, key) : store === 'meta' ? void early.push(key) : undefined));
    const deps: NodeDeps = { ...given, engine };
    if (migrated > 0) deps.logger.info('migrated the data directory to the current format', { records: migrated });
    // reading every meta record once reports the corrupt ones; a corrupt record of the node's own
    // identity (epoch, lease, incarnations, runs) means it may no longer know which dots it made,
    // so it goes on as a new actor
    void [...deps.engine.meta.range()];
    const distrust = early.filter((k) => !isRingOrHeard(k));
    if (distrust.length > 0) deps.logger.error('corrupt identity records: going on as a new actor', { records: distrust.map((k) => JSON.stringify(k)) });
    const identity = await Identity.open(deps.engine.meta, deps.config.id, deps.config.cluster, deps.random, deps.config.newEpoch || distrust.length > 0);
    if (deps.engine.buffered && !identity.previousRunStoppedCleanly) {
      // with buffered durability a crash can lose versions this node made and sent on: their
      // dots must never be claimed by a later dot of the same actor
      deps.logger.warn('the last run did not stop cleanly and writes are buffered: going on as a new actor');
      await identity.renewEpoch();
    }
    const stored = deps.engine.meta.get(RING_KEY);
    const ring = stored ? readRing(new Reader(Buffer.from(stored))) : deps.bootstrap;
    if (stored && deps.bootstrap) deps.logger.info('using the ring stored in the data directory; the node list only bootstraps new clusters');
    deps.logger.info('node open', { node: deps.config.id, actor: identity.actor, counter: identity.counter, generation: identity.generation, ringVersion: ring?.version ?? null });
    const opened = new StorageNode(deps, identity, ring);
    node = opened;
    opened.corruptRecords = early.length;
    if (ring && !stored) await opened.#persistRing(ring);
    return opened;
  }

  /** Records on disk that failed their checksum since start (each counted once). */
  corruptRecords = 0;
  /** received sets naming an actor of another node whose lease was heard, and those refused for a counter above it */
  setsJudgedByLease = 0;
  setsRefusedByLease = 0;
  readonly #askingLease = new Map<NodeId, Promise<boolean>>();
  /** nodes that could not be asked for their lease, until when their actors are not judged */
  readonly #cannotAsk = new Map<NodeId, number>();
  readonly #reportedCorrupt = new Set<string>();
  /** key ranges whose actor is moving on because a record there was corrupt: no dot is made there until it has */
  readonly #incarnating = new Map<number, Promise<void>>();

  /**
   * A record failed its check: it is never served (it reads as absent) and read repair or
   * anti-entropy writes the key again from other replicas. The node forgot what the record
   * held, possibly its own dots or what superseded them, so its actor for the key range moves
   * on before it makes a dot there again.
   */
  #corrupt(store: StoreName, key: StoreKey): void {
    const id = `${store}:${JSON.stringify(key)}`;
    if (!this.#reportedCorrupt.has(id)) {
      this.#reportedCorrupt.add(id);
      this.corruptRecords++;
      this.#deps.logger.error('a record on disk failed its checksum: not served, to be repaired from other replicas', { store, key: JSON.stringify(key) });
    }
    const partition = store === 'data' ? key[0] : store === 'hints' ? key[2] : undefined;
    if (typeof partition === 'number' && !this.#incarnating.has(partition)) {
      const moving = this.identity.newIncarnation(partition).finally(() => this.#incarnating.delete(partition));
      this.#incarnating.set(partition, moving);
      this.#track(moving, 'move an actor on after a corrupt record');
    }
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
    return { request: (to, message, timeoutMs) => (to === this.id ? this.handle(this.id, message) : this.#deps.transport.request(to, message, timeoutMs)) };
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
    const persisted = this.#persistRing(ring);
    this.#track(persisted, 'persist the ring');
    if (!before || before.version !== ring.version) {
      this.#deps.logger.info('ring', { version: ring.version, members: ring.members.length, changing: ring.next !== null, transfersLeft: ring.transfers.filter((t) => !t.done).length });
    }
    this.transfers.tick();
    for (const l of this.#ringListeners) l(ring);
    return persisted;
  }

  /** Starts the background loops: gossip rounds, transfers, hint delivery. */
  start(): void {
    void this.#checkRestored();
    const every = (ms: number, work: () => Promise<unknown> | void) => {
      const loop = () => {
        const t = this.#deps.clock.after(ms, () => {
          void Promise.resolve(work()).catch((e: unknown) => this.#deps.logger.warn('background work failed', { error: String(e) })).finally(() => {
            if (this.#accepting) loop();
          });
        });
        this.#timers.push(t);
      };
      loop();
    };
    every((this.config.gossip ?? DEFAULT_GOSSIP).intervalMs, () => this.gossip.tick());
    every(TRANSFER_EVERY_MS, () => this.transfers.tick());
    every(this.config.treeVerifyEveryMs ?? 60_000, () => {
      if (this.#view) this.repair.verifyNextTree();
    });
    every(this.config.localHandoffEveryMs || DEPARTED_HANDOFF_EVERY_MS, () => this.#replayOwnHints());
  }

  /**
   * A node started on a copy of an older data directory (a restored backup) would hand out
   * again the dots its later runs handed out, and claim to hold what those runs wrote. Peers
   * remember the newest run they heard of every node, on disk: before it makes a dot, the node
   * asks the members of the ring, telling them its new run, until a majority has answered. When
   * one heard a run with a generation at least this run's, the node goes on as a new actor.
   * Every run that made dots under an epoch registered with a majority first, and two
   * majorities meet, so a later run under the same epoch is always heard of. Until then puts are
   * handed to other replicas, and a put handed here is refused unapplied (see readiness); only
   * one no other replica takes is coordinated here, as a new actor.
   */
  async #checkRestored(): Promise<void> {
    const { identity } = this;
    const { clock } = this.#deps;
    const answered = new Set<NodeId>();
    while (this.#accepting && !this.#confirmed) {
      const peers = (this.#view ? this.#view.ring.members.map((m) => m.id) : this.gossip.peers()).filter((m) => m !== this.id);
      const needed = Math.floor(peers.length / 2) + 1;
      if (peers.length === 0 || peers.filter((p) => answered.has(p)).length >= needed) break;
      let unknown: Heartbeat | null = null;
      await Promise.all(
        peers
          .filter((p) => !answered.has(p))
          .map(async (peer) => {
            try {
              const r = await this.#deps.transport.request(peer, { type: 'lastBeat', cluster: this.config.cluster, beat: this.gossip.beat }, RESTORE_CHECK_TIMEOUT_MS);
              if (r.type !== 'lastBeatReply') return;
              this.gossip.success(peer);
              answered.add(peer);
              if (r.beat && !identity.knowsRun(r.beat.life)) unknown = r.beat;
            } catch {
              // asked again next round
            }
          }),
      );
      if (unknown) {
        // a disk that refuses the new epoch leaves the node unconfirmed, and the check is asked again
        if (await this.#restored(unknown).then(() => true, (e: unknown) => this.#deps.logger.error('could not record a new epoch', { error: String(e) }))) break;
        answered.clear();
        continue;
      }
      if (peers.filter((p) => answered.has(p)).length < needed) await new Promise<void>((resolve) => clock.after(RESTORE_CHECK_RETRY_MS, resolve));
    }
    this.#confirm();
  }

  #confirm(): void {
    if (this.#confirmed) return;
    this.#confirmed = true;
    for (const w of this.#confirmWaiters.splice(0)) w();
  }

  /** What the coordinator asks before it makes a dot: see #checkRestored. */
  #makeReadiness(): Readiness {
    let forcing: Promise<void> | null = null;
    const force = async () => {
      // no majority has answered and no other replica took the put: a new actor never made a
      // dot, so it cannot repeat one of a lost run's, whatever the silent members heard
      const before = this.identity.actor;
      await this.identity.renewEpoch();
      this.#confirm();
      this.#deps.logger.info('no majority of members has answered since start and a write had to be coordinated here: going on as a new actor', { before, actor: this.identity.actor });
    };
    return {
      isConfirmed: () => this.#confirmed,
      settled: (ms) =>
        this.#confirmed
          ? Promise.resolve()
          : new Promise<void>((resolve) => {
              this.#confirmWaiters.push(resolve);
              this.#deps.clock.after(ms, resolve);
            }),
      force: async () => {
        if (this.#confirmed) return;
        forcing ??= force().finally(() => (forcing = null));
        await forcing;
      },
    };
  }

  async #restored(heard: Heartbeat): Promise<boolean> {
    const before = this.identity.actor;
    if (!(await this.identity.restoredFrom(heard))) return false;
    this.#deps.logger.warn('a peer heard a run of this node its data directory does not know (restored from a backup?): going on as a new actor', { heard: heard.life, heardGeneration: heard.generation, before, actor: this.identity.actor, generation: this.identity.generation });
    return true;
  }

  /** Serves one request. Never rejects: failures become error replies. */
  handle = async (from: NodeId | null, request: Request): Promise<Reply> => {
    if (from !== null) this.gossip.success(from);
    if (!this.#accepting) return errorReply(new StoreError('SHUTTING_DOWN', `node ${this.id} is shutting down`));
    const work = this.#serveHearing(from, request).catch((e: unknown) =>
      // a failed condition answers with the set the coordinator held, for the writer to merge
      e instanceof ConflictError ? ({ type: 'conflict', set: e.siblings } satisfies ConflictReply) : this.#failure(e, request),
    );
    this.#track(work, request.type);
    return work;
  };

  async #serve(from: NodeId | null, request: Request): Promise<Reply> {
    switch (request.type) {
      case 'hello':
        // the server checks a hello when a connection opens (transport/server.ts); it never reaches a node
        throw new StoreError('PROTOCOL', 'a hello is only the first frame of a connection opened with a certificate');
      case 'ping':
        return { type: 'pong' };
      case 'get':
        return this.coordinator.get(request.key, request.r, request.pr);
      case 'mget':
        return { type: 'mgetReply', items: await this.#mget(request.keys, request.r, request.pr) };
      case 'put':
        return this.coordinator.put(request, this.#readiness);
      case 'ring': {
        const ring = this.#requireView().ring;
        return { type: 'ringReply', n: ring.n, r: this.config.r, w: this.config.w, ring };
      }
      case 'replicaRead':
        return { type: 'replicaReadReply', set: this.replica.read(request.key) };
      case 'replicaReadMany':
        return { type: 'replicaReadManyReply', sets: request.keys.map((k) => this.replica.read(k)) };
      case 'replicaWrite':
        return this.#replicaWrite(from, request.key, request.hintFor, request.set);
      case 'hints':
        return this.#hints(request);
      case 'status':
        return { type: 'statusReply', json: JSON.stringify(this.status()) };
      case 'gossip':
        return this.gossip.handleGossip(request, from);
      case 'lastBeat':
        return { type: 'lastBeatReply', beat: await this.gossip.handleLastBeat(request.cluster, request.beat, from) };
      case 'ringPush':
        this.gossip.handleRingPush(request.cluster, request.ring, from);
        return { type: 'ack' };
      case 'change':
        return this.changes.change(request);
      case 'transferRead':
        return this.transfers.serve(request);
      case 'transferDone':
        await this.changes.transferDone(request.partition, request.to);
        return { type: 'ack' };
      case 'merkleRoots':
      case 'merkleSegments':
      case 'segmentKeys':
      case 'keysRead':
      case 'keysMerge':
      case 'hintsRead':
      case 'hintsAck':
      case 'hintsExpired':
      case 'hintsDrop':
      case 'reclaim':
      case 'hintsFor':
      case 'tombstones':
      case 'quietKeys':
      case 'compact':
        return this.repair.handle(request);
      case 'inspect':
        return { type: 'inspectReply', own: this.replica.readOwn(request.key), hints: this.replica.hintOwners(request.key).flatMap((owner) => {
          const hint = this.replica.readHint(owner, request.key);
          return hint ? [{ owner, set: hint.set }] : [];
        }) };
    }
  }

  /**
   * Serves a request; one refused for a counter above a lease heard is served again once the
   * nodes named have been asked for their lease (a gossip exchange each): a node that restarted
   * since it was last heard starts each run a block further on. Nothing changed when it was
   * refused (sets are checked before anything is merged), so serving a replicaWrite or keysMerge
   * again is safe; nothing else is served again. Refused when the lease the node itself
   * advertises now is still below the counter; a node that cannot be asked goes unjudged.
   */
  async #serveHearing(from: NodeId | null, request: Request): Promise<Reply> {
    try {
      return await this.#serve(from, request);
    } catch (e) {
      if (!(e instanceof LeaseRefusal)) throw e;
      if (request.type !== 'replicaWrite' && request.type !== 'keysMerge') {
        this.setsRefusedByLease++;
        throw e;
      }
      const answered = await Promise.all(e.nodes.map((node) => this.#askLease(node)));
      // a node that cannot be asked is not judged for a while: a refusal would cost availability of real data
      const now = this.#deps.clock.now();
      e.nodes.forEach((node, i) => {
        if (!answered[i]) this.#cannotAsk.set(node, now + UNASKED_MS);
      });
      try {
        return await this.#serve(from, request);
      } catch (again) {
        if (again instanceof LeaseRefusal) this.setsRefusedByLease++;
        throw again;
      }
    }
  }

  /** Whether a node could not be asked for its lease lately: its actors are not judged meanwhile. */
  #unasked(node: NodeId): boolean {
    const until = this.#cannotAsk.get(node);
    if (until === undefined) return false;
    if (until > this.#deps.clock.now()) return true;
    this.#cannotAsk.delete(node);
    return false;
  }

  /** Exchanges gossip with a node at once, to hear its lease (one exchange at a time per node); true when it answered. */
  #askLease(node: NodeId): Promise<boolean> {
    if (node === this.id) return Promise.resolve(true);
    let asking = this.#askingLease.get(node);
    if (!asking) {
      asking = this.gossip.exchange(node).finally(() => this.#askingLease.delete(node));
      this.#askingLease.set(node, asking);
    }
    return asking;
  }

  async #replicaWrite(from: NodeId | null, key: string, hintFor: NodeId | null, set: Parameters<Replica['mergeIn']>[1]): Promise<Reply> {
    const view = this.#requireView();
    if (hintFor !== null && hintFor !== this.id) {
      // a node that left the ring keeps no new hints: nobody would deliver them
      if (!view.ring.members.some((m) => m.id === this.id)) throw new StoreError('STALE_RING', `node ${this.id} is not a member at ring version ${view.ring.version}`);
      await this.replica.storeHint(hintFor, key, set, this.#deps.clock.wallNow(), from);
      return { type: 'ack' };
    }
    const p = view.partitionOf(key);
    if (!view.replicates(this.id, p)) {
      throw new StoreError('STALE_RING', `node ${this.id} does not replicate key '${key}' at ring version ${view.ring.version}`);
    }
    await this.replica.mergeIn(key, set, from);
    return { type: 'ack' };
  }

  async #mget(keys: readonly string[], r: number, pr: number): Promise<MgetItem[]> {
    if (keys.length > MAX_MGET_KEYS) throw new StoreError('BAD_REQUEST', `at most ${MAX_MGET_KEYS} keys per multi-get, got ${keys.length}`);
    let reads: Promise<MgetItem>[];
    try {
      reads = this.coordinator.getMany(keys, r, pr);
    } catch {
      // a bad key or quorum: answer each key on its own, so the others still get their values
      reads = keys.map((key) => this.coordinator.get(key, r, pr));
    }
    return Promise.all(reads.map((p, i) => p.catch((e: unknown) => this.#failure(e, { type: 'get', key: keys[i]!, r, pr }))));
  }

  #hints(request: HintsRequest): Reply {
    const hints = [];
    let total = 0;
    for (const h of this.replica.hints(request.owner ?? undefined)) {
      if (hints.length < request.limit) hints.push({ owner: h.owner, key: h.key, storedAt: h.storedAt, siblings: h.set.length });
      total++;
    }
    return { type: 'hintsReply', total, hints };
  }

  /**
   * Without repair workers, and always once this node has left the ring (the workers replay
   * the hints of members only): delivers this node's hints whose owners it can reach, and a
   * node that left passes on what it cannot deliver.
   */
  async #replayOwnHints(): Promise<void> {
    const view = this.#view;
    if (!view) return;
    const member = view.ring.members.some((m) => m.id === this.id);
    if (member && !this.config.localHandoffEveryMs) return;
    for (const owner of this.hintOwners()) {
      if (!this.gossip.isUp(owner) && view.ring.members.some((m) => m.id === owner)) continue;
      await replayHints({ transport: this.loopback, view, holder: this.id, owner, batch: 500, timeoutMs: this.config.requestTimeoutMs });
    }
  }

  status(): NodeStatus {
    const ring = this.#view?.ring;
    const counts = ring ? partitionCounts(ring) : new Map<NodeId, number>();
    const now = this.#deps.clock.now();
    const transfers = this.transfers.progress().map((p) => {
      const seconds = Math.max(0.001, ((p.finishedAt ?? now) - p.startedAt) / 1000);
      const rate = p.keys / seconds;
      return { ...p, keysPerSecond: Math.round(rate), bytesPerSecond: Math.round(p.bytes / seconds), etaSeconds: p.state === 'running' && rate > 0 && p.total > p.keys ? Math.round((p.total - p.keys) / rate) : 0 };
    });
    return {
      id: this.id,
      cluster: this.config.cluster,
      actor: this.identity.actor,
      counter: this.identity.counter,
      lease: this.identity.lease,
      heardLeases: this.leases.all(),
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
        reachable: this.gossip.isUp(m.id),
        phi: m.id === this.id ? 0 : Math.round(this.gossip.phi(m.id) * 100) / 100,
      })),
      unreachable: this.gossip.down(),
      partitionsOwned: counts.get(this.id) ?? 0,
      transfers,
      copiesPlaced: this.transfers.copiesPlaced,
      entriesReceived: this.transfers.entriesReceived,
      keysDropped: this.transfers.keysDropped,
      hintBytes: this.replica.hintBytes,
      hints: this.replica.hintCount,
      repair: this.repair.counters,
      gossipRounds: this.gossip.rounds,
      ringForks: this.gossip.ringForks,
      corruptRecords: this.corruptRecords,
      historyPrunes: this.coordinator.historyPrunes,
      diskErrors: this.replica.diskErrors,
      identityConfirmed: this.#confirmed,
      accepting: this.#accepting,
      inflight: this.#inflight.size,
    };
  }

  /** Stops taking requests, stops the loops, lets work in flight finish, and flushes. */
  async drain(): Promise<void> {
    this.#accepting = false;
    for (const t of this.#timers) t.cancel();
    const { clock, logger } = this.#deps;
    const started = clock.now();
    while (this.#inflight.size > 0) {
      const waiting = [...this.#inflight];
      let slow: Timer | null = null;
      await Promise.race([
        Promise.allSettled(waiting.map(([p]) => p)),
        new Promise<void>((resolve) => {
          slow = clock.after(5000, () => {
            const kinds = new Map<string, number>();
            for (const [, what] of waiting) kinds.set(what, (kinds.get(what) ?? 0) + 1);
            logger.warn('still draining', { ms: Math.round(clock.now() - started), inflight: Object.fromEntries(kinds) });
            resolve();
          });
        }),
      ]);
      (slow as Timer | null)?.cancel();
    }
    // without the mark, the next start takes this stop for a crash: safe, at the cost of an actor
    await this.identity.stoppedCleanly().catch((e: unknown) => logger.warn('could not record the clean stop', { error: String(e) }));
    await this.#deps.engine.flushed();
  }

  #requireView(): RingView {
    if (!this.#view) throw new StoreError('UNAVAILABLE', `node ${this.id} has not joined a ring yet`);
    return this.#view;
  }

  async #persistRing(ring: Ring): Promise<void> {
    const w = new Writer(4096);
    writeRing(w, ring);
    await this.#deps.engine.meta.put(RING_KEY, w.result());
  }

  #track(work: Promise<unknown>, what: string): void {
    this.#inflight.set(work, what);
    const done = () => void this.#inflight.delete(work);
    work.then(done, done);
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
