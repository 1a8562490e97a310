// The fault simulation: the whole cluster (coordinators, gossip and failure detection, hinted
// handoff, anti-entropy) in one process while a nemesis crashes nodes, wipes a disk, isolates
// nodes, splits the cluster and makes the network lossy, doubling and slow; then healing, repair
// until convergence, and the checker. `npm run sim -- --seeds 1000` runs more.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PROFILES, simulate } from './simulate.ts';
import { scaleRow } from './scale.ts';

const SEEDS = Number(process.env.SIM_SEEDS ?? 200);

test(`${SEEDS} seeds under every fault: nothing acknowledged is lost, replicas converge, nothing overwritten returns`, async () => {
  let acknowledged = 0;
  const failures: string[] = [];
  for (let seed = 1000; seed < 1000 + SEEDS; seed++) {
    const r = await simulate(seed, PROFILES.faults);
    acknowledged += r.verdict.acknowledged;
    if (r.verdict.violations.length > 0) failures.push(`seed ${seed} (replay: npm run sim -- --seed ${seed}): ${r.verdict.violations.slice(0, 3).join('; ')}`);
  }
  process.stdout.write(`# ${SEEDS} simulated runs, ${acknowledged} acknowledged writes, ${failures.length} failed\n`);
  assert.deepEqual(failures, []);
});

test('the same seed replays the same run exactly', async () => {
  const a = await simulate(4242, PROFILES.faults);
  const b = await simulate(4242, PROFILES.faults);
  assert.equal(a.trace, b.trace);
  assert.equal(a.messages, b.messages);
  const c = await simulate(4243, PROFILES.faults);
  assert.notEqual(a.trace, c.trace);
});

test('at 100 simulated nodes (Q=1024): partitions balance within one, a change reaches everyone in a few rounds, a request costs a handful of messages', async () => {
  const r = await scaleRow(100);
  assert.ok(r.maxOwned - r.minOwned <= 1, `${r.minOwned}..${r.maxOwned} partitions per node`);
  assert.ok(r.convergenceRounds <= 2 * Math.log2(100) + 5, `${r.convergenceRounds} rounds`);
  assert.ok(r.messagesPerPut <= 12 && r.messagesPerGet <= 12, `${r.messagesPerPut} per put, ${r.messagesPerGet} per get`);
  process.stdout.write(`# 100 nodes: ${r.minOwned}-${r.maxOwned} partitions each, ${r.convergenceRounds} rounds, ${r.messagesPerPut.toFixed(1)} messages per put, ${r.messagesPerGet.toFixed(1)} per get\n`);
});
