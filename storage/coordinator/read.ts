// The get path: any node may coordinate a read. Each key has N targets. With a hedge time
// (`readHedgeMs` above 0, the default) the coordinator asks R of them first (its own copy
// first: a local read costs no message, then the others in turn, so reads spread over the
// replicas), and the rest when one of those fails or has not answered within the hedge time;
// with 0 it asks all N at once, as the Dynamo paper's coordinator does (docs/design.md, "Reads
// and writes", weighs the two). It answers once R have answered with every causally-maximal
// version (a GetCore per key, core/get-core.ts), keeps listening to those it asked, and repairs
// the ones that answered with less than the merged result (read repair). A multi-get asks each
// replica once for all its keys.
import { checkKey, checkQuorum } from '../../client/src/core/limits.ts';
import { GetCore } from '../core/get-core.ts';
import type { NodeId } from '../../client/src/core/ring.ts';
import type { Target } from '../../client/src/core/preference.ts';
import type { CoordinatorDeps } from '../coordinator.ts';
import type { GetReply } from '../../client/src/protocol/messages.ts';
import type { Replicas } from './replicas.ts';

/** The counters a read adds to. */
export interface ReadCounters {
  /** replicas sent the merged set after a read found them behind */
  readRepairs: number;
  /** keys whose read asked more targets after one failed or the hedge time passed */
  widenedReads: number;
  /** reads started, turning which of the other targets a read asks first */
  readsStarted: number;
  /** expired versions reads found and turned into tombstones, written back by read repair (core/expiry.ts) */
  expiredVersions: number;
}

/** One promise per key, in order; see Coordinator.getMany. */
export function readMany(
  d: CoordinatorDeps,
  replicas: Replicas,
  counters: ReadCounters,
  keys: readonly string[],
  r: number,
  pr: number,
): Promise<GetReply>[] {
  const view = d.view();
  const rr = r || d.config.r;
  checkQuorum('r', rr, view.n);
  checkQuorum('pr', pr, view.n, 0);
  const isUp = (node: NodeId) => d.liveness.isUp(node);
  const reads = keys.map((key) => {
    checkKey(key);
    // replicas a key range is still moving to may not hold it yet: reads go to the current ones
    const all = view.targets(view.partitionOf(key), isUp);
    const targets = all.some((t) => t.pending) ? all.filter((t) => !t.pending) : all;
    const first = d.config.readHedgeMs === 0 ? targets : firstAsked(targets, rr, pr, d.self, counters.readsStarted++);
    return { key, targets, core: new GetCore(targets, rr, pr, d.config.maxActors, first), first };
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
  const started = d.clock.now();
  const settle = (i: number) => {
    const { key, core } = reads[i]!;
    const out = results[i]!;
    if (!out.answered && core.state === 'ok') {
      out.answered = true;
      d.observer?.request('get', d.clock.now() - started, 'ok');
      // expired versions, by this coordinator's clock, become their tombstones
      counters.expiredVersions += core.expire(d.clock.wallNow());
      out.resolve({ type: 'getReply', replies: core.answers, set: core.merged });
    } else if (!out.answered && core.state === 'failed') {
      out.answered = true;
      const error = replicas.quorumFailed('read', core.shortfall(), timedOut);
      d.observer?.request('get', d.clock.now() - started, error.code);
      out.reject(error);
    }
    if (core.complete && !out.repaired) {
      out.repaired = true;
      // answers that came after the reply may hold expired versions too: their tombstones are repaired with the rest
      counters.expiredVersions += core.expire(d.clock.wallNow());
      if (--open === 0) {
        timer.cancel();
        hedge?.cancel();
      }
      const plan = core.finalAction();
      for (const t of plan.repair) {
        counters.readRepairs++;
        d.logger.info('read repair', { key, replica: t.node });
        d.track(replicas.write(t, key, plan.merged).catch(() => undefined));
      }
    }
  };
  /** Sends each read to the given targets, one request per replica for all its keys. */
  const ask = (asks: readonly { readonly i: number; readonly targets: readonly Target[] }[]) => {
    const byNode = new Map<NodeId, number[]>();
    for (const { i, targets } of asks) {
      for (const t of targets) {
        reads[i]!.core.ask(t.node);
        const list = byNode.get(t.node) ?? [];
        list.push(i);
        byNode.set(t.node, list);
      }
    }
    for (const [node, indexes] of byNode) {
      replicas
        .read(
          node,
          indexes.map((i) => reads[i]!.key),
        )
        .then(
          (sets) =>
            indexes.forEach((i, j) => {
              reads[i]!.core.addAnswer(node, sets[j]!);
              settle(i);
            }),
          () => {
            indexes.forEach((i) => reads[i]!.core.addFailure(node));
            // a failed replica's keys ask their remaining targets at once
            widen(indexes);
            indexes.forEach(settle);
          },
        );
    }
  };
  /** Asks every target not asked yet, for the reads among these still undecided. */
  const widen = (indexes: readonly number[]) => {
    const asks = indexes
      .filter((i) => !timedOut && reads[i]!.core.state === 'pending')
      .map((i) => ({ i, targets: reads[i]!.core.unasked() }))
      .filter((a) => a.targets.length > 0);
    counters.widenedReads += asks.length;
    ask(asks);
  };
  const timer = d.clock.after(d.config.requestTimeoutMs, () => {
    timedOut = true;
    hedge?.cancel();
    reads.forEach((read, i) => {
      read.core.timeout();
      settle(i);
    });
  });
  const hedge = reads.some((read) => read.first.length < read.targets.length)
    ? d.clock.after(d.config.readHedgeMs, () => widen(reads.map((_, i) => i)))
    : null;
  reads.forEach((_, i) => settle(i));
  ask(reads.map((read, i) => ({ i, targets: read.first })));
  return results.map((r) => r.promise);
}

/**
 * The targets a read asks first: R of them, and enough primaries for PR. This node's own copy
 * comes first when it is a target, then the others in turn from `turn`, so that reads coordinated
 * here spread over the other replicas. Called for every key read: it allocates only its answer.
 */
export function firstAsked(targets: readonly Target[], r: number, pr: number, self: NodeId, turn: number): Target[] {
  const first: Target[] = [];
  let others = 0;
  for (const t of targets) {
    if (t.node !== self) others++;
    else if (first.length < r) first.push(t);
  }
  const start = others === 0 ? 0 : turn % others;
  for (let k = 0; k < others && first.length < r; k++) first.push(nthOther(targets, self, (start + k) % others));
  // primaries for PR, from the rest in their turn
  let primaries = 0;
  for (const t of first) if (t.primary) primaries++;
  for (let k = 0; k < others && primaries < pr; k++) {
    const t = nthOther(targets, self, (start + k) % others);
    if (t.primary && !first.includes(t)) {
      first.push(t);
      primaries++;
    }
  }
  return first;
}

/** The j-th target, in order, that is not this node. */
function nthOther(targets: readonly Target[], self: NodeId, j: number): Target {
  for (const t of targets) if (t.node !== self && j-- === 0) return t;
  throw new Error(`unreachable: fewer targets besides ${self} than counted`);
}
