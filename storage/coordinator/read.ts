// The get path: any node may coordinate a read. It asks the key's N targets, answers once R
// have answered with every causally-maximal version (a GetCore per key, core/get-core.ts),
// keeps listening, and repairs the replicas that answered with less than the merged result
// (read repair). A multi-get asks each replica once for all its keys.
import { checkKey, checkQuorum } from '../../client/src/core/limits.ts';
import { GetCore } from '../core/get-core.ts';
import type { NodeId } from '../../client/src/core/ring.ts';
import type { CoordinatorDeps } from '../coordinator.ts';
import type { GetReply } from '../../client/src/protocol/messages.ts';
import type { Replicas } from './replicas.ts';

/** The counter a read adds to: replicas sent the merged set after a read found them behind. */
export interface ReadCounters {
  readRepairs: number;
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
    return { key, targets, core: new GetCore(targets, rr, pr, d.config.maxActors) };
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
      if (--open === 0) timer.cancel();
      const plan = core.finalAction();
      for (const t of plan.repair) {
        counters.readRepairs++;
        d.logger.info('read repair', { key, replica: t.node });
        d.track(replicas.write(t, key, plan.merged).catch(() => undefined));
      }
    }
  };
  const timer = d.clock.after(d.config.requestTimeoutMs, () => {
    timedOut = true;
    reads.forEach((read, i) => {
      read.core.timeout();
      settle(i);
    });
  });
  reads.forEach((_, i) => settle(i));
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
        () =>
          indexes.forEach((i) => {
            reads[i]!.core.addFailure(node);
            settle(i);
          }),
      );
  }
  return results.map((r) => r.promise);
}
