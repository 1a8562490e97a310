// Roles on the node protocol, against real node processes that take identities only (no
// cluster secret): the handshake's refusals, and for each role the allowed side and the
// refused side of its boundary (client/src/auth/roles.ts), with nothing changed by a refusal.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  decodeCertificate,
  encodeCertificate,
  issue,
  rawPublicKey,
  signHello,
  type CertificateFields,
} from '../../client/src/auth/certificate.ts';
import {
  authorityFiles,
  issueIdentity,
  loadAuthorityKey,
  loadIdentity,
  type ProcessIdentity,
} from '../../client/src/auth/identity-file.ts';
import type { Role } from '../../client/src/auth/roles.ts';
import { DynamoClient } from '../../client/src/client.ts';
import { StoreError } from '../../client/src/core/errors.ts';
import type { Version } from '../../client/src/core/siblings.ts';
import type { Request } from '../../client/src/protocol/messages.ts';
import { replayHints } from '../../storage/repair/handoff.ts';
import { Connection } from '../../client/src/transport/connection.ts';
import { IDENTITY_HEADER } from '../../client/src/transport/identity-headers.ts';
import { TEST_SECRET, withCluster, type TestCluster } from '../helpers/cluster.ts';
import { closed, exchange, upgrade } from '../helpers/raw-handshake.ts';
import { waitFor } from '../helpers/wait.ts';

const BASE = 7761;

function forbidden(pattern?: RegExp) {
  return (e: unknown) => e instanceof StoreError && e.code === 'FORBIDDEN' && (!pattern || pattern.test(e.message));
}

function unauthorized(pattern: RegExp) {
  return (e: unknown) => e instanceof StoreError && e.code === 'UNAUTHORIZED' && pattern.test(e.message);
}

async function clientWith(t: TestCluster, name: string, role: Role): Promise<DynamoClient> {
  return DynamoClient.connect({
    seeds: t.cluster.seeds,
    cluster: t.cluster.cluster,
    identity: loadIdentity(t.cluster.identity(name, role)),
    timeoutMs: 5000,
  });
}

/** A connection to one node with an identity, as the client library opens it. */
function connection(t: TestCluster, node: string, identity: ProcessIdentity): Connection {
  return new Connection({ address: t.cluster.node(node).address, cluster: t.cluster.cluster, identity });
}

const version = (actor: string, counter: number, value: string): Version => ({
  dot: { actor, counter },
  past: new Map(),
  deleted: false,
  writtenAt: 0,
  value: Buffer.from(JSON.stringify(value)),
});

/** What a node keeps for a key (own versions and hints), as the observer (a peer) reads it. */
async function held(t: TestCluster, node: string, key: string): Promise<string> {
  const r = await t.client.request(node, { type: 'inspect', key });
  assert.equal(r.type, 'inspectReply');
  return r.type === 'inspectReply'
    ? JSON.stringify({
        own: r.own.map((v) => [v.dot, Buffer.from(v.value).toString()]),
        hints: r.hints.map((h) => [h.owner, h.set.map((v) => v.dot)]),
      })
    : '';
}

/** A certificate made here, signed by `key`, for the handshake's refusals. */
function certificate(key: Parameters<typeof issue>[1], over: Partial<CertificateFields> = {}) {
  const holder = generateKeyPairSync('ed25519');
  const now = Date.now();
  const fields: CertificateFields = {
    cluster: 'dev',
    id: 'mallory',
    role: 'admin',
    publicKey: rawPublicKey(holder.publicKey),
    notBefore: new Date(now - 60_000).toISOString(),
    notAfter: new Date(now + 3_600_000).toISOString(),
    ...over,
  };
  return { encoded: encodeCertificate(issue(fields, key)), privateKey: holder.privateKey };
}

test('roles on the node protocol: the handshake and every role boundary, on nodes that take identities only', async (ctx) => {
  // the nodes leave hint replay to the repair workers (queued in Redis, which no worker reads here)
  const flags = ['--repair-redis-url', 'redis://127.0.0.1:6379'];
  await withCluster(
    { nodes: 4, basePort: BASE, secret: undefined, flags, env: { REPAIR_QUEUE_PREFIX: `roles-test-${process.pid}` } },
    async (t) => {
      const n1 = t.cluster.node('n1').address;
      const authorityKey = loadAuthorityKey(authorityFiles(join(t.dataDir, 'identities')).key);

      await ctx.test('the handshake refuses what it must, and the secret is not taken', async () => {
        const check = async (headers: Record<string, string>, pattern: RegExp) => {
          const r = await upgrade(n1, headers);
          assert.ok('status' in r, `expected a refusal for ${pattern}`);
          assert.equal(r.status, 401);
          assert.match(r.body, pattern);
        };
        await check({ authorization: `Bearer ${TEST_SECRET}` }, /takes certificates only/);
        await check({}, /takes certificates only/);
        await check(
          { [IDENTITY_HEADER]: certificate(generateKeyPairSync('ed25519').privateKey).encoded },
          /not signed by this cluster's authority/,
        );
        await check(
          {
            [IDENTITY_HEADER]: certificate(authorityKey, {
              notAfter: new Date(Date.now() - 1000).toISOString(),
              notBefore: new Date(Date.now() - 7_200_000).toISOString(),
            }).encoded,
          },
          /expired at/,
        );
        await check(
          {
            [IDENTITY_HEADER]: certificate(authorityKey, {
              notBefore: new Date(Date.now() + 3_600_000).toISOString(),
              notAfter: new Date(Date.now() + 7_200_000).toISOString(),
            }).encoded,
          },
          /not valid before/,
        );
        await check({ [IDENTITY_HEADER]: certificate(authorityKey, { cluster: 'other' }).encoded }, /for cluster 'other', not 'dev'/);
        await check({ [IDENTITY_HEADER]: 'bm90IGpzb24' }, /not JSON/);

        // the node's own client library, told the same
        const expired = join(t.dataDir, 'expired.json');
        writeFileSync(
          expired,
          issueIdentity(authorityKey, { cluster: 'dev', id: 'late', role: 'client', days: 1, now: Date.now() - 3 * 86_400_000 }),
        );
        assert.throws(() => loadIdentity(expired), /expired at/);

        // a good certificate, but the hello signed with another key: refused, connection closed
        const good = certificate(authorityKey);
        const a = await upgrade(n1, { [IDENTITY_HEADER]: good.encoded });
        assert.ok('ws' in a);
        assert.equal(a.node, 'n1');
        const wrongKey = signHello('dev', 'n1', a.nonce, generateKeyPairSync('ed25519').privateKey);
        const refused = await exchange(a.ws, 0, { type: 'hello', signature: wrongKey });
        assert.ok(
          refused?.type === 'error' && refused.code === 'UNAUTHORIZED' && /does not verify/.test(refused.message),
          JSON.stringify(refused),
        );
        await closed(a.ws);

        // a request before the hello: refused, connection closed
        const b = await upgrade(n1, { [IDENTITY_HEADER]: good.encoded });
        assert.ok('ws' in b);
        const early = await exchange(b.ws, 1, { type: 'ring' });
        assert.ok(
          early?.type === 'error' && early.code === 'UNAUTHORIZED' && /must be hello, not ring/.test(early.message),
          JSON.stringify(early),
        );
        await closed(b.ws);

        // a replayed handshake: the hello that opened one connection opens no other
        const c = await upgrade(n1, { [IDENTITY_HEADER]: good.encoded });
        assert.ok('ws' in c);
        const recorded = signHello('dev', 'n1', c.nonce, good.privateKey);
        assert.deepEqual(await exchange(c.ws, 0, { type: 'hello', signature: recorded }), { type: 'ack' });
        assert.equal((await exchange(c.ws, 2, { type: 'ping' }))?.type, 'pong');
        const again = await exchange(c.ws, 3, { type: 'hello', signature: recorded });
        assert.ok(again?.type === 'error' && again.code === 'PROTOCOL', JSON.stringify(again));
        c.ws.close();
        const d = await upgrade(n1, { [IDENTITY_HEADER]: good.encoded });
        assert.ok('ws' in d);
        assert.notDeepEqual(d.nonce, c.nonce);
        const replayed = await exchange(d.ws, 0, { type: 'hello', signature: recorded });
        assert.ok(replayed?.type === 'error' && replayed.code === 'UNAUTHORIZED', JSON.stringify(replayed));
        await closed(d.ws);
        // a hello signed for another node is no good here either
        const e = await upgrade(n1, { [IDENTITY_HEADER]: good.encoded });
        assert.ok('ws' in e);
        const forN2 = await exchange(e.ws, 0, { type: 'hello', signature: signHello('dev', 'n2', e.nonce, good.privateKey) });
        assert.ok(forN2?.type === 'error' && forN2.code === 'UNAUTHORIZED', JSON.stringify(forN2));
        await closed(e.ws);

        // through the client library: a certificate of another authority is UNAUTHORIZED, named
        const foreign = certificate(generateKeyPairSync('ed25519').privateKey);
        const conn = connection(t, 'n1', {
          certificate: decodeCertificate(foreign.encoded),
          encoded: foreign.encoded,
          privateKey: foreign.privateKey,
        });
        await assert.rejects(conn.request({ type: 'ping' }, 3000), unauthorized(/not signed by this cluster's authority/));
        conn.close();
      });

      await ctx.test('client: reads, writes, deletes, the ring and status; never replication, gossip, repair or ring changes', async () => {
        const client = await clientWith(t, 'gateway-1', 'client');
        try {
          const w = await client.put('c:key', Buffer.from('"v1"'));
          assert.ok(w.acks >= 2);
          assert.equal(Buffer.from((await client.get('c:key')).siblings[0]!.value).toString(), '"v1"');
          const many = await client.getMany(['c:key', 'c:none']);
          assert.equal(many.length, 2);
          await client.delete('c:gone');
          assert.equal((await client.request('n1', { type: 'status' })).type, 'statusReply');
          assert.equal((await client.request('n2', { type: 'ring' })).type, 'ringReply');

          const ringBefore = (await t.client.status('n1')).ringVersion;
          const heldBefore = await held(t, 'n1', 'c:key');
          const pushed = { ...t.client.ring, version: t.client.ring.version + 100, owners: [...t.client.ring.owners].reverse() };
          const refused: Request[] = [
            { type: 'ringPush', cluster: 'dev', ring: pushed },
            { type: 'replicaWrite', key: 'c:key', hintFor: null, set: [version('forger@e', 1_000_000, 'forged')] },
            { type: 'keysMerge', entries: [{ key: 'c:key', set: [version('forger@e', 1, 'forged')] }] },
            { type: 'hintsDrop', hints: [] },
            { type: 'reclaim', keys: [{ key: 'c:gone', dots: [] }] },
            { type: 'replicaRead', key: 'c:key' },
            { type: 'gossip', cluster: 'dev', from: 'n9', digest: { version: 0, hash: '' }, beats: [] },
            { type: 'transferRead', partition: 0, after: '', limit: 10, maxBytes: 1000 },
            { type: 'change', kind: 'leave', node: 'n4', address: '', weight: 1, by: '', expectedVersion: 0 },
            { type: 'inspect', key: 'c:key' },
            { type: 'hints', owner: null, limit: 10 },
          ];
          for (const r of refused)
            await assert.rejects(
              client.request('n1', r),
              forbidden(new RegExp(`gateway-1 has the client role, which may not send ${r.type}`)),
              r.type,
            );
          assert.equal((await t.client.status('n1')).ringVersion, ringBefore, 'the pushed ring was not taken');
          assert.equal(await held(t, 'n1', 'c:key'), heldBefore, 'the forged versions were not stored');
          assert.equal(Buffer.from((await client.get('c:key')).siblings[0]!.value).toString(), '"v1"');
        } finally {
          client.close();
        }
      });

      await ctx.test('repair: replays hints; a client may not drop or read them; repair may not write or push rings', async () => {
        const repair = await clientWith(t, 'repair', 'repair');
        const client = await clientWith(t, 'app', 'client');
        try {
          // n4 stops: writes for its keys leave hints on the fallbacks
          await t.cluster.signal('n4', 'SIGTERM');
          const keys = Array.from({ length: 40 }, (_, i) => `h:${i}`);
          for (const k of keys) await client.put(k, Buffer.from(`"${k}"`));
          const holders = await waitFor(
            'hints for n4',
            async () => {
              const found: string[] = [];
              for (const n of ['n1', 'n2', 'n3']) {
                const r = await repair.request(n, { type: 'hints', owner: 'n4', limit: 100 });
                if (r.type === 'hintsReply' && r.total > 0) found.push(n);
              }
              return found.length > 0 ? found : null;
            },
            30_000,
            200,
          );
          const holder = holders[0]!;
          const hintsBefore = await repair.request(holder, { type: 'hints', owner: 'n4', limit: 1000 });
          assert.ok(hintsBefore.type === 'hintsReply');
          const first = hintsBefore.hints[0]!;
          const copy = await held(t, holder, first.key);
          // a client cannot drop a hint (nor read the hint store)
          await assert.rejects(
            client.request(holder, { type: 'hintsDrop', hints: [{ owner: 'n4', key: first.key, dots: [] }] }),
            forbidden(),
          );
          await assert.rejects(client.request(holder, { type: 'hintsRead', owner: 'n4', after: null, limit: 10 }), forbidden());
          assert.equal(await held(t, holder, first.key), copy, 'the hint is still there');
          // nor may repair write as a coordinator, or push a ring
          await assert.rejects(
            repair.request('n1', { type: 'put', key: 'r:x', value: Buffer.from('1'), deleted: false, context: null, w: 0, pw: 0 }),
            forbidden(/repair role/),
          );
          await assert.rejects(repair.request('n1', { type: 'ringPush', cluster: 'dev', ring: t.client.ring }), forbidden());
          await assert.rejects(
            repair.request('n1', { type: 'change', kind: 'leave', node: 'n4', address: '', weight: 1, by: '', expectedVersion: 0 }),
            forbidden(),
          );

          // n4 returns; the repair identity replays the hints to it, as the workers do
          await t.cluster.startNode('n4');
          await waitFor('n4 reachable to the repair client', () => repair.request('n4', { type: 'ping' }).then((r) => r.type === 'pong'));
          let delivered = 0;
          for (const h of holders) {
            const stats = await replayHints({
              transport: repair.transport,
              view: repair.view,
              holder: h,
              owner: 'n4',
              batch: 100,
              timeoutMs: 5000,
            });
            assert.equal(stats.failed, 0);
            delivered += stats.delivered;
          }
          assert.ok(delivered >= hintsBefore.total, `delivered ${delivered} of ${hintsBefore.total}`);
          for (const h of holders) {
            const left = await repair.request(h, { type: 'hints', owner: 'n4', limit: 10 });
            assert.ok(left.type === 'hintsReply' && left.total === 0, `${h} still holds hints for n4`);
          }
          const own = await t.client.request('n4', { type: 'inspect', key: first.key });
          assert.ok(
            own.type === 'inspectReply' && own.own.some((v) => Buffer.from(v.value).toString() === `"${first.key}"`),
            'n4 holds the replayed version',
          );
        } finally {
          repair.close();
          client.close();
        }
      });

      await ctx.test(
        'admin: ring changes through the claimant (join, leave), status, inspect, hints; never ringPush or replication',
        async () => {
          const admin = await clientWith(t, 'operator', 'admin');
          try {
            await assert.rejects(
              admin.request('n2', { type: 'ringPush', cluster: 'dev', ring: { ...admin.ring, version: admin.ring.version + 1 } }),
              forbidden(/admin role, which may not send ringPush/),
            );
            await assert.rejects(
              admin.request('n2', { type: 'replicaWrite', key: 'a:k', hintFor: null, set: [version('op@e', 1, 'x')] }),
              forbidden(),
            );
            await assert.rejects(admin.request('n2', { type: 'keysRead', keys: ['a:k'] }), forbidden());
            assert.equal((await admin.request('n2', { type: 'inspect', key: 'c:key' })).type, 'inspectReply');
            assert.equal((await admin.request('n2', { type: 'hints', owner: null, limit: 5 })).type, 'hintsReply');
            await admin.put('a:k', Buffer.from('"kept"'));

            // a new node joins as the README says: started with --seeds, then joined through the
            // claimant (here sent to n2, which is not the claimant and forwards it as a peer)
            const n5 = t.cluster.addNode();
            await t.cluster.startNode(n5.id);
            const join = await admin.request('n2', {
              type: 'change',
              kind: 'join',
              node: n5.id,
              address: n5.address,
              weight: 1,
              by: '',
              expectedVersion: 0,
            });
            assert.ok(join.type === 'changeReply' && join.claimant === 'n1', JSON.stringify(join));
            await waitFor(
              `${n5.id} is a member, the change committed`,
              async () => {
                await admin.refreshRing();
                return admin.ring.members.some((m) => m.id === n5.id) && !admin.ring.next;
              },
              60_000,
              200,
            );
            const leave = await admin.request('n3', {
              type: 'change',
              kind: 'leave',
              node: 'n4',
              address: '',
              weight: 1,
              by: '',
              expectedVersion: 0,
            });
            assert.equal(leave.type, 'changeReply');
            await waitFor(
              'n4 has left the ring',
              async () => {
                await admin.refreshRing();
                return !admin.ring.members.some((m) => m.id === 'n4') && !admin.ring.next;
              },
              60_000,
              200,
            );
            assert.equal(Buffer.from((await admin.get('a:k')).siblings[0]!.value).toString(), '"kept"');
          } finally {
            admin.close();
          }
        },
      );

      await ctx.test('peer: replication and reads of replicas; the nodes themselves replicate over identities', async () => {
        // every acknowledged write above went between nodes that proved peer identities; W=3 needs all three
        await t.client.refreshRing();
        const w = await t.client.put('p:all', Buffer.from('"three"'), { w: 3 });
        assert.equal(w.acks, 3);
        const peer = await clientWith(t, 'n9', 'peer');
        try {
          const p = t.client.view.partitionOf('p:direct');
          const owner = t.client.view.primaries(p)[0]!;
          assert.equal(
            (await peer.request(owner, { type: 'replicaWrite', key: 'p:direct', hintFor: null, set: [version('n9@e', 1, 'replicated')] }))
              .type,
            'ack',
          );
          const r = await peer.request(owner, { type: 'replicaRead', key: 'p:direct' });
          assert.ok(r.type === 'replicaReadReply' && r.set.some((v) => Buffer.from(v.value).toString() === '"replicated"'));
        } finally {
          peer.close();
        }
      });
    },
  );
});
