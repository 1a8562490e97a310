// Identity settings are checked at start: each mistake is one message naming the setting, the
// file and what is wrong, for the node, the gateway and the workers' credential.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError, loadStorageConfig, readCredential } from '../../storage/config.ts';
import { authorityFiles, ensureAuthority, ensureIdentity, issueIdentity, loadAuthorityKey } from '../../client/src/auth/identity-file.ts';
import { loadGatewayConfig } from '../../gateway/config.ts';

test('node identities and authorities are checked at start, with messages naming the setting and the fault', () => {
  const dir = mkdtempSync(join(tmpdir(), 'dynamo-identity-config-'));
  try {
    const ids = join(dir, 'ids');
    const n1 = ensureIdentity(ids, ids, 'n1', { cluster: 'dev', id: 'n1', role: 'peer' });
    const { pub } = authorityFiles(ids);
    const other = join(dir, 'other');
    ensureAuthority(other);
    const key = loadAuthorityKey(authorityFiles(ids).key);
    const write = (name: string, text: string) => {
      const f = join(dir, name);
      writeFileSync(f, text);
      return f;
    };
    const base = ['--id', 'n1', '--nodes', 'n1=127.0.0.1:7001', '--n', '1', '--r', '1', '--w', '1'];
    const refused = (argv: string[], env: NodeJS.ProcessEnv, pattern: RegExp) =>
      assert.throws(
        () => loadStorageConfig([...base, ...argv], env),
        (e: unknown) => e instanceof ConfigError && pattern.test(e.message),
        String(pattern),
      );

    const c = loadStorageConfig([...base, '--identity', n1, '--authority', pub], {});
    assert.equal(c.identity?.certificate.id, 'n1');
    assert.equal(c.secret, undefined, 'no secret: identities only');
    assert.equal(c.authorities.length, 1);
    // from the environment, several authorities (a rotation), and with the legacy secret beside
    const both = loadStorageConfig(base, {
      DYNAMO_IDENTITY: n1,
      DYNAMO_AUTHORITY: `${pub},${authorityFiles(other).pub}`,
      DYNAMO_SECRET: 'a-secret-of-enough-length',
    });
    assert.equal(both.authorities.length, 2);
    assert.equal(both.secret, 'a-secret-of-enough-length');
    // migration step 1: an authority and the secret, no identity yet
    assert.equal(loadStorageConfig([...base, '--authority', pub], { DYNAMO_SECRET: 'a-secret-of-enough-length' }).identity, null);

    refused([], {}, /needs --identity and --authority .* or the cluster secret/);
    refused(['--identity', n1], {}, /--identity \(DYNAMO_IDENTITY\) needs --authority/);
    refused(
      ['--identity', join(dir, 'missing.json'), '--authority', pub],
      {},
      /--identity \(DYNAMO_IDENTITY\): cannot read the identity file .*missing\.json/,
    );
    refused(
      ['--identity', n1, '--authority', join(dir, 'missing.pub')],
      {},
      /--authority \(DYNAMO_AUTHORITY\): cannot read the authority file/,
    );
    refused(['--identity', n1, '--authority', write('junk.pub', 'junk')], {}, /junk\.pub is not an Ed25519 public key in PEM/);
    refused(['--identity', write('junk.json', '{'), '--authority', pub], {}, /junk\.json is not JSON/);
    const n2 = ensureIdentity(ids, ids, 'n2', { cluster: 'dev', id: 'n2', role: 'peer' });
    refused(['--identity', n2, '--authority', pub], {}, /names 'n2', not this node's id 'n1'/);
    const gateway = ensureIdentity(ids, ids, 'n1-client', { cluster: 'dev', id: 'n1', role: 'client' });
    refused(['--identity', gateway, '--authority', pub], {}, /has the client role; this process needs peer/);
    const prod = ensureIdentity(ids, ids, 'n1-prod', { cluster: 'prod', id: 'n1', role: 'peer' });
    refused(['--identity', prod, '--authority', pub], {}, /is for cluster 'prod', not 'dev'/);
    const expired = write(
      'expired.json',
      issueIdentity(key, { cluster: 'dev', id: 'n1', role: 'peer', days: 1, now: Date.now() - 2 * 86_400_000 }),
    );
    refused(['--identity', expired, '--authority', pub], {}, /expired at .*: issue a new one/);
    const early = write(
      'early.json',
      issueIdentity(key, { cluster: 'dev', id: 'n1', role: 'peer', days: 1, now: Date.now() + 86_400_000 }),
    );
    refused(['--identity', early, '--authority', pub], {}, /is not valid before/);
    // a private key that is not the certificate's
    const mixed = JSON.parse(readFileSync(n1, 'utf8')) as { privateKey: string };
    const stolen = JSON.parse(readFileSync(n2, 'utf8')) as { certificate: unknown };
    refused(
      [
        '--identity',
        write('mixed.json', JSON.stringify({ certificate: stolen.certificate, privateKey: mixed.privateKey })),
        '--authority',
        pub,
      ],
      {},
      /does not belong to its certificate/,
    );
    refused(
      ['--identity', n1, '--authority', pub],
      { DYNAMO_ACCEPT_SECRETS: 'the-next-secret-0123456789' },
      /--accept-secret-file .* is for a node with a cluster secret/,
    );

    // the gateway and the workers: the role they need, or the legacy secret, or one message naming both
    const client = ensureIdentity(ids, ids, 'gateway', { cluster: 'dev', id: 'gateway', role: 'client' });
    const repair = ensureIdentity(ids, ids, 'repair', { cluster: 'dev', id: 'repair', role: 'repair' });
    const gw = (env: NodeJS.ProcessEnv) =>
      loadGatewayConfig(['--seeds', '127.0.0.1:7001'], { GATEWAY_CONTEXT_KEYS: 'k'.repeat(32), ...env });
    assert.equal(gw({ DYNAMO_IDENTITY: client }).credential.identity?.certificate.role, 'client');
    assert.equal(gw({ DYNAMO_SECRET: 'a-secret-of-enough-length' }).credential.secret, 'a-secret-of-enough-length');
    assert.throws(
      () => gw({}),
      /the gateway needs an identity to dial the nodes with: --identity FILE \(DYNAMO_IDENTITY\), a client or admin identity; or, in the legacy mode, the cluster secret/,
    );
    assert.throws(() => gw({ DYNAMO_IDENTITY: repair }), /has the repair role; this process needs client or admin/);
    assert.throws(
      () => readCredential(client, undefined, { cluster: 'dev', roles: ['repair'], what: 'the repair workers' }),
      /has the client role; this process needs repair/,
    );
    assert.equal(
      readCredential(repair, 'ignored-secret-0123456789', { cluster: 'dev', roles: ['repair'], what: 'the repair workers' }).secret,
      undefined,
      'an identity wins over the secret',
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
