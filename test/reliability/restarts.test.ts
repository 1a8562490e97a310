// Bounded history through real processes: the coordinator of one key is killed with SIGKILL
// and restarted again and again while one client reads the key and writes back with its context
// and another writes blind. No acknowledged write may be lost (the simulator's checker, from
// what the clients saw), the key keeps a handful of actors, and a read-modify-write over a
// full read ends with one version. Run by `npm run test:restarts` (a few minutes; CI runs it).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DynamoClient } from '../../client/src/client.ts';
import { contextOf } from '../../client/src/core/siblings.ts';
import type { VersionVector } from '../../client/src/core/version-vector.ts';
import type { Reply, Request } from '../../client/src/protocol/messages.ts';
import { LocalCluster } from '../../bin/launcher.ts';
import { actorsOf, check, History } from '../sim/checker.ts';
import { TEST_SECRET } from '../helpers/cluster.ts';
import { waitFor } from '../helpers/wait.ts';

const RESTARTS = Number(process.env.RESTARTS ?? 100);

test(`the coordinator of a key is SIGKILLed and restarted ${RESTARTS} times while one client reads and writes back and another writes blind: nothing acknowledged is lost, the history stays small, one version at the end`, async () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'dynamo-restarts-'));
  const cluster = new LocalCluster({
    nodes: 3,
    basePort: 7701,
    dataDir,
    secret: TEST_SECRET,
    output: process.env.NODE_OUTPUT === '1' ? 'inherit' : 'ignore',
  });
  let client: DynamoClient | undefined;
  let running = true;
  try {
    await cluster.start();
    client = await DynamoClient.connect({ seeds: cluster.seeds, cluster: cluster.cluster, secret: TEST_SECRET, timeoutMs: 5000 });
    const key = 'hot';
    const coordinator = client.view.primaries(client.view.partitionOf(key))[0]!;
    const others = client.view.primaries(client.view.partitionOf(key)).filter((n) => n !== coordinator);
    const history = new History();
    let seq = 0;
    let acked = 0;
    let maxActors = 0;
    const ask = (node: string, m: Request): Promise<Reply | null> => client!.request(node, m).catch(() => null);
    const write = async (via: string, readId: string | null, context: VersionVector | null) => {
      const id = `w${seq++}`;
      const record = history.attempt(id, key, false, readId, context);
      const reply = await ask(via, { type: 'put', key, value: Buffer.from(JSON.stringify({ id })), deleted: false, context, w: 2, pw: 0 });
      if (reply?.type === 'putReply') {
        record.outcome = 'ok';
        record.dot = reply.dot;
        acked++;
      } else record.outcome = 'failed';
    };
    // one client reads from the coordinator and writes back through it
    const rmw = (async () => {
      while (running) {
        const read = await ask(coordinator, { type: 'get', key, r: 2, pr: 0 });
        if (read?.type !== 'getReply') {
          await new Promise((r) => setTimeout(r, 20));
          continue;
        }
        maxActors = Math.max(maxActors, actorsOf(read.set));
        const r = history.read(key, read.set);
        await write(coordinator, r.id, contextOf(read.set));
      }
    })();
    // another writes blind through the other replicas
    const blind = (async () => {
      for (let i = 0; running; i++) {
        await write(others[i % others.length]!, null, null);
        await new Promise((r) => setTimeout(r, 30));
      }
    })();

    for (let i = 0; i < RESTARTS; i++) {
      const before = acked;
      await waitFor('writes acknowledged since the last restart', async () => acked >= before + 3, 30_000, 10);
      await cluster.signal(coordinator, 'SIGKILL');
      await cluster.startNode(coordinator);
    }
    running = false;
    await Promise.all([rmw, blind]);

    // the final state as a client reads it, and each replica's own
    await waitFor(
      'every replica of the key answering',
      async () => (await ask(coordinator, { type: 'get', key, r: 3, pr: 0 }))?.type === 'getReply',
      30_000,
    );
    const final = await ask(coordinator, { type: 'get', key, r: 3, pr: 0 });
    assert.ok(final?.type === 'getReply', JSON.stringify(final));
    maxActors = Math.max(maxActors, actorsOf(final.set));
    const verdict = check(history, { reads: new Map([[key, final.set]]) });
    process.stdout.write(
      `# ${RESTARTS} SIGKILL restarts of ${coordinator}; ${history.writes.size} writes attempted, ${verdict.acknowledged} acknowledged, ${verdict.lost} lost; ` +
        `at most ${maxActors} actors on the key, ${final.set.length} siblings at the end\n`,
    );
    assert.deepEqual(verdict.violations, []);
    assert.ok(maxActors <= 6, `${maxActors} actors on one key`);

    const put = await ask(coordinator, {
      type: 'put',
      key,
      value: Buffer.from('"merged"'),
      deleted: false,
      context: contextOf(final.set),
      w: 3,
      pw: 0,
    });
    assert.equal(put?.type, 'putReply', JSON.stringify(put));
    const after = await ask(others[0]!, { type: 'get', key, r: 3, pr: 0 });
    assert.ok(
      after?.type === 'getReply' && after.set.length === 1,
      `after a read-modify-write: ${JSON.stringify(after?.type === 'getReply' ? after.set.map((v) => v.dot) : after)}`,
    );
  } finally {
    running = false;
    client?.close();
    await cluster.stop().catch(() => undefined);
    for (const n of cluster.nodes) if (n.process?.exitCode === null) n.process.kill('SIGKILL');
    rmSync(dataDir, { recursive: true, force: true });
  }
});
