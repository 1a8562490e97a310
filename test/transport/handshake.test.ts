// The handshake on the real node server, in process: what a node in each mode takes, the
// caller's `from` and role, the protocol version identities need, and a connection closed when
// its certificate expires.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { encodeCertificate, issue, rawPublicKey } from '../../client/src/auth/certificate.ts';
import type { ProcessIdentity } from '../../client/src/auth/identity-file.ts';
import type { Role } from '../../client/src/auth/roles.ts';
import { StoreError } from '../../client/src/core/errors.ts';
import type { Reply, Request } from '../../client/src/protocol/messages.ts';
import { silentLogger } from '../../client/src/runtime.ts';
import { Connection } from '../../client/src/transport/connection.ts';
import { NodeServer } from '../../storage/transport/server.ts';
import { waitFor } from '../helpers/wait.ts';

const SECRET = 'handshake-test-secret-0123456789';
const CLUSTER = 'test';
const authority = generateKeyPairSync('ed25519');

function identity(id: string, role: Role, validForMs = 3_600_000): ProcessIdentity {
  const holder = generateKeyPairSync('ed25519');
  const now = Date.now();
  const certificate = issue(
    {
      cluster: CLUSTER,
      id,
      role,
      publicKey: rawPublicKey(holder.publicKey),
      notBefore: new Date(now - 60_000).toISOString(),
      notAfter: new Date(now + validForMs).toISOString(),
    },
    authority.privateKey,
  );
  return { certificate, encoded: encodeCertificate(certificate), privateKey: holder.privateKey };
}

/** A node that answers ping with pong and records who sent each request. */
async function withServer(
  options: { secret?: string; authorities?: boolean },
  fn: (address: string, seen: (string | null)[]) => Promise<void>,
): Promise<void> {
  const seen: (string | null)[] = [];
  const handler = async (from: string | null, request: Request): Promise<Reply> => {
    seen.push(from);
    return request.type === 'ping' ? { type: 'pong' } : { type: 'ack' };
  };
  const server = new NodeServer({
    host: '127.0.0.1',
    port: 0,
    cluster: CLUSTER,
    id: 'n1',
    secret: options.secret,
    authorities: options.authorities ? [authority.publicKey] : undefined,
    handler,
    logger: silentLogger,
  });
  const port = await server.listen();
  try {
    await fn(`127.0.0.1:${port}`, seen);
  } finally {
    await server.closeConnections();
    server.stopListening();
  }
}

test("a peer's from is its certificate's id, whatever it claims; other roles have none", async () => {
  await withServer({ authorities: true }, async (address, seen) => {
    const peer = new Connection({ address, cluster: CLUSTER, identity: identity('n2', 'peer'), self: 'n3' });
    const client = new Connection({ address, cluster: CLUSTER, identity: identity('n2', 'client') });
    try {
      assert.deepEqual(await peer.request({ type: 'ping' }, 2000), { type: 'pong' });
      assert.deepEqual(await client.request({ type: 'ping' }, 2000), { type: 'pong' });
      assert.deepEqual(seen, ['n2', null]);
      assert.deepEqual(await peer.request({ type: 'replicaRead', key: 'k' }, 2000), { type: 'ack' });
      const refused = await client.request({ type: 'replicaRead', key: 'k' }, 2000);
      assert.ok(
        refused.type === 'error' &&
          refused.code === 'FORBIDDEN' &&
          /n2 has the client role, which may not send replicaRead/.test(refused.message),
        JSON.stringify(refused),
      );
      assert.ok(client.connected, 'a refused request leaves the connection up');
      assert.equal(seen.length, 3, 'the refused request never reached the handler');
    } finally {
      peer.close();
      client.close();
    }
  });
});

test('a node with a secret and no authority refuses certificates; one with both takes both', async () => {
  await withServer({ secret: SECRET }, async (address) => {
    const c = new Connection({ address, cluster: CLUSTER, identity: identity('gw', 'client') });
    await assert.rejects(
      c.request({ type: 'ping' }, 2000),
      (e) => e instanceof StoreError && e.code === 'UNAUTHORIZED' && /takes the cluster secret, not certificates/.test(e.message),
    );
    c.close();
  });
  await withServer({ secret: SECRET, authorities: true }, async (address, seen) => {
    const legacy = new Connection({ address, cluster: CLUSTER, secret: SECRET, self: 'n7' });
    const modern = new Connection({ address, cluster: CLUSTER, identity: identity('gw', 'client') });
    try {
      assert.deepEqual(await legacy.request({ type: 'ping' }, 2000), { type: 'pong' });
      assert.deepEqual(await modern.request({ type: 'ping' }, 2000), { type: 'pong' });
      // the secret is a peer credential, as before; the legacy peer names itself
      assert.deepEqual(await legacy.request({ type: 'replicaRead', key: 'k' }, 2000), { type: 'ack' });
      assert.deepEqual(seen, ['n7', null, 'n7']);
    } finally {
      legacy.close();
      modern.close();
    }
  });
});

test('an identity needs protocol version 5: a connection offering at most 4 is refused before any request', async () => {
  await withServer({ authorities: true }, async (address) => {
    const old = new Connection({ address, cluster: CLUSTER, identity: identity('gw', 'client'), protocol: { min: 2, max: 4 } });
    await assert.rejects(
      old.request({ type: 'ping' }, 2000),
      (e) => e instanceof StoreError && e.details.sent === false && /needs protocol version 5/.test(e.message),
    );
    old.close();
  });
});

test('a connection is closed when its certificate expires, and a new one with it is refused', async () => {
  await withServer({ authorities: true }, async (address) => {
    const brief = identity('gw', 'client', 1500);
    const c = new Connection({ address, cluster: CLUSTER, identity: brief, retryAfterMs: 0 });
    try {
      assert.deepEqual(await c.request({ type: 'ping' }, 2000), { type: 'pong' });
      await waitFor('the node to close the connection at notAfter', () => !c.connected, 10_000);
      await assert.rejects(
        c.request({ type: 'ping' }, 2000),
        (e) => e instanceof StoreError && e.code === 'UNAUTHORIZED' && /expired at/.test(e.message),
      );
    } finally {
      c.close();
    }
  });
});
