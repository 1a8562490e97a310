// `npm start` where Redis cannot be reached: the nodes and the gateway run and serve reads and
// writes, the start says loudly what is off and how to get Redis, and Ctrl-C stops it all.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { promisify } from 'node:util';
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ROOT, stopProcess, TS_NODE_ARGS, waitHealthy } from '../../storage/launcher.ts';
import { CSRF, TEST_ADMIN_TOKEN } from '../helpers/stack.ts';
import { waitFor } from '../helpers/wait.ts';

test('npm start with an unreachable Redis runs the store (rate limits dropped), says what is off and how to get Redis, and stops on Ctrl-C', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'start-'));
  const start = spawn(process.execPath, [...TS_NODE_ARGS, join(ROOT, 'bin/start.ts'), '--nodes', '3', '--base-port', '7851', '--gateway-port', '4751', '--jobs-port', '4752', '--data-dir', dir], {
    cwd: ROOT,
    env: { ...process.env, REDIS_URL: 'redis://127.0.0.1:1', ADMIN_TOKEN: TEST_ADMIN_TOKEN, LOG_FORMAT: '', LOG_LEVEL: '', GATEWAY_RATE_LIMIT_POINTS: '1000' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  start.stdout.setEncoding('utf8').on('data', (s: string) => (stdout += s));
  start.stderr.setEncoding('utf8').on('data', (s: string) => (stderr += s));
  const exited = once(start, 'exit');
  let n4: ChildProcess | undefined;
  try {
    await waitFor('npm start to print its addresses', () => {
      if (start.exitCode !== null) throw new Error(`npm start exited: ${stderr}`);
      return stdout.includes('Ctrl-C stops everything.');
    }, 90_000, 100);
    assert.match(stdout, /NO REDIS: scheduled anti-entropy, the repair workers and the repair dashboard are OFF/);
    assert.match(stdout, /Redis is not answering at redis:\/\/127\.0\.0\.1:1 \(REDIS_URL\)/);
    assert.match(stdout, /apt-get install redis-server/);
    assert.match(stdout, /Redis: +NONE/);
    assert.match(stdout, /GraphQL: +http:\/\/127\.0\.0\.1:4751\/graphql/);
    // rate limits are counted in Redis: without one they are dropped, not the gateway
    assert.match(stdout, /GATEWAY_RATE_LIMIT_POINTS is ignored/);
    assert.match(stdout, /admin token: \S+ \(from ADMIN_TOKEN\)\n/, 'an open gateway gives the admin token data too, so it is not called admin-only');

    // the store's main job goes on: a write and a read through the gateway
    const gql = async (query: string) => {
      const res = await fetch('http://127.0.0.1:4751/graphql', { method: 'POST', headers: { 'content-type': 'application/json', ...CSRF }, body: JSON.stringify({ query }) });
      return (await res.json()) as { data?: Record<string, any>; errors?: unknown[] };
    };
    await waitFor('the gateway to reach the cluster', async () => (await fetch('http://127.0.0.1:4751/ready')).ok, 30_000, 100);
    const put = await gql('mutation { put(key: "no-redis", value: "still works") { acks } }');
    assert.deepEqual(put.errors, undefined);
    const got = await gql('{ get(key: "no-redis") { found siblings { value } } }');
    assert.deepEqual(got.data?.get, { found: true, siblings: [{ value: 'still works' }] });
    // the dashboard is not mounted and no repair worker runs
    assert.equal((await fetch(`http://127.0.0.1:4751/admin/queues?token=${TEST_ADMIN_TOKEN}`)).status, 404);
    await assert.rejects(fetch('http://127.0.0.1:4752/health'));
    // readable log lines by default
    assert.match(stderr, /INFO \(gateway\): listening/);

    // every process has its own identity; the CLI's admin one works as the README says, and
    // growing the cluster works as documented: issue the new node's identity, start it, join it
    assert.match(stdout, /identities: \S+identities \(authority, one per process; the CLI uses admin\.json\)/);
    const ids = join(dir, 'identities');
    const run = (entry: string, args: string[]) =>
      promisify(execFile)(process.execPath, [...TS_NODE_ARGS, join(ROOT, entry), ...args], { cwd: ROOT, env: { ...process.env, DYNAMO_SECRET: '', DYNAMO_SEEDS: '127.0.0.1:7851' } });
    const cli = (...args: string[]) => run('bin/dynamo.ts', ['--identity', join(ids, 'admin.json'), ...args]);
    await cli('put', 'cli-key', 'from the CLI');
    assert.match((await cli('get', 'cli-key')).stdout, /from the CLI/);
    await run('bin/identity.ts', ['issue', '--dir', ids, '--id', 'n4', '--role', 'peer']);
    n4 = spawn(process.execPath, [...TS_NODE_ARGS, join(ROOT, 'storage/main.ts'), '--id', 'n4', '--listen', '127.0.0.1:7854', '--seeds', 'n1=127.0.0.1:7851', '--data-dir', join(dir, 'n4'), '--identity', join(ids, 'n4.json'), '--authority', join(ids, 'authority.pub')], { cwd: ROOT, env: { ...process.env, DYNAMO_SECRET: '' }, stdio: 'ignore' });
    await waitHealthy('127.0.0.1:7854', n4, 30_000);
    const joined = await cli('join', 'n4', '127.0.0.1:7854', '--wait');
    assert.match(joined.stdout, /n4/);
    assert.match((await cli('ring')).stdout, /n4/);
    // a client identity may not change the ring: the nodes refuse it
    await run('bin/identity.ts', ['issue', '--dir', ids, '--id', 'app', '--role', 'client']);
    await assert.rejects(run('bin/dynamo.ts', ['--identity', join(ids, 'app.json'), 'leave', 'n4']), /FORBIDDEN: app has the client role, which may not send change/);

    await stopProcess(n4);
    start.kill('SIGINT');
    const [code] = await exited;
    assert.equal(code, 0);
    assert.match(stderr, /stopped/);
    await assert.rejects(fetch('http://127.0.0.1:4751/health'), 'the gateway stopped with it');
    await assert.rejects(fetch('http://127.0.0.1:7851/health'), 'the nodes stopped with it');
  } finally {
    await stopProcess(n4);
    if (start.exitCode === null) {
      start.kill('SIGINT');
      await exited;
    }
    rmSync(dir, { recursive: true, force: true });
  }
});
