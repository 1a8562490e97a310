// Gossip: every round a node exchanges its view with one random peer, and with one seed, so
// the cluster cannot split into islands that never hear of each other.
//
// Two kinds of state travel. The ring (members, ownership, changes in progress) must
// converge: the exchange sends digests, and whichever side is older receives the newer ring
// (ring-merge.ts decides). Liveness (heartbeats) never enters the ring and never needs to
// converge: each node feeds the heartbeats it hears of into its own phi-accrual detectors and
// decides for itself whom it can reach.
import { call, ReplyError } from '../../client/src/call.ts';
import { StoreError } from '../../client/src/core/errors.ts';
import { DEFAULT_AWARENESS, LocalHealth, type AwarenessOptions } from '../core/awareness.ts';
import { DEFAULT_PHI, PhiAccrual, type PhiOptions } from '../core/phi.ts';
import { compareDigests, digestOf, validateRing, type RingDigest } from '../core/ring-merge.ts';
import type { NodeId, Ring } from '../../client/src/core/ring.ts';
import type { Liveness } from '../liveness.ts';
import type { AdvertisedLease, GossipReply, GossipRequest, Heartbeat } from '../../client/src/protocol/messages.ts';
import { randomInt, type Clock, type Logger, type Random, type Transport } from '../../client/src/runtime.ts';

export interface GossipOptions {
  readonly intervalMs: number;
  readonly phi: PhiOptions;
  /** heartbeats carried per message besides our own: the freshest ones, so messages stay small in large clusters */
  readonly maxBeats: number;
  /** how this node's own health slows its suspicion of others (core/awareness.ts) */
  readonly awareness?: AwarenessOptions;
}

// one exchange per second with one peer (and one seed); a silent peer is suspected in 4-6 s
export const DEFAULT_GOSSIP: GossipOptions = { intervalMs: 1000, phi: DEFAULT_PHI, maxBeats: 64 };

export interface GossipDeps {
  readonly self: NodeId;
  readonly cluster: string;
  /** this run's generation and life (identity.ts): carried in our heartbeat */
  readonly generation: () => number;
  readonly life: string;
  readonly options: GossipOptions;
  readonly clock: Clock;
  readonly random: Random;
  readonly transport: Transport;
  readonly logger: Logger;
  /** the node's current ring, or null before it has one (a node waiting to join) */
  readonly ring: () => Ring | null;
  /** a newer valid ring arrived */
  readonly adopt: (ring: Ring) => unknown;
  /** seed node ids, always among the peers */
  readonly seeds: () => readonly NodeId[];
  /** partitions every ring of this cluster must have, once known */
  readonly partitions: () => number | undefined;
  /** a peer this node could not reach answers again */
  readonly onReturn?: (node: NodeId) => void;
  /** the newest run heard of each peer, kept on disk across restarts (see handleLastBeat) */
  readonly remembered?: readonly Heartbeat[];
  readonly remember?: (beat: Heartbeat) => Promise<void>;
  /** whether a run of this node (by its life) was started on its data directory (identity.ts) */
  readonly knowsRun?: (life: string) => boolean;
  /** a beat of this node from a run its data directory does not know: the directory is older than the node */
  readonly onOlderSelf?: (beat: Heartbeat) => void;
  /** this node's epoch and durable lease, carried in our heartbeat (identity.ts) */
  readonly lease?: () => AdvertisedLease;
  /**
   * a peer advertised its lease in its own heartbeat, sent by the peer itself: a lease relayed
   * in another node's gossip is never taken, so a compromised node cannot raise another's
   */
  readonly onLease?: (node: NodeId, lease: AdvertisedLease) => void;
}

interface PeerState {
  beat: Heartbeat;
  /** when we last learned a newer beat, to pick the freshest to pass on */
  heardAt: number;
  readonly detector: PhiAccrual;
  /** a request to the peer failed after the last sign of life */
  suspect: boolean;
  /** requests to the peer timed out in a row since its last answer */
  timeouts: number;
  /** whether the peer was up when last looked at, to notice returns */
  wasUp: boolean;
}

export class Gossiper implements Liveness {
  readonly #d: GossipDeps;
  readonly #peers = new Map<NodeId, PeerState>();
  #beat = 0;
  #knownFor: Ring | null | undefined;
  #knownIds: NodeId[] | undefined;
  readonly #forks = new Set<number>();
  rounds = 0;
  /** this node's own health: a slow node is slower to suspect others */
  readonly health: LocalHealth;
  /** when the last round ended, to see how late the next one runs */
  #roundEnded: number | null = null;
  /** ring versions seen decided twice, differently */
  ringForks = 0;

  constructor(deps: GossipDeps) {
    this.#d = deps;
    this.health = new LocalHealth(deps.options.awareness ?? DEFAULT_AWARENESS);
    for (const b of deps.remembered ?? []) this.#peer(b.node).beat = { ...b, beat: 0 };
  }

  // ---------------------------------------------------------------- liveness

  isUp(node: NodeId): boolean {
    if (node === this.#d.self) return true;
    const p = this.#peer(node);
    const up = !p.suspect && p.detector.isAvailable(this.#d.clock.now(), this.health.multiplier);
    p.wasUp = up;
    return up;
  }

  success(node: NodeId): void {
    if (node === this.#d.self) return;
    const p = this.#peer(node);
    const was = p.wasUp && !p.suspect;
    p.suspect = false;
    p.timeouts = 0;
    p.detector.alive(this.#d.clock.now());
    if (!was && this.isUp(node)) this.#d.onReturn?.(node);
  }

  failure(node: NodeId, kind: 'timeout' | 'unreachable' = 'unreachable'): void {
    if (node === this.#d.self) return;
    const p = this.#peer(node);
    if (kind === 'timeout' && ++p.timeouts < this.health.timeoutsToSuspect) return;
    p.suspect = true;
    p.wasUp = false;
  }

  down(): NodeId[] {
    return this.#known().filter((id) => !this.isUp(id));
  }

  /** Suspicion per peer, for status reports. */
  phi(node: NodeId): number {
    return this.#peer(node).detector.phi(this.#d.clock.now());
  }

  // ---------------------------------------------------------------- rounds

  /** One round: bump our heartbeat, exchange with a random peer and a random seed. */
  async tick(): Promise<void> {
    // rounds are started one interval after the last one ended: one that starts late says this node is slow
    const started = this.#d.clock.now();
    if (this.#roundEnded !== null) this.health.round(started - this.#roundEnded - this.#d.options.intervalMs, this.#d.options.intervalMs);
    this.#beat++;
    this.rounds++;
    try {
      const others = this.#known();
      if (others.length === 0) return;
      const peer = others[randomInt(this.#d.random, others.length)]!;
      const seeds = this.#d.seeds().filter((s) => s !== this.#d.self && s !== peer);
      const targets = [peer];
      if (seeds.length > 0) targets.push(seeds[randomInt(this.#d.random, seeds.length)]!);
      await Promise.all(targets.map((t) => this.exchange(t)));
    } finally {
      this.#roundEnded = this.#d.clock.now();
    }
  }

  /** A push-pull exchange with one peer; true when the peer answered it. */
  async exchange(peer: NodeId): Promise<boolean> {
    const ring = this.#d.ring();
    const request: GossipRequest = {
      type: 'gossip',
      cluster: this.#d.cluster,
      from: this.#d.self,
      digest: ring ? digestOf(ring) : NO_RING,
      beats: this.#beats(peer),
    };
    let reply: GossipReply;
    try {
      reply = await call(this.#d.transport, peer, request, Math.max(200, this.#d.options.intervalMs / 2));
    } catch (e) {
      if (e instanceof ReplyError) {
        if (e.reply.type === 'error') this.#d.logger.warn('gossip refused', { peer, code: e.code, error: e.reply.message });
        return false;
      }
      this.failure(peer, e instanceof StoreError && e.code === 'TIMEOUT' ? 'timeout' : 'unreachable');
      return false;
    }
    this.success(peer);
    this.#leases(peer, reply.beats);
    void Promise.allSettled(this.#learn(reply.beats));
    if (reply.ring) {
      try {
        this.#offer(reply.ring, peer);
      } catch {
        return true; // logged in #offer
      }
    }
    const mine = this.#d.ring();
    if (reply.wantRing && mine) {
      await this.#d.transport
        .request(peer, { type: 'ringPush', cluster: this.#d.cluster, ring: mine }, this.#d.options.intervalMs)
        .catch(() => undefined);
    }
    return true;
  }

  /**
   * Answers a peer's exchange; refuses gossip from another cluster. `sender` is who the
   * connection proved to be (null for a caller that is not a node): only its own heartbeat's
   * lease is taken.
   */
  handleGossip(request: GossipRequest, sender: NodeId | null = null): GossipReply {
    if (request.cluster !== this.#d.cluster) {
      throw new StoreError('BAD_CLUSTER', `gossip from cluster '${request.cluster}' reached cluster '${this.#d.cluster}'`);
    }
    this.success(request.from);
    if (sender !== null) this.#leases(sender, request.beats);
    void Promise.allSettled(this.#learn(request.beats));
    const ring = this.#d.ring();
    const mine = ring ? digestOf(ring) : NO_RING;
    const order = compareDigests(mine, request.digest);
    return { type: 'gossipReply', digest: mine, beats: this.#beats(request.from), ring: order > 0 ? ring : null, wantRing: order < 0 };
  }

  /**
   * A node starting up asks what this one last heard from it, and tells its new run: the
   * answer is the newest heartbeat heard before, and the new run is on disk before the answer
   * goes out, so every peer that answered knows this run before it makes a dot. Each peer's
   * newest generation and life are kept on disk, so a restart does not forget them.
   */
  async handleLastBeat(cluster: string, beat: Heartbeat, sender: NodeId | null = null): Promise<Heartbeat | null> {
    if (cluster !== this.#d.cluster)
      throw new StoreError('BAD_CLUSTER', `a question from cluster '${cluster}' reached cluster '${this.#d.cluster}'`);
    if (sender !== null) this.#leases(sender, [beat]);
    const p = this.#peers.get(beat.node);
    const before = p && p.beat.generation > 0 ? p.beat : null;
    await Promise.all(this.#learn([beat]));
    return before;
  }

  /** This run's heartbeat. */
  get beat(): Heartbeat {
    const beat: Heartbeat = { node: this.#d.self, generation: this.#d.generation(), beat: this.#beat, life: this.#d.life };
    return this.#d.lease ? { ...beat, lease: this.#d.lease() } : beat;
  }

  /** Every node this one gossips with. */
  peers(): readonly NodeId[] {
    return this.#known();
  }

  handleRingPush(cluster: string, ring: Ring, from: NodeId | null): void {
    if (cluster !== this.#d.cluster)
      throw new StoreError('BAD_CLUSTER', `ring from cluster '${cluster}' reached cluster '${this.#d.cluster}'`);
    this.#offer(ring, from ?? 'a client');
  }

  // ---------------------------------------------------------------- internals

  /** Adopts a ring that is valid and newer than ours; says why when it is refused. */
  #offer(ring: Ring, from: NodeId): void {
    try {
      validateRing(ring, this.#d.partitions());
    } catch (e) {
      this.#d.logger.warn('refused a malformed ring', { from, error: (e as Error).message });
      throw new StoreError('BAD_REQUEST', `malformed ring: ${(e as Error).message}`);
    }
    const mine = this.#d.ring();
    if (!mine) return void this.#d.adopt(ring);
    const theirs = digestOf(ring);
    const ours = digestOf(mine);
    if (theirs.version === ours.version && theirs.hash !== ours.hash && !this.#forks.has(theirs.version)) {
      // two nodes decided this version (a claimant cut off while another member decided without
      // it): every node keeps the one with the larger digest, and no key range is dropped before
      // its replicas on the ring kept hold it (membership/transfers.ts), so nothing is lost
      this.#forks.add(theirs.version);
      this.ringForks++;
      this.#d.logger.warn('two different rings were decided at one version; keeping the one with the larger digest', {
        version: theirs.version,
        from,
      });
    }
    if (compareDigests(theirs, ours) > 0) this.#d.adopt(ring);
  }

  /** Takes the lease in `sender`'s own heartbeat among `beats`, if it carries one. */
  #leases(sender: NodeId, beats: readonly Heartbeat[]): void {
    if (!this.#d.onLease || sender === this.#d.self) return;
    for (const b of beats) if (b.node === sender && b.lease) this.#d.onLease(sender, b.lease);
  }

  /**
   * Takes in heartbeats; returns the disk writes of the new runs among them. A new run of a
   * peer is taken as its newest only once it is on disk: should the write fail, the run heard
   * before is still what this node answers a restore check with (and the next beat tries again).
   */
  #learn(beats: readonly Heartbeat[]): Promise<void>[] {
    const now = this.#d.clock.now();
    const saved: Promise<void>[] = [];
    for (const b of beats) {
      if (b.node === this.#d.self) {
        if (b.life !== this.#d.life && !(this.#d.knowsRun?.(b.life) ?? false)) this.#d.onOlderSelf?.(b);
        continue;
      }
      const p = this.#peer(b.node);
      if (b.generation > p.beat.generation || (b.generation === p.beat.generation && b.beat > p.beat.beat)) {
        const was = p.wasUp && !p.suspect && p.detector.isAvailable(now, this.health.multiplier);
        p.heardAt = now;
        p.suspect = false;
        p.detector.heartbeat(now);
        if ((b.generation !== p.beat.generation || b.life !== p.beat.life) && this.#d.remember) {
          saved.push(
            this.#d.remember(b).then(() => {
              if (b.generation > p.beat.generation || (b.generation === p.beat.generation && b.beat >= p.beat.beat)) p.beat = b;
            }),
          );
        } else {
          p.beat = b;
        }
        if (!was && this.isUp(b.node)) this.#d.onReturn?.(b.node);
      }
    }
    return saved;
  }

  /**
   * The beats to send `to`: our own, the freshest heard, and always the one we hold of `to`
   * itself, even one only remembered from disk: a node running on an older data directory
   * learns that way that a later run of it was heard (onOlderSelf), and takes a generation
   * above it, without which its beats would look older than that run's and never count.
   */
  #beats(to: NodeId): Heartbeat[] {
    const own = this.beat;
    const heard = [...this.#peers.values()].filter((p) => p.beat.beat > 0);
    if (heard.length > this.#d.options.maxBeats) {
      heard.sort((a, b) => b.heardAt - a.heardAt || (a.beat.node < b.beat.node ? -1 : 1));
      heard.length = this.#d.options.maxBeats;
    }
    const theirs = this.#peers.get(to);
    if (theirs && theirs.beat.generation > 0 && !heard.includes(theirs)) heard.push(theirs);
    return [own, ...heard.map((p) => p.beat)];
  }

  /** Every node we gossip with: ring members and seeds, but not ourselves (computed once per ring). */
  #known(): NodeId[] {
    const ring = this.#d.ring();
    if (this.#knownFor !== ring || !this.#knownIds) {
      const ids = new Set<NodeId>([...(ring?.members.map((m) => m.id) ?? []), ...this.#d.seeds()]);
      ids.delete(this.#d.self);
      this.#knownIds = [...ids].sort();
      this.#knownFor = ring;
    }
    return this.#knownIds;
  }

  #peer(node: NodeId): PeerState {
    let p = this.#peers.get(node);
    if (!p) {
      p = {
        beat: { node, generation: 0, beat: 0, life: '' },
        heardAt: 0,
        detector: new PhiAccrual(this.#d.options.phi),
        suspect: false,
        timeouts: 0,
        wasUp: true,
      };
      // silence counts from the moment we first know of a peer
      p.detector.alive(this.#d.clock.now());
      this.#peers.set(node, p);
    }
    return p;
  }
}

const NO_RING: RingDigest = { version: 0, hash: '' };
