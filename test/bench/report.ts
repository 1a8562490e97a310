// The benchmark's results: what a case records, the comparison with another revision, the
// issue's targets judged on this run, and the tables written into docs/benchmarks.md.
import { readFileSync, writeFileSync } from 'node:fs';
import type { Group, Latency, ProcessUse } from './stats.ts';

export interface CaseResult {
  /** stable across runs and revisions: how cases are matched and ordered */
  id: string;
  name: string;
  system: 'cluster' | 'gateway' | 'baseline';
  /** the commit the cluster or gateway ran (baselines: none) */
  revision?: string;
  opsPerSecond: number;
  /** for getMany: keys read per second */
  keysPerSecond?: number;
  latencyMs: Omit<Latency, 'samples'> & { samples?: number };
  errors: number;
  firstError?: string;
  /** CPU microseconds per operation of each process group over the measured window */
  cpuUsPerOp: Partial<Record<Group, number>>;
  /** this case's throughput over another case's, measured in the same run */
  ratios?: { against: string; ratio: number }[];
  processes: ProcessUse[];
  note?: string;
}

export interface Comparison {
  id: string;
  name: string;
  newOpsPerSecond: number;
  oldOpsPerSecond: number;
  /** new / old */
  opsRatio: number;
  /** CPU µs per operation of the system under test (nodes and gateway) */
  newCpuUsPerOp: number;
  oldCpuUsPerOp: number;
  cpuRatio: number;
  newP999: number;
  oldP999: number;
}

export interface Target {
  target: string;
  measured: string;
  met: boolean | null;
}

export interface Summary {
  date: string;
  mode: 'quick' | 'full';
  machine: string;
  revision: string;
  against?: { ref: string; commit: string; modules: string };
  settings: Record<string, unknown>;
  seconds: number;
  /** a case had errors: the run says nothing */
  void: boolean;
  errors: number;
  cases: CaseResult[];
  comparison?: Comparison[];
  targets: Target[];
}

const GROUPS: Group[] = ['nodes', 'gateway', 'load generator', 'baseline'];
const f = (x: number | undefined, d = 2) => (x !== undefined && Number.isFinite(x) ? x.toFixed(d) : 'n/a');
const n0 = (x: number) => Math.round(x).toLocaleString('en');
const us = (x: number | undefined) => (x === undefined ? '' : n0(x));

/** CPU µs per operation of the system under test: nodes and gateway. */
export const systemCpu = (c: CaseResult) => (c.cpuUsPerOp.nodes ?? 0) + (c.cpuUsPerOp.gateway ?? 0);

/** Matches each case of the new revision with the old revision's case of the same id. */
export function compare(current: readonly CaseResult[], old: readonly CaseResult[]): Comparison[] {
  return current.flatMap((c) => {
    const o = old.find((x) => x.id === c.id);
    if (!o) return [];
    return [{
      id: c.id,
      name: c.name,
      newOpsPerSecond: c.opsPerSecond,
      oldOpsPerSecond: o.opsPerSecond,
      opsRatio: c.opsPerSecond / o.opsPerSecond,
      newCpuUsPerOp: systemCpu(c),
      oldCpuUsPerOp: systemCpu(o),
      cpuRatio: systemCpu(c) / systemCpu(o),
      newP999: c.latencyMs.p999,
      oldP999: o.latencyMs.p999,
    }];
  });
}

/** The issue's five targets, judged on this run's cases. */
export function judgeTargets(cases: readonly CaseResult[], revision: string): Target[] {
  const by = (id: string) => cases.find((c) => c.id === id && (c.system === 'baseline' || c.revision === revision));
  const ratio = (a: string, b: string) => {
    const x = by(a);
    const y = by(b);
    return x && y ? x.opsPerSecond / y.opsPerSecond : NaN;
  };
  const out: Target[] = [];
  const put = ratio('put', 'redis-replicated');
  out.push({
    target: 'quorum put ≥ 1.0× replicated Redis (primary + 2 replicas, appendfsync always, WAIT 1)',
    measured: `${f(put)}×`,
    met: Number.isFinite(put) ? put >= 1 : null,
  });
  const get = ratio('get', 'redis-get');
  out.push({ target: 'quorum get ≥ 0.4× redis-benchmark GET', measured: `${f(get)}×`, met: Number.isFinite(get) ? get >= 0.4 : null });
  const gw = by('graphql-get');
  const bare = by('bare-get');
  if (gw && bare) {
    const cpu = (gw.cpuUsPerOp.gateway ?? NaN) / (bare.cpuUsPerOp.baseline ?? NaN);
    const tput = gw.opsPerSecond / bare.opsPerSecond;
    out.push({
      target: "GraphQL get: the gateway's CPU per request ≤ 1.2× the bare Yoga's, and throughput ≥ 0.6× the bare Yoga's",
      measured: `CPU ${f(cpu)}× (${us(gw.cpuUsPerOp.gateway)} µs against ${us(bare.cpuUsPerOp.baseline)} µs), throughput ${f(tput)}×`,
      met: cpu <= 1.2 && tput >= 0.6,
    });
  } else out.push({ target: 'GraphQL get against bare Yoga', measured: 'not measured', met: null });
  const many = by('graphql-getmany');
  out.push({
    target: 'GraphQL getMany ≥ 50,000 keys/s',
    measured: many?.keysPerSecond ? `${n0(many.keysPerSecond)} keys/s` : 'not measured',
    met: many?.keysPerSecond ? many.keysPerSecond >= 50_000 : null,
  });
  const open = by('open-loop');
  const down = by('open-loop-node-down');
  const disk = by('disk-fsync');
  out.push({
    target: 'open loop at half the peak: p99.9 ≤ 10 ms, and ≤ 20 ms with one node down',
    measured:
      `${f(open?.latencyMs.p999, 1)} ms; ${f(down?.latencyMs.p999, 1)} ms with one node down` +
      (disk ? ` (the disk's own fdatasync: p99.9 ${f(disk.latencyMs.p999, 1)} ms; a put waits for two in sequence)` : ''),
    met: open && down ? open.latencyMs.p999 <= 10 && down.latencyMs.p999 <= 20 : null,
  });
  return out;
}

/** Rewrites the results and targets sections of the page at `path`. */
export function writeReport(path: string, s: Summary): void {
  let doc = readFileSync(path, 'utf8');
  doc = replaceSection(doc, 'results', resultsSection(s));
  doc = replaceSection(doc, 'targets', targetsSection(s));
  writeFileSync(path, doc);
}

function replaceSection(doc: string, name: string, body: string): string {
  const start = `<!-- ${name}:start -->`;
  const end = `<!-- ${name}:end -->`;
  const a = doc.indexOf(start);
  const b = doc.indexOf(end);
  if (a < 0 || b < a) throw new Error(`docs/benchmarks.md has no ${start} ... ${end} section`);
  return doc.slice(0, a + start.length) + '\n' + body + '\n' + doc.slice(b);
}

function resultsSection(s: Summary): string {
  const settings = s.settings as { concurrency: number; keys: number; valueBytes: number };
  const lines: string[] = [];
  if (s.void) {
    lines.push(
      `> **THIS RUN IS VOID: ${s.errors} requests failed.** A benchmark with errors says nothing about speed; the failing cases are marked below.`,
      '',
    );
  }
  lines.push(
    `Run ${s.date} (${s.mode} mode, ${s.seconds} s) on ${s.machine}, revision ${s.revision}${s.against ? ` against ${s.against.ref} (${s.against.commit})` : ''}; ` +
      `4 nodes, N=3 R=2 W=2, \`durability: sync\`, gateway with API keys; concurrency ${settings.concurrency}, ${settings.keys} keys, ${settings.valueBytes}-byte values.`,
    '',
    '| case | ops/s | p50 ms | p99 ms | p99.9 ms | CPU µs/op: nodes | gateway | load gen. | baseline | ratio | errors | processes: CPU % of one core / peak MB |',
    '| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |',
  );
  for (const c of s.cases) {
    const rate = c.keysPerSecond ? `${n0(c.opsPerSecond)} (${n0(c.keysPerSecond)} keys/s)` : n0(c.opsPerSecond);
    const ratios = (c.ratios ?? []).map((r) => `${f(r.ratio)}× ${r.against}`).join('; ');
    const procs = c.processes.map((p) => `${p.name} ${Math.round(p.cpuPercent)}% / ${p.peakMB}`).join(', ');
    const errors =
      c.errors > 0 ? `**${c.errors} (VOID${c.firstError ? `: ${c.firstError.replace(/\|/g, '/').slice(0, 120)}` : ''})**` : '0';
    const name = s.against && c.system !== 'baseline' ? `${c.name} [${c.revision}]` : c.name;
    lines.push(
      `| ${name} | ${rate} | ${f(c.latencyMs.p50)} | ${f(c.latencyMs.p99)} | ${f(c.latencyMs.p999)} | ${GROUPS.map((g) => us(c.cpuUsPerOp[g])).join(' | ')} | ${ratios} | ${errors} | ${procs} |`,
    );
  }
  if (s.comparison && s.against) {
    lines.push(
      '',
      `Against ${s.against.ref} (${s.against.commit}), the same cases in the same run, new / old (CPU: nodes and gateway, µs per operation):`,
      '',
      '| case | ops/s new | ops/s old | ops/s new/old | CPU µs/op new | CPU µs/op old | CPU new/old | p99.9 ms new | p99.9 ms old |',
      '| --- | --- | --- | --- | --- | --- | --- | --- | --- |',
      ...s.comparison.map(
        (c) =>
          `| ${c.name} | ${n0(c.newOpsPerSecond)} | ${n0(c.oldOpsPerSecond)} | ${f(c.opsRatio)}× | ${n0(c.newCpuUsPerOp)} | ${n0(c.oldCpuUsPerOp)} | ${f(c.cpuRatio)}× | ${f(c.newP999)} | ${f(c.oldP999)} |`,
      ),
    );
  }
  return lines.join('\n');
}

function targetsSection(s: Summary): string {
  const met = (m: boolean | null) => (s.void ? 'void run' : m === null ? 'not measured' : m ? '**met**' : 'not met');
  return [
    `Judged on the run above (${s.date}, ${s.mode} mode, revision ${s.revision}):`,
    '',
    '| target | measured | |',
    '| --- | --- | --- |',
    ...s.targets.map((t) => `| ${t.target} | ${t.measured} | ${met(t.met)} |`),
  ].join('\n');
}
