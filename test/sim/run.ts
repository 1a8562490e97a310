// npm run sim -- --seeds 1000 [--from 1] [--profile faults|oracle] [--verbose]
// npm run sim -- --seed 1234        replays one seed exactly and prints its violations
// npm run sim -- --scale            cost at 100 and 1,000 simulated nodes
import { parseArgs } from 'node:util';
import { PROFILES, simulate } from './simulate.ts';
import { scaleReport } from './scale.ts';

const { values: o } = parseArgs({
  options: {
    seeds: { type: 'string', default: '100' },
    from: { type: 'string', default: '1' },
    seed: { type: 'string' },
    profile: { type: 'string', default: 'faults' },
    verbose: { type: 'boolean' },
    scale: { type: 'boolean' },
  },
});

if (o.scale) {
  for (const line of await scaleReport([100, 1000])) process.stdout.write(line + '\n');
  process.exit(0);
}

const profile = PROFILES[o.profile as keyof typeof PROFILES];
if (!profile) {
  process.stderr.write(`unknown profile ${o.profile}: ${Object.keys(PROFILES).join(', ')}\n`);
  process.exit(2);
}
const seeds = o.seed ? [Number(o.seed)] : Array.from({ length: Number(o.seeds) }, (_, i) => Number(o.from) + i);
const started = performance.now();
let failures = 0;
let acknowledged = 0;
let lost = 0;
for (const seed of seeds) {
  let r: Awaited<ReturnType<typeof simulate>>;
  try {
    r = await simulate(seed, profile);
  } catch (e) {
    // a run that cannot finish is a failure of that seed, not the end of the others
    failures++;
    process.stdout.write(`seed ${seed}: FAILED  ${(e as Error).stack ?? String(e)}\n    replay: npm run sim -- --profile ${o.profile} --seed ${seed}\n`);
    continue;
  }
  acknowledged += r.verdict.acknowledged;
  lost += r.verdict.lost;
  const bad = r.verdict.violations.length > 0;
  if (bad) failures++;
  if (bad || o.verbose || o.seed) {
    process.stdout.write(
      `seed ${seed}: ${bad ? 'FAILED' : 'ok'}  attempted ${r.attempted}, acknowledged ${r.verdict.acknowledged}, lost ${r.verdict.lost}, repair rounds ${r.repairRounds}, ${r.messages} messages, trace ${r.trace.slice(0, 12)}\n`,
    );
    for (const v of r.verdict.violations.slice(0, 20)) process.stdout.write(`    ${v}\n`);
    if (o.seed) process.stdout.write(`  faults:\n${r.faults.map((f) => `    ${f}\n`).join('')}`);
    if (bad) process.stdout.write(`    replay: npm run sim -- --profile ${o.profile} --seed ${seed}\n`);
  }
}
process.stdout.write(
  `${seeds.length} seeds (${o.profile}) in ${((performance.now() - started) / 1000).toFixed(1)} s: ${failures} failed; ${acknowledged} acknowledged writes, ${lost} lost\n`,
);
process.exit(failures > 0 ? 1 : 0);
