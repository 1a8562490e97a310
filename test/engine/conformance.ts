// One conformance suite every engine runs: the behaviour callers rely on, whatever is underneath.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { compareKeys, type Engine, type StoreKey } from '../../storage/engine/engine.ts';
import { OverlayStore } from '../../storage/engine/overlay.ts';

export interface EngineFactory {
  readonly name: string;
  /** a new, empty engine */
  open(): Promise<Engine>;
  /** the same data, after a close and reopen (as after a restart) */
  reopen(engine: Engine): Promise<Engine>;
}

export function runEngineConformance(f: EngineFactory): void {
  test(`${f.name}: put, get, overwrite and remove; values outlive later reads`, async () => {
    const e = await f.open();
    assert.equal(e.data.get([1, 'a']), undefined);
    await e.data.put([1, 'a'], Buffer.from('one'));
    const first = e.data.get([1, 'a'])!;
    await e.data.put([1, 'a'], Buffer.from('two'));
    assert.equal(Buffer.from(first).toString(), 'one', 'a value read earlier is not changed by a later write');
    assert.equal(Buffer.from(e.data.get([1, 'a'])!).toString(), 'two');
    await e.data.remove([1, 'a']);
    assert.equal(e.data.get([1, 'a']), undefined);
    await e.close();
  });

  test(`${f.name}: a value read stays as read while other keys are read, small or large`, async () => {
    const e = await f.open();
    const sizes = [1, 230, 5_000, 100_000, 1_100_000];
    const value = (size: number, fill: number) => Buffer.alloc(size, fill);
    await Promise.all(sizes.map((size, i) => e.data.put([2, `v${i}`], value(size, i + 1))));
    const read = sizes.map((_, i) => e.data.get([2, `v${i}`])!);
    for (let i = 0; i < sizes.length; i++) e.data.get([2, `v${(i + 1) % sizes.length}`]);
    sizes.forEach((size, i) => assert.ok(Buffer.from(read[i]!).equals(value(size, i + 1)), `the value of ${size} bytes`));
    await e.close();
  });

  test(`${f.name}: the three stores are separate`, async () => {
    const e = await f.open();
    await Promise.all([e.data.put(['k'], Buffer.from('d')), e.hints.put(['k'], Buffer.from('h')), e.meta.put(['k'], Buffer.from('m'))]);
    assert.deepEqual([e.data, e.hints, e.meta].map((s) => Buffer.from(s.get(['k'])!).toString()), ['d', 'h', 'm']);
    await e.close();
  });

  test(`${f.name}: ranges come in key order (numbers, then strings by UTF-8), bounded and limited`, async () => {
    const e = await f.open();
    const keys = fc.sample(
      fc.tuple(
        fc.integer({ min: 0, max: 63 }),
        fc.string({ minLength: 1, maxLength: 8 }).filter((s) => s.isWellFormed()),
      ),
      { numRuns: 200, seed: 7 },
    );
    const unique = [...new Map(keys.map((k) => [JSON.stringify(k), k as StoreKey])).values()];
    await Promise.all(unique.map((k) => e.data.put(k, Buffer.from(JSON.stringify(k)))));
    const sorted = [...unique].sort(compareKeys);
    assert.deepEqual([...e.data.range()].map((x) => x.key), sorted);
    const inPartition = [...e.data.range({ start: [5], end: [6] })].map((x) => x.key);
    assert.deepEqual(inPartition, sorted.filter((k) => k[0] === 5));
    assert.equal([...e.data.range({ limit: 3 })].length, Math.min(3, sorted.length));
    await e.close();
  });

  test(`${f.name}: writes are durable once their promise resolves, and survive a reopen`, async () => {
    let e = await f.open();
    await Promise.all(Array.from({ length: 500 }, (_, i) => e.data.put([i % 8, `key-${i}`], Buffer.from(String(i)))));
    await e.meta.put(['lease'], Buffer.from('9'));
    e = await f.reopen(e);
    assert.equal(Buffer.from(e.data.get([3, 'key-3'])!).toString(), '3');
    assert.equal([...e.data.range()].length, 500);
    assert.equal(Buffer.from(e.meta.get(['lease'])!).toString(), '9');
    await e.flushed();
    await e.close();
  });

  test(`${f.name}: a write shows to readers once its promise resolves; before that a read sees the old or the new value`, async () => {
    const e = await f.open();
    await e.data.put(['v'], Buffer.from('old'));
    const write = e.data.put(['v'], Buffer.from('new'));
    const during = Buffer.from(e.data.get(['v'])!).toString();
    assert.ok(during === 'old' || during === 'new', during);
    await write;
    assert.equal(Buffer.from(e.data.get(['v'])!).toString(), 'new');
    const removal = e.data.remove(['v']);
    await removal;
    assert.equal(e.data.get(['v']), undefined);
    await e.close();
  });

  test(`${f.name}: writes settle in the order they were issued`, async () => {
    const e = await f.open();
    const order: number[] = [];
    await Promise.all(
      Array.from({ length: 50 }, (_, i) => (i % 3 === 0 ? e.meta : e.data).put([i], Buffer.from([i])).then(() => order.push(i))),
    );
    assert.deepEqual(order, [...order].sort((a, b) => a - b));
    await e.close();
  });

  test(`${f.name}: through the replica's overlay, a write or a delete is seen at once by gets and ranges, and still after it settles`, async () => {
    const e = await f.open();
    const o = new OverlayStore(e.data);
    await o.put([1, 'a'], Buffer.from('a1'));
    await o.put([1, 'c'], Buffer.from('c1'));
    const writes = [o.put([1, 'b'], Buffer.from('b1')), o.remove([1, 'a']), o.put([1, 'c'], Buffer.from('c2'))];
    const seen = () => [...o.range({ start: [1], end: [2] })].map((x) => `${String(x.key[1])}=${Buffer.from(x.value).toString()}`);
    assert.equal(o.get([1, 'a']), undefined);
    assert.equal(Buffer.from(o.get([1, 'b'])!).toString(), 'b1');
    assert.deepEqual(seen(), ['b=b1', 'c=c2']);
    assert.deepEqual([...o.range({ start: [1], end: [2], limit: 1 })].length, 1);
    await Promise.all(writes);
    assert.equal(o.pendingCount, 0);
    assert.deepEqual(seen(), ['b=b1', 'c=c2']);
    await e.close();
  });
}
