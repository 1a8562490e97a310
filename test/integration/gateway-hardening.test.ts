// Gateway hardening with real processes: start-up refusals in production, the open mode said
// loudly, introspection off in production, the operator listener, and rate limits shared by
// two gateways through a real Redis.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { keyPrefix } from '../../jobs/queues.ts';
import { ROOT, startService, stopProcess, TS_NODE_ARGS } from '../../bin/launcher.ts';
import { TEST_SECRET, withCluster } from '../helpers/cluster.ts';
import { TEST_ADMIN_TOKEN, TEST_CONTEXT_KEY } from '../helpers/stack.ts';
import { waitFor } from '../helpers/wait.ts';

const REDIS = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const KEY = 'hardening-key-0123456789abcdef';
const OTHER = 'other-key-0123456789abcdef';
const ADMIN_KEY = 'admin-key-0123456789abcdef';
const BASE_ENV = {
  DYNAMO_SECRET: TEST_SECRET,
  GATEWAY_CONTEXT_KEYS: TEST_CONTEXT_KEY,
  ADMIN_TOKEN: TEST_ADMIN_TOKEN,
  GATEWAY_LOG_LEVEL: 'info',
};

/** A gateway process whose stderr is kept, for start-up checks (no cluster needed). */
function spawnGateway(args: string[], env: Record<string, string>): { child: ChildProcess; output: () => string } {
  const child = spawn(process.execPath, [...TS_NODE_ARGS, join(ROOT, 'bin/gateway.ts'), '--seeds', '127.0.0.1:1', ...args], {
    cwd: ROOT,
    env: { ...process.env, NODE_ENV: '', GATEWAY_API_KEYS_FILE: '', GATEWAY_JWKS: '', ...BASE_ENV, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let text = '';
  child.stdout!.on('data', (b: Buffer) => (text += b.toString()));
  child.stderr!.on('data', (b: Buffer) => (text += b.toString()));
  return { child, output: () => text };
}

async function exitOf(child: ChildProcess): Promise<number | null> {
  if (child.exitCode !== null) return child.exitCode;
  const [codeAtExit] = (await once(child, 'exit')) as [number | null];
  return codeAtExit;
}

function writeKeys(dir: string): string {
  const file = join(dir, 'keys.json');
  writeFileSync(
    file,
    JSON.stringify({
      [KEY]: { name: 'svc', read: [''], write: [''] },
      [OTHER]: { name: 'other', read: [''], write: [] },
      [ADMIN_KEY]: { name: 'ops', admin: true },
    }),
  );
  return file;
}

async function post(
  url: string,
  query: string,
  token?: string,
  headers: Record<string, string> = {},
): Promise<{ status: number; headers: Headers; body: { data?: any; errors?: { message: string; extensions?: Record<string, any> }[] } }> {
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}), ...headers },
    body: JSON.stringify({ query }),
  });
  return { status: res.status, headers: res.headers, body: (await res.json()) as never };
}

test('start-up: production refuses to run without data authentication, says why, and a bad keys file is named', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'gateway-start-'));
  try {
    const bare = spawnGateway(['--port', '4351'], { NODE_ENV: 'production' });
    assert.equal(await exitOf(bare.child), 2);
    assert.match(bare.output(), /NODE_ENV=production and no data authentication/);
    assert.match(bare.output(), /GATEWAY_API_KEYS_FILE .* GATEWAY_JWKS .* --allow-anonymous/);
    // the admin token alone is no data authentication
    assert.match(bare.output(), /anyone who reaches the gateway could read and write every key/);

    const bad = join(dir, 'bad.json');
    writeFileSync(
      bad,
      JSON.stringify({
        short: { name: 'x', read: [] },
        'sha256:abc': { name: 'y' },
        'a-long-enough-token-123': { read: 'all' },
        'another-long-token-456': { name: 'x', admin: 'yes' },
      }),
    );
    const invalid = spawnGateway(['--port', '4351', '--api-keys', bad], { NODE_ENV: 'production' });
    assert.equal(await exitOf(invalid.child), 2);
    const said = invalid.output();
    assert.match(said, /invalid API keys file/);
    assert.match(said, /entry 1 \('x'\): the key must be a token of at least 16 characters/);
    assert.match(said, /entry 2 \('y'\): the key must be a token/);
    assert.match(said, /entry 3\.read: /);
    assert.match(said, /entry 3\.name: /);
    assert.match(said, /entry 4 \('x'\)\.admin: /);
    assert.doesNotMatch(said, /a-long-enough-token-123|another-long-token-456/, 'a token is never repeated in a message');

    const jwksMissing = spawnGateway(['--port', '4351', '--jwks', join(dir, 'absent.json')], { NODE_ENV: 'production' });
    assert.equal(await exitOf(jwksMissing.child), 2);
    assert.match(jwksMissing.output(), /GATEWAY_JWKS names neither a URL nor a readable file/);

    const noRedis = spawnGateway(['--port', '4351', '--rate-limit-points', '5'], { REDIS_URL: '', GATEWAY_RATE_LIMIT_REDIS_URL: '' });
    assert.equal(await exitOf(noRedis.child), 2);
    assert.match(noRedis.output(), /rate limits are shared through Redis/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('start-up: open in development and with --allow-anonymous in production, and says so loudly', async () => {
  for (const [env, args, why] of [
    [{}, [], /development/],
    [{ NODE_ENV: 'production' }, ['--allow-anonymous'], /--allow-anonymous/],
  ] as const) {
    const g = spawnGateway(['--port', '4352', ...args], env);
    try {
      await waitFor('the open-gateway warning', () => /THE GATEWAY IS OPEN/.test(g.output()), 20_000);
      assert.match(g.output(), why);
      await waitFor('the gateway to listen', async () => (await fetch('http://127.0.0.1:4352/health').catch(() => null))?.ok, 20_000);
    } finally {
      await stopProcess(g.child);
    }
  }
});

test('production: introspection and GraphiQL are off, data still answers; --admin-listen moves /metrics and the dashboard to its own address', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'gateway-prod-'));
  const prefix = `test-prod-${process.pid}-${Date.now()}`;
  try {
    await withCluster({ nodes: 1, basePort: 7351 }, async ({ cluster }) => {
      const gateway = await startService({
        entry: 'bin/gateway.ts',
        args: ['--port', '4353', '--seeds', cluster.seeds.join(','), '--admin-listen', '127.0.0.1:4354'],
        env: {
          ...BASE_ENV,
          GATEWAY_LOG_LEVEL: 'warn',
          NODE_ENV: 'production',
          GATEWAY_API_KEYS_FILE: writeKeys(dir),
          REDIS_URL: REDIS,
          REPAIR_QUEUE_PREFIX: prefix,
        },
        health: '127.0.0.1:4353',
      });
      try {
        const url = 'http://127.0.0.1:4353/graphql';
        await waitFor('the gateway to reach the cluster', async () => (await fetch(url.replace('/graphql', '/ready'))).ok, 20_000, 100);
        const intro = await post(url, '{ __schema { types { name } } }', KEY);
        assert.match(intro.body.errors?.[0]?.message ?? '', /introspection/i, JSON.stringify(intro.body));
        assert.equal(intro.body.data, undefined);
        const typename = await post(url, '{ __type(name: "Versions") { name } }', KEY);
        assert.match(typename.body.errors?.[0]?.message ?? '', /introspection/i);
        assert.equal((await post(url, '{ cluster { n } }', KEY)).body.data?.cluster.n, 1);
        const page = await fetch(url, { headers: { accept: 'text/html' } });
        assert.doesNotMatch(await page.text(), /graphiql/i);
        // operator routes: not on the public listener, open on the operator one
        assert.equal((await fetch('http://127.0.0.1:4353/metrics', { headers: { authorization: `Bearer ${TEST_ADMIN_TOKEN}` } })).status, 404);
        const scraped = await fetch('http://127.0.0.1:4354/metrics');
        assert.equal(scraped.status, 200);
        assert.match(await scraped.text(), /dynamo_gateway_operations_total [1-9]/);
        // the dashboard moved too, and still asks for the admin scope: an admin API key opens it
        const board = (port: number, token?: string) => fetch(`http://127.0.0.1:${port}/admin/queues`, { headers: token ? { authorization: `Bearer ${token}` } : {} });
        assert.equal((await board(4353, ADMIN_KEY)).status, 404);
        assert.equal((await board(4354)).status, 401);
        assert.equal((await board(4354, KEY)).status, 401, 'a data key has no admin scope');
        assert.equal((await board(4354, ADMIN_KEY)).status, 200);
        assert.equal((await board(4354, TEST_ADMIN_TOKEN)).status, 200);
      } finally {
        await stopProcess(gateway);
        const redis = new Redis(REDIS);
        const keys = await redis.keys(`${keyPrefix(prefix)}:*`);
        if (keys.length) await redis.del(...keys);
        redis.disconnect();
      }
    });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('rate limits per principal, shared by two gateways through Redis: RATE_LIMITED with HTTP 429 and Retry-After; refused credentials charged to the address, read from X-Forwarded-For only behind a trusted proxy', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'gateway-rate-'));
  const prefix = `test-rate-${process.pid}-${Date.now()}`;
  await withCluster({ nodes: 1, basePort: 7356 }, async ({ cluster }) => {
    const env = {
      ...BASE_ENV,
      GATEWAY_LOG_LEVEL: 'warn',
      GATEWAY_API_KEYS_FILE: writeKeys(dir),
      GATEWAY_RATE_LIMIT_REDIS_URL: REDIS,
      REPAIR_QUEUE_PREFIX: prefix,
    };
    const args = ['--seeds', cluster.seeds.join(','), '--rate-limit-points', '3', '--rate-limit-duration-s', '60'];
    const gateways: ChildProcess[] = [];
    try {
      // the first gateway sits behind a proxy on loopback (--trust-proxy); the second trusts no proxy
      for (const [port, more] of [[4355, ['--trust-proxy', '127.0.0.1,::1']], [4356, []]] as const)
        gateways.push(
          await startService({
            entry: 'bin/gateway.ts',
            args: ['--port', String(port), ...args, ...more],
            env,
            health: `127.0.0.1:${port}`,
          }),
        );
      const [a, b] = ['http://127.0.0.1:4355/graphql', 'http://127.0.0.1:4356/graphql'];
      for (const url of [a, b])
        await waitFor('the gateway to reach the cluster', async () => (await fetch(url.replace('/graphql', '/ready'))).ok, 20_000, 100);
      // three requests of one key, over both gateways, use its three points
      for (const url of [a, b, a]) assert.equal((await post(url, '{ cluster { n } }', KEY)).status, 200);
      const limited = await post(b, '{ cluster { n } }', KEY);
      assert.equal(limited.status, 429);
      assert.equal(limited.body.errors?.[0]?.extensions?.code, 'RATE_LIMITED');
      const retry = Number(limited.headers.get('retry-after'));
      assert.ok(retry >= 1 && retry <= 60, `Retry-After ${retry}`);
      // another principal has its own points
      assert.equal((await post(a, '{ cluster { n } }', OTHER)).status, 200);
      // guessing credentials spends the caller's address: three refusals, then the limit
      for (let i = 0; i < 3; i++) assert.equal((await post(a, '{ cluster { n } }', `guess-${i}-0123456789abcdef`)).status, 401);
      const guessing = await post(b, '{ cluster { n } }', 'guess-3-0123456789abcdef');
      assert.equal(guessing.status, 429);
      assert.equal(guessing.body.errors?.[0]?.extensions?.code, 'RATE_LIMITED');
      // behind the trusted proxy, each client's address has its own points, from X-Forwarded-For
      const from = (ip: string) => ({ 'x-forwarded-for': `${ip}, 127.0.0.1` });
      const guess = async (url: string, i: number, ip: string) =>
        (await post(url, '{ cluster { n } }', `proxied-${i}-0123456789ab`, from(ip))).status;
      for (let i = 0; i < 3; i++) assert.equal(await guess(a, i, '203.0.113.7'), 401);
      assert.equal(await guess(a, 3, '203.0.113.7'), 429);
      assert.equal(await guess(a, 4, '203.0.113.8'), 401, 'another client behind the proxy');
      // a gateway that trusts no proxy ignores the header: the loopback peer's points are spent
      assert.equal(await guess(b, 5, '203.0.113.9'), 429);
      const redis = new Redis(REDIS);
      try {
        assert.ok((await redis.keys(`${prefix}:*:rate:*`)).length >= 2, 'the counters live in the shared Redis');
      } finally {
        const keys = await redis.keys(`${prefix}:*`);
        if (keys.length) await redis.del(...keys);
        redis.disconnect();
      }
    } finally {
      for (const g of gateways) await stopProcess(g);
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
