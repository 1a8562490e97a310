// Operator changes to the ring (join, leave, remove, replace) and transfer confirmations,
// decided by one node: the ring's claimant (its lowest-id staying member). Any other node
// hands a change to the claimant. When the claimant itself is unreachable, the next staying
// member may decide a remove or replace of the claimant, and nothing else, so a dead
// claimant can be taken out without two nodes deciding one ring version.
import { call } from '../../client/src/call.ts';
import { StoreError } from '../../client/src/core/errors.ts';
import { claimantOf, completeTransfer, planChange, type Change } from '../core/ring-change.ts';
import { RingError, type NodeId, type Ring } from '../../client/src/core/ring.ts';
import type { ChangeReply, ChangeRequest } from '../../client/src/protocol/messages.ts';
import type { Liveness } from '../liveness.ts';
import type { Logger, Transport } from '../../client/src/runtime.ts';

export interface ChangeDeps {
  readonly self: NodeId;
  readonly ring: () => Ring | null;
  /** takes the ring as this node's; resolves once it is on disk */
  readonly adopt: (ring: Ring) => Promise<void>;
  readonly liveness: Liveness;
  readonly transport: Transport;
  readonly logger: Logger;
  /** lets the transport reach a node that is not in the ring yet */
  readonly learnAddress: (node: NodeId, address: string) => void;
  readonly timeoutMs: number;
}

export class ChangeHandler {
  /** decisions are made one at a time, each over the ring the one before left */
  #decisions: Promise<unknown> = Promise.resolve();

  private readonly d: ChangeDeps;
  constructor(d: ChangeDeps) {
    this.d = d;
  }

  change(req: ChangeRequest): Promise<ChangeReply> {
    const decider = this.#decider(this.#ring(), req.kind === 'remove' || req.kind === 'replace' ? req.node : null);
    if (decider !== this.d.self) return this.#handTo(decider, req);
    return this.#exclusively(() => this.#decide(req));
  }

  async #decide(req: ChangeRequest): Promise<ChangeReply> {
    const change = toChange(req);
    if (change.kind === 'join' || change.kind === 'replace') await this.#checkReachable(change.kind === 'join' ? change.member : change.by);
    const ring = this.#ring();
    let planned: Ring;
    try {
      planned = planChange(ring, change, ring.n, req.expectedVersion || undefined);
    } catch (e) {
      if (e instanceof RingError) throw new StoreError(/at version/.test(e.message) ? 'STALE_RING' : 'BAD_REQUEST', e.message);
      throw e;
    }
    await this.d.adopt(planned);
    this.d.logger.info('ring change planned', {
      kind: req.kind,
      node: req.node,
      version: planned.version,
      transfers: planned.transfers.length,
    });
    return { type: 'changeReply', version: planned.version, transfers: planned.transfers.length, claimant: this.d.self };
  }

  /** A new replica holds all of a key range: record it (committing the change after the last one). */
  async transferDone(partition: number, to: NodeId): Promise<void> {
    const decider = this.#decider(this.#ring(), null);
    if (decider !== this.d.self) {
      await call(this.d.transport, decider, { type: 'transferDone', partition, to }, this.d.timeoutMs);
      return;
    }
    await this.#exclusively(async () => {
      const ring = this.#ring();
      const t = ring.transfers.find((x) => x.partition === partition && x.to === to);
      // already recorded, or the change it belonged to has committed: nothing to do
      if (!t || t.done) return;
      const next = completeTransfer(ring, partition, to);
      await this.d.adopt(next);
      if (!next.next) this.d.logger.info('ring change committed', { version: next.version });
    });
  }

  #exclusively<T>(work: () => Promise<T>): Promise<T> {
    const run = this.#decisions.then(work, work);
    this.#decisions = run.catch(() => undefined);
    return run;
  }

  #ring(): Ring {
    const ring = this.d.ring();
    if (!ring) throw new StoreError('UNAVAILABLE', `node ${this.d.self} has no ring yet`);
    return ring;
  }

  /** The claimant, or when it is unreachable and the change takes it out, the next staying member. */
  #decider(ring: Ring, target: NodeId | null): NodeId {
    const claimant = claimantOf(ring);
    if (claimant === this.d.self || this.d.liveness.isUp(claimant)) return claimant;
    if (target === claimant) {
      const next = ring.members.find((m) => !m.leaving && m.id !== claimant && this.d.liveness.isUp(m.id));
      if (next) return next.id;
    }
    throw new StoreError(
      'UNAVAILABLE',
      `the claimant ${claimant} is unreachable: ring changes wait for it (or remove/replace ${claimant} itself)`,
    );
  }

  #handTo(decider: NodeId, req: ChangeRequest): Promise<ChangeReply> {
    return call(this.d.transport, decider, req, this.d.timeoutMs * 3);
  }

  async #checkReachable(m: { id: NodeId; address: string }): Promise<void> {
    this.d.learnAddress(m.id, m.address);
    try {
      await call(this.d.transport, m.id, { type: 'ping' }, this.d.timeoutMs);
      return;
    } catch {
      // fall through
    }
    throw new StoreError('UNAVAILABLE', `${m.id} does not answer at ${m.address}: start it first (with --seeds) and try again`);
  }
}

function toChange(req: ChangeRequest): Change {
  switch (req.kind) {
    case 'join':
      return { kind: 'join', member: { id: req.node, address: req.address, weight: req.weight || 1 } };
    case 'leave':
    case 'remove':
      return { kind: req.kind, node: req.node };
    case 'replace':
      if (!req.by) throw new StoreError('BAD_REQUEST', 'replace needs the id of the replacement node');
      return { kind: 'replace', node: req.node, by: { id: req.by, address: req.address, weight: req.weight || 1 } };
  }
}
