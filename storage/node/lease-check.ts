// Sets a node receives, judged by the dot-counter leases its peers advertise
// (core/leases.ts): a set naming a counter above what its actor's node advertised is refused.
// A node that restarted since it was last heard starts each run a block further on, so a
// refused replicaWrite or keysMerge is served again once the nodes named have been asked for
// their lease (a gossip exchange each). Nothing changed when it was refused (sets are checked
// before anything is merged), so serving those two again is safe; nothing else is served
// again. Refused when the lease the node itself advertises now is still below the counter; a
// node that cannot be asked goes unjudged for a while.
import { StoreError } from '../../client/src/core/errors.ts';
import { actorNodeEpoch, HeardLeases } from '../core/leases.ts';
import type { NodeId } from '../../client/src/core/ring.ts';
import { checkSet, setProblem, type SetLimits } from '../core/set-check.ts';
import { actorCounters, type SiblingSet } from '../../client/src/core/siblings.ts';
import type { Identity } from '../identity.ts';
import type { Gossiper } from '../membership/gossip.ts';
import type { Reply, Request } from '../../client/src/protocol/messages.ts';
import type { Clock } from '../../client/src/runtime.ts';

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

export interface LeaseCheckDeps {
  readonly self: NodeId;
  readonly identity: Identity;
  readonly limits: SetLimits;
  readonly clock: Clock;
  readonly gossip: () => Gossiper;
}

export class LeaseCheck {
  /** the dot-counter leases peers advertised in their own heartbeats, in memory */
  readonly leases = new HeardLeases();
  /** received sets naming an actor of another node whose lease was heard, and those refused for a counter above it */
  setsJudged = 0;
  setsRefused = 0;
  readonly #d: LeaseCheckDeps;
  readonly #asking = new Map<NodeId, Promise<boolean>>();
  /** nodes that could not be asked for their lease, until when their actors are not judged */
  readonly #cannotAsk = new Map<NodeId, number>();

  constructor(d: LeaseCheckDeps) {
    this.#d = d;
  }

  /** The replica's check of a set received (from `from`, when a node sent it): throws when it is refused. */
  check(set: SiblingSet, from: NodeId | null): void {
    const { identity, limits } = this.#d;
    const own = { owns: (actor: string) => identity.owns(actor), counter: identity.counter };
    let judged = false;
    const limit = (actor: string) => {
      const node = actorNodeEpoch(actor)?.node;
      // a node's own actors, in a set it sends: it is the authority on its counters (it could advertise any lease), and
      // its newest dots reach a replica before its heartbeat does, several blocks ahead when it restarted meanwhile
      // and a set this node's own coordinator built (from this node itself) is made of what it read, which is not judged
      if (node === undefined || node === from || from === this.#d.self || this.#unasked(node)) return undefined;
      const l = this.leases.limit(actor);
      judged ||= l !== undefined;
      return l;
    };
    try {
      checkSet(set, limits, own, limit);
    } catch (e) {
      if (judged && setProblem(set, limits, own) === null) {
        // above a lease heard: the nodes named may have restarted (each run starts a block further on) since they were heard
        const over = [...actorCounters(set)]
          .filter(([actor, n]) => n > (limit(actor) ?? Infinity))
          .map(([actor]) => actorNodeEpoch(actor)!.node);
        throw new LeaseRefusal((e as Error).message, [...new Set(over)]);
      }
      throw e;
    } finally {
      if (judged) this.setsJudged++;
    }
  }

  /** Serves a request with `serve`; one refused for a counter above a lease heard is served again as the top of this file says. */
  async serve(request: Request, serve: () => Promise<Reply>): Promise<Reply> {
    try {
      return await serve();
    } catch (e) {
      if (!(e instanceof LeaseRefusal)) throw e;
      if (request.type !== 'replicaWrite' && request.type !== 'keysMerge') {
        this.setsRefused++;
        throw e;
      }
      const answered = await Promise.all(e.nodes.map((node) => this.#ask(node)));
      // a node that cannot be asked is not judged for a while: a refusal would cost availability of real data
      const now = this.#d.clock.now();
      e.nodes.forEach((node, i) => {
        if (!answered[i]) this.#cannotAsk.set(node, now + UNASKED_MS);
      });
      try {
        return await serve();
      } catch (again) {
        if (again instanceof LeaseRefusal) this.setsRefused++;
        throw again;
      }
    }
  }

  /** Whether a node could not be asked for its lease lately: its actors are not judged meanwhile. */
  #unasked(node: NodeId): boolean {
    const until = this.#cannotAsk.get(node);
    if (until === undefined) return false;
    if (until > this.#d.clock.now()) return true;
    this.#cannotAsk.delete(node);
    return false;
  }

  /** Exchanges gossip with a node at once, to hear its lease (one exchange at a time per node); true when it answered. */
  #ask(node: NodeId): Promise<boolean> {
    if (node === this.#d.self) return Promise.resolve(true);
    let asking = this.#asking.get(node);
    if (!asking) {
      asking = this.#d.gossip().exchange(node).finally(() => this.#asking.delete(node));
      this.#asking.set(node, asking);
    }
    return asking;
  }
}
