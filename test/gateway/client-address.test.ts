// The client address behind trusted proxies (gateway/client-address.ts), against a naive model
// over explicit address sets, plus subnets, IPv6 and what an untrusted peer may not claim.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { clientAddress, trustedProxies } from '../../gateway/client-address.ts';
import { loadGatewayConfig } from '../../gateway/config.ts';

const SEED = Number(process.env.CLIENT_ADDRESS_SEED ?? Date.now() % 2 ** 31);

test(`the client address matches a naive walk of X-Forwarded-For (seed ${SEED})`, () => {
  const pool = Array.from({ length: 8 }, (_, i) => `10.0.0.${i + 1}`);
  const hop = fc.oneof({ weight: 9, arbitrary: fc.constantFrom(...pool) }, { weight: 1, arbitrary: fc.constant('junk') });
  fc.assert(
    fc.property(fc.subarray(pool), fc.constantFrom(...pool), fc.array(hop, { maxLength: 6 }), (trust, peer, hops) => {
      const list = trustedProxies(trust);
      const header = hops.length ? hops.join(', ') : undefined;
      // the model: the chain is the hops, then the peer; walk from the right past trusted proxies,
      // but only through a trusted peer, and stop at an entry that is not an address
      const chain = [...hops, peer];
      let expected = peer;
      if (trust.includes(peer) && header) {
        for (let i = chain.length - 2; i >= 0; i--) {
          if (chain[i] === 'junk') break;
          expected = chain[i]!;
          if (!trust.includes(chain[i]!)) break;
        }
      }
      assert.equal(clientAddress(peer, header, list), expected);
    }),
    { seed: SEED, numRuns: 2000 },
  );
});

test('subnets, IPv6 and IPv4-in-IPv6 peers; no list means the peer', () => {
  const list = trustedProxies(['10.0.0.0/8', '::1', 'fd00::/8']);
  assert.equal(clientAddress('10.1.2.3', '203.0.113.9, 10.9.9.9', list), '203.0.113.9');
  assert.equal(clientAddress('::ffff:10.1.2.3', '203.0.113.9', list), '203.0.113.9', 'uWS reports IPv4 peers in IPv6 form');
  assert.equal(clientAddress('::1', '2001:db8::7, fd00::2', list), '2001:db8::7');
  assert.equal(clientAddress('192.0.2.1', '203.0.113.9', list), '192.0.2.1', 'an untrusted peer claims nothing');
  assert.equal(clientAddress('10.1.2.3', '10.2.2.2, 10.3.3.3', list), '10.2.2.2', 'every hop trusted: the left-most');
  assert.equal(clientAddress('10.1.2.3', undefined, null), '10.1.2.3');
  assert.equal(clientAddress('10.1.2.3', '203.0.113.9', null), '10.1.2.3', 'nothing trusted without the setting');
});

test('a bad trusted-proxy entry is named', () => {
  for (const bad of ['localhost', '10.0.0.0/33', '::1/129', '10.0.0.1/8/8', '10.0.0.0/x', ''])
    assert.throws(() => trustedProxies([bad]), new RegExp(`got ${JSON.stringify(JSON.stringify(bad)).slice(1, -1)}`), bad);
});

test('--trust-proxy and GATEWAY_TRUST_PROXY: a list of entries, a bad one refused at start with its name', () => {
  const env = { DYNAMO_SECRET: 'a-secret-of-16-chars-or-more', GATEWAY_CONTEXT_KEYS: 'k'.repeat(32) };
  const seeds = ['--seeds', '127.0.0.1:7001'];
  assert.deepEqual(loadGatewayConfig([...seeds, '--trust-proxy', '10.0.0.0/8, ::1'], env).trustProxy, ['10.0.0.0/8', '::1']);
  assert.deepEqual(loadGatewayConfig(seeds, { ...env, GATEWAY_TRUST_PROXY: '192.0.2.1' }).trustProxy, ['192.0.2.1']);
  assert.equal(loadGatewayConfig(seeds, env).trustProxy, undefined);
  assert.throws(() => loadGatewayConfig([...seeds, '--trust-proxy', '10.0.0.0/40'], env), /trust-proxy.*got "10\.0\.0\.0\/40"/s);
});
