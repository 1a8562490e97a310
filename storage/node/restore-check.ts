// The restore check: a node started on a copy of an older data directory (a restored backup)
// would hand out again the dots its later runs handed out, and claim to hold what those runs
// wrote. Peers remember the newest run they heard of every node, on disk: before it makes a
// dot, the node asks the members of the ring, telling them its new run, until a majority has
// answered. When one heard a run with a generation at least this run's, the node goes on as a
// new actor. Every run that made dots under an epoch registered with a majority first, and two
// majorities meet, so a later run under the same epoch is always heard of. Until then puts are
// handed to other replicas, and a put handed here is refused unapplied (see `readiness`); only
// one no other replica takes is coordinated here, as a new actor.
import { call } from '../../client/src/call.ts';
import type { RingView } from '../../client/src/core/preference.ts';
import type { NodeId } from '../../client/src/core/ring.ts';
import type { Readiness } from '../coordinator.ts';
import type { Identity } from '../identity.ts';
import type { Gossiper } from '../membership/gossip.ts';
import type { Heartbeat } from '../../client/src/protocol/messages.ts';
import type { Clock, Logger, Transport } from '../../client/src/runtime.ts';

/** How long a starting node waits for a member's word on its last run before asking again. */
const RESTORE_CHECK_TIMEOUT_MS = 500;
const RESTORE_CHECK_RETRY_MS = 250;

export interface RestoreCheckDeps {
  readonly self: NodeId;
  readonly cluster: string;
  readonly identity: Identity;
  readonly transport: Transport;
  readonly clock: Clock;
  readonly logger: Logger;
  readonly gossip: () => Gossiper;
  readonly view: () => RingView | null;
  /** false once the node is draining: the check stops asking */
  readonly running: () => boolean;
}

export class RestoreCheck {
  /** what the coordinator asks before it makes a dot */
  readonly readiness: Readiness;
  readonly #d: RestoreCheckDeps;
  /** every member has answered, or the node went on as a new actor */
  #confirmed = false;
  readonly #waiters: (() => void)[] = [];

  constructor(d: RestoreCheckDeps) {
    this.#d = d;
    this.readiness = this.#makeReadiness();
  }

  get confirmed(): boolean {
    return this.#confirmed;
  }

  /** Asks the members until a majority has answered (see the top of this file). */
  async run(): Promise<void> {
    const { identity, clock, self } = this.#d;
    const gossip = this.#d.gossip();
    const answered = new Set<NodeId>();
    while (this.#d.running() && !this.#confirmed) {
      const view = this.#d.view();
      const peers = (view ? view.ring.members.map((m) => m.id) : gossip.peers()).filter((m) => m !== self);
      const needed = Math.floor(peers.length / 2) + 1;
      if (peers.length === 0 || peers.filter((p) => answered.has(p)).length >= needed) break;
      let unknown: Heartbeat | null = null;
      await Promise.all(
        peers
          .filter((p) => !answered.has(p))
          .map(async (peer) => {
            try {
              const r = await call(
                this.#d.transport,
                peer,
                { type: 'lastBeat', cluster: this.#d.cluster, beat: gossip.beat },
                RESTORE_CHECK_TIMEOUT_MS,
              );
              gossip.success(peer);
              answered.add(peer);
              if (r.beat && !identity.knowsRun(r.beat.life)) unknown = r.beat;
            } catch {
              // asked again next round
            }
          }),
      );
      if (unknown) {
        // a disk that refuses the new epoch leaves the node unconfirmed, and the check is asked again
        if (
          await this.restored(unknown).then(
            () => true,
            (e: unknown) => this.#d.logger.error('could not record a new epoch', { error: String(e) }),
          )
        )
          break;
        answered.clear();
        continue;
      }
      if (peers.filter((p) => answered.has(p)).length < needed)
        await new Promise<void>((resolve) => clock.after(RESTORE_CHECK_RETRY_MS, resolve));
    }
    this.#confirm();
  }

  /** A peer heard a run of this node that its data directory does not know: goes on as a new actor; false when it already had. */
  async restored(heard: Heartbeat): Promise<boolean> {
    const { identity } = this.#d;
    const before = identity.actor;
    if (!(await identity.restoredFrom(heard))) return false;
    this.#d.logger.warn(
      'a peer heard a run of this node its data directory does not know (restored from a backup?): going on as a new actor',
      {
        heard: heard.life,
        heardGeneration: heard.generation,
        before,
        actor: identity.actor,
        generation: identity.generation,
      },
    );
    return true;
  }

  #confirm(): void {
    if (this.#confirmed) return;
    this.#confirmed = true;
    for (const w of this.#waiters.splice(0)) w();
  }

  #makeReadiness(): Readiness {
    let forcing: Promise<void> | null = null;
    const force = async () => {
      // no majority has answered and no other replica took the put: a new actor never made a
      // dot, so it cannot repeat one of a lost run's, whatever the silent members heard
      const { identity } = this.#d;
      const before = identity.actor;
      await identity.renewEpoch();
      this.#confirm();
      this.#d.logger.info(
        'no majority of members has answered since start and a write had to be coordinated here: going on as a new actor',
        {
          before,
          actor: identity.actor,
        },
      );
    };
    return {
      isConfirmed: () => this.#confirmed,
      settled: (ms) =>
        this.#confirmed
          ? Promise.resolve()
          : new Promise<void>((resolve) => {
              this.#waiters.push(resolve);
              this.#d.clock.after(ms, resolve);
            }),
      force: async () => {
        if (this.#confirmed) return;
        forcing ??= force().finally(() => (forcing = null));
        await forcing;
      },
    };
  }
}
