// What a coordinator asks of a key's replicas (its own copy read and written locally, the
// others over the transport, feeding the liveness view), and how it reports a quorum they failed.
import { expectReply } from '../../client/src/call.ts';
import { StoreError, quorumError, quorumFailureReason, type QuorumShortfall } from '../../client/src/core/errors.ts';
import type { Target } from '../../client/src/core/preference.ts';
import type { NodeId } from '../../client/src/core/ring.ts';
import type { SiblingSet } from '../../client/src/core/siblings.ts';
import type { CoordinatorDeps } from '../coordinator.ts';
import type { Request } from '../../client/src/protocol/messages.ts';
import type { ReplyOf } from '../../client/src/protocol/replies.ts';

export class Replicas {
  readonly #d: CoordinatorDeps;

  constructor(d: CoordinatorDeps) {
    this.#d = d;
  }

  /** One request to a peer, feeding the liveness view: failing to reach it marks it down, timeouts in a row do (liveness.ts). */
  async ask<R extends Request>(node: NodeId, request: R, timeoutMs = this.#d.config.requestTimeoutMs): Promise<ReplyOf<R['type']>> {
    const { transport, liveness } = this.#d;
    let reply;
    try {
      reply = await transport.request(node, request, timeoutMs);
      liveness.success(node);
    } catch (e) {
      if (e instanceof StoreError && (e.code === 'UNAVAILABLE' || e.code === 'TIMEOUT'))
        liveness.failure(node, e.code === 'TIMEOUT' ? 'timeout' : 'unreachable');
      throw e;
    }
    return expectReply(node, request, reply);
  }

  /** What a replica holds for each key. */
  async read(node: NodeId, keys: string[]): Promise<readonly SiblingSet[]> {
    if (node === this.#d.self) return keys.map((k) => this.#d.replica.read(k));
    const reply = await this.ask(node, { type: 'replicaReadMany', keys });
    if (reply.sets.length !== keys.length)
      throw new StoreError('PROTOCOL', `${node} answered ${keys.length} keys with ${reply.sets.length} sets`);
    return reply.sets;
  }

  /** Writes a sibling set to a target: merged into its data, or kept as a hint for the target's owner. */
  async write(t: Target, key: string, set: SiblingSet): Promise<void> {
    const { replica, clock, self } = this.#d;
    if (t.node === self) {
      // from this node itself: a set it built from what it read, which leases do not judge (node/lease-check.ts)
      if (t.hintFor) await replica.storeHint(t.hintFor, key, set, clock.wallNow(), self);
      else await replica.mergeIn(key, set, self);
      return;
    }
    await this.ask(t.node, { type: 'replicaWrite', key, hintFor: t.hintFor ?? null, set });
  }

  /** The error a failed quorum answers with; the observer (metrics) is told why it failed. */
  quorumFailed(kind: 'read' | 'write', shortfall: QuorumShortfall, timedOut: boolean): StoreError {
    this.#d.observer?.quorumFailure(kind, quorumFailureReason(shortfall, timedOut));
    return quorumError(kind, shortfall, timedOut);
  }
}
