// Merkle trees against a naive model: the keys a tree comparison finds are exactly the keys
// whose values differ, and incremental updates equal a rebuild.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { differingKeys, differingSegments, leafHash, localSide, MerkleTree, segmentOfPosition } from '../../client/src/core/merkle.ts';
import { ringPosition } from '../../client/src/core/hash.ts';

const segmentOf = (key: string) => segmentOfPosition(ringPosition(key), 64);

function treeOf(data: Map<string, string>): MerkleTree {
  const t = new MerkleTree();
  for (const [k, v] of data) t.update(segmentOf(k), null, leafHash(k, Buffer.from(v)));
  return t;
}

function listing(data: Map<string, string>, segments: number[]): Map<string, Buffer> {
  const set = new Set(segments);
  return new Map([...data].filter(([k]) => set.has(segmentOf(k))).map(([k, v]) => [k, leafHash(k, Buffer.from(v))]));
}

const dataset = fc
  .dictionary(fc.string({ minLength: 1, maxLength: 12 }), fc.string({ maxLength: 6 }), { maxKeys: 300 })
  .map((o) => new Map(Object.entries(o)));
const edits = fc.array(fc.tuple(fc.string({ minLength: 1, maxLength: 12 }), fc.option(fc.string({ maxLength: 6 }), { nil: null })), {
  maxLength: 20,
});

test('comparing two trees finds exactly the keys whose values differ', async () => {
  await fc.assert(
    fc.asyncProperty(dataset, edits, async (base, changes) => {
      const other = new Map(base);
      for (const [k, v] of changes) {
        if (v === null) other.delete(k);
        else other.set(k, v);
      }
      const naive = new Set([...new Set([...base.keys(), ...other.keys()])].filter((k) => base.get(k) !== other.get(k)));
      const segments = await differingSegments(localSide(treeOf(base)), localSide(treeOf(other)));
      const found = differingKeys(listing(base, segments), listing(other, segments));
      assert.deepEqual(new Set(found), naive);
      if (naive.size === 0) assert.equal(segments.length, 0, 'equal data: roots agree, nothing listed');
      assert.ok(segments.length <= naive.size, 'only segments holding a differing key are listed');
    }),
    { numRuns: 300 },
  );
});

test('incremental updates give the same tree as building from the data', () => {
  fc.assert(
    fc.property(dataset, edits, (base, changes) => {
      const t = treeOf(base);
      const data = new Map(base);
      for (const [k, v] of changes) {
        const before = data.get(k);
        t.update(
          segmentOf(k),
          before === undefined ? null : leafHash(k, Buffer.from(before)),
          v === null ? null : leafHash(k, Buffer.from(v)),
        );
        if (v === null) data.delete(k);
        else data.set(k, v);
      }
      assert.ok(t.root().equals(treeOf(data).root()));
      assert.equal(t.size, data.size);
    }),
    { numRuns: 300 },
  );
});
