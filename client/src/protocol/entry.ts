// One message type's whole codec in one place: its type number, the protocol version it first
// appeared in, and its writer and reader side by side. The files under messages/ declare one
// entry per message type, beside the message's type; codec.ts gathers them into the registry
// and is the only place that builds frames around them.
import type { Reply, Request } from './messages.ts';
import type { Reader, Writer } from './wire.ts';

interface Typed {
  readonly type: string;
}

export interface MessageCodec<M extends Typed> {
  /** the protocol version the message type first appeared in: never sent to a peer that speaks less */
  readonly since: number;
  /**
   * the protocol version this one message needs, when a field of it appeared after its type
   * (a put's condition): never sent to a peer that speaks less. `since` when absent.
   */
  needs?(m: M): number;
  /**
   * the payload only: the frame header is codec.ts's. `version` is the frame's: a field newer
   * than it is left out (a heartbeat's lease before version 7).
   */
  write(w: Writer, m: M, version: number): void;
  /**
   * reads exactly the payload write() wrote; codec.ts checks that nothing is left over.
   * `version` is the frame's: a field newer than it is refused as malformed.
   */
  read(r: Reader, version: number): M;
}

export interface MessageEntry<M extends Typed> extends MessageCodec<M> {
  readonly type: M['type'];
  /** on the wire: only ever appended, never renumbered or reused */
  readonly number: number;
  /** a request gets exactly one reply; a reply is never served */
  readonly request: boolean;
}

export function request<M extends Request>(type: M['type'], number: number, codec: MessageCodec<M>): MessageEntry<M> {
  return { type, number, request: true, ...codec };
}

export function reply<M extends Reply>(type: M['type'], number: number, codec: MessageCodec<M>): MessageEntry<M> {
  return { type, number, request: false, ...codec };
}
