// The client as another project gets it: `npm pack -w client`, the tarball installed into a
// fresh project made from examples/client, type-checked against the package's own types and
// run against a real cluster: a get, a put, and two writers' siblings merged. Run by
// `npm run test:client-package` (and CI), not by `npm test`: it installs from the npm cache.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { cpSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { LocalCluster } from '../../bin/launcher.ts';
import { TEST_SECRET } from '../helpers/cluster.ts';

const run = promisify(execFile);
const ROOT = join(import.meta.dirname, '..', '..');
/** what the client must never bring into a project: the server's runtime */
const SERVER_SIDE = [
  'hyper-express',
  'uWebSockets.js',
  'lmdb',
  'pino',
  'ioredis',
  'bullmq',
  'graphql',
  'graphql-yoga',
  'zod',
  'prom-client',
];

interface NpmTree {
  readonly dependencies?: Record<string, NpmTree>;
}

/** The version of a package the repository has installed. */
async function installedVersion(name: string): Promise<string> {
  const tree = JSON.parse((await run('npm', ['ls', name, '--json', '--depth=0'], { cwd: ROOT })).stdout) as NpmTree & {
    dependencies: Record<string, { version: string }>;
  };
  return tree.dependencies[name]!.version;
}

function names(tree: NpmTree, out = new Set<string>()): Set<string> {
  for (const [name, sub] of Object.entries(tree.dependencies ?? {})) {
    out.add(name);
    names(sub, out);
  }
  return out;
}

test('the packed client installs into another project, type-checks, and gets, puts and merges siblings', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'client-package-'));
  const project = join(dir, 'project');
  const cluster = new LocalCluster({
    nodes: 3,
    basePort: 24110,
    dataDir: join(dir, 'data'),
    secret: TEST_SECRET,
    output: process.env.NODE_OUTPUT === '1' ? 'inherit' : 'ignore',
  });
  try {
    const packed = JSON.parse((await run('npm', ['pack', '-w', 'client', '--pack-destination', dir, '--json'], { cwd: ROOT })).stdout) as {
      filename: string;
      files: { path: string }[];
    }[];
    const files = packed[0]!.files.map((f) => f.path);
    assert.ok(
      files.includes('dist/index.js') && files.includes('dist/index.d.ts'),
      `the tarball holds the built package: ${files.join(', ')}`,
    );
    assert.deepEqual(
      files.filter((f) => !f.startsWith('dist/') && f !== 'package.json' && f !== 'README.md'),
      [],
      'and nothing but dist/, package.json and README.md',
    );

    cpSync(join(ROOT, 'examples/client'), project, { recursive: true, filter: (src) => !/node_modules|dist/.test(src) });
    // the project type-checks with the repository's TypeScript and Node types
    const versions = await Promise.all(['typescript', '@types/node'].map(async (p) => `${p}@${await installedVersion(p)}`));
    await run('npm', ['install', '--no-audit', '--no-fund', '--prefer-offline', join(dir, packed[0]!.filename), ...versions], {
      cwd: project,
    });

    const tree = JSON.parse((await run('npm', ['ls', '--all', '--json'], { cwd: project })).stdout) as NpmTree;
    const client = tree.dependencies?.['dynamo-gateway-client'];
    assert.ok(client, 'the project depends on the package');
    assert.deepEqual(Object.keys(client.dependencies ?? {}), ['js-md5', 'ws'], 'the client needs ws and js-md5 and nothing else');
    assert.deepEqual(
      SERVER_SIDE.filter((p) => names(tree).has(p)),
      [],
      'no server-side package was installed',
    );

    // the example type-checks against the package's `types` and builds
    await run(process.execPath, [join(project, 'node_modules/typescript/bin/tsc'), '-p', project]);

    await cluster.start();
    const env = { ...process.env, DYNAMO_SEEDS: cluster.seeds.join(','), DYNAMO_CLUSTER: cluster.cluster, DYNAMO_SECRET: TEST_SECRET };
    const { stdout } = await run(process.execPath, [join(project, 'dist/main.js'), 'packed-client'], {
      cwd: project,
      env,
      timeout: 30_000,
    });
    const result = JSON.parse(stdout) as { key: string; before: string[]; acks: number; siblings: string[]; merged: string[] };
    assert.equal(result.key, 'packed-client');
    assert.deepEqual(result.before, [], 'the key was not there');
    assert.ok(result.acks >= 2, `the put was acknowledged by W=2 replicas (got ${result.acks})`);
    assert.deepEqual(result.siblings, ['["apple"]', '["pear"]'], 'two blind puts are siblings');
    assert.deepEqual(result.merged, ['["apple","pear"]'], 'the merge written with their context replaced both');
  } finally {
    await cluster.stop().catch(() => undefined);
    rmSync(dir, { recursive: true, force: true });
  }
});
