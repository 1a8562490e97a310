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
// get: any node may coordinate (coordinator/read.ts). What the coordinator asks of the
// replicas, for both, is coordinator/replicas.ts.
import { conditionalContext, conditionFailure } from '../client/src/core/condition.ts';
import { ConflictError, StoreError, type QuorumFailureReason } from '../client/src/core/errors.ts';
import { checkTtl, expireAt, expiryTime } from '../client/src/core/expiry.ts';
import { PutCore } from './core/put-core.ts';
import { checkKey, checkQuorum, checkValue } from '../client/src/core/limits.ts';
import type { RingView, Target } from '../client/src/core/preference.ts';
import type { NodeId } from '../client/src/core/ring.ts';
import { applyWrite, bound, contextOf, history, type SiblingSet, type Version } from '../client/src/core/siblings.ts';
import { formatDot, EMPTY_VV, type VersionVector } from '../client/src/core/version-vector.ts';
import type { GetReply, OpReply, PutReply, PutRequest } from '../client/src/protocol/messages.ts';
import type { ReplyOf } from '../client/src/protocol/replies.ts';
import { readMany } from './coordinator/read.ts';
import { Replicas } from './coordinator/replicas.ts';
import { ReplyError } from '../client/src/call.ts';
import { operate } from '../client/src/core/crdt/typed.ts';
import type { Identity } from './identity.ts';
import type { Liveness } from './liveness.ts';
import type { Replica } from './replica.ts';
import type { Clock, Logger, Transport } from '../client/src/runtime.ts';

export interface CoordinatorConfig {
  readonly r: number;
  readonly w: number;
  readonly maxSiblings: number;
  /** actors a key's history names at most (core/siblings.ts bound) */
  readonly maxActors: number;
  /** how long a coordinator waits for replicas */
  readonly requestTimeoutMs: number;
  /** how long a read waits for the R targets it asked first before asking the rest; 0 asks all at once (coordinator/read.ts) */
  readonly readHedgeMs: number;
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

/** Whether this node may make dots yet (the start-up check, node/restore-check.ts). */
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
  /** keys whose read asked more targets after one failed or the hedge time passed */
  widenedReads = 0;
  /** reads started, turning which of the other targets a read asks first */
  readsStarted = 0;
  /** puts handed to another node to coordinate */
  putsForwarded = 0;
  /** expired versions reads found and turned into tombstones, written back by read repair (core/expiry.ts) */
  expiredVersions = 0;

  private readonly d: CoordinatorDeps;
  readonly #replicas: Replicas;
  constructor(d: CoordinatorDeps) {
    this.d = d;
    this.#replicas = new Replicas(d);
  }

  // ------------------------------------------------------------------ get

  async get(key: string, r: number, pr: number): Promise<GetReply> {
    return this.getMany([key], r, pr)[0]!;
  }

  /**
   * Reads many keys at once: each key has its own quorum (a GetCore), but each replica gets
   * one request for all the keys it holds, so a multi-get of k keys costs a frame per replica,
   * not k frames per replica. Returns one promise per key, in order (coordinator/read.ts).
   */
  getMany(keys: readonly string[], r: number, pr: number): Promise<GetReply>[] {
    return readMany(this.d, this.#replicas, this, keys, r, pr);
  }

  // ------------------------------------------------------------------ put

  /**
   * Coordinates a put here, or hands it to the key's coordinator. `ready` is the node's check
   * that it may make dots (node/restore-check.ts, the start-up check): until it passes, a put is handed to
   * another replica, one handed here is refused unapplied after a short wait (so the node that
   * handed it tries the next replica), and only a put no other replica takes is coordinated
   * here, as a new actor.
   */
  async put(req: PutRequest, ready: Readiness = ALWAYS_READY): Promise<PutReply | OpReply> {
    checkKey(req.key);
    checkValue(req.value);
    if (req.deleted && req.condition === 'absent') throw new StoreError('BAD_REQUEST', 'a delete takes no condition absent: only current');
    if (req.op && (req.deleted || req.context || req.condition))
      throw new StoreError('BAD_REQUEST', 'a typed operation takes no delete, context or condition');
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
          throw new StoreError(
            'UNAVAILABLE',
            `node ${this.d.self} has not heard from a majority of members since it started; another replica can take the write`,
            { applied: false },
          );
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
      let reply: ReplyOf<'put'>;
      this.putsForwarded++;
      try {
        reply = await this.#replicas.ask(t.node, { ...req, forwarded: true }, this.d.config.requestTimeoutMs * 2);
      } catch (e) {
        if (e instanceof ReplyError && e.reply.type === 'error') {
          // refused before it was applied: the next may take it
          if (e.code === 'SHUTTING_DOWN' || e.details.applied === false) continue;
          throw new StoreError(e.reply.code, e.reply.message, e.reply.details);
        }
        if (e instanceof StoreError && e.code === 'UNAVAILABLE' && e.details.sent === false) continue;
        throw e;
      }
      if (reply.type === 'conflict')
        throw new ConflictError(
          req.key,
          reply.set,
          `conditional write of key '${req.key}' (if ${req.condition ?? 'none'}) refused by ${t.node}`,
        );
      return reply;
    }
    throw new StoreError('UNAVAILABLE', `no replica of key '${req.key}' is reachable to coordinate the write`, { sent: false });
  }

  async #coordinate(
    req: PutRequest,
    w: number,
    partition: number,
    mine: Target,
    targets: readonly Target[],
    fallbacks: readonly NodeId[],
  ): Promise<PutReply | OpReply> {
    const { identity, replica, clock, config } = this.d;
    const started = clock.now();
    const actor = identity.actorFor(partition);
    if ((req.context?.get(actor) ?? 0) > identity.counter) {
      throw new StoreError('BAD_CONTEXT', 'context claims writes this coordinator never made');
    }
    // a lease and the range's minting record must be on disk before a dot is made; once they
    // are (nearly always), there is nothing to wait for
    const moving = this.d.rangeReady?.(partition);
    if (moving || !identity.mayMint(partition)) await Promise.all([identity.leased(), identity.minting(partition), moving]);

    // The new version is computed over everything this node holds for the key (its own data and
    // any hints: as a fallback, its earlier dots may sit in another owner's hint), so the actor
    // never makes a dot without holding its earlier ones.
    let version: Version | undefined;
    const compute = (): SiblingSet => {
      const current = replica.read(req.key);
      // reading may have found a corrupt record: the node forgot what it held, and moves its actor on first
      if (this.d.rangeReady?.(partition))
        throw new StoreError('DISK_ERROR', `a record of key '${req.key}' on node ${this.d.self} was corrupt; it is being repaired: retry`, {
          maybeApplied: false,
        });
      // a conditional write is checked here, over what this node holds for the key right now,
      // in the step that makes its dot: writes to the key through this node are serialized
      let given = req.context;
      if (req.condition) {
        const why = conditionFailure(req.condition, req.context, current, clock.wallNow());
        if (why)
          throw new ConflictError(
            req.key,
            expireAt(current, clock.wallNow()),
            `conditional ${req.deleted ? 'delete' : 'put'} of key '${req.key}' (if ${req.condition}) refused: ${why}`,
          );
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
      const next = bound(
        written,
        config.maxActors,
        current.map((v) => v.dot.actor),
      );
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
      this.d.logger.error('the coordinator could not write a new version to its disk', {
        key: req.key,
        dot: formatDot(written.dot),
        error: String(e),
      });
      throw new StoreError(
        'DISK_ERROR',
        `node ${this.d.self} could not write key '${req.key}' to its disk; the write was not sent to other replicas, but a later write to the key through this node may still carry it`,
        {
          maybeApplied: true,
        },
      );
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
          reject(this.#replicas.quorumFailed('write', core.shortfall(), false));
        }
        if (answered || core.complete) timer.cancel();
      };
      const timer = clock.after(Math.max(1, config.requestTimeoutMs - (clock.now() - started)), () => {
        if (answered) return;
        answered = true;
        reject(this.#replicas.quorumFailed('write', core.shortfall(), true));
      });
      const send = (t: Target) => {
        const work = this.#replicas.write(t, req.key, set).then(
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
}
