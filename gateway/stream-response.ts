// Streams a response body (Server-Sent Events: a watch) to the client as Yoga produces it,
// instead of reading it whole. Writes go straight to uWebSockets.js, which takes every write and
// keeps what the socket cannot take yet; so the gateway counts what it wrote since uWS last
// took a write whole, and drops a watcher that leaves more than `maxBufferBytes` unread: it
// writes one last event saying why and ends the response. A slow reader therefore costs the
// gateway at most that much (and one event), never more.
import type HyperExpress from 'hyper-express';

/** uWS closes a response that writes nothing for 10 s: a comment line goes out more often. */
const KEEP_ALIVE_MS = 5000;

export const SLOW_READER = 'SLOW_READER';

export interface StreamOptions {
  readonly maxBufferBytes: number;
  /** ends what produces the body (the subscription): called when the stream stops for any reason */
  readonly end: () => void;
}

/** hyper-express writes the status and headers here; it is what its own send and write call first */
interface Initiating {
  _initiate_response(): boolean;
}

export function slowReaderEvent(maxBufferBytes: number): string {
  const message =
    `the watcher read too slowly: more than ${maxBufferBytes} bytes of events waited to be read (GATEWAY_WATCH_MAX_BUFFER_BYTES); ` +
    'reconnect with the last contexts seen to resume';
  return `event: next\ndata: ${JSON.stringify({ errors: [{ message, extensions: { code: SLOW_READER } }] })}\n\nevent: complete\ndata:\n\n`;
}

/**
 * Writes `body` to `res` chunk by chunk as it comes; resolves when the body ends, the client
 * goes away (the body is cancelled and `end` called, which ends the subscription) or the client
 * is dropped. `onStop` is given a function that ends the stream early (the server is closing).
 */
export async function streamBody(
  res: HyperExpress.Response,
  body: ReadableStream<Uint8Array>,
  o: StreamOptions,
  onStop: (stop: () => void) => void,
): Promise<void> {
  const reader = body.getReader();
  let gone = false;
  const cancel = () => {
    o.end();
    void reader.cancel().catch(() => undefined);
  };
  res.once('abort', () => {
    gone = true;
    cancel();
  });
  onStop(cancel);
  // a client gone while Yoga was answering: uWS's response may no longer be touched
  if (res.completed) {
    cancel();
    return;
  }
  const raw = res.raw;
  const write = (chunk: Uint8Array | string): boolean => {
    let whole = false;
    raw.cork(() => (whole = raw.write(chunk)));
    return whole;
  };
  /** bytes written since uWS last took a write whole: what the socket has not taken yet, at most */
  let backlog = 0;
  const account = (whole: boolean, bytes: number) => (backlog = whole ? 0 : backlog + bytes);
  raw.cork(() => (res as unknown as Initiating)._initiate_response());
  const keepAlive = setInterval(() => {
    if (!gone && !res.completed) account(write(':\n\n'), 3);
  }, KEEP_ALIVE_MS);
  let dropped = false;
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done || gone || res.completed) break;
      account(write(value), value.byteLength);
      if (backlog > o.maxBufferBytes) {
        dropped = true;
        write(slowReaderEvent(o.maxBufferBytes));
        cancel();
        break;
      }
    }
  } catch {
    // a body that fails ends the response like one that ends
  } finally {
    clearInterval(keepAlive);
    if (!gone && !res.completed) raw.cork(() => res.send(undefined, dropped));
  }
}
