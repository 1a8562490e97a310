// The compiled build that npm start, the CLI and the scripts run (docs/operations.md, The
// build). The test builds first (tsc is incremental: only what changed), so what it checks is
// never a stale dist/; every other test runs the sources through tsx.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { ROOT } from '../../bin/launcher.ts';
import { TEST_SECRET } from '../helpers/cluster.ts';
import { CSRF, TEST_CONTEXT_KEY } from '../helpers/stack.ts';

/** plain node: no tsx loader, from the arguments or the environment */
const plainNode = (args: string[], env: Record<string, string> = {}) =>
  spawnSync(process.execPath, args, { cwd: ROOT, encoding: 'utf8', env: { ...process.env, NODE_OPTIONS: '', ...env }, timeout: 60_000 });

test('npm run build: dist/ holds JavaScript importing JavaScript, with declarations; each entry point runs on plain node; the compiled launcher starts a compiled node and gateway, which find their assets', async () => {
  const build = spawnSync('npm', ['run', 'build', '--silent'], { cwd: ROOT, encoding: 'utf8', timeout: 300_000 });
  assert.equal(build.status, 0, `npm run build failed:\n${build.stdout}${build.stderr}`);

  const js = readdirSync(join(ROOT, 'dist'), { recursive: true, encoding: 'utf8' }).filter((f) => f.endsWith('.js'));
  assert.ok(js.length > 50, `dist/ has ${js.length} JavaScript files`);
  for (const f of js) {
    const text = readFileSync(join(ROOT, 'dist', f), 'utf8');
    assert.doesNotMatch(text, /(from|import)\s*\(?\s*'\.{1,2}\/[^']*\.ts'/, `dist/${f} imports a .ts file`);
    assert.ok(existsSync(join(ROOT, 'dist', f.replace(/\.js$/, '.d.ts'))), `dist/${f} has its declarations`);
  }

  // (as they always have: the servers print their usage on stderr and exit 2, and so does the CLI given no command)
  for (const [entry, usage, status] of [
    ['bin/dynamo.js', /^dynamo: command-line client/, 2],
    ['dist/bin/start.js', /^npm start -- /, 0],
    ['dist/bin/storage-node.js', /^storage node: /, 2],
    ['dist/bin/gateway.js', /^gateway: /, 2],
    ['dist/bin/jobs.js', /^jobs: /, 2],
  ] as const) {
    const run = plainNode([join(ROOT, entry), '--help']);
    assert.equal(run.status, status, `${entry} --help: ${run.stderr}`);
    assert.match(run.stdout + run.stderr, usage, entry);
  }

  const launcher = (await import(pathToFileURL(join(ROOT, 'dist/bin/launcher.js')).href)) as typeof import('../../bin/launcher.ts');
  assert.equal(launcher.ROOT, ROOT);
  assert.deepEqual(launcher.TS_NODE_ARGS, [], 'no tsx for compiled entry points');
  assert.equal(launcher.entryPoint('bin/gateway.ts'), join(ROOT, 'dist/bin/gateway.js'));
  const dir = mkdtempSync(join(tmpdir(), 'build-'));
  const cluster = new launcher.LocalCluster({
    nodes: 1,
    basePort: 7871,
    dataDir: dir,
    secret: TEST_SECRET,
    partitions: 8,
    n: 1,
    r: 1,
    w: 1,
  });
  try {
    await cluster.start();
    const node = cluster.node('n1').process!;
    assert.deepEqual(node.spawnargs.slice(1, 2), [join(ROOT, 'dist/bin/storage-node.js')]);
    // and the compiled CLI writes and reads through it
    const cli = (...args: string[]) =>
      plainNode([join(ROOT, 'bin/dynamo.js'), '--seeds', cluster.seeds.join(','), '--cluster', cluster.cluster, ...args], {
        DYNAMO_SECRET: TEST_SECRET,
      });
    const put = cli('put', 'built', 'compiled');
    assert.equal(put.status, 0, put.stderr);
    const get = cli('get', 'built', '--json');
    assert.equal(get.status, 0, get.stderr);
    assert.match(get.stdout, /"compiled"/);

    // a compiled gateway: GraphiQL's page and its bundled assets, and a query through it
    const gateway = await launcher.startService({
      entry: 'bin/gateway.ts',
      args: ['--port', '4771', '--seeds', cluster.seeds.join(','), '--cluster', cluster.cluster],
      env: { DYNAMO_SECRET: TEST_SECRET, GATEWAY_CONTEXT_KEYS: TEST_CONTEXT_KEY, REDIS_URL: '', GATEWAY_LOG_LEVEL: 'warn' },
      health: '127.0.0.1:4771',
    });
    try {
      assert.deepEqual(gateway.spawnargs.slice(1, 2), [join(ROOT, 'dist/bin/gateway.js')]);
      const page = await fetch('http://127.0.0.1:4771/graphql', { headers: { accept: 'text/html' } });
      assert.equal(page.status, 200);
      assert.match(await page.text(), /src="graphiql\/graphiql\.js"/);
      const script = await fetch('http://127.0.0.1:4771/graphiql/graphiql.js');
      assert.equal(script.status, 200);
      assert.ok((await script.arrayBuffer()).byteLength > 100_000, 'the bundled editor');
      const res = await fetch('http://127.0.0.1:4771/graphql', { method: 'POST', headers: { 'content-type': 'application/json', ...CSRF }, body: JSON.stringify({ query: '{ get(key: "built") { siblings { value } } }' }) });
      assert.deepEqual(await res.json(), { data: { get: { siblings: [{ value: 'compiled' }] } } });
    } finally {
      await launcher.stopProcess(gateway);
    }
  } finally {
    await cluster.stop();
    rmSync(dir, { recursive: true, force: true });
  }
});
