// TLS settings are checked at start: each mistake is one message naming the file and what is wrong.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError, loadStorageConfig } from '../../storage/config.ts';
import { checkServerTls, readCa, serverTls } from '../../storage/transport/tls.ts';
import { makeCa, makeCert } from '../../bin/dev-certs.ts';

test('certificates, keys and authorities are checked at start, with messages naming the file and the fault', () => {
  const dir = mkdtempSync(join(tmpdir(), 'dynamo-tls-config-'));
  try {
    const ca = makeCa(dir, 'one');
    const cert = makeCert(ca, 'a');
    const other = makeCert(ca, 'b');
    const junk = join(dir, 'junk.pem');
    writeFileSync(junk, 'not a certificate');
    assert.deepEqual(checkServerTls(cert.cert, cert.key), { certFile: cert.cert, keyFile: cert.key });
    assert.throws(
      () => checkServerTls(cert.cert, other.key),
      (e: unknown) => e instanceof ConfigError && /the key in .*b\.key does not belong to the certificate in .*a\.pem/.test(e.message),
    );
    assert.throws(() => checkServerTls(join(dir, 'missing.pem'), cert.key), /cannot read .*missing\.pem/);
    assert.throws(() => checkServerTls(junk, cert.key), /junk\.pem is not a PEM certificate/);
    assert.throws(() => checkServerTls(cert.cert, cert.key, 'tls', Date.now() + 3 * 365 * 86_400_000), /expired on/);
    assert.throws(() => serverTls(cert.cert, undefined, '--tls-cert/--tls-key'), /TLS needs both a certificate and a key/);
    assert.equal(serverTls(undefined, undefined, 'x'), undefined);
    assert.equal(readCa(`${ca.ca},${ca.ca}`).ca.length, 2, 'several authority files, for a rotation');
    assert.throws(() => readCa(junk), /junk\.pem holds no PEM certificate/);
    assert.throws(() => readCa(' , '), /names no file/);

    const base = ['--id', 'n1', '--nodes', 'n1=127.0.0.1:7001', '--n', '1', '--r', '1', '--w', '1'];
    const env = { DYNAMO_SECRET: 'a-secret-of-enough-length' };
    assert.equal(loadStorageConfig(base, env).tls, null, 'TLS is off unless configured');
    const on = loadStorageConfig([...base, '--tls-cert', cert.cert, '--tls-key', cert.key, '--tls-ca', ca.ca], env);
    assert.equal(on.tls?.server.certFile, cert.cert);
    assert.equal(on.tls?.client.ca.length, 1);
    assert.throws(() => loadStorageConfig([...base, '--tls-ca', ca.ca], env), /--tls-ca \(DYNAMO_TLS_CA\) is for a node that speaks TLS/);
    assert.deepEqual(loadStorageConfig(base, { ...env, DYNAMO_ACCEPT_SECRETS: 'the-next-secret-0123456789' }).acceptSecrets, [
      'the-next-secret-0123456789',
    ]);
    assert.throws(() => loadStorageConfig(base, { ...env, DYNAMO_ACCEPT_SECRETS: 'short' }), /at least 16 characters/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
