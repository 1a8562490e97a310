// TLS settings read at start: a server's certificate and key (the nodes' wss:// listener, the
// gateway's https), and the certificate authorities a process trusts when it dials a node, read
// from files into the client library's ClientTls (client/src/transport/tls.ts).
//
// TLS is all or nothing across a cluster: a node with a certificate listens for wss:// only and
// dials its peers over wss://, so every node of a cluster has one; a client dials wss:// when it
// is given the authorities to trust. A CA file may hold several certificates (PEM, one after the
// other), and several files may be named: that is how a rotation trusts the old and the new
// authority at once (docs/security.md).
import { X509Certificate, createPrivateKey } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { ClientTls } from '../../client/src/transport/tls.ts';
import { ConfigError } from '../config.ts';

/** What a listening process needs: files, read by uWebSockets when it starts listening. */
export interface ServerTls {
  readonly certFile: string;
  readonly keyFile: string;
}

/** The scheme of a process's HTTP routes (health, GraphQL). */
export function httpScheme(tls: unknown): 'http' | 'https' {
  return tls ? 'https' : 'http';
}


/** Reads comma-separated PEM files of trusted authorities; each must hold at least one certificate. */
export function readCa(files: string, what = '--tls-ca'): ClientTls {
  const ca: Buffer[] = [];
  for (const file of files.split(',').map((f) => f.trim()).filter(Boolean)) {
    const pem = readTlsFile(file, what);
    const certs = pem.toString('utf8').match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? [];
    if (certs.length === 0) throw new ConfigError(`${what} ${file} holds no PEM certificate`);
    for (const c of certs) {
      try {
        new X509Certificate(c);
      } catch (e) {
        throw new ConfigError(`${what} ${file}: a certificate does not parse: ${(e as Error).message}`);
      }
    }
    ca.push(pem);
  }
  if (ca.length === 0) throw new ConfigError(`${what} names no file`);
  return { ca };
}

/**
 * Checks a server's certificate and key before it listens, so a mistake is one clear message
 * rather than a listener that fails every handshake: both readable, the key the certificate's,
 * the certificate within its validity period.
 */
export function checkServerTls(certFile: string, keyFile: string, what = '--tls-cert/--tls-key', now = Date.now()): ServerTls {
  const certPem = readTlsFile(certFile, what);
  const keyPem = readTlsFile(keyFile, what);
  let cert: X509Certificate;
  try {
    cert = new X509Certificate(certPem);
  } catch (e) {
    throw new ConfigError(`${what}: ${certFile} is not a PEM certificate: ${(e as Error).message}`);
  }
  let matches: boolean;
  try {
    matches = cert.checkPrivateKey(createPrivateKey(keyPem));
  } catch (e) {
    throw new ConfigError(`${what}: ${keyFile} is not an unencrypted PEM private key: ${(e as Error).message}`);
  }
  if (!matches) throw new ConfigError(`${what}: the key in ${keyFile} does not belong to the certificate in ${certFile}`);
  if (now > Date.parse(cert.validTo)) throw new ConfigError(`${what}: the certificate in ${certFile} expired on ${cert.validTo}`);
  if (now < Date.parse(cert.validFrom))
    throw new ConfigError(`${what}: the certificate in ${certFile} is not valid before ${cert.validFrom}`);
  return { certFile, keyFile };
}

/** A server's settings from a certificate and key, both or neither. */
export function serverTls(cert: unknown, key: unknown, what: string): ServerTls | undefined {
  if (cert === undefined && key === undefined) return undefined;
  if (typeof cert !== 'string' || typeof key !== 'string' || !cert || !key)
    throw new ConfigError(`${what}: TLS needs both a certificate and a key`);
  return checkServerTls(cert, key, what);
}

function readTlsFile(file: string, what: string): Buffer {
  try {
    return readFileSync(file);
  } catch (e) {
    throw new ConfigError(`${what}: cannot read ${file}: ${(e as Error).message}`);
  }
}
