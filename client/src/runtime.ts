// What the storage logic needs from the world, as interfaces, so that one cluster can run in
// one process over a simulated network and clock with seeded randomness (test/sim), and for
// real over WebSockets and timers (bin/storage-node.ts). Nothing under storage/ or client/src/
// outside the I/O edges (the transports, engine/lmdb.ts, main.ts, client.ts, real-runtime.ts)
// touches Date, Math.random or timers directly; the lint configuration keeps it so.
import type { NodeId } from './core/ring.ts';
import type { Reply, Request } from './protocol/messages.ts';

export interface Timer {
  cancel(): void;
}

export interface Clock {
  /** monotonic milliseconds: for timeouts and failure detection */
  now(): number;
  /** wall-clock milliseconds since 1970, for display only */
  wallNow(): number;
  after(ms: number, fn: () => void): Timer;
}

export interface Random {
  /** uniform in [0, 1) */
  float(): number;
}

export function randomInt(random: Random, below: number): number {
  return Math.floor(random.float() * below);
}

/** A random identifier of `chars` base-36 characters. */
export function randomId(random: Random, chars = 10): string {
  let s = '';
  for (let i = 0; i < chars; i++) s += randomInt(random, 36).toString(36);
  return s;
}

export interface Transport {
  /**
   * Sends a request to a peer and resolves with its reply (an error reply included). Rejects
   * with a StoreError UNAVAILABLE when the peer cannot be reached and TIMEOUT when it does
   * not answer within `timeoutMs`.
   */
  request(to: NodeId, message: Request, timeoutMs: number): Promise<Reply>;
}

/** Serves requests arriving at a node; `from` is the peer's node id, or null for a client. */
export type RequestHandler = (from: NodeId | null, request: Request) => Promise<Reply>;

export interface Logger {
  info(msg: string, fields?: Record<string, unknown>): void;
  warn(msg: string, fields?: Record<string, unknown>): void;
  error(msg: string, fields?: Record<string, unknown>): void;
}

export const silentLogger: Logger = { info() {}, warn() {}, error() {} };
