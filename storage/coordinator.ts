// Coordination of one get or put: routes replies and timeouts into the pure quorum cores
// (core/get-core.ts, core/put-core.ts) and carries out what they decide. Time, network and
// disk come in through interfaces, so the simulator drives this very code.
//
// put: only a replica of the key makes a dot. A primary coordinates; a node that is not one
// forwards to the first reachable primary; when no primary is reachable, the first reachable
// fallback coordinates, keeping the new version as a hint. Either writes as its actor for the
// key's range (identity.ts). The coordinator writes the new version to its own disk first,
// then sends its whole resulting sibling set to the other targets, answers after W acks, and
// keeps sending to spare fallbacks, as hints, for replicas that fail.
//
// get: any node may coordinate. It asks the key's N targets, answers once R have answered
// with every causally-maximal version, keeps listening, and repairs the replicas that
// answered with less than the merged result (read repair).
import { conditionalContext, conditionFailure } from './core/condition.ts';
import { ConflictError, StoreError, quorumError, quorumFailureReason, type QuorumFailureReason, type QuorumShortfall } from './core/errors.ts';
import { checkTtl, expireAt, expiryTime } from './core/expiry.ts';
import { GetCore } from './core/get-core.ts';
import { PutCore } from './core/put-core.ts';
import { checkKey, checkQuorum, checkValue } from './core/limits.ts';
import type { RingView, Target } from './core/preference.ts';
import type { NodeId } from './core/ring.ts';
import { applyWrite, bound, contextOf, history, type SiblingSet, type Version } from './core/siblings.ts';
import { formatDot, EMPTY_VV, type VersionVector } from './core/version-vector.ts';
import type { GetReply, OpReply, PutReply, PutRequest, Reply } from './protocol/messages.ts';
import { operate } from './core/crdt/typed.ts';
import type { Identity } from './identity.ts';
import type { Liveness } from './liveness.ts';
import type { Replica } from './replica.ts';
import type { Clock, Logger, Transport } from './runtime.ts';

export interface CoordinatorConfig {
  readonly r: number;
  readonly w: number;
  readonly maxSiblings: number;
  /** actors a key's history names at most (core/siblings.ts bound) */
  readonly maxActors: number;
  /** how long a coordinator waits for replicas */
  readonly requestTimeoutMs: number;
}

export interface CoordinatorDeps {
  readonly self: NodeId;
  readonly config: CoordinatorConfig;
  readonly view: () => RingView;
  readonly replica: Replica;
  readonly identity: Identity;
  readonly transport: Transport;
  readonly clock: Clock;
  readonly liveness: Liveness;
  readonly logger: Logger;
  /** background work (late acks, read repair) that shutdown waits for */
  readonly track: (work: Promise<unknown>) => void;
  /** told of every version this node makes, with what it held for the key then (the simulator's ground truth) */
  readonly onMint?: (mint: Mint) => void;
  /** while the node's actor for a key range is moving on (a corrupt record there), a promise of its move; null otherwise */
  readonly rangeReady?: (partition: number) => Promise<void> | null;
  /** told of every get and put this node coordinates, and of every failed quorum (metrics.ts) */
  readonly observer?: CoordinatorObserver;
}

export interface CoordinatorObserver {
  /** a key read (each key of a multi-get) or a put coordinated here: its time and 'ok' or the error code */
  request(kind: 'get' | 'put', ms: number, outcome: string): void;
  quorumFailure(kind: 'read' | 'write', reason: QuorumFailureReason): void;
}

/** Whether this node may make dots yet (the start-up check in node.ts). */
export interface Readiness {
  isConfirmed(): boolean;
  /** resolves once the node is confirmed, or after `ms` */
  settled(ms: number): Promise<void>;
  /** makes the node confirmed now, by going on as a new actor if it must */
  force(): Promise<void>;
}

const ALWAYS_READY: Readiness = { isConfirmed: () => true, settled: async () => undefined, force: async () => undefined };

export interface Mint {
  readonly key: string;
  readonly request: PutRequest;
  readonly version: Version;
  readonly held: SiblingSet;
}

export class Coordinator {
  /** writes whose key's history reached the bound and was pruned (core/siblings.ts bound) */
  historyPrunes = 0;
  /** replicas sent the merged set after a read found them behind */
  readRepairs = 0;
  /** puts handed to another node to coordinate */
  putsForwarded = 0;
  /** expired versions reads found and turned into tombstones, written back by read repair (core/expiry.ts) */
  expiredVersions = 0;

  private readonly d: CoordinatorDeps;
  constructor(d: CoordinatorDeps) {
    this.d = d;
  }

  // ------------------------------------------------------------------ get

  async get(key: string, r: number, pr: number): Promise<GetReply> {
    return this.getMany([key], r, pr)[0]!;
  }

  /**
   * Reads many keys at once: each key has its own quorum (a GetCore), but each replica gets
   * one request for all the keys it holds, so a multi-get of k keys costs a frame per replica,
   * not k frames per replica. Returns one promise per key, in order.
   */
  getMany(keys: readonly string[], r: number, pr: number): Promise<GetReply>[] {
    const view = this.d.view();
    const rr = r || this.d.config.r;
    checkQuorum('r', rr, view.n);
    checkQuorum('pr', pr, view.n, 0);
    const isUp = (node: NodeId) => this.d.liveness.isUp(node);
    const reads = keys.map((key) => {
      checkKey(key);
      // replicas a key range is still moving to may not hold it yet: reads go to the current ones
      const targets = view.targets(view.partitionOf(key), isUp).filter((t) => !t.pending);
      return { key, targets, core: new GetCore(targets, rr, pr, this.d.config.maxActors) };
    });
    const byNode = new Map<NodeId, number[]>();
    reads.forEach((read, i) => {
      for (const t of read.targets) {
        const list = byNode.get(t.node) ?? [];
        list.push(i);
        byNode.set(t.node, list);
      }
    });

    const results = reads.map(() => {
      let resolve!: (r: GetReply) => void;
      let reject!: (e: Error) => void;
      const promise = new Promise<GetReply>((res, rej) => {
        resolve = res;
        reject = rej;
      });
      return { promise, resolve, reject, answered: false, repaired: false };
    });
    let timedOut = false;
    let open = reads.length;
    const started = this.d.clock.now();
    const settle = (i: number) => {
      const { key, core } = reads[i]!;
      const out = results[i]!;
      if (!out.answered && core.state === 'ok') {
        out.answered = true;
        this.d.observer?.request('get', this.d.clock.now() - started, 'ok');
        // expired versions, by this coordinator's clock, become their tombstones
        this.expiredVersions += core.expire(this.d.clock.wallNow());
        out.resolve({ type: 'getReply', replies: core.answers, set: core.merged });
      } else if (!out.answered && core.state === 'failed') {
        out.answered = true;
        const error = this.#quorumFailed('read', core.shortfall(), timedOut);
        this.d.observer?.request('get', this.d.clock.now() - started, error.code);
        out.reject(error);
      }
      if (core.complete && !out.repaired) {
        out.repaired = true;
        // answers that came after the reply may hold expired versions too: their tombstones are repaired with the rest
        this.expiredVersions += core.expire(this.d.clock.wallNow());
        if (--open === 0) timer.cancel();
        this.#readRepair(key, core.finalAction());
      }
    };
    const timer = this.d.clock.after(this.d.config.requestTimeoutMs, () => {
      timedOut = true;
      reads.forEach((read, i) => {
        read.core.timeout();
        settle(i);
      });
    });
    reads.forEach((_, i) => settle(i));
    for (const [node, indexes] of byNode) {
      this.#readReplicas(node, indexes.map((i) => reads[i]!.key)).then(
        (sets) =>
          indexes.forEach((i, j) => {
            reads[i]!.core.addAnswer(node, sets[j]!);
            settle(i);
          }),
        () =>
          indexes.forEach((i) => {
            reads[i]!.core.addFailure(node);
            settle(i);
          }),
      );
    }
    return results.map((r) => r.promise);
  }

  async #readReplicas(node: NodeId, keys: string[]): Promise<readonly SiblingSet[]> {
    if (node === this.d.self) return keys.map((k) => this.d.replica.read(k));
    const reply = await this.#ask(node, { type: 'replicaReadMany', keys });
    if (reply.type !== 'replicaReadManyReply' || reply.sets.length !== keys.length) throw unexpected(node, reply);
    return reply.sets;
  }

  #readRepair(key: string, plan: ReturnType<GetCore['finalAction']>): void {
    for (const t of plan.repair) {
      this.readRepairs++;
      this.d.logger.info('read repair', { key, replica: t.node });
      this.d.track(this.#writeReplica(t, key, plan.merged).catch(() => undefined));
    }
  }

  // ------------------------------------------------------------------ put

  /**
   * Coordinates a put here, or hands it to the key's coordinator. `ready` is the node's check
   * that it may make dots (node.ts, the start-up check): until it passes, a put is handed to
   * another replica, one handed here is refused unapplied after a short wait (so the node that
   * handed it tries the next replica), and only a put no other replica takes is coordinated
   * here, as a new actor.
   */
  async put(req: PutRequest, ready: Readiness = ALWAYS_READY): Promise<PutReply | OpReply> {
    checkKey(req.key);
    checkValue(req.value);
    if (req.deleted && req.condition === 'absent') throw new StoreError('BAD_REQUEST', 'a delete takes no condition absent: only current');
    if (req.op && (req.deleted || req.context || req.condition)) throw new StoreError('BAD_REQUEST', 'a typed operation takes no delete, context or condition');
    if (req.ttlSeconds !== undefined) {
      checkTtl(req.ttlSeconds);
      const what = req.op ? 'typed operation' : 'delete';
      if (req.op || req.deleted) throw new StoreError('BAD_REQUEST', `ttlSeconds is for a put of a value; a ${what} takes none`);
    }
    const view = this.d.view();
    const w = req.w || this.d.config.w;
    checkQuorum('w', w, view.n);
    checkQuorum('pw', req.pw, view.n, 0);
    const partition = view.partitionOf(req.key);
    const isUp = (node: NodeId) => this.d.liveness.isUp(node);
    const targets = view.targets(partition, isUp);
    const mine = targets.find((t) => t.node === this.d.self && !t.pending);

    if (!mine || (!mine.primary && targets.some((t) => t.primary))) {
      if (req.forwarded) {
        throw new StoreError(
          'STALE_RING',
          `node ${this.d.self} was handed key '${req.key}' to coordinate but is not its coordinator on ring version ${view.ring.version}; retry`,
        );
      }
      return this.#forward(req, targets);
    }
    if (!ready.isConfirmed()) {
      if (req.forwarded) {
        await ready.settled(this.d.config.requestTimeoutMs / 4);
        if (!ready.isConfirmed()) {
          throw new StoreError('UNAVAILABLE', `node ${this.d.self} has not heard from a majority of members since it started; another replica can take the write`, { applied: false });
        }
      } else {
        const handed = await this.#forward(req, targets).catch((e: unknown) => {
          if (e instanceof StoreError && e.code === 'UNAVAILABLE' && e.details.sent === false) return null;
          throw e;
        });
        if (handed) return handed;
        await ready.settled(this.d.config.requestTimeoutMs / 4);
        await ready.force();
      }
    }
    const started = this.d.clock.now();
    try {
      const reply = await this.#coordinate(req, w, partition, mine, targets, view.walk(partition).slice(view.n));
      this.d.observer?.request('put', this.d.clock.now() - started, 'ok');
      return reply;
    } catch (e) {
      this.d.observer?.request('put', this.d.clock.now() - started, e instanceof StoreError ? e.code : 'INTERNAL');
      throw e;
    }
  }

  /**
   * Hands the put to the first target that takes it, primaries first. A target that cannot be
   * reached is skipped only when the put never left: one that may have reached a coordinator is
   * never sent to a second, or it could be applied twice.
   */
  async #forward(req: PutRequest, targets: readonly Target[]): Promise<PutReply | OpReply> {
    const order = [...targets.filter((t) => t.primary), ...targets.filter((t) => !t.primary && !t.pending)];
    for (const t of order) {
      if (t.node === this.d.self) continue;
      let reply: Reply;
      this.putsForwarded++;
      try {
        reply = await this.#ask(t.node, { ...req, forwarded: true }, this.d.config.requestTimeoutMs * 2);
      } catch (e) {
        if (e instanceof StoreError && e.code === 'UNAVAILABLE' && e.details.sent === false) continue;
        throw e;
      }
      if (reply.type === 'putReply' || reply.type === 'opReply') return reply;
      if (reply.type === 'conflict') throw new ConflictError(req.key, reply.set, `conditional write of key '${req.key}' (if ${req.condition ?? 'none'}) refused by ${t.node}`);
      // refused before it was applied: the next may take it
      if (reply.type === 'error' && (reply.code === 'SHUTTING_DOWN' || reply.details.applied === false)) continue;
      if (reply.type === 'error') throw new StoreError(reply.code, reply.message, reply.details);
      throw unexpected(t.node, reply);
    }
    throw new StoreError('UNAVAILABLE', `no replica of key '${req.key}' is reachable to coordinate the write`, { sent: false });
  }

  async #coordinate(req: PutRequest, w: number, partition: number, mine: Target, targets: readonly Target[], fallbacks: readonly NodeId[]): Promise<PutReply | OpReply> {
    const { identity, replica, clock, config } = this.d;
    const started = clock.now();
    const actor = identity.actorFor(partition);
    if ((req.context?.get(actor) ?? 0) > identity.counter) {
      throw new StoreError('BAD_CONTEXT', 'context claims writes this coordinator never made');
    }
    await Promise.all([identity.leased(), identity.minting(partition), this.d.rangeReady?.(partition)]);

    // The new version is computed over everything this node holds for the key (its own data and
    // any hints: as a fallback, its earlier dots may sit in another owner's hint), so the actor
    // never makes a dot without holding its earlier ones.
    let version: Version | undefined;
    const compute = (): SiblingSet => {
      const current = replica.read(req.key);
      // reading may have found a corrupt record: the node forgot what it held, and moves its actor on first
      if (this.d.rangeReady?.(partition)) throw new StoreError('DISK_ERROR', `a record of key '${req.key}' on node ${this.d.self} was corrupt; it is being repaired: retry`, { maybeApplied: false });
      // a conditional write is checked here, over what this node holds for the key right now,
      // in the step that makes its dot: writes to the key through this node are serialized
      let given = req.context;
      if (req.condition) {
        const why = conditionFailure(req.condition, req.context, current, clock.wallNow());
        if (why) throw new ConflictError(req.key, expireAt(current, clock.wallNow()), `conditional ${req.deleted ? 'delete' : 'put'} of key '${req.key}' (if ${req.condition}) refused: ${why}`);
        given = conditionalContext(req.condition, req.context, current);
      }
      // a typed operation applies to the join of every sibling held, and its version replaces them all (docs/types.md)
      const value = req.op ? operate(req.key, current, actor, req.op) : req.deleted ? new Uint8Array(0) : req.value;
      if (req.op) checkValue(value);
      const context: VersionVector = req.op ? contextOf(current) : (given ?? (req.deleted ? contextOf(current) : EMPTY_VV));
      const writtenAt = clock.wallNow();
      version = {
        dot: { actor, counter: identity.next() },
        past: context,
        deleted: req.deleted,
        writtenAt,
        value,
        ...(req.ttlSeconds !== undefined ? { expiresAt: expiryTime(writtenAt, req.ttlSeconds) } : {}),
      };
      const written = applyWrite(current, version);
      const next = bound(written, config.maxActors, current.map((v) => v.dot.actor));
      if (next !== written) this.historyPrunes++;
      if (next.length > config.maxSiblings && next.length > current.length) {
        throw new StoreError(
          'TOO_MANY_SIBLINGS',
          `key '${req.key}' would have ${next.length} siblings (limit ${config.maxSiblings}): read it, merge the siblings and write with the context`,
          { siblings: next.length, limit: config.maxSiblings },
        );
      }
      this.d.onMint?.({ key: req.key, request: req, version, held: current });
      return next;
    };
    const staged = mine.hintFor ? replica.stageHint(mine.hintFor, req.key, clock.wallNow(), compute) : replica.stage(req.key, compute);
    const set = staged.set;
    const written = version!;

    // The new set goes to the other replicas only once it is on this node's disk (Riak's
    // coordinator does its local write first). Should this node crash or its disk fail before,
    // no replica has the new dot, so no later dot of this actor can claim a version the actor
    // does not hold, and the actor needs no change after a crash.
    try {
      await staged.durable;
    } catch (e) {
      this.d.logger.error('the coordinator could not write a new version to its disk', { key: req.key, dot: formatDot(written.dot), error: String(e) });
      throw new StoreError('DISK_ERROR', `node ${this.d.self} could not write key '${req.key}' to its disk; the write was not sent to other replicas, but a later write to the key through this node may still carry it`, {
        maybeApplied: true,
      });
    }

    const spares = fallbacks.filter((node) => node !== this.d.self && this.d.liveness.isUp(node));
    const core = new PutCore(targets, spares, w, req.pw);
    core.addAck(this.d.self);

    // The timer bounds the client's wait; the replicas' own request timeouts bound the rest,
    // so writes to spare fallbacks for failed replicas go on after the answer.
    return new Promise<PutReply | OpReply>((resolve, reject) => {
      let answered = false;
      const settle = () => {
        if (!answered && core.state === 'ok') {
          answered = true;
          const reply = { acks: core.acks, dot: written.dot, context: history(written) };
          resolve(req.op ? { type: 'opReply', ...reply, state: written.value } : { type: 'putReply', ...reply });
        } else if (!answered && core.state === 'failed' && core.complete) {
          // quorum is out of reach; the answer waits for the replicas still working on it, so it
          // can say how many have the write
          answered = true;
          reject(this.#quorumFailed('write', core.shortfall(), false));
        }
        if (answered || core.complete) timer.cancel();
      };
      const timer = clock.after(Math.max(1, config.requestTimeoutMs - (clock.now() - started)), () => {
        if (answered) return;
        answered = true;
        reject(this.#quorumFailed('write', core.shortfall(), true));
      });
      const send = (t: Target) => {
        const work = this.#writeReplica(t, req.key, set).then(
          () => {
            core.addAck(t.node);
            settle();
          },
          () => {
            const replacement = core.addFailure(t.node);
            if (replacement) send(replacement);
            settle();
          },
        );
        this.d.track(work);
      };
      for (const t of targets) if (t.node !== this.d.self) send(t);
      settle();
    });
  }

  // ------------------------------------------------------------------ replicas

  async #writeReplica(t: Target, key: string, set: SiblingSet): Promise<void> {
    if (t.node === this.d.self) {
      // from this node itself: a set it built from what it read, which leases do not judge (node.ts)
      if (t.hintFor) await this.d.replica.storeHint(t.hintFor, key, set, this.d.clock.wallNow(), this.d.self);
      else await this.d.replica.mergeIn(key, set, this.d.self);
      return;
    }
    const reply = await this.#ask(t.node, { type: 'replicaWrite', key, hintFor: t.hintFor ?? null, set });
    if (reply.type !== 'ack') throw unexpected(t.node, reply);
  }

  #quorumFailed(kind: 'read' | 'write', shortfall: QuorumShortfall, timedOut: boolean): StoreError {
    this.d.observer?.quorumFailure(kind, quorumFailureReason(shortfall, timedOut));
    return quorumError(kind, shortfall, timedOut);
  }

  /** One request to a peer, feeding the liveness view: failing to reach it marks it down, timeouts in a row do (liveness.ts). */
  async #ask(node: NodeId, request: Parameters<Transport['request']>[1], timeoutMs = this.d.config.requestTimeoutMs): Promise<Reply> {
    try {
      const reply = await this.d.transport.request(node, request, timeoutMs);
      this.d.liveness.success(node);
      return reply;
    } catch (e) {
      if (e instanceof StoreError && (e.code === 'UNAVAILABLE' || e.code === 'TIMEOUT')) this.d.liveness.failure(node, e.code === 'TIMEOUT' ? 'timeout' : 'unreachable');
      throw e;
    }
  }
}

function unexpected(node: NodeId, reply: Reply): StoreError {
  if (reply.type === 'error') return new StoreError(reply.code, `${node}: ${reply.message}`, reply.details);
  return new StoreError('PROTOCOL', `${node} answered with an unexpected ${reply.type}`);
}
