// Measuring for the benchmarks: latency percentiles, and CPU and peak memory of processes
// (read from /proc, with the peak reset between cases through clear_refs).
import { readFileSync, writeFileSync } from 'node:fs';

export interface Latency {
  p50: number;
  p99: number;
  p999: number;
  max: number;
  samples: number;
}

/** Percentiles of latencies in milliseconds. */
export function percentiles(ms: Float64Array | number[]): Latency {
  const sorted = Float64Array.from(ms).sort();
  const at = (q: number) => (sorted.length ? sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]! : 0);
  return { p50: at(0.5), p99: at(0.99), p999: at(0.999), max: sorted.length ? sorted[sorted.length - 1]! : 0, samples: sorted.length };
}

const TICKS = 100; // USER_HZ

/** Which part of the system a process is, for CPU per operation by group. */
export type Group = 'nodes' | 'gateway' | 'load generator' | 'baseline';

export interface Watched {
  readonly name: string;
  readonly pid: number;
  readonly group: Group;
}

export interface ProcessUse {
  name: string;
  group: Group;
  /** share of one core over the measured window, in percent */
  cpuPercent: number;
  peakMB: number;
}

interface Mark extends Watched {
  cpu: number;
}

function cpuTicks(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return Number(fields[11]) + Number(fields[12]);
}

/** Starts measuring these processes: resets their peak memory and notes their CPU time. */
export function startUse(procs: readonly Watched[]): { stop(): ProcessUse[] } {
  const started = performance.now();
  const marks: Mark[] = procs.flatMap((p) => {
    try {
      writeFileSync(`/proc/${p.pid}/clear_refs`, '5');
      return [{ ...p, cpu: cpuTicks(p.pid) }];
    } catch {
      return [];
    }
  });
  return {
    stop() {
      const seconds = (performance.now() - started) / 1000;
      return marks.flatMap((m) => {
        try {
          const status = readFileSync(`/proc/${m.pid}/status`, 'utf8');
          const hwm = Number(/VmHWM:\s+(\d+)/.exec(status)?.[1] ?? 0);
          return [
            {
              name: m.name,
              group: m.group,
              cpuPercent: round1(((cpuTicks(m.pid) - m.cpu) / TICKS / seconds) * 100),
              peakMB: Math.round(hwm / 1024),
            },
          ];
        } catch {
          return [];
        }
      });
    },
  };
}

const round1 = (x: number) => Math.round(x * 10) / 10;

/** CPU microseconds per operation of each group: the group's cores busy over the window, per operation per second. */
export function cpuPerOp(use: readonly ProcessUse[], opsPerSecond: number): Partial<Record<Group, number>> {
  const out: Partial<Record<Group, number>> = {};
  for (const p of use) out[p.group] = (out[p.group] ?? 0) + p.cpuPercent / 100;
  for (const g of Object.keys(out) as Group[]) out[g] = round1((out[g]! / opsPerSecond) * 1e6);
  return out;
}
