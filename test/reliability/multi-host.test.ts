// docs/operations.md, "Running on several hosts", followed to the letter: each host of the guide
// is a network namespace of its own (test/helpers/netns.ts), and every process is started from
// the guide's own environment files and systemd ExecStart lines, read out of the document, with
// only its addresses (10.0.0.x) and paths (/etc/dynamo, /var/lib/dynamo, /opt/dynamo) replaced.
// Three nodes listen on 0.0.0.0 and are known by their advertised addresses; a fourth joins with
// the guide's join command; the gateway, the repair workers and Redis share one more host.
// Then: a write and a read through the gateway, and hints for a node that was down replayed by
// the workers from the queue its peers put them on.
//
// Needs root, iproute2 and redis-server; `npm run test:multi-host`.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { DynamoClient } from '../../client/src/client.ts';
import { ROOT, waitHealthy } from '../../bin/launcher.ts';
import { keyPrefix } from '../../jobs/queues.ts';
import { NetnsNetwork, type Host } from '../helpers/netns.ts';
import { waitFor } from '../helpers/wait.ts';

const GUIDE = readFileSync(join(ROOT, 'docs/operations.md'), 'utf8');
const SECRET = 'multi-host-test-secret-0123456789';
const API_KEY = 'multi-host-test-api-key-0123456789';
const output = process.env.NODE_OUTPUT === '1' ? 'inherit' : 'ignore';

/** The fenced block that follows `<!-- guide: name -->` in the guide. */
function block(name: string): string {
  const m = new RegExp(`<!-- guide: ${name.replace(/\./g, '\\.')} -->\\n\`\`\`\\w*\\n([\\s\\S]*?)\\n\`\`\``).exec(GUIDE);
  if (!m) throw new Error(`docs/operations.md has no block marked <!-- guide: ${name} -->`);
  return m[1]!;
}

/** KEY=VALUE lines of an environment file. */
function envFile(text: string): Record<string, string> {
  const env: Record<string, string> = {};
  for (const line of text.split('\n')) {
    const m = /^([A-Z_][A-Z0-9_]*)=(.*)$/.exec(line.trim());
    if (m) env[m[1]!] = m[2]!;
  }
  return env;
}

/** The command of a unit's ExecStart line, as arguments. */
function execStart(unit: string): string[] {
  const line = block(unit).split('\n').find((l) => l.startsWith('ExecStart='));
  if (!line) throw new Error(`${unit} has no ExecStart`);
  return line.slice('ExecStart='.length).trim().split(/\s+/);
}

test('docs/operations.md on five hosts: nodes listening on 0.0.0.0 under advertised addresses, a join, the gateway, workers and Redis, hints replayed through the queue', { timeout: 240_000 }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'dynamo-multi-host-'));
  const etc = join(dir, 'etc');
  mkdirSync(etc);
  let net: NetnsNetwork | undefined;
  const processes: ChildProcess[] = [];
  const nodes = new Map<string, ChildProcess>();
  let client: DynamoClient | undefined;
  try {
    net = await NetnsNetwork.create();
    const hosts = new Map<string, Host>();
    for (const [guideIp, id] of [
      ['10.0.0.11', 'n1'],
      ['10.0.0.12', 'n2'],
      ['10.0.0.13', 'n3'],
      ['10.0.0.14', 'n4'],
      ['10.0.0.20', 'ops'],
    ] as const)
      hosts.set(guideIp, await net.addHost(id));
    /** The guide's text for one host: its addresses and paths replaced. */
    const localize = (text: string, host: string) =>
      text
        .replace(/10\.0\.0\.\d+/g, (ip) => hosts.get(ip)?.ip ?? ip)
        .replaceAll('/etc/dynamo', etc)
        .replaceAll('/var/lib/dynamo', join(dir, host))
        .replaceAll('/opt/dynamo', ROOT);
    writeFileSync(join(etc, 'secret'), SECRET, { mode: 0o400 });
    writeFileSync(join(etc, 'api-keys.json'), JSON.stringify({ [API_KEY]: { name: 'app', read: [''], write: [''] } }));

    /** Runs a unit's ExecStart inside a host's namespace, with only its environment files. */
    const run = (unit: string, host: Host, env: Record<string, string>) => {
      const [exe, ...args] = execStart(unit).map((a) => localize(a, host.id));
      assert.equal(exe, '/usr/bin/node');
      const child = spawn('ip', ['netns', 'exec', host.ns, process.execPath, ...args], {
        cwd: ROOT,
        env: { PATH: process.env.PATH!, HOME: dir, ...env },
        stdio: ['ignore', output, output],
      });
      processes.push(child);
      return child;
    };
    const nodeEnv = (name: string, guideIp: string, id: string) => {
      const host = hosts.get(guideIp)!;
      const env = envFile(localize(block(name), host.id));
      // the guide: "on 10.0.0.12 and 10.0.0.13 the same, with DYNAMO_NODE_ID=n2 and n3"
      if (name === 'node.env') env.DYNAMO_NODE_ID = id;
      return { host, env };
    };
    const startNode = async (name: string, guideIp: string, id: string) => {
      const { host, env } = nodeEnv(name, guideIp, id);
      const child = run('dynamo-node.service', host, env);
      nodes.set(id, child);
      await waitHealthy(`${host.ip}:7000`, child, 60_000);
      return env;
    };

    // Redis on the operations host, with the guide's settings (its files in the host's directory)
    const ops = hosts.get('10.0.0.20')!;
    mkdirSync(join(dir, 'ops', 'redis'), { recursive: true });
    const redisConf = join(etc, 'redis.conf');
    writeFileSync(redisConf, `${localize(block('redis.conf'), 'ops')}\ndir ${join(dir, 'ops', 'redis')}\nsave ""\n`);
    processes.push(spawn('ip', ['netns', 'exec', ops.ns, 'redis-server', redisConf], { stdio: ['ignore', output, output] }));

    const first = await Promise.all([
      startNode('node.env', '10.0.0.11', 'n1'),
      startNode('node.env', '10.0.0.12', 'n2'),
      startNode('node.env', '10.0.0.13', 'n3'),
    ]);
    assert.equal(first[0]!.DYNAMO_LISTEN, '0.0.0.0:7000', 'the guide has the first nodes listen on every address');

    const gatewayEnv = envFile(localize(block('gateway.env'), 'ops'));
    const gateway = run('dynamo-gateway.service', ops, {
      ...gatewayEnv,
      GATEWAY_CONTEXT_KEYS: 'multi-host-test-context-key-0123456789abcdef',
      ADMIN_TOKEN: 'multi-host-admin-token-0123',
    });
    await waitHealthy(`${ops.ip}:4000`, gateway, 60_000);
    const jobsEnv = envFile(localize(block('jobs.env'), 'ops'));
    const jobs = run('dynamo-jobs.service', ops, { ...jobsEnv, DYNAMO_SECRET: SECRET });
    await waitHealthy(`${ops.ip}:4100`, jobs, 60_000);

    // the fourth host joins with the guide's command, run from the test's own host
    await startNode('node-join.env', '10.0.0.14', 'n4');
    const join_ = localize(block('join'), 'ops').trim().split(/\s+/);
    const assignments = join_.filter((w, i) => i < join_.indexOf('npx') && w.includes('='));
    assert.deepEqual(join_.slice(assignments.length, assignments.length + 2), ['npx', 'dynamo']);
    const cli = spawn(process.execPath, ['--import', 'tsx', 'bin/dynamo.ts', ...join_.slice(assignments.length + 2)], {
      cwd: ROOT,
      env: {
        PATH: process.env.PATH!,
        HOME: dir,
        ...Object.fromEntries(assignments.map((a) => [a.slice(0, a.indexOf('=')), a.slice(a.indexOf('=') + 1)])),
      },
      stdio: ['ignore', output, output],
    });
    const [joinCode] = await once(cli, 'exit');
    assert.equal(joinCode, 0, 'dynamo join n4 --wait succeeds');

    // the ring names the advertised addresses, never 0.0.0.0
    client = await DynamoClient.connect({
      seeds: [`${hosts.get('10.0.0.11')!.ip}:7000`],
      cluster: gatewayEnv.DYNAMO_CLUSTER!,
      secret: SECRET,
      timeoutMs: 5000,
    });
    const cl = client;
    await waitFor('n4 in the ring', async () => {
      await cl.refreshRing();
      return cl.ring.members.length === 4 && cl.ring.members.every((m) => !m.leaving);
    }, 60_000, 250);
    assert.deepEqual(
      cl.ring.members.map((m) => `${m.id}=${m.address}`).sort(),
      [
        ['n1', '10.0.0.11'],
        ['n2', '10.0.0.12'],
        ['n3', '10.0.0.13'],
        ['n4', '10.0.0.14'],
      ].map(([id, ip]) => `${id}=${hosts.get(ip!)!.ip}:7000`),
    );

    // a write and a read through the gateway, with the API key of the guide's keys file
    const gql = async (query: string) => {
      const res = await fetch(`http://${ops.ip}:4000/graphql`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${API_KEY}`, 'x-graphql-yoga-csrf': '1' }, body: JSON.stringify({ query }) });
      return (await res.json()) as { data?: Record<string, any>; errors?: unknown[] };
    };
    await waitFor('the gateway ready', async () => (await fetch(`http://${ops.ip}:4000/ready`)).ok, 30_000, 200);
    assert.equal((await gql('mutation { put(key: "hello", value: "from the guide") { acks } }')).errors, undefined);
    assert.deepEqual((await gql('{ get(key: "hello") { siblings { value } } }')).data?.get, { siblings: [{ value: 'from the guide' }] });

    // n2 goes down; writes leave hints for it; back up, its peers queue the replays in Redis on
    // the operations host and the workers there deliver them
    const n2 = nodes.get('n2')!;
    n2.kill('SIGKILL');
    await once(n2, 'exit');
    await waitFor('n2 seen down', async () => (await cl.status('n1')).unreachable.includes('n2'), 15_000, 200);
    const keys = Array.from({ length: 200 }, (_, i) => `mh${i}`);
    for (let i = 0; i < keys.length; i += 50) await Promise.all(keys.slice(i, i + 50).map((k) => cl.put(k, Buffer.from(k), { w: 2 })));
    const up = ['n1', 'n3', 'n4'];
    const hinted = (await Promise.all(up.map((n) => cl.status(n)))).reduce((s, x) => s + x.hints, 0);
    assert.ok(hinted > 0, 'hints were kept for n2');
    await startNode('node.env', '10.0.0.12', 'n2');
    await waitFor(
      'every hint replayed',
      async () => (await Promise.all(cl.ring.members.map((m) => cl.status(m.id)))).every((s) => s.hints === 0),
      60_000,
      250,
    );
    const owned = keys.filter((k) => cl.view.primaries(cl.view.partitionOf(k)).includes('n2'));
    const reply = await cl.request('n2', { type: 'keysRead', keys: owned });
    assert.equal(reply.type === 'keysReadReply' ? reply.entries.length : -1, owned.length, 'n2 holds every key it owns');
    const redis = new Redis({ host: ops.ip, port: 6379 });
    try {
      assert.ok((await redis.zcard(`${keyPrefix('dynamo')}:handoff:completed`)) > 0, 'the replays ran as jobs in the guide\'s Redis');
    } finally {
      redis.disconnect();
    }
    process.stdout.write(
      `# ${[...hosts.values()].map((h) => `${h.id} at ${h.ip}`).join(', ')}; ${hinted} hints for n2 replayed through the queue; n2 holds its ${owned.length} keys\n`,
    );
  } finally {
    client?.close();
    for (const p of processes.reverse()) {
      if (p.exitCode !== null || p.signalCode !== null) continue;
      const exited = once(p, 'exit');
      p.kill('SIGTERM');
      const timer = setTimeout(() => p.kill('SIGKILL'), 15_000);
      await exited;
      clearTimeout(timer);
    }
    net?.destroy();
    rmSync(dir, { recursive: true, force: true });
  }
});
