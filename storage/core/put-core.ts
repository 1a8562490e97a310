// The pure accumulator of one quorum write (riak_kv_put_core's shape). Acks and failures go
// in; it says when W (and PW) are met or can no longer be, and when a replica fails it names
// the next spare fallback to send the write to instead, as a hint for the replica it replaces.
// Pending targets (replicas a key range is moving to) get the write too, but their acks do not
// count toward the quorum.
import type { NodeId } from '../../client/src/core/ring.ts';
import type { Target } from '../../client/src/core/preference.ts';
import type { QuorumShortfall } from '../../client/src/core/errors.ts';

export type PutState = 'pending' | 'ok' | 'failed';

export class PutCore {
  readonly #targets: Target[];
  readonly #spares: NodeId[];
  readonly #w: number;
  readonly #pw: number;
  readonly #acked = new Set<NodeId>();
  readonly #failed = new Set<NodeId>();
  #decided: PutState = 'pending';

  /**
   * @param targets where the write goes first (the coordinator among them)
   * @param spares  reachable fallbacks not among the targets, in ring order
   */
  constructor(targets: readonly Target[], spares: readonly NodeId[], w: number, pw: number) {
    this.#targets = [...targets];
    this.#spares = spares.filter((s) => !targets.some((t) => t.node === s));
    this.#w = w;
    this.#pw = pw;
    this.#decide();
  }

  get state(): PutState {
    return this.#decided;
  }

  get targets(): readonly Target[] {
    return this.#targets;
  }

  /** Acks that count toward the quorum. */
  get acks(): number {
    return this.#targets.filter((t) => !t.pending && this.#acked.has(t.node)).length;
  }

  addAck(node: NodeId): void {
    if (this.#open(node)) {
      this.#acked.add(node);
      this.#decide();
    }
  }

  /** A replica failed: returns the fallback that should receive the write in its place, if any. */
  addFailure(node: NodeId): Target | undefined {
    if (!this.#open(node)) return undefined;
    this.#failed.add(node);
    const failed = this.#targets.find((t) => t.node === node)!;
    const spare = this.#spares.shift();
    let replacement: Target | undefined;
    if (spare !== undefined) {
      replacement = { node: spare, primary: false, hintFor: failed.hintFor ?? failed.node, ...(failed.pending ? { pending: true } : {}) };
      this.#targets.push(replacement);
    }
    this.#decide();
    return replacement;
  }

  /** The request's time is up: replicas that have not acked count as failed, with no replacement. */
  timeout(): void {
    for (const t of this.#targets) if (this.#open(t.node)) this.#failed.add(t.node);
    this.#decide();
  }

  get complete(): boolean {
    return this.#targets.every((t) => !this.#open(t.node));
  }

  shortfall(): QuorumShortfall {
    return { needed: this.#w, got: this.acks, primaryNeeded: this.#pw, primaryGot: this.#primaryAcks() };
  }

  #open(node: NodeId): boolean {
    return this.#targets.some((t) => t.node === node) && !this.#acked.has(node) && !this.#failed.has(node);
  }

  #primaryAcks(): number {
    return this.#targets.filter((t) => t.primary && this.#acked.has(t.node)).length;
  }

  #decide(): void {
    if (this.#decided !== 'pending') return;
    const acks = this.acks;
    const primaryAcks = this.#primaryAcks();
    if (acks >= this.#w && primaryAcks >= this.#pw) {
      this.#decided = 'ok';
      return;
    }
    // each open target yields at most one more ack, its own or, should it fail, a spare's in its
    // place: spares keep a slot alive but add none (counting them once left a write whose every
    // target had answered waiting for ever)
    const open = this.#targets.filter((t) => !t.pending && this.#open(t.node));
    const primaryOpen = open.filter((t) => t.primary).length;
    if (acks + open.length < this.#w || primaryAcks + primaryOpen < this.#pw) this.#decided = 'failed';
  }
}
