// A probe preloaded into a process (`node --import probe.mjs`) to find where its tail latency
// goes: it logs, as JSON lines in $TAIL_PROBE_DIR/<pid>.jsonl, every event-loop stall (a 2 ms
// interval timer firing late by at least TAIL_PROBE_STALL_MS), every garbage collection, and every
// timer callback whose synchronous part ran for at least that long, all in epoch milliseconds.
import { appendFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { PerformanceObserver, performance } from 'node:perf_hooks';

const dir = process.env.TAIL_PROBE_DIR;
if (dir) {
  mkdirSync(dir, { recursive: true });
  const file = join(dir, `${process.pid}.jsonl`);
  const minMs = Number(process.env.TAIL_PROBE_STALL_MS ?? 3);
  const origin = performance.timeOrigin;
  let lines = [];
  const log = (o) => lines.push(JSON.stringify(o));
  const flush = () => {
    if (lines.length) appendFileSync(file, lines.join('\n') + '\n');
    lines = [];
  };
  log({ t: 'start', at: Date.now(), argv: process.argv.slice(1, 4).join(' ') });
  let last = performance.now();
  const tick = setInterval(() => {
    const now = performance.now();
    if (now - last - 2 >= minMs) log({ t: 'stall', at: origin + last, ms: now - last - 2 });
    last = now;
  }, 2);
  tick.unref();
  setInterval(flush, 1000).unref();
  process.on('exit', flush);
  new PerformanceObserver((list) => {
    for (const e of list.getEntries()) {
      if (e.duration >= 1) log({ t: 'gc', at: origin + e.startTime, ms: e.duration, kind: e.detail?.kind });
    }
  }).observe({ entryTypes: ['gc'] });
  const wrap = (orig) =>
    function (fn, ...rest) {
      if (typeof fn !== 'function') return orig.call(this, fn, ...rest);
      const timed = function (...a) {
        const s = performance.now();
        try {
          return fn.apply(this, a);
        } finally {
          const ms = performance.now() - s;
          if (ms >= minMs) log({ t: 'timer', at: origin + s, ms, fn: (fn.name || '') + ' ' + String(fn).slice(0, 160).replace(/\s+/g, ' ') });
        }
      };
      return orig.call(this, timed, ...rest);
    };
  globalThis.setTimeout = wrap(globalThis.setTimeout);
  globalThis.setInterval = wrap(globalThis.setInterval);
}
