// The settings table parser: a flag over the environment over the default, one message naming
// every bad setting, --help made from the rows, secrets redacted; and every process's table.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { z } from 'zod';
import { ConfigError, parseSettings, redacted, REDACTED, usage, type Table } from '../../storage/settings/table.ts';
import { markdownTable } from '../../storage/settings/markdown.ts';
import { NODE_SETTINGS } from '../../storage/config.ts';
import { GATEWAY_SETTINGS } from '../../gateway/config.ts';
import { JOBS_SETTINGS } from '../../jobs/config.ts';
import { CLI_SETTINGS } from '../../bin/cli-settings.ts';

const TABLE = {
  port: {
    flag: 'port', env: 'X_PORT', arg: 'PORT', schema: z.coerce.number().int().min(1).max(65535), default: 4000, help: 'where to listen',
  },
  level: {
    flag: 'log-level', env: ['X_LOG_LEVEL', 'LOG_LEVEL'], arg: 'LEVEL', schema: z.enum(['info', 'debug']), default: 'info',
    help: 'how much to log',
  },
  id: { flag: 'id', env: 'X_ID', arg: 'ID', schema: z.string().min(1), required: true, help: 'the id' },
  dir: {
    flag: 'dir', env: 'X_DIR', arg: 'DIR', schema: z.string(), defaultOf: (p) => `./data/${String(p.id)}`, shown: './data/ID',
    help: 'where data goes',
  },
  quiet: { flag: 'quiet', env: 'X_QUIET', schema: z.boolean(), default: false, help: 'say less' },
  token: {
    flag: 'token-file', env: 'X_TOKEN', arg: 'FILE', file: true, secret: true,
    schema: z.string().min(8, 'the token is at least 8 characters'), help: 'the token',
  },
} as const satisfies Table;

const USAGE = usage('x: a test process', TABLE);
const parse = (argv: string[], env: NodeJS.ProcessEnv = {}) => parseSettings(TABLE, argv, env, { usage: USAGE, what: 'x configuration' });
const failure = (argv: string[], env: NodeJS.ProcessEnv = {}): string => {
  try {
    parse(argv, env);
  } catch (e) {
    assert.ok(e instanceof ConfigError, String(e));
    return e.message;
  }
  assert.fail('expected a ConfigError');
};

test('a flag wins over the environment, the environment over the default; empty variables count as unset', () => {
  assert.deepEqual(parse(['--id', 'a']).values, { port: 4000, level: 'info', id: 'a', dir: './data/a', quiet: false });
  assert.equal(parse(['--id', 'a'], { X_PORT: '5000' }).values.port, 5000);
  assert.equal(parse(['--id', 'a', '--port', '6000'], { X_PORT: '5000' }).values.port, 6000);
  assert.equal(parse(['--id', 'a'], { X_PORT: '' }).values.port, 4000);
  const p = parse([], { X_ID: 'b', X_PORT: '5000' });
  assert.deepEqual(p.from, { port: 'env', id: 'env', dir: 'default', level: 'default', quiet: 'default' });
  assert.equal(p.values.dir, './data/b', 'a computed default sees the other settings');
  assert.equal(parse(['--id', 'a', '--dir', '/d']).values.dir, '/d');
});

test('the first of several variables that is set wins', () => {
  assert.equal(parse(['--id', 'a'], { LOG_LEVEL: 'debug' }).values.level, 'debug');
  assert.equal(parse(['--id', 'a'], { LOG_LEVEL: 'debug', X_LOG_LEVEL: 'info' }).values.level, 'info');
});

test("a switch is a flag without a value; its variable takes 1/true or 0/false, and nothing else", () => {
  assert.equal(parse(['--id', 'a', '--quiet']).values.quiet, true);
  assert.equal(parse(['--id', 'a'], { X_QUIET: '1' }).values.quiet, true);
  assert.equal(parse(['--id', 'a'], { X_QUIET: 'false' }).values.quiet, false);
  assert.match(failure(['--id', 'a'], { X_QUIET: 'maybe' }), /X_QUIET: must be 1 or 0 \(true or false\), got "maybe"/);
});

test('every bad or missing setting is named, by flag and variable, in one message', () => {
  const message = failure(['--port', '70000', '--log-level', 'loud']);
  assert.match(message, /^invalid x configuration:\n/);
  assert.match(message, /--port \(X_PORT\): .*65535/);
  assert.match(message, /--log-level \(X_LOG_LEVEL or LOG_LEVEL\): /);
  assert.match(message, /--id \(X_ID\): required/);
  assert.match(failure(['--id', 'a'], { X_PORT: 'many' }), /--port \(X_PORT\): /);
});

test('an unknown flag, a flag without its value and --help answer with the usage', () => {
  const unknown = failure(['--id', 'a', '--prot', '1']);
  assert.match(unknown, /Unknown option '--prot'/);
  assert.match(unknown, /x: a test process/);
  assert.match(failure(['--id']), /argument missing/);
  const help = failure(['--help']);
  assert.match(help, /^x: a test process\n\n/);
  assert.match(help, /--port PORT +where to listen \(X_PORT; default 4000\)/);
  assert.match(help, /--log-level LEVEL +how much to log \(X_LOG_LEVEL or LOG_LEVEL; default info\)/);
  assert.match(help, /--id ID +the id \(X_ID; required\)/);
  assert.match(help, /--dir DIR +where data goes \(X_DIR; default \.\/data\/ID\)/);
  assert.match(help, /--quiet +say less \(X_QUIET\)/);
});

test('a file setting reads its flag\'s file, its variable holds the value; a secret is redacted', () => {
  const dir = mkdtempSync(join(tmpdir(), 'settings-'));
  try {
    const file = join(dir, 'token');
    writeFileSync(file, 'from-the-file-0123\n');
    const p = parse(['--id', 'a', '--token-file', file], { X_TOKEN: 'from-the-environment' });
    assert.equal(p.values.token, 'from-the-file-0123');
    assert.equal(parse(['--id', 'a'], { X_TOKEN: 'from-the-environment' }).values.token, 'from-the-environment');
    assert.match(failure(['--id', 'a', '--token-file', join(dir, 'absent')]), /--token-file: cannot read .*absent/);
    assert.match(failure(['--id', 'a'], { X_TOKEN: 'short' }), /--token-file \(X_TOKEN\): the token is at least 8 characters/);
    assert.deepEqual(redacted(TABLE, p.values), { ...p.values, token: REDACTED });
    assert.equal(redacted(TABLE, { id: 'a' }).id, 'a');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('the README table has a row per setting, marks secrets and escapes markdown', () => {
  const md = markdownTable(TABLE).split('\n');
  assert.equal(md.length, 2 + Object.keys(TABLE).length);
  assert.equal(md[2], '| `--port PORT` | `X_PORT` | 4000 | where to listen |');
  assert.equal(md[3], '| `--log-level LEVEL` | `X_LOG_LEVEL`, then `LOG_LEVEL` | info | how much to log |');
  assert.match(md[7]!, /the token \(secret: never logged\)/);
});

test("every process's table: every setting has a flag and a variable, none twice, and every secret is marked", () => {
  const tables: Record<string, Table> = { node: NODE_SETTINGS, gateway: GATEWAY_SETTINGS, jobs: JOBS_SETTINGS, cli: CLI_SETTINGS };
  for (const [name, table] of Object.entries(tables)) {
    const rows = Object.values(table);
    const flags = rows.map((s) => s.flag);
    assert.equal(new Set(flags).size, flags.length, `${name}: a flag named twice`);
    const envs = rows.flatMap((s) => (typeof s.env === 'string' ? [s.env] : [...s.env]));
    assert.equal(new Set(envs).size, envs.length, `${name}: a variable named twice`);
    for (const s of rows) assert.ok(s.flag && envs.length && s.help, `${name}: --${s.flag} needs a flag, a variable and help`);
    for (const [key, s] of Object.entries(table)) {
      if (/secret|token|^contextKeys$/i.test(key)) assert.ok(s.secret, `${name}: ${key} is a secret`);
    }
  }
});

test("the node's settings keep their flags, variables and defaults", () => {
  const base = ['--id', 'n1', '--nodes', 'n1=127.0.0.1:26001'];
  const secret = { DYNAMO_SECRET: 'a-secret-of-16-chars-or-more' };
  const d = parseSettings(NODE_SETTINGS, base, secret, { usage: '', what: 'configuration' }).values;
  assert.deepEqual(
    { ...d, secret: undefined },
    {
      id: 'n1', nodes: 'n1=127.0.0.1:26001', cluster: 'dev', secret: undefined, acceptSecrets: [], dataDir: './data/n1', partitions: 64,
      n: 3, r: 2, w: 2,
      requestTimeoutMs: 1000, readHedgeMs: 10, maxSiblings: 100, durability: 'sync', hintMaxBytes: 1024 ** 3, hintMaxAgeMs: 86_400_000,
      newEpoch: false,
      gossipIntervalMs: 1000, phiThreshold: 8, transferBytesPerSecond: 16 * 1024 * 1024, dropGraceMs: 10_000, repairQueuePrefix: 'dynamo',
      logLevel: 'info', logFormat: 'json',
    },
  );
  const env = {
    ...secret,
    DYNAMO_GOSSIP_INTERVAL_MS: '200',
    DYNAMO_PHI_THRESHOLD: '5',
    DYNAMO_TRANSFER_BYTES_PER_SECOND: '2048',
    DYNAMO_DROP_GRACE_MS: '0',
    DYNAMO_NEW_EPOCH: '1',
    DYNAMO_READ_HEDGE_MS: '20',
  };
  const e = parseSettings(NODE_SETTINGS, base, env, { usage: '', what: 'configuration' }).values;
  assert.deepEqual(
    [e.gossipIntervalMs, e.phiThreshold, e.transferBytesPerSecond, e.dropGraceMs, e.newEpoch, e.readHedgeMs],
    [200, 5, 2048, 0, true, 20],
  );
  const prefixed = parseSettings(NODE_SETTINGS, [...base, '--repair-queue-prefix', 'q1'], secret, { usage: '', what: 'configuration' });
  assert.equal(prefixed.values.repairQueuePrefix, 'q1');
});
