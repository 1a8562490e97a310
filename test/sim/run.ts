// npm run sim -- --seeds 300 [--from 1] [--profile swarm|oracle|long] [--verbose]
// npm run sim -- --seed 1234        replays one seed exactly: its parameters, its faults, its violations
// npm run sim -- --scale            cost at 100 and 1,000 simulated nodes
//
// The last line printed is one JSON object summing the run: seeds, failures, writes, and how
// often each risky path was reached (a profile that never reaches a path shows a zero there).
import { parseArgs } from 'node:util';
import { simulate, type SimResult } from './simulate.ts';
import { describe, draw, PROFILES, type Parameters } from './swarm.ts';
import { scaleReport } from './scale.ts';
import { addCounts } from './cluster.ts';

const { values: o } = parseArgs({
  options: {
    seeds: { type: 'string', default: '100' },
    from: { type: 'string', default: '1' },
    seed: { type: 'string' },
    profile: { type: 'string', default: 'swarm' },
    verbose: { type: 'boolean' },
    scale: { type: 'boolean' },
  },
});

if (o.scale) {
  for (const line of await scaleReport([100, 1000])) process.stdout.write(line + '\n');
  process.exit(0);
}

const profiles: Record<string, (seed: number) => Parameters> = { swarm: draw, ...PROFILES };
const parametersOf = profiles[o.profile];
if (!parametersOf) {
  process.stderr.write(`unknown profile ${o.profile}: ${Object.keys(profiles).join(', ')}\n`);
  process.exit(2);
}
const seeds = o.seed ? [Number(o.seed)] : Array.from({ length: Number(o.seeds) }, (_, i) => Number(o.from) + i);
for (const s of seeds) {
  if (!Number.isSafeInteger(s)) {
    process.stderr.write(`seeds must be integers, got ${s}\n`);
    process.exit(2);
  }
}

const summary = {
  profile: o.profile,
  seeds: 0,
  failed: 0,
  acknowledged: 0,
  lost: 0,
  returned: 0,
  /** the paths named most often, from `paths` */
  ringChanges: 0,
  reclaimed: 0,
  hintsExpired: 0,
  diskErrors: 0,
  /** how often the seeds took each path (simulate.ts): a path no seed took is reported by name */
  paths: {} as Record<string, number>,
  maxActorsPerKey: 0,
  maxSiblingsPerKey: 0,
  maxActorsPerKeyAtRest: 0,
  seedsPerSecond: 0,
  failedSeeds: [] as number[],
};
// a rejection nobody handles would end a real node process: it fails the seed that caused it
let unhandled: unknown = null;
process.on('unhandledRejection', (e) => void (unhandled ??= e));
const started = performance.now();
const replay = (seed: number) => `npm run sim -- --profile ${o.profile} --seed ${seed}`;
for (const seed of seeds) {
  summary.seeds++;
  const parameters = parametersOf(seed);
  let r: SimResult;
  try {
    unhandled = null;
    r = await simulate(seed, parameters);
    if (unhandled)
      throw new Error(
        `a promise rejection nobody handled (it would end a node process): ${(unhandled as Error).stack ?? String(unhandled)}`,
      );
  } catch (e) {
    // a run that cannot finish is a failure of that seed, not the end of the others
    summary.failed++;
    summary.failedSeeds.push(seed);
    process.stdout.write(`seed ${seed}: FAILED  ${(e as Error).stack ?? String(e)}\n    replay: ${replay(seed)}\n`);
    continue;
  }
  const v = r.verdict;
  summary.acknowledged += v.acknowledged;
  summary.lost += v.lost;
  summary.returned += v.returned;
  addCounts(summary.paths, r.exercised.paths);
  summary.maxActorsPerKey = Math.max(summary.maxActorsPerKey, r.exercised.maxActors);
  summary.maxSiblingsPerKey = Math.max(summary.maxSiblingsPerKey, r.exercised.maxSiblings);
  summary.maxActorsPerKeyAtRest = Math.max(summary.maxActorsPerKeyAtRest, r.exercised.maxFinalActors);
  const bad = v.violations.length > 0;
  if (bad) {
    summary.failed++;
    summary.failedSeeds.push(seed);
  }
  if (bad || o.verbose || o.seed) {
    const x = r.exercised;
    process.stdout.write(
      `seed ${seed}: ${bad ? 'FAILED' : 'ok'}  attempted ${r.attempted}, acknowledged ${v.acknowledged}, lost ${v.lost}, returned ${v.returned}; ` +
        `${Object.entries(x.paths).filter(([, n]) => n > 0).map(([path, n]) => `${path} ${n}`).join(', ')}; ` +
        `max actors ${x.maxActors} (${x.maxFinalActors} at rest), max siblings ${x.maxSiblings}; repair rounds ${r.repairRounds}, ${r.messages} messages, trace ${r.trace.slice(0, 12)}\n`,
    );
    for (const line of v.violations.slice(0, 20)) process.stdout.write(`    ${line}\n`);
    if (v.violations.length > 20) process.stdout.write(`    ... and ${v.violations.length - 20} more\n`);
    if (o.seed) {
      process.stdout.write(`  parameters:\n${describe(parameters).map((l) => `    ${l}\n`).join('')}`);
      process.stdout.write(`  faults:\n${r.faults.map((f) => `    ${f}\n`).join('')}`);
    }
    if (bad) process.stdout.write(`    replay: ${replay(seed)}\n`);
  }
}
const seconds = (performance.now() - started) / 1000;
summary.seedsPerSecond = Math.round((summary.seeds / seconds) * 100) / 100;
process.stdout.write(
  `${summary.seeds} seeds (${o.profile}) in ${seconds.toFixed(1)} s: ${summary.failed} failed; ${summary.acknowledged} acknowledged writes, ${summary.lost} lost\n`,
);
summary.ringChanges = summary.paths.ringChanges ?? 0;
summary.reclaimed = summary.paths.tombstonesReclaimed ?? 0;
summary.hintsExpired = summary.paths.hintsExpired ?? 0;
summary.diskErrors = summary.paths.diskTransactionsFailed ?? 0;
const untaken = Object.entries(summary.paths).filter(([, n]) => n === 0).map(([path]) => path);
if (untaken.length > 0) process.stdout.write(`paths no seed took: ${untaken.join(', ')}\n`);
process.stdout.write(JSON.stringify(summary) + '\n');
process.exit(summary.failed > 0 ? 1 : 0);
