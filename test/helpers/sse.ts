// A watch over Server-Sent Events with fetch, as a browser's EventSource-less client reads it:
// every `next` event is kept in order, and a test waits for the ones it expects (bounded).
import { CSRF } from './stack.ts';

export interface WatchedSibling {
  readonly value: unknown;
  readonly deleted: boolean;
  readonly dot: string;
  readonly writtenAt: string | null;
}

export interface WatchEvent {
  readonly key: string;
  readonly siblings: readonly WatchedSibling[];
  readonly context: string | null;
}

export interface SseResult {
  readonly data?: { watch: WatchEvent } | null;
  readonly errors?: { message: string; extensions?: { code?: string } }[];
}

export const WATCH =
  `subscription($keys: [String!]!, $contexts: [String]) { watch(keys: $keys, contexts: $contexts) { key siblings { value deleted dot writtenAt } context } }`;

export class Watch {
  readonly results: SseResult[] = [];
  #ended = false;
  #waiters: (() => void)[] = [];
  readonly #abort: AbortController;
  readonly status: number;

  private constructor(status: number, abort: AbortController) {
    this.status = status;
    this.#abort = abort;
  }

  static async open(
    url: string,
    keys: readonly string[],
    contexts?: readonly (string | null)[],
    headers: Record<string, string> = {},
  ): Promise<Watch> {
    const abort = new AbortController();
    const res = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'text/event-stream', ...CSRF, ...headers },
      body: JSON.stringify({ query: WATCH, variables: { keys, contexts } }),
      signal: abort.signal,
    });
    const watch = new Watch(res.status, abort);
    void watch.#read(res.body!);
    return watch;
  }

  /** The events so far (data only). */
  get events(): WatchEvent[] {
    return this.results.flatMap((r) => (r.data?.watch ? [r.data.watch] : []));
  }

  get ended(): boolean {
    return this.#ended;
  }

  /** Waits until `count` results have arrived (or the stream ended), at most `ms`. */
  async until(test: (w: Watch) => boolean, what: string, ms = 15_000): Promise<void> {
    const deadline = Date.now() + ms;
    while (!test(this)) {
      if (this.#ended) throw new Error(`the watch ended before ${what}; results: ${JSON.stringify(this.results)}`);
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`no ${what} within ${ms} ms; results: ${JSON.stringify(this.results)}`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.#waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }

  /** Waits for the n-th event (1-based) and returns it. */
  async event(n: number, ms?: number): Promise<WatchEvent> {
    await this.until((w) => w.events.length >= n, `event ${n}`, ms);
    return this.events[n - 1]!;
  }

  close(): void {
    this.#abort.abort();
  }

  async #read(body: ReadableStream<Uint8Array>): Promise<void> {
    const decoder = new TextDecoder();
    let buffer = '';
    const reader = body.getReader();
    try {
      for (;;) {
        const { done, value: chunk } = await reader.read();
        if (done) break;
        buffer += decoder.decode(chunk, { stream: true });
        let end: number;
        while ((end = buffer.indexOf('\n\n')) >= 0) {
          const block = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          const lines = block.split('\n');
          const event = lines
            .find((l) => l.startsWith('event:'))
            ?.slice(6)
            .trim();
          const data = lines
            .filter((l) => l.startsWith('data:'))
            .map((l) => l.slice(5).trim())
            .join('\n');
          if (event === 'next' && data) this.results.push(JSON.parse(data) as SseResult);
          this.#wake();
        }
      }
    } catch {
      // aborted by close()
    }
    this.#ended = true;
    this.#wake();
  }

  #wake(): void {
    for (const w of this.#waiters.splice(0)) w();
  }
}
