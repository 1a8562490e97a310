// The dot counters other nodes have leased and advertised, and the highest counter of each of
// their actors a replica takes.
//
// A node hands out counters in blocks of LEASE_BLOCK, each block's lease on disk before any
// counter under it (identity.ts), and its heartbeat advertises, for its current epoch, the
// highest counter its durable lease covers. A receiver keeps the highest lease it heard per
// node and epoch, and refuses a dot or past entry of `node@epoch[.incarnation]` above that
// lease plus one block: the advertisement lags, since a node uses a new block as soon as its
// lease is on disk, before its next heartbeat has spread. One block is enough as long as the
// receiver hears the node at least once per block it uses. An actor whose node and epoch no
// lease was heard for is not judged: refusing there would cost availability of real data (the
// receiver may just have started, or the node speaks an older protocol).
import type { ActorId } from '../../client/src/core/version-vector.ts';

/** Counters a node leases at a time (identity.ts). */
export const LEASE_BLOCK = 100_000;
/** Epochs remembered per node: a node takes a new one only when its directory is new or restored, or by hand. */
const EPOCHS_PER_NODE = 16;

/** An actor's node and epoch (`node@epoch` or `node@epoch.incarnation`), or null when it is not of that shape. */
export function actorNodeEpoch(actor: ActorId): { readonly node: string; readonly epoch: string } | null {
  const at = actor.lastIndexOf('@');
  if (at <= 0) return null;
  const rest = actor.slice(at + 1);
  const dot = rest.indexOf('.');
  const epoch = dot < 0 ? rest : rest.slice(0, dot);
  if (epoch === '' || (dot >= 0 && !/^\d+$/.test(rest.slice(dot + 1)))) return null;
  return { node: actor.slice(0, at), epoch };
}

/** The highest lease heard per node and epoch; never lowered, so a late or replayed heartbeat changes nothing. */
export class HeardLeases {
  readonly #byNode = new Map<string, Map<string, number>>();
  /** the epoch each node advertised last: only its actors are judged */
  readonly #current = new Map<string, string>();
  readonly #block: number;

  /** `block`: the counters a node leases at a time (tests use small blocks) */
  constructor(block = LEASE_BLOCK) {
    this.#block = block;
  }

  /** Takes in a lease a node advertised for one of its epochs. */
  heard(node: string, epoch: string, counter: number): void {
    this.#current.set(node, epoch);
    let epochs = this.#byNode.get(node);
    if (!epochs) this.#byNode.set(node, (epochs = new Map()));
    const before = epochs.get(epoch);
    if (before !== undefined && before >= counter) return;
    epochs.set(epoch, counter);
    if (epochs.size > EPOCHS_PER_NODE) epochs.delete(epochs.keys().next().value!);
  }

  /** The highest lease heard from a node for an epoch, if any. */
  lease(node: string, epoch: string): number | undefined {
    return this.#byNode.get(node)?.get(epoch);
  }

  /** Every lease heard, by node and epoch (for status reports). */
  all(): Record<string, Record<string, number>> {
    return Object.fromEntries([...this.#byNode].map(([node, epochs]) => [node, Object.fromEntries(epochs)]));
  }

  /** The highest counter of an actor a replica takes, or undefined when nothing is known of it. */
  limit(actor: ActorId): number | undefined {
    const id = actorNodeEpoch(actor);
    // an epoch the node has left makes no new dots, so a counter above its lease can only cover dots that exist,
    // which no bound prevents; and a run of it that was never heard (a restored node's lost run) may have gone further
    if (!id || this.#current.get(id.node) !== id.epoch) return undefined;
    const lease = this.lease(id.node, id.epoch);
    return lease === undefined ? undefined : lease + this.#block;
  }
}
