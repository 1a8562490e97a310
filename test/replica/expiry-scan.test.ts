// The walk for expired values nobody reads (storage/repair/expiry-scan.ts): a tick looks at up to
// its limit of keys from where the last stopped, in slices with a pause between them, and finds
// the same keys as one unsliced walk would.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { SiblingSet } from '../../client/src/core/siblings.ts';
import { ExpiryScan } from '../../storage/repair/expiry-scan.ts';

/** three ranges of `per` keys each; every seventh key holds an expired version */
function store(per: number): Map<number, string[]> {
  const m = new Map<number, string[]>();
  for (let p = 0; p < 3; p++) m.set(p, Array.from({ length: per }, (_, i) => `k${p}-${String(i).padStart(4, '0')}`));
  return m;
}

function scan(data: Map<number, string[]>, limit: number, slice?: number) {
  const read: string[] = [];
  let pauses = 0;
  const s = new ExpiryScan({
    partitions: () => [...data.keys()],
    keysOf: (p, after) => data.get(p)!.filter((k) => k > after).map((key) => ({ key, bytes: Buffer.from(key) })),
    decode: (bytes) => {
      const key = Buffer.from(bytes).toString();
      return [{ deleted: false, expiresAt: Number(key.slice(-4)) % 7 === 0 ? 1 : undefined }] as unknown as SiblingSet;
    },
    now: () => 1000,
    read: (key) => {
      read.push(key);
      return Promise.resolve();
    },
    limit,
    ...(slice === undefined ? {} : { slice, pause: () => Promise.resolve(void pauses++) }),
  });
  return { s, read, pauses: () => pauses };
}

test('a sliced tick reads the same keys as an unsliced one, tick after tick, pausing between slices', async () => {
  const data = store(400);
  const whole = scan(data, 1000);
  const sliced = scan(data, 1000, 100);
  for (let t = 0; t < 3; t++) {
    const [a, b] = [await whole.s.tick(), await sliced.s.tick()];
    assert.equal(b, a);
    assert.deepEqual(sliced.read, whole.read);
  }
  assert.equal(sliced.pauses(), 27); // ten slices a tick, nine pauses
  assert.ok(whole.read.length > 0);
});

test('a tick over fewer keys than its limit goes round once and stops', async () => {
  const data = store(50);
  const sliced = scan(data, 1000, 20);
  const n = await sliced.s.tick();
  assert.equal(n, 4 * 8); // 0, 7, ..., 49 in each range, and the first range again (once round and into the first)
  assert.equal(sliced.pauses(), 9); // 200 keys looked at, 20 a slice
});
