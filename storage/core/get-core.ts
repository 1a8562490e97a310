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

/** a target's state in a read */
const OPEN = 0;
const ANSWERED = 1;
const FAILED = 2;

/**
 * Per target, by its index (a read has at most N of them): whether it was asked, and whether it
 * answered or failed, kept in small arrays and counters rather than maps and sets, since a
 * multi-get makes one core per key.
 */
export class GetCore {
  readonly #targets: readonly Target[];
  readonly #r: number;
  readonly #pr: number;
  readonly #maxActors: number;
  readonly #state: Uint8Array;
  readonly #asked: Uint8Array;
  readonly #answers: (SiblingSet | undefined)[];
  #got = 0;
  #primariesGot = 0;
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
    this.#state = new Uint8Array(targets.length);
    this.#asked = new Uint8Array(targets.length);
    this.#answers = new Array<SiblingSet | undefined>(targets.length);
    for (const t of asked) this.ask(t.node);
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
    const i = this.#index(node);
    if (i >= 0) this.#asked[i] = 1;
  }

  /** The targets not asked yet, in their order. */
  unasked(): Target[] {
    return this.#targets.filter((_, i) => this.#asked[i] === 0);
  }

  /** A replica's answer: its sibling set (empty when it has nothing for the key). */
  addAnswer(node: NodeId, set: SiblingSet): void {
    const i = this.#index(node);
    if (i < 0 || this.#state[i] !== OPEN) return;
    this.#state[i] = ANSWERED;
    this.#answers[i] = set;
    this.#got++;
    if (this.#targets[i]!.primary) this.#primariesGot++;
    this.#merged = merge(this.#merged, set, this.#maxActors);
    this.#decide();
  }

  addFailure(node: NodeId): void {
    const i = this.#index(node);
    if (i < 0 || this.#state[i] !== OPEN) return;
    this.#state[i] = FAILED;
    this.#decide();
  }

  /** The request's time is up: whoever has not answered, asked or not, counts as failed. */
  timeout(): void {
    for (let i = 0; i < this.#state.length; i++) if (this.#state[i] === OPEN) this.#state[i] = FAILED;
    this.#decide();
  }

  /** Every target asked has answered or failed, and no other is needed: the read is decided, or every target was asked. */
  get complete(): boolean {
    for (let i = 0; i < this.#state.length; i++)
      if (this.#state[i] === OPEN && (this.#asked[i] === 1 || this.#decided === 'pending')) return false;
    return true;
  }

  /** Everything the answers so far hold: the reply once the state is 'ok'. */
  get merged(): SiblingSet {
    return this.#merged;
  }

  get answers(): number {
    return this.#got;
  }

  shortfall(): QuorumShortfall {
    return { needed: this.#r, got: this.#got, primaryNeeded: this.#pr, primaryGot: this.#primariesGot };
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
    let repair: Target[] | undefined;
    for (let i = 0; i < this.#targets.length; i++) {
      const answer = this.#answers[i];
      if (answer !== undefined && missesFrom(answer, this.#merged, this.#maxActors)) (repair ??= []).push(this.#targets[i]!);
    }
    return { merged: this.#merged, repair: repair ?? NONE };
  }

  /** The target's index, or -1 for a node that is not a target: only the targets' replies count. */
  #index(node: NodeId): number {
    for (let i = 0; i < this.#targets.length; i++) if (this.#targets[i]!.node === node) return i;
    return -1;
  }

  #decide(): void {
    if (this.#decided !== 'pending') return;
    if (this.#got >= this.#r && this.#primariesGot >= this.#pr) {
      this.#decided = 'ok';
      return;
    }
    let open = 0;
    let primaryOpen = 0;
    for (let i = 0; i < this.#state.length; i++) {
      if (this.#state[i] !== OPEN) continue;
      open++;
      if (this.#targets[i]!.primary) primaryOpen++;
    }
    if (this.#got + open < this.#r || this.#primariesGot + primaryOpen < this.#pr) this.#decided = 'failed';
  }
}

const NONE: readonly Target[] = [];
