// The pure accumulator of one quorum read (riak_kv_get_core's shape): replies go in, and it
// says when R (and PR) are met or can no longer be, what to answer, and, once every replica
// asked has answered or timed out, which replicas to repair.
//
// The coordinator need not ask every target at once (coordinator/read.ts asks R of them first):
// it tells the core whom it asked. A target not asked yet still counts as one that may answer,
// so the read fails only when even every target could not meet R; once the read is decided,
// the ones never asked are not waited for.
import { expireAt } from '../../client/src/core/expiry.ts';
import { merge, missesFrom, EMPTY_SET, type SiblingSet } from '../../client/src/core/siblings.ts';
import type { NodeId } from '../../client/src/core/ring.ts';
import type { Target } from '../../client/src/core/preference.ts';
import type { QuorumShortfall } from '../../client/src/core/errors.ts';
import { MAX_ACTORS_PER_KEY } from '../../client/src/core/limits.ts';

export type GetState = 'pending' | 'ok' | 'failed';

export interface RepairPlan {
  readonly merged: SiblingSet;
  /** replicas whose answer lacked something the merged result holds */
  readonly repair: readonly Target[];
}

export class GetCore {
  readonly #targets: readonly Target[];
  readonly #r: number;
  readonly #pr: number;
  readonly #maxActors: number;
  readonly #answers = new Map<NodeId, SiblingSet>();
  readonly #failed = new Set<NodeId>();
  readonly #asked = new Set<NodeId>();
  #merged: SiblingSet = EMPTY_SET;
  #decided: GetState = 'pending';

  /** `asked`: the targets the read is sent to first; every one unless told */
  constructor(
    targets: readonly Target[],
    r: number,
    pr: number,
    maxActors = MAX_ACTORS_PER_KEY,
    asked: readonly Target[] = targets,
  ) {
    this.#targets = targets;
    for (const t of asked) this.#asked.add(t.node);
    this.#r = r;
    this.#pr = pr;
    this.#maxActors = maxActors;
    this.#decide();
  }

  get state(): GetState {
    return this.#decided;
  }

  /** The coordinator has sent the read to this target. */
  ask(node: NodeId): void {
    this.#asked.add(node);
  }

  /** The targets not asked yet, in their order. */
  unasked(): Target[] {
    return this.#targets.filter((t) => !this.#asked.has(t.node));
  }

  /** A replica's answer: its sibling set (empty when it has nothing for the key). */
  addAnswer(node: NodeId, set: SiblingSet): void {
    if (this.#answered(node)) return;
    this.#answers.set(node, set);
    this.#merged = merge(this.#merged, set, this.#maxActors);
    this.#decide();
  }

  addFailure(node: NodeId): void {
    if (this.#answered(node)) return;
    this.#failed.add(node);
    this.#decide();
  }

  /** The request's time is up: whoever has not answered, asked or not, counts as failed. */
  timeout(): void {
    for (const t of this.#targets) if (!this.#answered(t.node)) this.#failed.add(t.node);
    this.#decide();
  }

  /** Every target asked has answered or failed, and no other is needed: the read is decided, or every target was asked. */
  get complete(): boolean {
    return this.#targets.every((t) => this.#done(t.node) || (!this.#asked.has(t.node) && this.#decided !== 'pending'));
  }

  /** Everything the answers so far hold: the reply once the state is 'ok'. */
  get merged(): SiblingSet {
    return this.#merged;
  }

  get answers(): number {
    return this.#answers.size;
  }

  shortfall(): QuorumShortfall {
    return { needed: this.#r, got: this.#answers.size, primaryNeeded: this.#pr, primaryGot: this.#primaryAnswers() };
  }

  /**
   * Turns the versions of the merged state that have expired by `now` (the coordinator's wall
   * clock) into their tombstones (core/expiry.ts): the reply shows them deleted, and every
   * replica that answered with a live copy is repaired. Returns how many it turned.
   */
  expire(now: number): number {
    const before = this.#merged;
    this.#merged = expireAt(before, now);
    return this.#merged === before ? 0 : this.#merged.filter((v, i) => v !== before[i]).length;
  }

  /** Once complete: the replicas that answered with less than the merged state. */
  finalAction(): RepairPlan {
    const repair = this.#targets.filter((t) => {
      const answer = this.#answers.get(t.node);
      return answer !== undefined && missesFrom(answer, this.#merged, this.#maxActors);
    });
    return { merged: this.#merged, repair };
  }

  /** True for a node that is not a target too: only the targets' replies count. */
  #answered(node: NodeId): boolean {
    return this.#done(node) || !this.#targets.some((t) => t.node === node);
  }

  #done(node: NodeId): boolean {
    return this.#answers.has(node) || this.#failed.has(node);
  }

  #primaryAnswers(): number {
    return this.#targets.filter((t) => t.primary && this.#answers.has(t.node)).length;
  }

  #decide(): void {
    if (this.#decided !== 'pending') return;
    const got = this.#answers.size;
    const primaries = this.#primaryAnswers();
    if (got >= this.#r && primaries >= this.#pr) {
      this.#decided = 'ok';
      return;
    }
    const open = this.#targets.filter((t) => !this.#answered(t.node));
    const primaryOpen = open.filter((t) => t.primary).length;
    if (got + open.length < this.#r || primaries + primaryOpen < this.#pr) this.#decided = 'failed';
  }
}
