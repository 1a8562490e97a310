// A live watch over Server-Sent Events, as the graphql-sse protocol's distinct-connections mode
// defines it: one POST per subscription with Accept: text/event-stream, answered by `next`
// events (each an execution result) and one `complete`. The document is a persisted one, named
// by its hash like every other request (sdk.ts). When the stream breaks, the watch subscribes
// again with the variables `resume()` gives, so the page asks with the last contexts it saw and
// the gateway sends whatever changed in between.
import type { TypedDocumentNode } from '@graphql-typed-document-node/core';
import { ENDPOINT, HEADERS, persistedBody, unwrap } from './sdk';

export interface WatchHandlers<Result> {
  next(result: Result): void;
  /** the stream is open (true) or broken and about to be opened again (false) */
  status(open: boolean, problem?: string): void;
}

const RETRY_MIN_MS = 500;
const RETRY_MAX_MS = 10_000;

/**
 * Runs until `signal` aborts; subscribes again after a growing pause whenever the stream breaks.
 * When the browser goes offline the stream is closed at once (a dead connection may otherwise
 * look open for minutes), and the watch waits to be online again.
 */
export async function watch<Result, Variables>(
  document: TypedDocumentNode<Result, Variables>,
  resume: () => Variables,
  handlers: WatchHandlers<Result>,
  signal: AbortSignal,
): Promise<void> {
  let pause = RETRY_MIN_MS;
  while (!signal.aborted) {
    const attempt = new AbortController();
    const close = () => attempt.abort();
    signal.addEventListener('abort', close);
    addEventListener('offline', close);
    let problem = 'the stream ended';
    try {
      const res = await fetch(ENDPOINT, {
        method: 'POST',
        headers: { ...HEADERS, accept: 'text/event-stream' },
        body: persistedBody(document as TypedDocumentNode<unknown, unknown>, resume()),
        signal: attempt.signal,
      });
      if (!res.ok || !res.body || !res.headers.get('content-type')?.startsWith('text/event-stream')) {
        // a refusal comes as one JSON result (e.g. BAD_REQUEST): show it, then try again later
        const text = await res.text();
        problem = `HTTP ${res.status}: ${text.slice(0, 200)}`;
      } else {
        handlers.status(true);
        pause = RETRY_MIN_MS;
        for await (const event of events(res.body)) {
          if (event.name === 'complete') break;
          if (event.name === 'next') handlers.next(unwrap(JSON.parse(event.data) as { data?: Result; errors?: [] }));
        }
      }
    } catch (e) {
      problem = navigator.onLine ? (e as Error).message : 'offline';
    } finally {
      signal.removeEventListener('abort', close);
      removeEventListener('offline', close);
    }
    if (signal.aborted) return;
    handlers.status(false, problem);
    await (navigator.onLine ? new Promise((r) => setTimeout(r, pause)) : new Promise((r) => addEventListener('online', r, { once: true })));
    pause = Math.min(pause * 2, RETRY_MAX_MS);
  }
}

/** The events of a text/event-stream body: `event:` names it, `data:` lines make its data. */
async function* events(body: ReadableStream<Uint8Array>): AsyncGenerator<{ name: string; data: string }> {
  const reader = body.getReader();
  const decoder = new TextDecoder();
  let buffer = '';
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    buffer += decoder.decode(value, { stream: true }).replace(/\r\n?/g, '\n');
    let end: number;
    while ((end = buffer.indexOf('\n\n')) >= 0) {
      const block = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      let name = 'message';
      const data: string[] = [];
      for (const line of block.split('\n')) {
        if (line.startsWith(':')) continue; // a keep-alive comment
        const colon = line.indexOf(':');
        const field = colon < 0 ? line : line.slice(0, colon);
        const text = colon < 0 ? '' : line.slice(colon + 1).replace(/^ /, '');
        if (field === 'event') name = text;
        else if (field === 'data') data.push(text);
      }
      if (name !== 'message' || data.length) yield { name, data: data.join('\n') };
    }
  }
}
