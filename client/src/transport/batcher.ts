// Frames written in one turn of the event loop go out as one WebSocket message: under load
// that turns many small sends into a few large ones, and costs nothing when idle.
import { PROTOCOL_MAX, Writer, writeFrame } from '../protocol/codec.ts';
import type { Message, TraceContext } from '../protocol/messages.ts';

export class FrameBatcher {
  #writer: Writer | null = null;

  private readonly sink: (bytes: Buffer) => void;
  /** the connection's agreed protocol version, written on every frame */
  readonly version: number;
  constructor(
    sink: (bytes: Buffer) => void,
    version = PROTOCOL_MAX,
  ) {
    this.sink = sink;
    this.version = version;
  }

  /**
   * Encodes now (so encoding errors reach the caller, a message too new for the connection's
   * version among them) and sends at the end of the turn.
   */
  push(id: number, message: Message, trace?: TraceContext): void {
    const first = this.#writer === null;
    const w = (this.#writer ??= new Writer(1024));
    const mark = w.length;
    try {
      writeFrame(w, id, message, this.version, trace);
    } catch (e) {
      if (first) this.#writer = null;
      else w.truncate(mark);
      throw e;
    }
    if (first) setImmediate(() => this.flush());
  }

  flush(): void {
    const w = this.#writer;
    if (!w) return;
    this.#writer = null;
    this.sink(w.result());
  }
}
