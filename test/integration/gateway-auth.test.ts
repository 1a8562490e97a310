// Authentication and scopes on a real gateway process over a real node: API keys (a token and
// a sha256 digest), JWTs verified against a JWKS file, the admin token, /metrics and CORS.
// Every boundary is tried from both sides.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { exportJWK, generateKeyPair, SignJWT, UnsecuredJWT } from 'jose';
import { TEST_ADMIN_TOKEN, withStack } from '../helpers/stack.ts';

const ALICE = 'alice-token-0123456789abcdef';
const BOB = 'bob-token-0123456789abcdef';
const READER = 'reader-token-0123456789abcdef';
const OPS = 'ops-token-0123456789abcdef';
const ISSUER = 'https://issuer.test';
const AUDIENCE = 'dynamo-gateway';
const ALLOWED_ORIGIN = 'https://app.example';

const GET = 'query($key: String!) { get(key: $key) { key found siblings { value } } }';
const PUT = 'mutation($key: String!, $value: JSON!) { put(key: $key, value: $value) { key dot } }';
const DELETE = 'mutation($key: String!) { delete(key: $key) { key } }';
const MANY = 'query($keys: [String!]!) { getMany(keys: $keys) { key found } }';
const ADMIN = '{ admin { nodes { id reachable } } }';

interface Answer {
  status: number;
  headers: Headers;
  data?: Record<string, any> | null;
  errors?: { message: string; path?: (string | number)[]; extensions?: Record<string, any> }[];
}

const code = (a: Answer) => a.errors?.[0]?.extensions?.code;

test('gateway authentication: API keys, JWTs and the admin token, each scope from both sides', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'gateway-auth-'));
  // the signing key stays here; the gateway sees only the public half, in a JWKS file
  const { privateKey, publicKey } = await generateKeyPair('ES256');
  const stranger = await generateKeyPair('ES256');
  const jwk = { ...(await exportJWK(publicKey)), kid: 'k1', alg: 'ES256', use: 'sig' };
  const jwks = join(dir, 'jwks.json');
  writeFileSync(jwks, JSON.stringify({ keys: [jwk] }));
  const keys = join(dir, 'api-keys.json');
  writeFileSync(
    keys,
    JSON.stringify({
      [ALICE]: { name: 'alice', read: ['cart:alice:'], write: ['cart:alice:'] },
      // bob's entry holds only the digest of his token
      [`sha256:${createHash('sha256').update(BOB).digest('hex')}`]: {
        name: 'bob',
        read: ['cart:bob:'],
        write: ['cart:bob:'],
        admin: false,
      },
      [READER]: { name: 'reader', read: ['cart:'], write: [] },
      [OPS]: { name: 'ops', read: [], write: [], admin: true },
    }),
  );
  const jwt = (
    claims: Record<string, unknown>,
    o: { exp?: number | string; nbf?: number | string; iss?: string; aud?: string; sub?: string | null; key?: CryptoKey } = {},
  ) => {
    let s = new SignJWT(claims)
      .setProtectedHeader({ alg: 'ES256', kid: 'k1' })
      .setIssuedAt()
      .setIssuer(o.iss ?? ISSUER)
      .setAudience(o.aud ?? AUDIENCE)
      .setExpirationTime(o.exp ?? '10m');
    if (o.sub !== null) s = s.setSubject(o.sub ?? 'carol');
    if (o.nbf !== undefined) s = s.setNotBefore(o.nbf);
    return s.sign(o.key ?? privateKey);
  };

  try {
    await withStack(
      {
        nodes: 1,
        basePort: 7341,
        gatewayPort: 4341,
        gatewayEnv: {
          GATEWAY_API_KEYS_FILE: keys,
          GATEWAY_JWKS: jwks,
          GATEWAY_JWT_ISSUER: ISSUER,
          GATEWAY_JWT_AUDIENCE: AUDIENCE,
          GATEWAY_CORS_ORIGINS: ALLOWED_ORIGIN,
        },
      },
      async ({ url }) => {
        const call = async (
          query: string,
          variables: Record<string, unknown> = {},
          token?: string | null,
          headers: Record<string, string> = {},
        ): Promise<Answer> => {
          const res = await fetch(url, {
            method: 'POST',
            headers: {
              'content-type': 'application/json',
              accept: 'application/graphql-response+json',
              ...(token ? { authorization: `Bearer ${token}` } : {}),
              ...headers,
            },
            body: JSON.stringify({ query, variables }),
          });
          return { status: res.status, headers: res.headers, ...((await res.json()) as object) };
        };
        const ok = (a: Answer) => {
          assert.equal(a.errors, undefined, JSON.stringify(a.errors));
          return a.data!;
        };
        const metrics = (token?: string) =>
          fetch(url.replace('/graphql', '/metrics'), { headers: token ? { authorization: `Bearer ${token}` } : {} });

        await t.test('no credential, a malformed header or an unknown token: HTTP 401 UNAUTHENTICATED before anything runs', async () => {
          const none = await call('{ cluster { n } }');
          assert.equal(none.status, 401);
          assert.equal(code(none), 'UNAUTHENTICATED');
          assert.equal(none.headers.get('www-authenticate'), 'Bearer');
          assert.equal(none.data, undefined, 'nothing executed');
          const basic = await call(GET, { key: 'cart:alice:1' }, null, { authorization: 'Basic YWxpY2U6c2VjcmV0' });
          assert.equal(basic.status, 401);
          assert.match(basic.errors![0]!.message, /Bearer <credential>/);
          const unknown = await call(GET, { key: 'cart:alice:1' }, 'not-a-key-0123456789abcdef');
          assert.equal(unknown.status, 401);
          assert.equal(code(unknown), 'UNAUTHENTICATED');
          // even a schema error is not shown to a caller without a credential
          const invalid = await call('{ nosuchfield }');
          assert.equal(code(invalid), 'UNAUTHENTICATED');
        });

        await t.test('an API key reads and writes inside its prefixes; a key outside them is FORBIDDEN', async () => {
          assert.equal(ok(await call(PUT, { key: 'cart:alice:1', value: { items: 1 } }, ALICE)).put.key, 'cart:alice:1');
          assert.deepEqual(ok(await call(GET, { key: 'cart:alice:1' }, ALICE)).get.siblings, [{ value: { items: 1 } }]);
          for (const [query, key] of [
            [GET, 'cart:bob:1'],
            [PUT, 'cart:bob:1'],
            [DELETE, 'cart:bob:1'],
            [GET, 'cart:alice'], // the prefix is "cart:alice:", so "cart:alice" is outside it
          ] as const) {
            const refused = await call(query, { key, value: 1 }, ALICE);
            assert.equal(refused.status, 200, 'a scope refusal is a field error, not an HTTP one');
            assert.equal(code(refused), 'FORBIDDEN', `${key}: ${JSON.stringify(refused.errors)}`);
            assert.match(refused.errors![0]!.message, /API key 'alice' may not (read|write)/);
          }
          assert.equal(ok(await call(DELETE, { key: 'cart:alice:1' }, ALICE)).delete.key, 'cart:alice:1');
        });

        await t.test('an API key given as a sha256 digest authenticates with its token, not with the digest', async () => {
          ok(await call(PUT, { key: 'cart:bob:1', value: 'b' }, BOB));
          assert.equal(code(await call(GET, { key: 'cart:alice:1' }, BOB)), 'FORBIDDEN');
          const digest = `sha256:${createHash('sha256').update(BOB).digest('hex')}`;
          assert.equal((await call(GET, { key: 'cart:bob:1' }, digest)).status, 401);
        });

        await t.test('read scope does not grant write', async () => {
          assert.equal(ok(await call(GET, { key: 'cart:bob:1' }, READER)).get.found, true);
          assert.equal(code(await call(PUT, { key: 'cart:bob:1', value: 'r' }, READER)), 'FORBIDDEN');
          assert.equal(code(await call(DELETE, { key: 'cart:bob:1' }, READER)), 'FORBIDDEN');
        });

        await t.test('getMany: a key outside the scopes is a null item with FORBIDDEN, beside the allowed items', async () => {
          ok(await call(PUT, { key: 'cart:alice:2', value: 2 }, ALICE));
          const r = await call(MANY, { keys: ['cart:alice:2', 'cart:bob:1', 'cart:alice:3', 'secret'] }, ALICE);
          assert.equal(r.status, 200);
          assert.deepEqual(r.data!.getMany, [{ key: 'cart:alice:2', found: true }, null, { key: 'cart:alice:3', found: false }, null]);
          assert.deepEqual(r.errors!.map((e) => [e.path, e.extensions?.code]).sort(), [
            [['getMany', 1], 'FORBIDDEN'],
            [['getMany', 3], 'FORBIDDEN'],
          ]);
        });

        await t.test(
          'admin is a scope: an admin API key and the admin token open admin fields; data keys do not; the admin token is no data credential',
          async () => {
            const alice = await call(ADMIN, {}, ALICE);
            assert.equal(code(alice), 'FORBIDDEN');
            assert.match(alice.errors![0]!.message, /no admin scope/);
            assert.equal(ok(await call(ADMIN, {}, OPS)).admin.nodes.length, 1);
            assert.equal(ok(await call(ADMIN, {}, TEST_ADMIN_TOKEN)).admin.nodes.length, 1);
            assert.equal(code(await call('mutation { startSweep }', {}, ALICE)), 'FORBIDDEN');
            const join = await call('mutation { joinNode(id: "n9", address: "127.0.0.1:7399") { version } }', {}, BOB);
            assert.equal(code(join), 'FORBIDDEN');
            // admin scope alone reads no data when data authentication is configured
            assert.equal(code(await call(GET, { key: 'cart:alice:2' }, TEST_ADMIN_TOKEN)), 'FORBIDDEN');
            assert.equal(code(await call(GET, { key: 'cart:alice:2' }, OPS)), 'FORBIDDEN');
          },
        );

        await t.test('a JWT from the JWKS file carries its scopes in the "dynamo" claim', async () => {
          const carol = await jwt({ dynamo: { read: ['profile:carol:'], write: ['profile:carol:'] } });
          ok(await call(PUT, { key: 'profile:carol:name', value: 'Carol' }, carol));
          assert.deepEqual(ok(await call(GET, { key: 'profile:carol:name' }, carol)).get.siblings, [{ value: 'Carol' }]);
          assert.equal(code(await call(GET, { key: 'profile:dave:name' }, carol)), 'FORBIDDEN');
          assert.match((await call(GET, { key: 'cart:alice:2' }, carol)).errors![0]!.message, /token of 'carol' may not read/);
          assert.equal(code(await call(ADMIN, {}, carol)), 'FORBIDDEN');
          const admin = await jwt({ dynamo: { admin: true } }, { sub: 'operator' });
          assert.equal(ok(await call(ADMIN, {}, admin)).admin.nodes.length, 1);
          // a valid token without the claim is authenticated and may do nothing
          const bare = await jwt({});
          assert.equal(code(await call(GET, { key: 'profile:carol:name' }, bare)), 'FORBIDDEN');
        });

        await t.test(
          'a JWT that is expired, not yet valid, for another issuer or audience, signed by another key, unsigned, without exp or sub, or with a malformed claim: 401',
          async () => {
            const claim = { dynamo: { read: [''] } };
            const now = Math.floor(Date.now() / 1000);
            const cases: [string, string | Promise<string>, RegExp][] = [
              ['expired', jwt(claim, { exp: now - 3600 }), /expired/],
              ['not yet valid', jwt(claim, { nbf: now + 3600 }), /"nbf"/],
              ['another issuer', jwt(claim, { iss: 'https://elsewhere.test' }), /"iss"/],
              ['another audience', jwt(claim, { aud: 'someone-else' }), /"aud"/],
              ['another key', jwt(claim, { key: stranger.privateKey }), /signature/],
              [
                'unsigned',
                new UnsecuredJWT(claim).setIssuer(ISSUER).setAudience(AUDIENCE).setSubject('x').setExpirationTime('10m').encode(),
                /refused|key/,
              ],
              ['no subject', jwt(claim, { sub: null }), /"sub"/],
              ['malformed claim', jwt({ dynamo: { read: 'everything' } }), /"dynamo" claim is malformed/],
            ];
            for (const [what, token, why] of cases) {
              const r = await call(GET, { key: 'k' }, await token);
              assert.equal(r.status, 401, what);
              assert.equal(code(r), 'UNAUTHENTICATED', what);
              assert.match(r.errors![0]!.message, why, what);
            }
          },
        );

        await t.test('/metrics needs the admin scope: 401 without a credential, 403 with a data key, 200 for an admin key', async () => {
          assert.equal((await metrics()).status, 401);
          assert.equal((await metrics('wrong-token-0123456789')).status, 401);
          assert.equal((await metrics(ALICE)).status, 403);
          const res = await metrics(OPS);
          assert.equal(res.status, 200);
          const text = await res.text();
          assert.match(text, /dynamo_gateway_errors_total\{code="FORBIDDEN"\} [1-9]/);
          assert.match(text, /dynamo_gateway_errors_total\{code="UNAUTHENTICATED"\} [1-9]/);
          assert.equal((await metrics(TEST_ADMIN_TOKEN)).status, 200);
        });

        await t.test('CORS: an allowed origin gets the CORS headers, any other origin none', async () => {
          const preflight = (origin: string) =>
            fetch(url, {
              method: 'OPTIONS',
              headers: { origin, 'access-control-request-method': 'POST', 'access-control-request-headers': 'authorization,content-type' },
            });
          const allowed = await preflight(ALLOWED_ORIGIN);
          assert.equal(allowed.status, 204);
          assert.equal(allowed.headers.get('access-control-allow-origin'), ALLOWED_ORIGIN);
          assert.match(allowed.headers.get('access-control-allow-headers') ?? '', /authorization/);
          const refused = await preflight('https://evil.example');
          assert.equal(refused.headers.get('access-control-allow-origin'), null);
          const post = await call(GET, { key: 'cart:alice:2' }, ALICE, { origin: ALLOWED_ORIGIN });
          assert.equal(post.headers.get('access-control-allow-origin'), ALLOWED_ORIGIN);
          assert.equal(post.headers.get('access-control-allow-credentials'), null, 'bearer tokens, never cookies');
          const foreign = await call(GET, { key: 'cart:alice:2' }, ALICE, { origin: 'https://evil.example' });
          assert.equal(foreign.headers.get('access-control-allow-origin'), null);
        });

        await t.test('introspection stays on outside production, for an authenticated caller', async () => {
          assert.equal(ok(await call('{ __schema { queryType { name } } }', {}, READER)).__schema.queryType.name, 'Query');
        });
      },
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
