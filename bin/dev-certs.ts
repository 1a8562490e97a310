// Development and test certificates, made with the openssl command: a certificate authority,
// and certificates it signs for loopback (IP 127.0.0.1 and DNS localhost). `npm start -- --tls`
// and the TLS tests use them; production certificates come from the operator's own authority.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export interface DevCa {
  readonly dir: string;
  readonly name: string;
  /** the authority's certificate (PEM file) */
  readonly ca: string;
  readonly caKey: string;
}

export interface DevCert {
  readonly cert: string;
  readonly key: string;
}

/** Long enough for a development data directory; tests make new ones every run. */
const days = 365;

function openssl(args: readonly string[], cwd: string): void {
  execFileSync('openssl', args, { cwd, stdio: ['ignore', 'ignore', 'pipe'] });
}

/** A new self-signed certificate authority in `dir` (kept when `keep` and already there). */
export function makeCa(dir: string, name: string, keep = false): DevCa {
  mkdirSync(dir, { recursive: true });
  const ca = join(dir, `${name}-ca.pem`);
  const caKey = join(dir, `${name}-ca.key`);
  if (keep && existsSync(ca) && existsSync(caKey)) return { dir, name, ca, caKey };
  openssl(
    [
      'req',
      '-x509',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:P-256',
      '-nodes',
      '-keyout',
      caKey,
      '-out',
      ca,
      '-days',
      String(days),
      '-subj',
      `/CN=${name} development CA`,
    ],
    dir,
  );
  return { dir, name, ca, caKey };
}

/** A server certificate for loopback signed by `ca` (kept when `keep` and already there). */
export function makeCert(ca: DevCa, name: string, keep = false): DevCert {
  const key = join(ca.dir, `${name}.key`);
  const csr = join(ca.dir, `${name}.csr`);
  const cert = join(ca.dir, `${name}.pem`);
  const ext = join(ca.dir, `${name}.ext`);
  if (keep && existsSync(cert) && existsSync(key)) return { cert, key };
  writeFileSync(ext, 'subjectAltName=IP:127.0.0.1,DNS:localhost\nkeyUsage=digitalSignature\nextendedKeyUsage=serverAuth,clientAuth\n');
  openssl(
    ['req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', key, '-out', csr, '-subj', `/CN=${name}`],
    ca.dir,
  );
  openssl(
    ['x509', '-req', '-in', csr, '-CA', ca.ca, '-CAkey', ca.caKey, '-CAcreateserial', '-out', cert, '-days', String(days), '-extfile', ext],
    ca.dir,
  );
  return { cert, key };
}
