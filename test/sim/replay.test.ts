// The swarm simulation's own properties: a seed replays exactly, and the simulated cluster
// scales to 100 nodes. The swarm's seeds themselves run in `npm run test:swarm`
// (test/reliability/swarm.test.ts); `npm run sim -- --seeds 300` runs more.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { simulate } from './simulate.ts';
import { scaleRow } from './scale.ts';

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
