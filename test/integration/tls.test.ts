// TLS with certificates made at test time: nodes replicate over wss://, the client library and
// the CLI dial wss://, the gateway serves https and dials the nodes over wss://; whoever does
// not trust the authority that signed a certificate is refused.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { request } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { StoreError } from '../../client/src/core/errors.ts';
import { DynamoClient } from '../../client/src/client.ts';
import { LocalCluster, ROOT, TS_NODE_ARGS, startService, stopProcess } from '../../bin/launcher.ts';
import { readCa } from '../../storage/transport/tls.ts';
import { makeCa, makeCert, type DevCa, type DevCert } from '../../bin/dev-certs.ts';
import { TEST_SECRET, withCluster } from '../helpers/cluster.ts';
import { TEST_CONTEXT_KEY, CSRF } from '../helpers/stack.ts';
import { waitFor } from '../helpers/wait.ts';

const REDIS = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const output = process.env.NODE_OUTPUT === '1' ? 'inherit' : 'ignore';
const text = (v: Uint8Array) => Buffer.from(v).toString('utf8');

interface Pki {
  readonly dir: string;
  readonly cluster: DevCa;
  readonly node: DevCert;
  readonly rogue: DevCa;
  readonly rogueNode: DevCert;
}

function withPki(body: (pki: Pki) => Promise<void>): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'dynamo-tls-'));
  const cluster = makeCa(dir, 'cluster');
  const rogue = makeCa(dir, 'rogue');
  return body({ dir, cluster, node: makeCert(cluster, 'node'), rogue, rogueNode: makeCert(rogue, 'rogue-node') }).finally(() =>
    rmSync(dir, { recursive: true, force: true }),
  );
}

const refused = (pattern: RegExp) => (e: unknown) => e instanceof StoreError && e.code === 'UNAVAILABLE' && pattern.test(e.message);

test('TLS between nodes and from the client library: a put is replicated to every peer over wss://; a plain client, and one trusting another authority, are refused; trusting old and new authorities at once works', async () => {
  await withPki(async ({ cluster: ca, node, rogue }) => {
    await withCluster({ nodes: 3, basePort: 7591, tls: { cert: node.cert, key: node.key, ca: ca.ca } }, async ({ cluster, client }) => {
      const w = await client.put('secure', Buffer.from('"over wss"'), { w: 3 });
      assert.equal(w.acks, 3, 'the coordinator reached both peers over wss://');
      for (const id of ['n1', 'n2', 'n3']) {
        const r = await client.request(id, { type: 'inspect', key: 'secure' });
        assert.ok(r.type === 'inspectReply' && r.own.length === 1 && text(r.own[0]!.value) === '"over wss"', `${id} holds the write`);
      }
      await waitFor('gossip over wss:// to find every member reachable', async () => (await client.status('n1')).unreachable.length === 0, 15_000, 100);

      // a client that dials plain ws:// gets no answer from a TLS listener
      await assert.rejects(
        DynamoClient.connect({ seeds: cluster.seeds, cluster: cluster.cluster, secret: TEST_SECRET, timeoutMs: 3000 }),
        (e: unknown) => e instanceof StoreError && e.code === 'UNAVAILABLE',
      );
      // a client trusting another authority, or only the system's, refuses the nodes' certificate
      await assert.rejects(
        DynamoClient.connect({
          seeds: cluster.seeds,
          cluster: cluster.cluster,
          secret: TEST_SECRET,
          timeoutMs: 3000,
          tls: readCa(rogue.ca),
        }),
        refused(/certificate is not trusted/),
      );
      await assert.rejects(
        DynamoClient.connect({ seeds: cluster.seeds, cluster: cluster.cluster, secret: TEST_SECRET, timeoutMs: 3000, tls: { ca: [] } }),
        refused(/certificate is not trusted by the system/),
      );
      // during a rotation a client trusts both authorities: either signs a certificate it accepts
      const both = await DynamoClient.connect({
        seeds: cluster.seeds,
        cluster: cluster.cluster,
        secret: TEST_SECRET,
        timeoutMs: 3000,
        tls: readCa(`${rogue.ca},${ca.ca}`),
      });
      try {
        const r = await both.get('secure');
        assert.deepEqual(r.siblings.map((v) => text(v.value)), ['"over wss"']);
      } finally {
        both.close();
      }

      // the CLI dials wss:// with --tls-ca
      const cli = (args: string[], env: Record<string, string> = {}) =>
        promisify(execFile)(
          process.execPath,
          [...TS_NODE_ARGS, join(ROOT, 'bin/dynamo.ts'), '--seeds', cluster.seeds.join(','), '--json', ...args],
          { cwd: ROOT, env: { ...process.env, DYNAMO_SECRET: TEST_SECRET, ...env } },
        );
      const got = await cli(['get', 'secure', '--tls-ca', ca.ca]);
      assert.match(got.stdout, /over wss/);
      const viaEnv = await cli(['put', 'from-cli', '"hi"'], { DYNAMO_TLS_CA: ca.ca });
      assert.match(viaEnv.stdout, /"acks":/);
      await assert.rejects(
        cli(['get', 'secure']),
        (e: { stderr?: string }) => /TLS/.test(e.stderr ?? ''),
        'without --tls-ca the CLI is told the node may speak TLS',
      );
    });
  });
});

test('a node that does not trust the authority of its peers\' certificates cannot reach them: writes it coordinates find no replica', async () => {
  await withPki(async ({ cluster: ca, node, rogue }) => {
    const dataDir = mkdtempSync(join(tmpdir(), 'dynamo-test-'));
    const cluster = new LocalCluster({
      nodes: 3,
      basePort: 7596,
      dataDir,
      secret: TEST_SECRET,
      output,
      tls: { cert: node.cert, key: node.key, ca: ca.ca },
    });
    let client: DynamoClient | undefined;
    try {
      await cluster.startNode('n1');
      await cluster.startNode('n2');
      // n3 has a good certificate, but trusts only the rogue authority
      await cluster.startNode('n3', 30_000, ['--tls-ca', rogue.ca]);
      client = await DynamoClient.connect({
        seeds: cluster.seeds,
        cluster: cluster.cluster,
        secret: TEST_SECRET,
        timeoutMs: 5000,
        tls: cluster.clientTls,
      });
      // n1 and n2 trust each other
      assert.equal(
        (await client.request('n1', { type: 'put', key: 'k', value: Buffer.from('"1"'), deleted: false, context: null, w: 2, pw: 0 })).type,
        'putReply',
      );
      // n3 refuses its peers' certificates, so it cannot replicate a write it coordinates
      await assert.rejects(
        client.request('n3', { type: 'put', key: 'k2', value: Buffer.from('"3"'), deleted: false, context: null, w: 2, pw: 0 }),
        (e: unknown) => e instanceof StoreError && e.code !== 'UNAVAILABLE',
      );
      await waitFor('n3 to find both peers unreachable', async () => (await client!.status('n3')).unreachable.length === 2, 20_000, 200);
    } finally {
      client?.close();
      await cluster.stop().catch(() => undefined);
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
});

/** POST a GraphQL operation over https trusting `ca` (a PEM file), or none. */
function gqlHttps(url: string, ca: string | null, query: string): Promise<{ status: number; body: any }> {
  return new Promise((resolve, reject) => {
    const body = JSON.stringify({ query });
    const req = request(
      url,
      { method: 'POST', ...(ca ? { ca: readFileSync(ca) } : {}), headers: { 'content-type': 'application/json', ...CSRF } },
      (res) => {
        let data = '';
        res.on('data', (c: Buffer) => (data += c.toString('utf8')));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: JSON.parse(data) }));
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

test('the gateway serves https and dials the nodes over wss://: a put and a get round trip; a client that does not trust its certificate is refused; the repair workers dial wss:// with --tls-ca', async () => {
  await withPki(async ({ cluster: ca, node }) => {
    await withCluster({ nodes: 3, basePort: 7581, tls: { cert: node.cert, key: node.key, ca: ca.ca } }, async ({ cluster }) => {
      const port = 4591;
      let gateway: ChildProcess | undefined;
      try {
        gateway = await startService({
          entry: 'bin/gateway.ts',
          args: [
            '--port',
            String(port),
            '--seeds',
            cluster.seeds.join(','),
            '--tls-cert',
            node.cert,
            '--tls-key',
            node.key,
            '--tls-ca',
            ca.ca,
          ],
          env: { DYNAMO_SECRET: TEST_SECRET, GATEWAY_CONTEXT_KEYS: TEST_CONTEXT_KEY, GATEWAY_LOG_LEVEL: 'warn' },
          health: `127.0.0.1:${port}`,
          healthCa: ca.ca,
          output,
        });
        const url = `https://127.0.0.1:${port}/graphql`;
        await waitFor('the gateway to reach the cluster over wss://', async () => (await gqlHttps(url, ca.ca, '{ cluster { n } }')).body.data?.cluster?.n === 3, 20_000, 100);
        const put = await gqlHttps(url, ca.ca, 'mutation { put(key: "via-https", value: {tls: true}, w: 3) { acks } }');
        assert.equal(put.body.data?.put?.acks, 3, JSON.stringify(put.body));
        const get = await gqlHttps(url, ca.ca, '{ get(key: "via-https") { siblings { value } } }');
        assert.deepEqual(get.body.data?.get?.siblings, [{ value: { tls: true } }]);
        await assert.rejects(gqlHttps(url, null, '{ cluster { n } }'), /self-signed certificate in certificate chain|unable to verify/);

        // the repair workers connect to the cluster (over wss://) before they report healthy
        const jobs = (port: number, args: string[]) =>
          startService({
            entry: 'bin/jobs.ts',
            args: ['--port', String(port), '--seeds', cluster.seeds.join(','), ...args],
            env: { DYNAMO_SECRET: TEST_SECRET, REDIS_URL: REDIS, REPAIR_QUEUE_PREFIX: 'tls-test', JOBS_LOG_LEVEL: 'warn' },
            health: `127.0.0.1:${port}`,
            output,
            timeoutMs: 20_000,
          });
        await stopProcess(await jobs(4592, ['--tls-ca', ca.ca, '--no-schedule']));
        await assert.rejects(jobs(4593, ['--no-schedule']), /exited/, 'without --tls-ca the workers cannot reach the nodes and stop');
      } finally {
        await stopProcess(gateway);
      }
    });
  });
});
