// Records on disk: data directories written before records carried their own format are
// migrated and keep working (test/fixtures/format-1), and a flipped bit in a real LMDB file is
// an error, never data: the record is not served, it is counted, and read repair writes it
// again from the other replicas.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cpSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DynamoClient } from '../../client/src/client.ts';
import { contextOf } from '../../client/src/core/siblings.ts';
import { LmdbEngine } from '../../storage/engine/lmdb.ts';
import { DIRECTORY_FORMAT, frame, RecordEngine, unframe } from '../../storage/engine/records.ts';
import { decodeSet, encodeSet } from '../../client/src/protocol/codec.ts';
import { LocalCluster, ROOT } from '../../bin/launcher.ts';
import { TEST_SECRET } from '../helpers/cluster.ts';
import { waitFor } from '../helpers/wait.ts';

const FIXTURE = join(ROOT, 'test/fixtures/format-1');
const FIXTURE_SECRET = 'fixture-secret-0123456789abcdef';
const output = process.env.NODE_OUTPUT === '1' ? 'inherit' : 'ignore';

function copyOfFixture(): string {
  const dir = mkdtempSync(join(tmpdir(), 'format-1-'));
  cpSync(FIXTURE, dir, { recursive: true });
  return dir;
}

test('a format-1 data directory is migrated in place: every record framed and checked, the old hint index and clean mark gone, a second open rewrites nothing', async () => {
  const dir = copyOfFixture();
  try {
    const raw = LmdbEngine.open(join(dir, 'n4'));
    const before = { data: [...raw.data.range()].length, hints: [...raw.hints.range()].length };
    const corrupt: string[] = [];
    const { engine, migrated } = await RecordEngine.open(raw, (store, key) => void corrupt.push(`${store} ${JSON.stringify(key)}`));
    assert.ok(migrated > before.data, `${migrated} records rewritten`);
    assert.deepEqual(corrupt, []);
    for (const store of [raw.data, raw.hints, raw.meta])
      for (const e of store.range()) assert.ok(unframe(e.value), `a record left bare: ${JSON.stringify(e.key)}`);
    assert.equal([...raw.hints.range({ start: ['k'], end: ['l'] })].length, 0, 'the on-disk hint index is gone');
    assert.equal(raw.meta.get(['clean-shutdown']), undefined);
    assert.equal([...engine.data.range()].length, before.data);
    assert.ok([...engine.hints.range()].length > 0 && [...engine.hints.range()].length < before.hints);
    await raw.close();
    const again = LmdbEngine.open(join(dir, 'n4'));
    assert.equal((await RecordEngine.open(again, () => undefined)).migrated, 0);
    await again.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a cluster of format-1 data directories starts on the current code: every value reads back, the old hints are delivered, and writes go on', async () => {
  const dir = copyOfFixture();
  const cluster = new LocalCluster({ nodes: 4, basePort: 7901, dataDir: dir, secret: FIXTURE_SECRET, partitions: 8, output });
  let client: DynamoClient | undefined;
  try {
    await cluster.start();
    client = await DynamoClient.connect({ seeds: cluster.seeds, cluster: cluster.cluster, secret: FIXTURE_SECRET, timeoutMs: 5000 });
    await waitFor(
      'the hints kept for n3 delivered',
      async () => (await Promise.all(client!.ring.members.map((m) => client!.status(m.id)))).every((s) => s.hints === 0),
      30_000,
      200,
    );
    const text = (v: { value: Uint8Array }) => Buffer.from(v.value).toString();
    for (let i = 0; i < 20; i++) assert.deepEqual((await client.get(`plain-${i}`, { r: 3 })).siblings.map(text), [JSON.stringify({ i })]);
    for (let i = 0; i < 8; i++)
      assert.deepEqual((await client.get(`while-n3-down-${i}`, { r: 3 })).siblings.map(text), [JSON.stringify({ i })]);
    const twins = await client.get('twins', { r: 3 });
    assert.deepEqual(twins.siblings.map(text).sort(), ['"left"', '"right"']);
    const gone = await client.get('gone', { r: 3 });
    assert.ok(gone.siblings.length === 1 && gone.siblings[0]!.deleted, 'the tombstone is still there');
    // n3 holds, in its own data, what was written for it while it was down
    const forN3 = Array.from({ length: 8 }, (_, i) => `while-n3-down-${i}`).filter((k) =>
      client!.view.primaries(client!.view.partitionOf(k)).includes('n3'),
    );
    assert.ok(forN3.length > 0);
    for (const k of forN3) {
      const copies = await client.replicas(k);
      assert.ok(copies.some((c) => c.node === 'n3' && c.hintFor === null && c.set.length === 1), `${k} on n3`);
    }
    await client.put('twins', Buffer.from('"both"'), { context: contextOf(twins.siblings), w: 3 });
    assert.deepEqual((await client.get('twins', { r: 3 })).siblings.map(text), ['"both"']);
  } finally {
    client?.close();
    await cluster.stop().catch(() => undefined);
    rmSync(dir, { recursive: true, force: true });
  }
});

test('lmdb: a byte flipped in a real data file is never served; it is counted, the node moves its actor for that range on, and read repair writes the key again', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'flip-'));
  const cluster = new LocalCluster({ nodes: 3, basePort: 7921, dataDir: dir, secret: TEST_SECRET, output });
  let client: DynamoClient | undefined;
  try {
    await cluster.start();
    client = await DynamoClient.connect({ seeds: cluster.seeds, cluster: cluster.cluster, secret: TEST_SECRET, timeoutMs: 5000 });
    const key = 'flip-me';
    const marker = 'a-value-to-find-in-the-file';
    await client.put(key, Buffer.from(JSON.stringify(marker)), { w: 3 });
    await cluster.stop();
    // flip one byte of the value where it sits in n1's LMDB file
    const file = join(cluster.dataDirOf('n1'), 'lmdb', readdirSync(join(cluster.dataDirOf('n1'), 'lmdb')).find((f) => f === 'data.mdb')!);
    const bytes = readFileSync(file);
    const at = bytes.indexOf(Buffer.from(marker));
    assert.ok(at > 0, 'the value is in the file');
    bytes[at + 3] = bytes[at + 3]! ^ 0x20;
    writeFileSync(file, bytes);
    await cluster.start();
    client.close();
    client = await DynamoClient.connect({ seeds: cluster.seeds, cluster: cluster.cluster, secret: TEST_SECRET, timeoutMs: 5000 });
    const onN1 = await client.request('n1', { type: 'inspect', key });
    assert.ok(onN1.type === 'inspectReply' && onN1.own.length === 0, 'the corrupt copy is not served');
    const status = await client.status('n1');
    assert.ok(status.corruptRecords >= 1, `${status.corruptRecords} corrupt records counted`);
    // a full read answers from the good copies and repairs n1
    const read = await client.get(key, { r: 3 });
    assert.deepEqual(read.siblings.map((v) => JSON.parse(Buffer.from(v.value).toString()) as string), [marker]);
    await waitFor('read repair rewrote n1\'s copy', async () => {
      const r = await client!.request('n1', { type: 'inspect', key });
      return r.type === 'inspectReply' && r.own.length === 1;
    }, 10_000, 100);
    // a write coordinated by n1 goes on, as a new actor for that range
    await waitFor('n1 to hear from a majority of members', async () => (await client!.status('n1')).identityConfirmed, 10_000, 100);
    const w = await client.request('n1', {
      type: 'put',
      key,
      value: Buffer.from('"after"'),
      deleted: false,
      context: contextOf(read.siblings),
      w: 3,
      pw: 0,
    });
    assert.ok(w.type === 'putReply' && /^n1@[a-z0-9]+\.\d+$/.test(w.dot.actor), JSON.stringify(w));
  } finally {
    client?.close();
    await cluster.stop().catch(() => undefined);
    rmSync(dir, { recursive: true, force: true });
  }
});

test('format 3: a directory of format 2 is marked 3 without a rewrite, keeps reading its records, and stores versions with an expiry time', async () => {
  const dir = copyOfFixture();
  try {
    const raw = LmdbEngine.open(join(dir, 'n1'));
    await RecordEngine.open(raw, () => undefined);
    // as a node of the release before left it: format 2
    await raw.meta.put(['format'], frame(Buffer.from([2])));
    const keys = [...raw.data.range()].length;
    const { engine, migrated } = await RecordEngine.open(raw, () => undefined);
    assert.equal(migrated, 0);
    assert.equal(DIRECTORY_FORMAT, 3);
    assert.equal(unframe(raw.meta.get(['format'])!)![0], 3);
    // every set of the earlier encoding still decodes, and the same bytes encode again
    const sets = [...engine.data.range()].map((e) => e.value);
    assert.equal(sets.length, keys);
    for (const bytes of sets) assert.ok(Buffer.from(encodeSet(decodeSet(Buffer.from(bytes)))).equals(bytes));
    const expiring = [
      {
        dot: { actor: 'n1@x', counter: 7 },
        past: new Map([['n2@y', 3]]),
        deleted: false,
        writtenAt: 1_700_000_000_000,
        value: Buffer.from('v'),
        expiresAt: 1_700_000_060_000,
      },
    ];
    await engine.data.put(['ttl-key'], encodeSet(expiring));
    await engine.flushed();
    await raw.close();
    const again = LmdbEngine.open(join(dir, 'n1'));
    const reopened = await RecordEngine.open(again, () => undefined);
    assert.equal(reopened.migrated, 0);
    assert.equal(decodeSet(Buffer.from(reopened.engine.data.get(['ttl-key'])!))[0]!.expiresAt, 1_700_000_060_000);
    // a release that reads up to this format refuses a later one, rather than misread it
    await again.meta.put(['format'], frame(Buffer.from([4])));
    await assert.rejects(
      RecordEngine.open(again, () => undefined),
      /the data directory has format 4; this node reads formats up to 3: run a newer version/,
    );
    await again.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
