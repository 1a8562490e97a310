// The processes' logs, read from a real gateway process's stderr: secrets, tokens and a Redis
// password never reach them, the level setting filters, and LOG_FORMAT=pretty is readable.
// The logger itself is also checked on a real file for fields a process does not log today.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, openSync, closeSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ROOT, TS_NODE_ARGS, startService, stopProcess } from '../../bin/launcher.ts';
import { processLogger, REDACTED } from '../../storage/logging.ts';
import { TEST_SECRET } from '../helpers/cluster.ts';
import { TEST_ADMIN_TOKEN, TEST_CONTEXT_KEY } from '../helpers/stack.ts';
import { waitFor } from '../helpers/wait.ts';

const REDIS_PASSWORD = 'redis-password-4711';

interface Run {
  readonly child: ChildProcess;
  /** everything the process wrote to stderr so far */
  readonly stderr: () => string;
}

/** A gateway process whose seeds do not answer: it starts and logs all the same. */
async function gateway(port: number, env: Record<string, string>, args: string[] = []): Promise<Run> {
  const child = await startService({
    entry: 'bin/gateway.ts',
    args: ['--port', String(port), '--seeds', '127.0.0.1:1', ...args],
    env: {
      DYNAMO_SECRET: TEST_SECRET,
      GATEWAY_CONTEXT_KEYS: TEST_CONTEXT_KEY,
      GATEWAY_LOG_LEVEL: '',
      LOG_LEVEL: '',
      LOG_FORMAT: '',
      REDIS_URL: '',
      ADMIN_TOKEN: '',
      ...env,
    },
    health: `127.0.0.1:${port}`,
    output: 'pipe',
  });
  let out = '';
  child.stderr!.setEncoding('utf8').on('data', (s: string) => (out += s));
  child.stdout!.resume();
  return { child, stderr: () => out };
}

function lines(text: string): { level: string; msg: string; name: string; [k: string]: unknown }[] {
  return text
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as { level: string; msg: string; name: string });
}

test('secrets, tokens and a Redis password never reach the log: the configuration line shows them redacted', async () => {
  const run = await gateway(4701, { ADMIN_TOKEN: TEST_ADMIN_TOKEN, REDIS_URL: `redis://:${REDIS_PASSWORD}@127.0.0.1:1` });
  try {
    // the gateway runs without its Redis, and says so once, however often it retries
    await waitFor('the Redis outage to be logged', () => run.stderr().includes('repair Redis unreachable'), 10_000);
    await stopProcess(run.child);
    const text = run.stderr();
    for (const secret of [TEST_SECRET, TEST_ADMIN_TOKEN, TEST_CONTEXT_KEY, REDIS_PASSWORD])
      assert.ok(!text.includes(secret), `${secret} appears in the log`);
    const logged = lines(text);
    const config = logged.find((l) => l.msg === 'configuration')?.config as Record<string, unknown>;
    assert.ok(config, 'the configuration is logged at start');
    // the credential is named (a certificate is shown as such), never its secret or private key
    assert.equal(config.credential, 'cluster secret');
    assert.equal(config.adminToken, REDACTED);
    assert.equal(config.contextKeys, REDACTED);
    assert.equal(config.redisUrl, 'redis://:redacted@127.0.0.1:1');
    assert.equal(config.port, 4701, 'everything else is as configured');
    assert.equal(logged.filter((l) => l.msg.startsWith('repair Redis unreachable')).length, 1);
    assert.ok(logged.every((l) => l.name === 'gateway' && typeof l.time === 'string' && ['info', 'warn', 'error'].includes(l.level)));
    assert.ok(logged.some((l) => l.msg === 'stopped cleanly'), 'the last line before exit is written');
  } finally {
    await stopProcess(run.child);
  }
});

test('the log level filters: LOG_LEVEL for every process, the process\'s own setting over it, the flag over both', async () => {
  const cases: { env: Record<string, string>; args?: string[]; expect: string[] }[] = [
    { env: {}, expect: ['info', 'warn'] },
    { env: { LOG_LEVEL: 'warn' }, expect: ['warn'] },
    { env: { LOG_LEVEL: 'warn', GATEWAY_LOG_LEVEL: 'error' }, expect: [] },
    { env: { LOG_LEVEL: 'error' }, args: ['--log-level', 'info'], expect: ['info', 'warn'] },
  ];
  for (const [i, c] of cases.entries()) {
    // no ADMIN_TOKEN: the gateway warns that admin is off; it logs info lines as it starts and stops
    const run = await gateway(4702 + i, c.env, c.args);
    await stopProcess(run.child);
    const levels = [...new Set(lines(run.stderr()).map((l) => l.level))].sort();
    assert.deepEqual(levels, c.expect, JSON.stringify(c));
  }
});

test('LOG_FORMAT=pretty prints one readable line per entry, still redacted', async () => {
  const run = await gateway(4707, { LOG_FORMAT: 'pretty', ADMIN_TOKEN: TEST_ADMIN_TOKEN });
  await stopProcess(run.child);
  const text = run.stderr().replace(/\u001b\[[0-9;]*m/g, '');
  assert.match(text, /^\[\d\d:\d\d:\d\d\.\d{3}\] INFO \(gateway\): listening \{"url":"http:\/\/127\.0\.0\.1:4707\/graphql"/m);
  assert.ok(!text.includes('{"level"'), 'no JSON lines');
  assert.ok(!text.includes(TEST_SECRET) && !text.includes(TEST_ADMIN_TOKEN));
});

test('a bad level or format stops the process with a clear error', () => {
  const run = spawnSync(
    process.execPath,
    [...TS_NODE_ARGS, join(ROOT, 'bin/gateway.ts'), '--seeds', '127.0.0.1:1', '--log-level', 'verbose'],
    {
      env: { ...process.env, DYNAMO_SECRET: TEST_SECRET, GATEWAY_CONTEXT_KEYS: TEST_CONTEXT_KEY, LOG_FORMAT: 'xml' },
      encoding: 'utf8',
    },
  );
  assert.equal(run.status, 2);
  assert.match(run.stderr, /log level must be one of debug, info, warn, error, silent, got "verbose"/);
  assert.match(run.stderr, /LOG_FORMAT must be json or pretty, got "xml"/);
});

test('the logger redacts authorization headers, tokens, passwords and accepted secrets in nested fields, and shows loaded certificates only as present', () => {
  const dir = mkdtempSync(join(tmpdir(), 'log-'));
  const file = join(dir, 'log');
  const fd = openSync(file, 'w');
  try {
    const log = processLogger('test', { level: 'debug', format: 'json', fd });
    log.debug('request', {
      headers: { authorization: 'Bearer abc123', accept: 'text/html' },
      token: 'tok-1',
      user: { password: 'pw-1', name: 'ann' },
    });
    log.info('deep', { a: { b: { secret: 's-1' } }, url: 'redis://user:pw-2@host:6379/0' });
    // a node's configuration: the secrets it accepts during a rotation, the certificates it loaded
    log.info('configuration', {
      config: { acceptSecrets: ['s-2'], tls: { client: { ca: [Buffer.from('-----BEGIN CERTIFICATE-----')] } } },
    });
    closeSync(fd);
    const text = readFileSync(file, 'utf8');
    for (const s of ['abc123', 'tok-1', 'pw-1', 's-1', 'pw-2', 's-2']) assert.ok(!text.includes(s), `${s} appears in the log`);
    const [first, second, third] = lines(text);
    assert.deepEqual(third!.config, { acceptSecrets: REDACTED, tls: '[certificates loaded]' });
    assert.deepEqual(first!.headers, { authorization: REDACTED, accept: 'text/html' });
    assert.deepEqual(first!.user, { password: REDACTED, name: 'ann' });
    assert.equal(second!.url, 'redis://user:redacted@host:6379/0');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
