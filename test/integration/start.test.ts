// `npm start` where Redis cannot be reached: the nodes and the gateway run and serve reads and
// writes, the start says loudly what is off and how to get Redis. Once a Redis answers there,
// `npm start -- --repair` brings the repair workers up for the running stack, and the gateway's
// dashboard and GraphQL repair status come up by themselves; Ctrl-C stops it all.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { promisify } from 'node:util';
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ROOT, stopProcess, TS_NODE_ARGS, waitHealthy } from '../../bin/launcher.ts';
import { redisAnswers } from '../../jobs/redis.ts';
import { CSRF, TEST_ADMIN_TOKEN } from '../helpers/stack.ts';
import { waitFor } from '../helpers/wait.ts';

/** A port where no Redis answers until the test starts one. */
const REDIS_PORT = 6474;

test('npm start with an unreachable Redis runs the store (rate limits dropped), says what is off and how to get Redis; npm start --repair brings repair up once Redis answers; Ctrl-C stops it all', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'start-'));
  let redis: ChildProcess | undefined;
  let repair: ChildProcess | undefined;
  const start = spawn(
    process.execPath,
    [
      ...TS_NODE_ARGS,
      join(ROOT, 'bin/start.ts'),
      '--nodes',
      '3',
      '--base-port',
      '7851',
      '--gateway-port',
      '4751',
      '--jobs-port',
      '4752',
      '--data-dir',
      dir,
    ],
    {
      cwd: ROOT,
      env: {
        ...process.env,
        REDIS_URL: `redis://127.0.0.1:${REDIS_PORT}`,
        ADMIN_TOKEN: TEST_ADMIN_TOKEN,
        LOG_FORMAT: '',
        LOG_LEVEL: '',
        GATEWAY_RATE_LIMIT_POINTS: '1000',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
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
    assert.match(stdout, /Redis is not answering at redis:\/\/127\.0\.0\.1:6474 \(REDIS_URL\)/);
    assert.match(stdout, /apt-get install redis-server/);
    assert.match(stdout, /Redis: +NONE/);
    assert.match(stdout, /GraphQL: +http:\/\/127\.0\.0\.1:4751\/graphql/);
    // rate limits are counted in Redis: without one they are dropped, not the gateway
    assert.match(stdout, /GATEWAY_RATE_LIMIT_POINTS is ignored/);
    assert.match(
      stdout,
      /admin token: \S+ \(from ADMIN_TOKEN\)\n/,
      'an open gateway gives the admin token data too, so it is not called admin-only',
    );

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
    assert.match(stdout, /npm start -- --repair --data-dir \S+ brings the repair workers up/);
    // no repair worker runs, and the gateway says at once that the repair Redis is not there
    const board = () => fetch('http://127.0.0.1:4751/admin/queues/api/queues', { headers: { authorization: `Bearer ${TEST_ADMIN_TOKEN}` } });
    assert.equal((await board()).status, 503);
    const offline = await fetch('http://127.0.0.1:4751/graphql', { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${TEST_ADMIN_TOKEN}`, ...CSRF }, body: JSON.stringify({ query: '{ admin { repair { totals { partitionsSwept } } } }' }) });
    assert.match(JSON.stringify(await offline.json()), /the repair Redis is not reachable now/);
    await assert.rejects(fetch('http://127.0.0.1:4752/health'));
    // readable log lines by default
    assert.match(stderr, /INFO \(gateway\): listening/);

    // --repair before Redis answers: a clear refusal, nothing started
    const repairStart = () => {
      const child = spawn(process.execPath, [...TS_NODE_ARGS, join(ROOT, 'bin/start.ts'), '--repair', '--data-dir', dir], { cwd: ROOT, env: { ...process.env, REDIS_URL: `redis://127.0.0.1:${REDIS_PORT}`, LOG_FORMAT: '', LOG_LEVEL: '' }, stdio: ['ignore', 'pipe', 'pipe'] });
      const out = { stdout: '', stderr: '' };
      child.stdout!.setEncoding('utf8').on('data', (s: string) => (out.stdout += s));
      child.stderr!.setEncoding('utf8').on('data', (s: string) => (out.stderr += s));
      return { child, out };
    };
    const early = repairStart();
    const [earlyCode] = await once(early.child, 'exit');
    assert.equal(earlyCode, 2);
    assert.match(early.out.stderr, /Redis is not answering at redis:\/\/127\.0\.0\.1:6474 \(REDIS_URL\) yet/);

    // Redis appears (as an operator would install and start it), then --repair
    redis = spawn(
      'redis-server',
      ['--port', String(REDIS_PORT), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--maxmemory-policy', 'noeviction'],
      { stdio: 'ignore' },
    );
    await waitFor('the Redis to answer', () => redisAnswers(`redis://127.0.0.1:${REDIS_PORT}`, 200), 10_000, 100);
    const late = repairStart();
    repair = late.child;
    await waitFor('npm start --repair to start the workers', () => {
      if (late.child.exitCode !== null) throw new Error(`npm start --repair exited: ${late.out.stderr}`);
      return late.out.stdout.includes('Ctrl-C stops the repair workers');
    }, 60_000, 100);
    assert.equal((await fetch('http://127.0.0.1:4752/health')).status, 200);
    // the gateway found the Redis by itself: the dashboard lists the queues, and the workers'
    // schedule has swept every key range of the running stack
    await waitFor('the dashboard to list the queues', async () => (await board()).status === 200, 20_000, 200);
    const swept = await waitFor('a sweep of every key range, seen through the gateway', async () => {
      const r = await fetch('http://127.0.0.1:4751/graphql', { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${TEST_ADMIN_TOKEN}`, ...CSRF }, body: JSON.stringify({ query: '{ admin { repair { totals { partitionsSwept } } } }' }) });
      const n =
        ((await r.json()) as { data?: { admin: { repair: { totals: { partitionsSwept: number } } } } }).data?.admin.repair.totals
          .partitionsSwept ?? 0;
      return n >= 64 ? n : 0;
    }, 60_000, 250);
    assert.ok(swept >= 64);
    const again = repairStart();
    const [againCode] = await once(again.child, 'exit');
    assert.equal(againCode, 2);
    assert.match(again.out.stderr, /the repair workers of this stack already run/);

    // Ctrl-C on --repair stops the workers only
    repair.kill('SIGINT');
    const [repairCode] = await once(repair, 'exit');
    assert.equal(repairCode, 0);
    await assert.rejects(fetch('http://127.0.0.1:4752/health'));
    assert.equal((await fetch('http://127.0.0.1:4751/health')).status, 200, 'the stack runs on');

    // every process has its own identity; the CLI's admin one works as the README says, and
    // growing the cluster works as documented: issue the new node's identity, start it, join it
    assert.match(stdout, /identities: \S+identities \(authority, one per process; the CLI uses admin\.json\)/);
    const ids = join(dir, 'identities');
    const run = (entry: string, args: string[]) =>
      promisify(execFile)(process.execPath, [...TS_NODE_ARGS, join(ROOT, entry), ...args], {
        cwd: ROOT,
        env: { ...process.env, DYNAMO_SECRET: '', DYNAMO_SEEDS: '127.0.0.1:7851' },
      });
    const cli = (...args: string[]) => run('bin/dynamo.ts', ['--identity', join(ids, 'admin.json'), ...args]);
    await cli('put', 'cli-key', 'from the CLI');
    assert.match((await cli('get', 'cli-key')).stdout, /from the CLI/);
    await run('bin/identity.ts', ['issue', '--dir', ids, '--id', 'n4', '--role', 'peer']);
    n4 = spawn(
      process.execPath,
      [
        ...TS_NODE_ARGS,
        join(ROOT, 'bin/storage-node.ts'),
        '--id',
        'n4',
        '--listen',
        '127.0.0.1:7854',
        '--seeds',
        'n1=127.0.0.1:7851',
        '--data-dir',
        join(dir, 'n4'),
        '--identity',
        join(ids, 'n4.json'),
        '--authority',
        join(ids, 'authority.pub'),
      ],
      { cwd: ROOT, env: { ...process.env, DYNAMO_SECRET: '' }, stdio: 'ignore' },
    );
    await waitHealthy('127.0.0.1:7854', n4, 30_000);
    const joined = await cli('join', 'n4', '127.0.0.1:7854', '--wait');
    assert.match(joined.stdout, /n4/);
    assert.match((await cli('ring')).stdout, /n4/);
    // a client identity may not change the ring: the nodes refuse it
    await run('bin/identity.ts', ['issue', '--dir', ids, '--id', 'app', '--role', 'client']);
    await assert.rejects(
      run('bin/dynamo.ts', ['--identity', join(ids, 'app.json'), 'leave', 'n4']),
      /FORBIDDEN: app has the client role, which may not send change/,
    );

    await stopProcess(n4);
    start.kill('SIGINT');
    const [code] = await exited;
    assert.equal(code, 0);
    assert.match(stderr, /stopped/);
    await assert.rejects(fetch('http://127.0.0.1:4751/health'), 'the gateway stopped with it');
    await assert.rejects(fetch('http://127.0.0.1:7851/health'), 'the nodes stopped with it');
  } finally {
    if (repair && repair.exitCode === null) {
      repair.kill('SIGINT');
      await once(repair, 'exit');
    }
    await stopProcess(n4);
    if (start.exitCode === null) {
      start.kill('SIGINT');
      await exited;
    }
    if (redis && redis.exitCode === null) {
      redis.kill('SIGKILL');
      await once(redis, 'exit');
    }
    rmSync(dir, { recursive: true, force: true });
  }
});
