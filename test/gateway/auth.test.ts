// The Authenticator on its own, with real jose keys: a PEM public key (inline and in a file),
// a JWKS served over HTTP on loopback, what a JWKS file may not hold, and API keys by digest.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { createServer } from 'node:http';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import { exportJWK, exportSPKI, generateKeyPair, SignJWT } from 'jose';
import { ApiKeys } from '../../gateway/api-keys.ts';
import { AuthError, Authenticator } from '../../gateway/auth.ts';
import { JwtVerifier } from '../../gateway/jwt.ts';
import { canRead, canWrite } from '../../gateway/principal.ts';

const sign = (key: CryptoKey, claims: Record<string, unknown>, alg = 'RS256', kid?: string) =>
  new SignJWT(claims).setProtectedHeader({ alg, ...(kid ? { kid } : {}) }).setSubject('svc').setExpirationTime('5m').sign(key);

const refused = (e: unknown) => e instanceof AuthError && e.code === 'UNAUTHENTICATED';

test('a PEM public key, inline or in a file, verifies JWTs; a token signed by another key is refused', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'auth-pem-'));
  try {
    const { privateKey, publicKey } = await generateKeyPair('RS256');
    const other = await generateKeyPair('RS256');
    const pem = await exportSPKI(publicKey);
    writeFileSync(join(dir, 'key.pem'), pem);
    for (const keys of [pem, join(dir, 'key.pem')]) {
      const auth = new Authenticator({ jwt: JwtVerifier.load({ keys, clockToleranceS: 0 }) });
      assert.equal(auth.open, false);
      const p = await auth.authenticate(`Bearer ${await sign(privateKey, { dynamo: { read: ['a:'], write: ['a:b:'] } })}`, '127.0.0.1');
      assert.deepEqual([p.kind, p.name, p.limitId], ['jwt', 'svc', 'jwt:svc']);
      assert.deepEqual([canRead(p, 'a:x'), canRead(p, 'b:x'), canWrite(p, 'a:b:c'), canWrite(p, 'a:x')], [true, false, true, false]);
      await assert.rejects(auth.authenticate(`Bearer ${await sign(other.privateKey, {})}`, ''), refused);
      // no credential: anonymous, with no scope, since the gateway is not open
      const anon = await auth.authenticate(null, '10.0.0.7');
      assert.deepEqual(
        [anon.kind, anon.limitId, anon.read.length, anon.write.length, anon.admin],
        ['anonymous', 'ip:10.0.0.7', 0, 0, false],
      );
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a JWKS URL: keys are fetched over HTTP and chosen by kid; an unreachable one is UNAVAILABLE', async () => {
  const a = await generateKeyPair('ES256');
  const b = await generateKeyPair('ES256');
  const jwks = {
    keys: [
      { ...(await exportJWK(a.publicKey)), kid: 'a', alg: 'ES256' },
      { ...(await exportJWK(b.publicKey)), kid: 'b', alg: 'ES256' },
    ],
  };
  const server = createServer((_req, res) => res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(jwks)));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  try {
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/jwks.json`;
    const auth = new Authenticator({ jwt: JwtVerifier.load({ keys: url, clockToleranceS: 0 }) });
    assert.equal(
      (await auth.authenticate(`Bearer ${await sign(b.privateKey, { dynamo: { admin: true } }, 'ES256', 'b')}`, '')).admin,
      true,
    );
    await assert.rejects(auth.authenticate(`Bearer ${await sign(b.privateKey, {}, 'ES256', 'a')}`, ''), refused);
    await assert.rejects(
      auth.authenticate(`Bearer ${await sign(a.privateKey, {}, 'ES256', 'unknown')}`, ''),
      (e) => refused(e) && /no configured key/.test((e as Error).message),
    );
    // a JWKS URL that does not answer is the gateway's trouble, not the caller's: UNAVAILABLE
    server.close();
    server.closeAllConnections();
    const down = new Authenticator({ jwt: JwtVerifier.load({ keys: url, clockToleranceS: 0 }) });
    await assert.rejects(
      down.authenticate(`Bearer ${await sign(b.privateKey, {}, 'ES256', 'b')}`, ''),
      (e) => e instanceof AuthError && e.code === 'UNAVAILABLE',
    );
  } finally {
    server.close();
  }
});

test('a JWKS file must hold public keys; a symmetric or private key is refused at start', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'auth-jwks-'));
  try {
    const { privateKey } = await generateKeyPair('ES256', { extractable: true });
    const cases: [unknown, RegExp][] = [
      [{ keys: [{ kty: 'oct', k: 'c2VjcmV0' }] }, /public keys only/],
      [{ keys: [await exportJWK(privateKey)] }, /public keys only/],
      [{ keys: [] }, /at least one key/],
      [[1, 2], /must be a JWKS/],
    ];
    for (const [content, why] of cases) {
      const file = join(dir, 'jwks.json');
      writeFileSync(file, JSON.stringify(content));
      assert.throws(() => JwtVerifier.load({ keys: file, clockToleranceS: 0 }), why);
    }
    writeFileSync(join(dir, 'junk'), 'neither');
    assert.throws(() => JwtVerifier.load({ keys: join(dir, 'junk'), clockToleranceS: 0 }), /neither a PEM public key nor JSON/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('API keys: a token and a digest entry, the admin token, and an open gateway', async () => {
  const token = 'a-token-of-twenty-chars';
  const keys = ApiKeys.fromJson({
    [token]: { name: 'plain', read: ['x:'] },
    [`sha256:${createHash('sha256').update('digest-token-0123456789').digest('hex')}`]: { name: 'hashed', write: ['y:'], admin: true },
  });
  const auth = new Authenticator({ apiKeys: keys, adminToken: 'admin-token-0123456789' });
  assert.equal((await auth.credential(token)).name, 'plain');
  const hashed = await auth.credential('digest-token-0123456789');
  assert.deepEqual([hashed.name, hashed.admin, canWrite(hashed, 'y:1'), canRead(hashed, 'y:1')], ['hashed', true, true, false]);
  const admin = await auth.credential('admin-token-0123456789');
  assert.deepEqual([admin.kind, admin.admin, admin.read.length], ['admin-token', true, 0]);
  await assert.rejects(auth.credential('nobody-0123456789abcdef'), refused);
  assert.throws(
    () => ApiKeys.fromJson({ [token]: { name: 'a' }, 'another-token-0123456789': { name: 'a' } }),
    /the name 'a' is used twice/,
  );
  assert.throws(() => ApiKeys.fromJson({}), /names no API key/);

  // no keys and no JWT: anonymous and the admin token may touch every key
  const open = new Authenticator({ adminToken: 'admin-token-0123456789' });
  assert.equal(open.open, true);
  assert.equal(canWrite(await open.authenticate(undefined, '::1'), 'anything'), true);
  assert.equal(canRead(await open.credential('admin-token-0123456789'), 'anything'), true);
  await assert.rejects(open.authenticate('Bearer wrong-0123456789abcdef', ''), refused);
});
