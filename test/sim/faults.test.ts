// The swarm simulation: the whole cluster (coordinators, gossip and failure detection, hinted
// handoff, anti-entropy, reclamation, ring changes) in one process, each seed drawing its own
// cluster, workload and fault mix (swarm.ts); then healing, repair until nothing moves, the
// checker, and a read-modify-write of every key. `npm run sim -- --seeds 300` runs more.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { simulate } from './simulate.ts';
import { draw, PROFILES, type Parameters } from './swarm.ts';
import { addCounts } from './cluster.ts';
import { scaleRow } from './scale.ts';

const SEEDS = Number(process.env.SIM_SEEDS ?? 200);
const FROM = Number(process.env.SIM_FROM ?? 1000);

/** Runs seeds of a profile; returns the failures and how often each path was taken. */
async function runSeeds(seeds: number, from: number, parameters: (seed: number) => Parameters) {
  const failures: string[] = [];
  const paths: Record<string, number> = {};
  let acknowledged = 0;
  let maxActors = 0;
  for (let seed = from; seed < from + seeds; seed++) {
    const r = await simulate(seed, parameters(seed));
    acknowledged += r.verdict.acknowledged;
    maxActors = Math.max(maxActors, r.exercised.maxActors);
    addCounts(paths, r.exercised.paths);
    if (r.verdict.violations.length > 0) failures.push(`seed ${seed}: ${r.verdict.violations.slice(0, 3).join('; ')}`);
  }
  return { failures, paths, acknowledged, maxActors };
}

test(`${SEEDS} swarm seeds: nothing acknowledged is lost, nothing overwritten returns, replicas converge, every key stays writable; every risky path was taken`, async () => {
  const r = await runSeeds(SEEDS, FROM, draw);
  process.stdout.write(
    `# ${SEEDS} swarm seeds from ${FROM} (replay one: npm run sim -- --seed N): ${r.acknowledged} writes acknowledged, at most ${r.maxActors} actors on a key, ${r.failures.length} failed\n# paths: ${JSON.stringify(r.paths)}\n`,
  );
  assert.deepEqual(r.failures, []);
  // histories reach the bound (64 actors) only in the tight profile, below
  const untaken = Object.entries(r.paths).filter(([path, n]) => n === 0 && path !== 'historyPrunes');
  assert.deepEqual(untaken, [], 'paths no seed took');
});

test('20 seeds with histories bounded at 6 actors: pruned histories lose nothing and every key stays writable', async () => {
  const r = await runSeeds(20, FROM, PROFILES.tight);
  process.stdout.write(
    `# 20 tight seeds from ${FROM}: ${r.acknowledged} writes acknowledged, ${r.paths.historyPrunes} writes pruned a history, ${r.failures.length} failed\n`,
  );
  assert.deepEqual(r.failures, []);
  assert.ok(r.paths.historyPrunes! > 0, 'no write reached the bound');
});

test('the same seed replays the same run exactly', async () => {
  const a = await simulate(4242);
  const b = await simulate(4242);
  assert.equal(a.trace, b.trace);
  assert.equal(a.messages, b.messages);
  const c = await simulate(4243);
  assert.notEqual(a.trace, c.trace);
});

test('at 100 simulated nodes (Q=1024): partitions balance within one, a change reaches everyone in a few rounds, a request costs a handful of messages', async () => {
  const r = await scaleRow(100);
  assert.ok(r.maxOwned - r.minOwned <= 1, `${r.minOwned}..${r.maxOwned} partitions per node`);
  assert.ok(r.convergenceRounds <= 2 * Math.log2(100) + 5, `${r.convergenceRounds} rounds`);
  assert.ok(r.messagesPerPut <= 12 && r.messagesPerGet <= 12, `${r.messagesPerPut} per put, ${r.messagesPerGet} per get`);
  process.stdout.write(
    `# 100 nodes: ${r.minOwned}-${r.maxOwned} partitions each, ${r.convergenceRounds} rounds, ${r.messagesPerPut.toFixed(1)} messages per put, ${r.messagesPerGet.toFixed(1)} per get\n`,
  );
});
