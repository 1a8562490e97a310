// The three forms of a Redis setting, and the errors for settings that are none of them.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { describeRedis, mask, parseRedisAddress, RedisAddressError } from '../../jobs/redis-address.ts';
import { loadGatewayConfig } from '../../gateway/config.ts';
import { ConfigError, loadStorageConfig } from '../../storage/config.ts';

test('redis:// and rediss:// name one server and pass through unchanged', () => {
  for (const url of ['redis://127.0.0.1:6379', 'redis://:pw@host:6380/2', 'rediss://user:pw@redis.example.com:6379', 'redis://localhost']) {
    assert.deepEqual(parseRedisAddress(url), { kind: 'server', url });
  }
});

test('redis-cluster:// lists seed nodes, with credentials and IPv6', () => {
  assert.deepEqual(parseRedisAddress('redis-cluster://10.0.0.1:7000,10.0.0.2:7001, [::1]:7002'), {
    kind: 'cluster',
    nodes: [
      { host: '10.0.0.1', port: 7000 },
      { host: '10.0.0.2', port: 7001 },
      { host: '::1', port: 7002 },
    ],
  });
  assert.deepEqual(parseRedisAddress('redis-cluster://app:p%40ss@r1'), { kind: 'cluster', nodes: [{ host: 'r1', port: 6379 }], username: 'app', password: 'p@ss' });
});

test('redis-sentinel:// lists the sentinels and names the primary', () => {
  assert.deepEqual(parseRedisAddress('redis-sentinel://:secret@s1:26379,s2,s3:26380/mymaster?db=3'), {
    kind: 'sentinel',
    sentinels: [
      { host: 's1', port: 26379 },
      { host: 's2', port: 26379 },
      { host: 's3', port: 26380 },
    ],
    name: 'mymaster',
    password: 'secret',
    db: 3,
  });
});

test('settings that are none of the forms get an error saying what is wrong', () => {
  const cases: [string, RegExp][] = [
    ['127.0.0.1:6379', /expected redis:\/\/host:port, redis-cluster:\/\/.*redis-sentinel:\/\//],
    ['http://host:6379', /unknown scheme "http:\/\/"/],
    ['redis-cluster://', /needs the host:port of at least one node/],
    ['redis-cluster://a:1,,b:2', /"" is not a host:port/],
    ['redis-cluster://a:99999', /"a:99999" is not a host:port/],
    ['redis-cluster://a:1/2', /takes no database/],
    ['redis-sentinel://s1:26379', /needs the name the sentinels know the primary by/],
    ['redis-sentinel://s1:26379/mymaster?timeout=1', /takes only the option db/],
    ['redis-sentinel://s1:26379/mymaster?db=x', /must be a database number/],
    ['redis://:pw@/x', /not a valid redis:\/\/ URL/],
    ['redis://host:6379/abc', /database of redis:\/\/ must be a number/],
  ];
  for (const [text, message] of cases) {
    assert.throws(() => parseRedisAddress(text), (e: unknown) => e instanceof RedisAddressError && message.test(e.message), text);
  }
});

test('an error never repeats the password', () => {
  assert.throws(() => parseRedisAddress('redis://:hunter2@/x'), (e: Error) => !e.message.includes('hunter2'));
  assert.throws(() => parseRedisAddress('bad://:hunter2@x'), (e: Error) => !e.message.includes('hunter2'));
});

test('mask hides the password of every form, and describeRedis none leaks it', () => {
  assert.equal(mask('redis://:pw@h:1'), 'redis://:redacted@h:1');
  assert.equal(mask('redis-cluster://u:pw@a:1,b:2'), 'redis-cluster://u:redacted@a:1,b:2');
  assert.equal(mask('redis-sentinel://u:pw@a:1/m'), 'redis-sentinel://u:redacted@a:1/m');
  assert.equal(mask('redis://h:1'), 'redis://h:1');
  for (const s of ['redis://:pw@h:1', 'redis-cluster://u:pw@a:1,b:2', 'redis-sentinel://u:pw@a:1/m']) assert.ok(!describeRedis(parseRedisAddress(s)).includes('pw'), s);
  assert.equal(describeRedis(parseRedisAddress('redis-sentinel://a:1,b:2/m')), 'primary "m" of the sentinels a:1,b:2');
});

test('each process stops at start on a wrong Redis setting, naming the setting and what is wrong', () => {
  const nodeArgs = ['--id', 'n1', '--nodes', 'n1=127.0.0.1:7001', '--n', '1', '--r', '1', '--w', '1'];
  assert.throws(
    () => loadStorageConfig([...nodeArgs, '--repair-redis-url', 'redis-sentinel://10.0.0.1:26379'], { DYNAMO_SECRET: 'a-secret-of-16-chars-or-more' }),
    (e: Error) => e instanceof ConfigError && e.message.includes('--repair-redis-url (DYNAMO_REPAIR_REDIS_URL): redis-sentinel:// needs the name the sentinels know the primary by'),
  );
  assert.equal(loadStorageConfig([...nodeArgs, '--repair-redis-url', 'redis-cluster://10.0.0.1:7000,10.0.0.2:7000'], { DYNAMO_SECRET: 'a-secret-of-16-chars-or-more' }).repairRedisUrl, 'redis-cluster://10.0.0.1:7000,10.0.0.2:7000');
  const gatewayEnv = {
    DYNAMO_SECRET: 'a-secret-of-16-chars-or-more',
    DYNAMO_SEEDS: '127.0.0.1:7001',
    GATEWAY_CONTEXT_KEYS: 'k'.repeat(32),
  };
  assert.throws(() => loadGatewayConfig([], { ...gatewayEnv, REDIS_URL: 'redis-cluster://' }), (e: Error) => e.message.includes('REDIS_URL: redis-cluster:// needs the host:port of at least one node'));
  assert.throws(() => loadGatewayConfig([], { ...gatewayEnv, GATEWAY_RATE_LIMIT_POINTS: '10', GATEWAY_RATE_LIMIT_REDIS_URL: 'cluster://a:1' }), (e: Error) => e.message.includes('GATEWAY_RATE_LIMIT_REDIS_URL: unknown scheme "cluster://"'));
  assert.equal(loadGatewayConfig([], { ...gatewayEnv, REDIS_URL: 'redis-sentinel://a:26379,b:26379/dynamo' }).redisUrl, 'redis-sentinel://a:26379,b:26379/dynamo');
});
