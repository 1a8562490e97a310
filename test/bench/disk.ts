// The disk's own floor: how long one fdatasync takes on the file system the nodes' data
// directories live on. A durable put waits for at least two in sequence (the coordinator's own
// copy, then the replicas', docs/design.md, Durability), and the replicated Redis baseline for
// one (its primary's `appendfsync always`), so the latency targets are read against this.
import { closeSync, fdatasyncSync, openSync, rmSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { percentiles } from './stats.ts';
import type { CaseResult } from './report.ts';

export const DISK_NAME = 'disk: write 4 KiB + fdatasync, one at a time (the fsync floor)';

/**
 * Writes a 4 KiB page at one of 64 offsets and fdatasyncs it, over and over for `seconds`, in
 * `dir` (the run's temporary directory, where the nodes' data directories are made).
 */
export function diskCase(dir: string, seconds: number): CaseResult {
  const path = join(dir, 'fsync-floor.bin');
  const fd = openSync(path, 'w');
  const page = Buffer.alloc(4096, 0x5a);
  const times: number[] = [];
  const cpu = process.cpuUsage();
  const started = performance.now();
  try {
    for (let i = 0; performance.now() - started < seconds * 1000; i++) {
      writeSync(fd, page, 0, page.length, (i % 64) * page.length);
      const t = performance.now();
      fdatasyncSync(fd);
      times.push(performance.now() - t);
    }
  } finally {
    closeSync(fd);
    rmSync(path, { force: true });
  }
  const elapsed = (performance.now() - started) / 1000;
  const used = process.cpuUsage(cpu);
  const latency = percentiles(times);
  return {
    id: 'disk-fsync',
    name: DISK_NAME,
    system: 'baseline',
    opsPerSecond: times.length / elapsed,
    latencyMs: latency,
    errors: 0,
    cpuUsPerOp: { baseline: (used.user + used.system) / times.length },
    processes: [],
  };
}
