// The swarm simulation: the whole cluster (coordinators, gossip and failure detection, hinted
// handoff, anti-entropy, reclamation, ring changes) in one process, each seed drawing its own
// cluster, workload and fault mix (swarm.ts); then healing, repair until nothing moves, the
// checker, and a read-modify-write of every key. `npm run sim -- --seeds 300` runs more.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { simulate } from './simulate.ts';
import { scaleRow } from './scale.ts';

const SEEDS = Number(process.env.SIM_SEEDS ?? 200);
const FROM = Number(process.env.SIM_FROM ?? 1000);

test(`${SEEDS} swarm seeds: nothing acknowledged is lost, nothing overwritten returns, replicas converge, every key stays writable`, async () => {
  const failures: string[] = [];
  const totals = { acknowledged: 0, ringChanges: 0, reclaimed: 0, hintsExpired: 0, diskErrors: 0, maxActors: 0, maxSiblings: 0 };
  for (let seed = FROM; seed < FROM + SEEDS; seed++) {
    const r = await simulate(seed);
    totals.acknowledged += r.verdict.acknowledged;
    totals.ringChanges += r.exercised.ringChanges;
    totals.reclaimed += r.exercised.reclaimed;
    totals.hintsExpired += r.exercised.hintsExpired;
    totals.diskErrors += r.diskErrors;
    totals.maxActors = Math.max(totals.maxActors, r.exercised.maxActors);
    totals.maxSiblings = Math.max(totals.maxSiblings, r.exercised.maxSiblings);
    if (r.verdict.violations.length > 0) failures.push(`seed ${seed} (replay: npm run sim -- --seed ${seed}): ${r.verdict.violations.slice(0, 3).join('; ')}`);
  }
  process.stdout.write(`# ${SEEDS} swarm seeds from ${FROM}: ${JSON.stringify(totals)}, ${failures.length} failed\n`);
  assert.deepEqual(failures, []);
  // every risky path was reached
  for (const path of ['ringChanges', 'reclaimed', 'hintsExpired', 'diskErrors'] as const) assert.ok(totals[path] > 0, `no seed reached ${path}`);
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
  process.stdout.write(`# 100 nodes: ${r.minOwned}-${r.maxOwned} partitions each, ${r.convergenceRounds} rounds, ${r.messagesPerPut.toFixed(1)} messages per put, ${r.messagesPerGet.toFixed(1)} per get\n`);
});
