// Compiled execution (gateway/compiled-execution.ts) answers as the interpreter does. Every
// operation below runs first through a gateway that interprets, over a real cluster, recording
// each answer the store gave; then through a gateway that compiles every operation from its
// first run, given the same answers from the store in the same calls. The two HTTP answers
// must be byte for byte the same: data, errors (messages, paths, locations, codes) and status.
// The operations reach every type of the schema's queries and mutations, variables and their
// coercion errors, literals, fragments, directives, aliases, null propagation, serial
// mutations, refusals and several operations in one document. Then: documents holding
// graphql-jit's code markers are never compiled, a seeded fuzz of random literals answers alike
// on both and runs none of them, and positionOf against graphql-js.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { inspect } from 'node:util';
import fc from 'fast-check';
import { getLocation, Source } from 'graphql';
import { DynamoClient } from '../../client/src/client.ts';
import { silentLogger } from '../../client/src/runtime.ts';
import { ApiKeys } from '../../gateway/api-keys.ts';
import { Authenticator } from '../../gateway/auth.ts';
import { positionOf, useCompiledExecution, type CompiledExecution } from '../../gateway/compiled-execution.ts';
import { ContextSigner } from '../../gateway/context-token.ts';
import { createGateway, CSRF_HEADER, type Gateway } from '../../gateway/yoga.ts';
import { TEST_SECRET, withCluster } from '../helpers/cluster.ts';
import { TEST_CONTEXT_KEY } from '../helpers/stack.ts';

const ALL = 'token-all-0123456789abcdef';
const READER = 'token-reader-0123456789abcdef';
const ADMIN = 'token-admin-0123456789abcdef';
const keys = ApiKeys.fromJson({
  [ALL]: { name: 'all', read: [''], write: [''] },
  [READER]: { name: 'reader', read: ['pub/'], write: [] },
  [ADMIN]: { name: 'admin', read: [''], write: [''], admin: true },
});

interface Step {
  readonly query: string;
  /** the variables, or a function of the answers so far (by step index) */
  readonly variables?: Record<string, unknown> | ((answers: readonly Answer[]) => Record<string, unknown>);
  readonly operationName?: string;
  readonly token?: string;
}

interface Answer {
  readonly status: number;
  readonly text: string;
}

const VERSIONS = 'key found context siblings { value deleted dot writtenAt expiresAt }';
const contextOf = (answers: readonly Answer[], step: number, field: string) =>
  (JSON.parse(answers[step]!.text) as { data: Record<string, { context: string }> }).data[field]!.context;

const steps: Step[] = [
  // writes, a sibling, a read of both
  {
    query: `mutation($k: String!, $v: JSON!) { put(key: $k, value: $v) { key context acks dot } }`,
    variables: { k: 'a', v: { n: 1, s: 'x', l: [1, 'two', null, true], o: { deep: [{}] } } },
  },
  {
    query: `mutation($k: String!, $c: String) { put(key: $k, value: "second", context: $c, w: 3) { key context acks dot __typename } }`,
    variables: (a) => ({ k: 'a', c: contextOf(a, 0, 'put') }),
  },
  { query: `mutation { put(key: "a", value: {lit: [1, 2.5, "s", false, null], neg: -3}) { dot } }` },
  { query: `query($k: String!) { get(key: $k) { ${VERSIONS} } }`, variables: { k: 'a' } },
  // fragments, aliases, directives, typename, several reads of one key
  {
    query: `query Q($k: String!, $with: Boolean!, $skip: Boolean = false) {
      first: get(key: $k) { ...V }
      second: get(key: $k, r: 1) { key siblings @include(if: $with) { value } context @skip(if: $skip) __typename }
      missing: get(key: "never") { ...V }
    }
    fragment V on Versions { key found siblings { ... on Sibling { dot value } } context }`,
    variables: { k: 'a', with: true },
  },
  {
    query: `query($k: String!, $with: Boolean!) { get(key: $k) { key siblings @include(if: $with) { value } } }`,
    variables: { k: 'a', with: false },
  },
  {
    query: `query($ks: [String!]!, $r: Int) { getMany(keys: $ks, r: $r) { key found siblings { value dot } } }`,
    variables: { ks: ['a', 'never', 'a', 'b'], r: 2 },
  },
  { query: `query { getMany(keys: []) { key } }` },
  { query: `query($ks: [String!]!) { getMany(keys: $ks) { key } }`, variables: { ks: 'a' } },
  // variables the schema refuses, and resolver errors
  { query: `query($k: String!, $r: Int) { get(key: $k, r: $r) { key } }`, variables: { k: 'a', r: 'two' } },
  { query: `query($k: String!, $r: Int) { get(key: $k, r: $r) { key } }`, variables: { k: 'a', r: 2 ** 31 } },
  { query: `query($k: String!) { get(key: $k) { key } }`, variables: {} },
  { query: `query($k: String!) { get(key: $k) { key } }`, variables: { k: null } },
  { query: `query($k: String!) { get(key: $k, r: 9) { key } other: get(key: "a") { key } }`, variables: { k: 'a' } },
  { query: `query($k: String!) { get(key: $k) { key } }`, variables: { k: '' } },
  { query: `mutation($v: JSON!) { put(key: "a", value: $v) { dot } }`, variables: { v: null } },
  { query: `mutation { put(key: "a", value: "x", condition: ABSENT) { dot } }` },
  {
    query: `mutation($c: String) { put(key: "a", value: "x", context: $c, condition: CURRENT) { dot } }`,
    variables: (a) => ({ c: contextOf(a, 0, 'put') }),
  },
  // a mutation's fields run in order; a failed one is null and the others stand
  {
    query: `mutation($c: String) {
      one: put(key: "b", value: 1) { key acks }
      two: put(key: "b", value: 2, w: 7) { key }
      three: delete(key: "a", context: $c) { key acks }
    }`,
    variables: (a) => ({ c: contextOf(a, 3, 'get') }),
  },
  { query: `query { get(key: "a") { ${VERSIONS} } b: get(key: "b") { found siblings { value } } }` },
  { query: `mutation { put(key: "t", value: "ttl", ttlSeconds: 3600) { key } }` },
  // counters, sets, maps; a typed read of a plain value (null propagates to data)
  { query: `mutation($by: Int!) { counterIncrement(key: "c", by: $by) }`, variables: { by: 5 } },
  { query: `mutation { counterIncrement(key: "c", by: -2) x: counterIncrement(key: "c", by: 1, w: 1) }` },
  { query: `query { counter(key: "c") }` },
  { query: `query { counter(key: "b") }` },
  { query: `mutation($m: [JSON!]!) { setAdd(key: "s", members: $m) }`, variables: { m: [1, 'one', { o: 1 }, [2]] } },
  { query: `mutation { setRemove(key: "s", members: ["one"]) }` },
  {
    query: `mutation($regs: [MapRegisterInput!], $incs: [MapIncrementInput!]) {
      mapUpdate(key: "m", registers: $regs, increments: $incs) { key registers { field value } counters { field value } }
    }`,
    variables: { regs: [{ field: 'name', value: 'ada' }, { field: 'tags', value: ['x'] }], incs: [{ field: 'visits', by: 3 }] },
  },
  { query: `query { set(key: "s") map(key: "m") { registers { field value } counters { field value } } }` },
  { query: `query { map(key: "a") { key } }` },
  {
    query: `mutation($regs: [MapRegisterInput!]) { mapUpdate(key: "m", registers: $regs) { key } }`,
    variables: { regs: [{ field: 1 }] },
  },
  // the cluster, refusals by scope, admin fields, one of several operations
  { query: `query { cluster { n r w partitions ringVersion nodes { id address } } }` },
  { query: `query { get(key: "a") { key } }`, token: READER },
  { query: `mutation { put(key: "pub/x", value: 1) { key } }`, token: READER },
  { query: `query { admin { ring { version } } }` },
  { query: `query { admin { nodes { id } hints { node } } cluster { n } }`, token: ADMIN },
  {
    query: `query A { get(key: "b") { key } } query B($k: String = "c") { counter(key: $k) } mutation C { counterIncrement(key: "c", by: 1) }`,
    operationName: 'B',
  },
  { query: `query A { get(key: "b") { key } } mutation C { counterIncrement(key: "c", by: 1) }`, operationName: 'C' },
  // the store fails in a way the gateway does not expect (a masked error)
  { query: `query { get(key: "boom") { key } other: counter(key: "c") }` },
  { query: `mutation { put(key: "boom", value: 1) { key } }` },
];

/** The store's answers, by call: each call's value or error (a promise's, as it settled), first in first out. */
class Recording {
  readonly calls = new Map<string, { async: boolean; ok: boolean; value: unknown }[]>();
  replayed = 0;

  /** a client recording every call's answer */
  recorder(client: DynamoClient): DynamoClient {
    return this.proxy(client, (sig, call) => {
      const slot = { async: false, ok: true, value: undefined as unknown };
      this.calls.set(sig, [...(this.calls.get(sig) ?? []), slot]);
      try {
        // a key the store fails on with an error the gateway does not expect
        if (sig.includes("'boom'")) slot.value = Promise.reject(new TypeError('the store failed unexpectedly'));
        else slot.value = call();
      } catch (e) {
        Object.assign(slot, { ok: false, value: e });
        throw e;
      }
      if (!(slot.value instanceof Promise)) return slot.value;
      slot.async = true;
      return slot.value.then(
        (v: unknown) => ((slot.value = v), v),
        (e: unknown) => {
          Object.assign(slot, { ok: false, value: e });
          throw e;
        },
      );
    });
  }

  /** a client answering each call as the recorder's did */
  replayer(client: DynamoClient): DynamoClient {
    return this.proxy(client, (sig) => {
      const next = this.calls.get(sig)?.shift();
      if (!next) throw new Error(`a call the interpreted run did not make: ${sig}`);
      this.replayed++;
      if (next.async) return next.ok ? Promise.resolve(next.value) : Promise.reject(next.value as Error);
      if (!next.ok) throw next.value;
      return next.value;
    });
  }

  private proxy(client: DynamoClient, on: (sig: string, call: () => unknown) => unknown): DynamoClient {
    return new Proxy(client, {
      get(target, prop) {
        const value = Reflect.get(target, prop, target) as unknown;
        if (typeof value !== 'function') return value;
        const fn = value as (...args: unknown[]) => unknown;
        return (...args: unknown[]) => {
          const sig = `${String(prop)} ${inspect(args, { depth: Infinity, breakLength: Infinity, sorted: true })}`;
          return on(sig, () => fn.apply(target, args));
        };
      },
    });
  }
}

function gatewayOver(store: DynamoClient, compiledExecution: CompiledExecution | null): Gateway {
  return createGateway({
    client: () => store,
    contexts: new ContextSigner([TEST_CONTEXT_KEY]),
    auth: new Authenticator({ apiKeys: keys }),
    requestTimeoutMs: 10_000,
    maxBodyBytes: 1 << 20,
    graphiql: false,
    logger: { ...silentLogger, error: (m: string, f?: unknown) => console.error(m, f) },
    compiledExecution,
  });
}

interface BothGateways {
  readonly recording: Recording;
  /** interprets, over the real cluster, recording the store's answers */
  readonly interpreter: Gateway;
  /** compiles every operation from its first run, given the recorded answers */
  readonly compiled: Gateway;
  readonly compiler: CompiledExecution;
}

async function withBothGateways(nodes: number, basePort: number, body: (g: BothGateways) => Promise<void>): Promise<void> {
  await withCluster({ nodes, basePort }, async ({ cluster }) => {
    const client = await DynamoClient.connect({ seeds: cluster.seeds, cluster: cluster.cluster, secret: TEST_SECRET });
    try {
      const recording = new Recording();
      const compiler = useCompiledExecution({ runsBeforeCompiling: 0 });
      const interpreter = gatewayOver(recording.recorder(client), null);
      await body({ recording, interpreter, compiled: gatewayOver(recording.replayer(client), compiler), compiler });
    } finally {
      client.close();
    }
  });
}

async function ask(yoga: Gateway, step: Step): Promise<Answer> {
  const variables = typeof step.variables === 'function' ? undefined : step.variables;
  const res = await yoga.fetch('http://gateway/graphql', {
    method: 'POST',
    headers: { 'content-type': 'application/json', [CSRF_HEADER]: '1', authorization: `Bearer ${step.token ?? ALL}` },
    body: JSON.stringify({ query: step.query, variables, operationName: step.operationName }),
  });
  return { status: res.status, text: await res.text() };
}

test('compiled execution answers byte for byte as the interpreter, given the same answers from the store', async () => {
  await withBothGateways(3, 7641, async ({ recording, interpreter, compiler, compiled }) => {
    const run = async (yoga: Gateway) => {
      const answers: Answer[] = [];
      for (const step of steps) {
        const variables = typeof step.variables === 'function' ? step.variables(answers) : step.variables;
        answers.push(await ask(yoga, { ...step, variables }));
      }
      return answers;
    };
    const expected = await run(interpreter);
    const recorded = [...recording.calls.values()].reduce((n, l) => n + l.length, 0);
    const actual = await run(compiled);

    steps.forEach((step, i) => assert.deepEqual(actual[i], expected[i], `step ${i}: ${step.query.slice(0, 80)}`));
    const errors = expected.filter((a) => a.text.includes('"errors"')).length;
    const statuses = [...new Set(expected.map((a) => a.status))].sort();
    console.log(
      `# ${steps.length} operations: ${errors} answered with errors, HTTP ${statuses.join(', ')}; ` +
        `${recorded} store calls recorded, ${recording.replayed} replayed; ` +
        `compiled ${compiler.counts.compiled}, interpreted ${compiler.counts.interpreted}, failed to compile ${compiler.counts.failed}`,
    );
    // every store call of the interpreted run was made again, and nothing else
    assert.equal(recording.replayed, recorded);
    assert.deepEqual([...recording.calls.values()].flat(), []);
    // every operation ran compiled (those whose variables it refused, then on the interpreter)
    assert.deepEqual(compiler.counts, { compiled: steps.length, interpreted: 0, failed: 0 });
    assert.ok(errors >= 12, `${errors} answers with errors`);
  });
});

test('by default an operation runs interpreted once, then compiled', async () => {
  await withCluster({ nodes: 1, basePort: 7646 }, async ({ cluster }) => {
    const client = await DynamoClient.connect({ seeds: cluster.seeds, cluster: cluster.cluster, secret: TEST_SECRET });
    try {
      const compiler = useCompiledExecution();
      const yoga = gatewayOver(client, compiler);
      const get = { query: 'query($k: String!) { get(key: $k) { key found } }', variables: { k: 'x' } };
      const answers = [];
      for (let i = 0; i < 3; i++) answers.push(await ask(yoga, get));
      assert.deepEqual(answers.map((a) => a.text), Array(3).fill('{"data":{"get":{"key":"x","found":false}}}'));
      assert.deepEqual(compiler.counts, { compiled: 2, interpreted: 1, failed: 0 });
      // another document, another first run
      await ask(yoga, { query: '{ cluster { n } }' });
      assert.deepEqual(compiler.counts, { compiled: 2, interpreted: 2, failed: 0 });
    } finally {
      client.close();
    }
  });
});

test("a document holding graphql-jit's code markers in its literals or names is never compiled: the marker cannot run as code", async () => {
  // graphql-jit writes literal arguments into its code with JSON.stringify, then turns a string
  // holding its date marker into `new Date(...)` around the rest of the string
  const marker = '__MAGIC_DATE__33a9e76d_02e0_4128_8e92_3530ad3da74d';
  const payload = '(globalThis.injectedByALiteral = 1)';
  const escaped = [...marker].map((c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`).join('');
  const documents = [
    `query { get(key: "${marker}${payload}") { key } }`,
    `query { get(key: "${escaped}${payload}") { key } }`,
    `query { get(key: """${marker}${payload}""") { key } }`,
    `query($k: String = "${marker}${payload}") { get(key: $k) { key } }`,
    `mutation { put(key: "k", value: { nested: ["${marker}${payload}"] }) { key } }`,
    `mutation { put(key: "k", value: { ${marker}x: 1 }) { key } }`,
  ];
  await withCluster({ nodes: 1, basePort: 7656 }, async ({ cluster }) => {
    const client = await DynamoClient.connect({ seeds: cluster.seeds, cluster: cluster.cluster, secret: TEST_SECRET });
    try {
      const compiler = useCompiledExecution({ runsBeforeCompiling: 0 });
      const yoga = gatewayOver(client, compiler);
      for (const query of documents) for (let run = 0; run < 2; run++) await ask(yoga, { query });
      assert.equal((globalThis as { injectedByALiteral?: number }).injectedByALiteral, undefined, 'a literal ran as code');
      assert.deepEqual(compiler.counts, { compiled: 0, interpreted: documents.length * 2, failed: 0 });
      // the same operations without the marker compile
      await ask(yoga, { query: `query { get(key: "plain${payload}") { key } }` });
      assert.equal(compiler.counts.compiled, 1);
    } finally {
      client.close();
    }
  });
});

const SEED = Number(process.env.COMPILED_EXECUTION_SEED ?? Date.now() % 2 ** 31);

test(`positionOf inverts graphql-js's getLocation, over \\n, \\r\\n and \\r line ends (seed ${SEED})`, () => {
  const text = fc.array(fc.constantFrom('a', ' ', '{', '\n', '\r', '\r\n', 'é'), { maxLength: 40 }).map((parts) => parts.join(''));
  fc.assert(
    fc.property(text, fc.nat(), (body, n) => {
      const position = n % (body.length + 1);
      // a position inside a \r\n is not a place a token starts
      fc.pre(!(body[position - 1] === '\r' && body[position] === '\n'));
      assert.equal(positionOf(body, getLocation(new Source(body), position)), position);
    }),
    { seed: SEED, numRuns: 2000 },
  );
});

/** A GraphQL literal of a JSON value: object field names are GraphQL names, strings JSON-escaped. */
type Json = null | boolean | number | string | Json[] | { [name: string]: Json };
const literal = (v: Json): string =>
  v === null || typeof v !== 'object'
    ? JSON.stringify(v)
    : Array.isArray(v)
      ? `[${v.map(literal).join(', ')}]`
      : `{${Object.entries(v).map(([k, x]) => `${k}: ${literal(x)}`).join(', ')}}`;

test(`random literals (quotes, backslashes, line separators, code, markers): compiled and interpreted answer alike, and none runs (seed ${SEED})`, async () => {
  // text that would matter if it reached generated code unescaped
  const risky = fc.constantFrom(
    ...['"', '\\', '\u2028', '\u2029', '`', '${', '*/', '</script>', "'", 'NaN', 'new Date(1)', '(globalThis.fuzzed = 1)'],
    ...['__MAGIC_', '__MAGIC_DATE__33a9e76d_02e0_4128_8e92_3530ad3da74d', '__MAGIC_NAN__57f286b9_4c20_487f_b409_79804ddcb4f8'],
  );
  const text = fc.array(fc.oneof(risky, fc.string({ unit: 'grapheme', maxLength: 8 })), { maxLength: 6 }).map((p) => p.join(''));
  const name = fc.stringMatching(/^[_A-Za-z][_0-9A-Za-z]{0,6}$/);
  const json: fc.Arbitrary<Json> = fc.letrec<{ value: Json }>((tie) => ({
    value: fc.oneof(
      { depthSize: 'small', withCrossShrink: true },
      fc.constant(null),
      fc.boolean(),
      fc.integer(),
      fc.double({ noNaN: true, noDefaultInfinity: true }),
      text,
      fc.array(tie('value'), { maxLength: 3 }),
      fc.dictionary(name, tie('value'), { maxKeys: 3 }),
    ),
  })).value;
  await withBothGateways(1, 7661, async ({ interpreter, compiler, compiled }) => {
    let runs = 0;
    await fc.assert(
      fc.asyncProperty(text, json, async (key, value) => {
        const steps = [
          { query: `mutation { put(key: ${JSON.stringify(key)}, value: ${literal(value)}) { key } }` },
          { query: `query { get(key: ${JSON.stringify(key)}) { key siblings { value } } }` },
        ];
        for (const step of steps) {
          const expected = await ask(interpreter, step);
          assert.deepEqual(await ask(compiled, step), expected, step.query);
        }
        runs++;
      }),
      { seed: SEED, numRuns: 150 },
    );
    console.log(`# ${runs} random literal pairs: compiled ${compiler.counts.compiled}, interpreted ${compiler.counts.interpreted}`);
    assert.equal((globalThis as { fuzzed?: number }).fuzzed, undefined, 'a literal ran as code');
    assert.ok(compiler.counts.compiled > runs, `${compiler.counts.compiled} compiled`);
  });
});
