// Identities on disk: the cluster authority's key pair (PEM files) and one identity file per
// process, `{ "certificate": {...}, "privateKey": "<PKCS#8 PEM>" }` (mode 0600). Loading checks
// everything a node would refuse later, so a mistake is one clear message at start.
import { createPrivateKey, createPublicKey, generateKeyPairSync, type KeyObject } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { certificateFrom, encodeCertificate, issue, rawPublicKey, verifyCertificate, type Certificate } from './certificate.ts';
import type { Role } from './roles.ts';

/** What a process dials the nodes with: its certificate (as sent) and the key that proves it. */
export interface ProcessIdentity {
  readonly certificate: Certificate;
  /** the certificate as the upgrade header carries it */
  readonly encoded: string;
  readonly privateKey: KeyObject;
}

/** An identity file that cannot be used, and why: the caller turns it into its own config error. */
export class IdentityFileError extends Error {
  override readonly name = 'IdentityFileError';
}

function read(file: string, what: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch (e) {
    throw new IdentityFileError(`cannot read the ${what} ${file}: ${(e as Error).message}`);
  }
}

/** Loads an identity file; checks its key is the one its certificate names and that it is valid now. */
export function loadIdentity(file: string, now = Date.now()): ProcessIdentity {
  const text = read(file, 'identity file');
  let parsed: { certificate?: unknown; privateKey?: unknown };
  try {
    parsed = JSON.parse(text) as typeof parsed;
  } catch {
    throw new IdentityFileError(`the identity file ${file} is not JSON ({ "certificate": {...}, "privateKey": "PEM" })`);
  }
  let certificate: Certificate;
  let privateKey: KeyObject;
  try {
    certificate = certificateFrom(parsed.certificate);
    if (typeof parsed.privateKey !== 'string') throw new Error('privateKey is missing or not a PEM string');
    privateKey = createPrivateKey(parsed.privateKey);
    if (privateKey.asymmetricKeyType !== 'ed25519') throw new Error(`privateKey is a ${privateKey.asymmetricKeyType} key, not Ed25519`);
  } catch (e) {
    throw new IdentityFileError(`the identity file ${file} is unusable: ${(e as Error).message}`);
  }
  if (rawPublicKey(createPublicKey(privateKey)) !== certificate.publicKey) {
    throw new IdentityFileError(`the identity file ${file} holds a private key that does not belong to its certificate`);
  }
  if (now < Date.parse(certificate.notBefore))
    throw new IdentityFileError(`the identity in ${file} is not valid before ${certificate.notBefore}`);
  if (now >= Date.parse(certificate.notAfter))
    throw new IdentityFileError(`the identity in ${file} expired at ${certificate.notAfter}: issue a new one`);
  return { certificate, encoded: encodeCertificate(certificate), privateKey };
}

/** The trusted authorities' public keys: PEM files, comma-separated (old and new during a rotation). */
export function loadAuthorities(files: string): KeyObject[] {
  const names = files.split(',').map((s) => s.trim()).filter(Boolean);
  if (names.length === 0) throw new IdentityFileError('no authority file named');
  return names.map((f) => {
    try {
      const key = createPublicKey(read(f, 'authority file'));
      if (key.asymmetricKeyType !== 'ed25519') throw new Error(`a ${key.asymmetricKeyType} key, not Ed25519`);
      return key;
    } catch (e) {
      if (e instanceof IdentityFileError) throw e;
      throw new IdentityFileError(`the authority file ${f} is not an Ed25519 public key in PEM: ${(e as Error).message}`);
    }
  });
}

export function loadAuthorityKey(file: string): KeyObject {
  try {
    const key = createPrivateKey(read(file, 'authority key'));
    if (key.asymmetricKeyType !== 'ed25519') throw new Error(`a ${key.asymmetricKeyType} key, not Ed25519`);
    return key;
  } catch (e) {
    if (e instanceof IdentityFileError) throw e;
    throw new IdentityFileError(`the authority key ${file} is not an Ed25519 private key in PEM: ${(e as Error).message}`);
  }
}

/** The files of an authority kept in a directory: authority.key (private, 0600) and authority.pub. */
export function authorityFiles(dir: string): { key: string; pub: string } {
  return { key: join(dir, 'authority.key'), pub: join(dir, 'authority.pub') };
}

/** Makes an authority in `dir` unless one is there; returns its files. */
export function ensureAuthority(dir: string): { key: string; pub: string } {
  const files = authorityFiles(dir);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  if (!existsSync(files.key)) {
    const { privateKey, publicKey } = generateKeyPairSync('ed25519');
    writeFileSync(files.key, privateKey.export({ format: 'pem', type: 'pkcs8' }), { mode: 0o600 });
    writeFileSync(files.pub, publicKey.export({ format: 'pem', type: 'spki' }));
  } else if (!existsSync(files.pub)) {
    writeFileSync(files.pub, createPublicKey(loadAuthorityKey(files.key)).export({ format: 'pem', type: 'spki' }));
  }
  return files;
}

export interface IssueOptions {
  readonly cluster: string;
  readonly id: string;
  readonly role: Role;
  /** how long it is valid from now */
  readonly days: number;
  readonly now?: number;
}

/** A new key pair and its certificate signed by the authority, as the text of an identity file. */
export function issueIdentity(authorityKey: KeyObject, o: IssueOptions): string {
  const now = o.now ?? Date.now();
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  const certificate = issue(
    {
      cluster: o.cluster,
      id: o.id,
      role: o.role,
      publicKey: rawPublicKey(publicKey),
      // a minute back, for clocks a little behind this one
      notBefore: new Date(now - 60_000).toISOString(),
      notAfter: new Date(now + o.days * 86_400_000).toISOString(),
    },
    authorityKey,
  );
  return `${JSON.stringify({ certificate, privateKey: privateKey.export({ format: 'pem', type: 'pkcs8' }) }, null, 2)}\n`;
}

/**
 * The identity file `<dir>/<name>.json` for (cluster, id, role), issued by the authority in
 * `authorityDir` when it is missing, for another cluster, id or role, not signed by that
 * authority, or within a day of expiring. For development (`npm start`) and tests.
 */
export function ensureIdentity(authorityDir: string, dir: string, name: string, o: Omit<IssueOptions, 'days'> & { days?: number }): string {
  const authority = ensureAuthority(authorityDir);
  const file = join(dir, `${name}.json`);
  const now = o.now ?? Date.now();
  if (existsSync(file)) {
    try {
      const have = loadIdentity(file, now + 86_400_000);
      verifyCertificate(have.certificate, loadAuthorities(authority.pub), o.cluster, now);
      if (have.certificate.id === o.id && have.certificate.role === o.role) return file;
    } catch {
      // issue it again, below
    }
  }
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  writeFileSync(file, issueIdentity(loadAuthorityKey(authority.key), { ...o, days: o.days ?? 30 }), { mode: 0o600 });
  return file;
}
