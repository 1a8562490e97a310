// Per-process identities on the node protocol: a short certificate naming one process, its
// role and its public key, signed by the cluster authority (Ed25519, node:crypto). Nodes hold
// only the authority's public key, so a new process needs no registry pushed around.
//
// A certificate travels as one header value: base64url of its JSON. What is signed is a fixed
// prefix and the fields as a JSON array in a fixed order, so no two certificates share signed
// bytes. Time is passed in: verification is a pure function of (certificate, authority, now).
import { createPublicKey, sign, verify, type KeyObject } from 'node:crypto';
import { ROLES, type Role } from './roles.ts';

export interface CertificateFields {
  readonly cluster: string;
  /** the process's name: a node's id for a peer, else a label (gateway-1, repair, alice) */
  readonly id: string;
  readonly role: Role;
  /** the process's Ed25519 public key, raw 32 bytes in base64url */
  readonly publicKey: string;
  /** ISO 8601 instants: valid from notBefore up to, not including, notAfter */
  readonly notBefore: string;
  readonly notAfter: string;
}

export interface Certificate extends CertificateFields {
  /** the authority's Ed25519 signature of signedBytes(fields), base64url */
  readonly signature: string;
}

/** Why a certificate or a handshake is refused: the node answers it with UNAUTHORIZED. */
export class IdentityError extends Error {
  override readonly name = 'IdentityError';
}

const CERT_PREFIX = 'dynamo-identity/1\n';
const HELLO_PREFIX = 'dynamo-hello/1\n';
const ID_PATTERN = /^[A-Za-z0-9._:@-]{1,64}$/;
/** a header's worth: a certificate is about 300 bytes */
const MAX_ENCODED = 2048;

export function signedBytes(f: CertificateFields): Buffer {
  return Buffer.from(CERT_PREFIX + JSON.stringify([f.cluster, f.id, f.role, f.publicKey, f.notBefore, f.notAfter]), 'utf8');
}

/** Signs a certificate with the authority's private key. */
export function issue(fields: CertificateFields, authorityKey: KeyObject): Certificate {
  checkFields(fields);
  return { ...fields, signature: sign(null, signedBytes(fields), authorityKey).toString('base64url') };
}

export function encodeCertificate(c: Certificate): string {
  return Buffer.from(JSON.stringify(c), 'utf8').toString('base64url');
}

/** Reads a header value back into a certificate, checking its shape (not its signature). */
export function decodeCertificate(encoded: string): Certificate {
  if (encoded.length === 0) throw new IdentityError('no certificate given');
  if (encoded.length > MAX_ENCODED || !/^[A-Za-z0-9_-]+$/.test(encoded))
    throw new IdentityError('the certificate is not base64url of at most 2048 characters');
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(encoded, 'base64url').toString('utf8'));
  } catch {
    throw new IdentityError('the certificate is not JSON');
  }
  return certificateFrom(parsed);
}

/** A certificate from parsed JSON (a header, an identity file), checking every field's shape. */
export function certificateFrom(parsed: unknown): Certificate {
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed))
    throw new IdentityError('the certificate is not a JSON object');
  const o = parsed as Record<string, unknown>;
  const names = ['cluster', 'id', 'role', 'publicKey', 'notBefore', 'notAfter', 'signature'] as const;
  for (const name of names) {
    if (typeof o[name] !== 'string') throw new IdentityError(`the certificate's ${name} is missing or not a string`);
  }
  const extra = Object.keys(o).filter((k) => !(names as readonly string[]).includes(k));
  if (extra.length > 0) throw new IdentityError(`the certificate has unknown fields: ${extra.join(', ')}`);
  const c = o as unknown as Certificate;
  checkFields(c);
  return {
    cluster: c.cluster,
    id: c.id,
    role: c.role,
    publicKey: c.publicKey,
    notBefore: c.notBefore,
    notAfter: c.notAfter,
    signature: c.signature,
  };
}

function checkFields(f: CertificateFields): void {
  if (!ID_PATTERN.test(f.cluster))
    throw new IdentityError(`the certificate's cluster '${f.cluster}' is not 1 to 64 of A-Z a-z 0-9 . _ : @ -`);
  if (!ID_PATTERN.test(f.id)) throw new IdentityError(`the certificate's id '${f.id}' is not 1 to 64 of A-Z a-z 0-9 . _ : @ -`);
  if (!(ROLES as readonly string[]).includes(f.role))
    throw new IdentityError(`the certificate's role '${f.role}' is not one of ${ROLES.join(', ')}`);
  if (!/^[A-Za-z0-9_-]{43}$/.test(f.publicKey)) throw new IdentityError("the certificate's publicKey is not 32 bytes of base64url");
  const from = instant(f.notBefore, 'notBefore');
  const to = instant(f.notAfter, 'notAfter');
  if (to <= from) throw new IdentityError(`the certificate's notAfter ${f.notAfter} is not after its notBefore ${f.notBefore}`);
}

function instant(s: string, name: string): number {
  const t = Date.parse(s);
  if (!/^\d{4}-\d{2}-\d{2}T/.test(s) || !Number.isFinite(t))
    throw new IdentityError(`the certificate's ${name} '${s}' is not an ISO 8601 instant`);
  return t;
}

/** An Ed25519 public key from its raw 32 bytes in base64url. */
export function publicKeyFrom(raw: string): KeyObject {
  return createPublicKey({ key: { kty: 'OKP', crv: 'Ed25519', x: raw }, format: 'jwk' });
}

/** The raw 32 bytes, base64url, of an Ed25519 public key. */
export function rawPublicKey(key: KeyObject): string {
  const jwk = key.export({ format: 'jwk' });
  if (jwk.crv !== 'Ed25519' || typeof jwk.x !== 'string') throw new IdentityError('not an Ed25519 key');
  return jwk.x;
}

/**
 * Checks a certificate for this cluster at `now` (ms since 1970): signed by one of the trusted
 * authorities (several during a rotation), for this cluster, within its validity period.
 */
export function verifyCertificate(c: Certificate, authorities: readonly KeyObject[], cluster: string, now: number): void {
  if (!authorities.some((a) => verify(null, signedBytes(c), a, Buffer.from(c.signature, 'base64url')))) {
    throw new IdentityError(`the certificate of '${c.id}' is not signed by this cluster's authority`);
  }
  if (c.cluster !== cluster) throw new IdentityError(`the certificate of '${c.id}' is for cluster '${c.cluster}', not '${cluster}'`);
  if (now < Date.parse(c.notBefore)) throw new IdentityError(`the certificate of '${c.id}' is not valid before ${c.notBefore}`);
  if (now >= Date.parse(c.notAfter)) throw new IdentityError(`the certificate of '${c.id}' expired at ${c.notAfter}`);
}

/**
 * What a caller signs to prove it holds its certificate's key on one connection: the node's
 * fresh nonce, the node's id and the cluster. A signature is good for that nonce only, so a
 * recorded handshake opens nothing else.
 */
export function helloBytes(cluster: string, node: string, nonce: Uint8Array): Buffer {
  return Buffer.concat([Buffer.from(`${HELLO_PREFIX}${JSON.stringify([cluster, node])}\n`, 'utf8'), nonce]);
}

export function signHello(cluster: string, node: string, nonce: Uint8Array, key: KeyObject): Buffer {
  return sign(null, helloBytes(cluster, node, nonce), key);
}

export function verifyHello(c: Certificate, cluster: string, node: string, nonce: Uint8Array, signature: Uint8Array): boolean {
  return verify(null, helloBytes(cluster, node, nonce), publicKeyFrom(c.publicKey), signature);
}
