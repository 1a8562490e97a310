// The simulated network: an in-memory Transport between simulated nodes. Every message is
// encoded and decoded with the real codec (so nodes never share objects), delayed by a
// seeded latency, and may be dropped, duplicated (all but puts) or reordered; links can be cut in either
// direction. A request to a node that is down fails fast, as a refused connection does; a
// request over a cut link or a dropped message times out.
import { StoreError } from '../../client/src/core/errors.ts';
import { decodeFrames, encodeFrame, isBadFrame } from '../../client/src/protocol/codec.ts';
import type { Message, Reply, Request } from '../../client/src/protocol/messages.ts';
import type { RequestHandler, Transport } from '../../client/src/runtime.ts';
import type { SeededRandom } from './random.ts';
import type { Scheduler } from './scheduler.ts';

export interface Faults {
  /** probability that one message is lost */
  drop: number;
  /** probability that a message is delivered twice */
  duplicate: number;
  minDelayMs: number;
  maxDelayMs: number;
}

/** gossip rounds and ring pushes, with their replies: what a node cut off from gossip misses */
const GOSSIP = /^(gossip|ringPush)/;

export const CALM: Faults = { drop: 0, duplicate: 0, minDelayMs: 1, maxDelayMs: 3 };

export class SimNetwork {
  readonly #handlers = new Map<string, RequestHandler>();
  /** the live incarnation of each endpoint: a crashed node's pending requests never complete */
  readonly #incarnations = new Map<string, object>();
  readonly #cut = new Set<string>();
  readonly #deaf = new Set<string>();
  faults: Faults = CALM;
  delivered = 0;
  /** messages delivered per type, for reports */
  readonly counts = new Map<string, number>();
  /** extra rule deciding that a message is lost (tests use it to model a replica missing writes) */
  dropIf: ((from: string, to: string, m: Message) => boolean) | null = null;

  private readonly scheduler: Scheduler;
  private readonly random: SeededRandom;
  constructor(
    scheduler: Scheduler,
    random: SeededRandom,
  ) {
    this.scheduler = scheduler;
    this.random = random;
  }

  attach(node: string, handler: RequestHandler): void {
    this.#handlers.set(node, handler);
  }

  detach(node: string): void {
    this.#handlers.delete(node);
    this.#incarnations.delete(node);
  }

  isAttached(node: string): boolean {
    return this.#handlers.has(node);
  }

  /** Cuts the link from a to b (one direction). */
  cut(a: string, b: string): void {
    this.#cut.add(`${a}>${b}`);
  }

  /** Cuts every link between the two groups, both ways. */
  partition(side: readonly string[], other: readonly string[]): void {
    for (const a of side) for (const b of other) {
      this.cut(a, b);
      this.cut(b, a);
    }
  }

  /** The node neither hears nor sends gossip (ring pushes included); its requests still go through. */
  deafen(node: string): void {
    this.#deaf.add(node);
  }

  healAll(): void {
    this.#cut.clear();
    this.#deaf.clear();
  }

  /** The transport of one endpoint incarnation; after detach(from) its requests never complete. */
  transport(from: string): Transport {
    const incarnation = {};
    this.#incarnations.set(from, incarnation);
    return { request: (to, message, timeoutMs) => this.#request(from, incarnation, to, message, timeoutMs) };
  }

  #request(from: string, incarnation: object, to: string, message: Request, timeoutMs: number): Promise<Reply> {
    return new Promise<Reply>((resolve, reject) => {
      let done = false;
      const finish = (f: () => void) => {
        if (!done && this.#incarnations.get(from) === incarnation) {
          done = true;
          timer.cancel();
          f();
        }
      };
      const timer = this.scheduler.at(timeoutMs, () =>
        finish(() => reject(new StoreError('TIMEOUT', `${to} did not answer ${message.type} within ${timeoutMs} ms`))),
      );
      if (!this.#handlers.has(to)) {
        this.scheduler.at(this.#delay(), () =>
          finish(() => reject(new StoreError('UNAVAILABLE', `${to} refused the connection`, { sent: false }))),
        );
        return;
      }
      const onReply = (reply: Reply) => finish(() => resolve(reply));
      this.#deliver(from, to, message, (request) => {
        const handler = this.#handlers.get(to);
        if (!handler) return;
        void handler(from, request as Request).then((reply) => this.#deliver(to, from, reply, (r) => onReply(r as Reply)));
      });
    });
  }

  #gossipCut(from: string, to: string, message: Message): boolean {
    return (this.#deaf.has(from) || this.#deaf.has(to)) && GOSSIP.test(message.type);
  }

  /** Schedules a message, possibly lost or doubled, re-encoded so sender and receiver share nothing. */
  #deliver(from: string, to: string, message: Message, receive: (m: Message) => void): void {
    if (
      this.#cut.has(`${from}>${to}`) ||
      this.#gossipCut(from, to, message) ||
      this.random.chance(this.faults.drop) ||
      this.dropIf?.(from, to, message)
    )
      return;
    const bytes = encodeFrame(0, message);
    // a client's put is never doubled by the network (TCP does not duplicate): one that arrives
    // twice was sent twice, which the checker reports
    const copies = this.random.chance(this.faults.duplicate) && message.type !== 'put' ? 2 : 1;
    for (let i = 0; i < copies; i++) {
      this.scheduler.at(this.#delay(), () => {
        if (this.#cut.has(`${from}>${to}`)) return;
        const [frame] = decodeFrames(bytes);
        if (!frame || isBadFrame(frame)) throw new Error(`codec failed to round-trip a ${message.type}`);
        this.delivered++;
        this.counts.set(message.type, (this.counts.get(message.type) ?? 0) + 1);
        receive(frame.message);
      });
    }
  }

  #delay(): number {
    const { minDelayMs, maxDelayMs } = this.faults;
    return minDelayMs + this.random.float() * (maxDelayMs - minDelayMs);
  }
}
