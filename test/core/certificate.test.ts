// Certificates and hellos (client/src/auth/certificate.ts): what a node takes and what it refuses.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import fc from 'fast-check';
import {
  certificateFrom,
  decodeCertificate,
  encodeCertificate,
  IdentityError,
  issue,
  rawPublicKey,
  signHello,
  verifyCertificate,
  verifyHello,
  type Certificate,
  type CertificateFields,
} from '../../client/src/auth/certificate.ts';
import { ROLES } from '../../client/src/auth/roles.ts';

const authority = generateKeyPairSync('ed25519');
const other = generateKeyPairSync('ed25519');
const holder = generateKeyPairSync('ed25519');
const NOW = Date.parse('2026-06-01T00:00:00Z');

function fields(over: Partial<CertificateFields> = {}): CertificateFields {
  return {
    cluster: 'dev',
    id: 'gateway-1',
    role: 'client',
    publicKey: rawPublicKey(holder.publicKey),
    notBefore: '2026-05-01T00:00:00.000Z',
    notAfter: '2026-07-01T00:00:00.000Z',
    ...over,
  };
}

function refused(f: () => void, pattern: RegExp): void {
  assert.throws(f, (e) => e instanceof IdentityError && pattern.test(e.message));
}

test('a certificate signed by the authority verifies, and survives encoding', () => {
  const c = issue(fields(), authority.privateKey);
  const back = decodeCertificate(encodeCertificate(c));
  assert.deepEqual(back, c);
  verifyCertificate(back, [authority.publicKey], 'dev', NOW);
  // during a rotation a node trusts old and new authorities
  verifyCertificate(back, [other.publicKey, authority.publicKey], 'dev', NOW);
});

test("another authority's certificate, another cluster, expired or not yet valid: refused", () => {
  refused(() => verifyCertificate(issue(fields(), other.privateKey), [authority.publicKey], 'dev', NOW), /not signed by this cluster's authority/);
  refused(() => verifyCertificate(issue(fields({ cluster: 'prod' }), authority.privateKey), [authority.publicKey], 'dev', NOW), /for cluster 'prod', not 'dev'/);
  refused(() => verifyCertificate(issue(fields({ notAfter: '2026-05-31T00:00:00.000Z' }), authority.privateKey), [authority.publicKey], 'dev', NOW), /expired at 2026-05-31/);
  refused(() => verifyCertificate(issue(fields({ notBefore: '2026-06-02T00:00:00.000Z' }), authority.privateKey), [authority.publicKey], 'dev', NOW), /not valid before 2026-06-02/);
  // exactly at notAfter it has expired; exactly at notBefore it is valid
  const c = issue(fields({ notBefore: '2026-06-01T00:00:00.000Z', notAfter: '2026-06-02T00:00:00.000Z' }), authority.privateKey);
  verifyCertificate(c, [authority.publicKey], 'dev', NOW);
  refused(() => verifyCertificate(c, [authority.publicKey], 'dev', Date.parse(c.notAfter)), /expired/);
});

test('changing any signed field, or the signature, breaks the certificate', () => {
  const c = issue(fields(), authority.privateKey);
  const changes: Partial<Certificate>[] = [
    { id: 'n1' },
    { role: 'peer' },
    { role: 'admin' },
    { cluster: 'dev2' },
    { publicKey: rawPublicKey(other.publicKey) },
    { notAfter: '2036-07-01T00:00:00.000Z' },
    { notBefore: '2026-04-01T00:00:00.000Z' },
    { signature: issue(fields({ id: 'x' }), authority.privateKey).signature },
  ];
  for (const change of changes) {
    // the cluster check would refuse dev2 anyway: the signature is checked first
    refused(() => verifyCertificate({ ...c, ...change }, [authority.publicKey], change.cluster ?? 'dev', NOW), /not signed/);
  }
});

test('malformed certificates are refused with what is wrong, never a crash', () => {
  refused(() => decodeCertificate(''), /no certificate/);
  refused(() => decodeCertificate('!!!'), /base64url/);
  refused(() => decodeCertificate('x'.repeat(3000)), /at most 2048/);
  refused(() => decodeCertificate(Buffer.from('nope').toString('base64url')), /not JSON/);
  refused(() => decodeCertificate(Buffer.from('[1]').toString('base64url')), /not a JSON object/);
  const c = issue(fields(), authority.privateKey);
  refused(() => certificateFrom({ ...c, role: 'root' }), /role 'root' is not one of peer, client, repair, admin/);
  refused(() => certificateFrom({ ...c, extra: 1 }), /unknown fields: extra/);
  refused(() => certificateFrom({ ...c, id: 'a b' }), /id 'a b'/);
  refused(() => certificateFrom({ ...c, notAfter: 'tomorrow' }), /notAfter 'tomorrow'/);
  refused(() => certificateFrom({ ...c, notAfter: c.notBefore }), /not after its notBefore/);
  refused(() => certificateFrom({ ...c, publicKey: 'abc' }), /32 bytes/);
  const { signature: _s, ...unsigned } = c;
  refused(() => certificateFrom(unsigned), /signature is missing/);
  // any bytes at all: an IdentityError or a certificate, nothing else
  fc.assert(
    fc.property(fc.string({ maxLength: 300 }), (s) => {
      try {
        decodeCertificate(Buffer.from(s).toString('base64url'));
      } catch (e) {
        assert.ok(e instanceof IdentityError, String(e));
      }
    }),
    { numRuns: 300, seed: 14 },
  );
});

test('every role can be issued and verified', () => {
  for (const role of ROLES) verifyCertificate(issue(fields({ role }), authority.privateKey), [authority.publicKey], 'dev', NOW);
});

test("a hello verifies only for the holder's key, this node, this cluster and this nonce", () => {
  const c = issue(fields(), authority.privateKey);
  const nonce = randomBytes(32);
  const sig = signHello('dev', 'n1', nonce, holder.privateKey);
  assert.ok(verifyHello(c, 'dev', 'n1', nonce, sig));
  // a recorded hello is worth nothing on another connection (another nonce) or another node
  assert.ok(!verifyHello(c, 'dev', 'n1', randomBytes(32), sig));
  assert.ok(!verifyHello(c, 'dev', 'n2', nonce, sig));
  assert.ok(!verifyHello(c, 'prod', 'n1', nonce, sig));
  // a key that is not the certificate's
  assert.ok(!verifyHello(c, 'dev', 'n1', nonce, signHello('dev', 'n1', nonce, other.privateKey)));
  // the node id and the nonce cannot be shifted into each other
  assert.ok(!verifyHello(c, 'dev', 'n', Buffer.concat([Buffer.from('1'), nonce]), sig));
});
