import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DiskWriteError, MemoryEngine, type WriteFault } from '../../storage/engine/memory.ts';
import { LmdbEngine } from '../../storage/engine/lmdb.ts';
import { runEngineConformance } from './conformance.ts';

runEngineConformance({
  name: 'memory',
  open: async () => new MemoryEngine(),
  reopen: async (e) => {
    await e.close();
    return new MemoryEngine((e as MemoryEngine).disk);
  },
});

const dirs: string[] = [];
const paths = new Map<object, string>();
runEngineConformance({
  name: 'lmdb',
  open: async () => {
    const dir = mkdtempSync(join(tmpdir(), 'lmdb-conf-'));
    dirs.push(dir);
    const e = LmdbEngine.open(dir);
    paths.set(e, dir);
    return e;
  },
  reopen: async (e) => {
    const dir = paths.get(e)!;
    await e.close();
    const again = LmdbEngine.open(dir);
    paths.set(again, dir);
    return again;
  },
});

test('memory: a crash undoes exactly the transactions that were not yet durable, and kills the old handle', async () => {
  const due: (() => void)[] = [];
  const e = new MemoryEngine(undefined, { schedule: (_ms, fn) => due.push(fn) });
  const step = () => due.shift()!();
  const first = e.data.put(['a'], Buffer.from('1'));
  step(); // commit
  step(); // sync
  await first;
  void e.data.put(['a'], Buffer.from('2'));
  step(); // commit: visible, not durable
  void e.data.put(['b'], Buffer.from('3')); // not even committed
  assert.equal(Buffer.from(e.data.get(['a'])!).toString(), '2');
  assert.equal(e.data.get(['b']), undefined, 'a write is not visible before its transaction commits');
  assert.equal(Buffer.from(e.durableCopy().data.map.get(JSON.stringify(['a']))!.value).toString(), '1');
  const after = e.crash();
  assert.equal(Buffer.from(after.data.get(['a'])!).toString(), '1');
  assert.equal(after.data.get(['b']), undefined);
  assert.throws(() => e.data.get(['a']), /dead/);
});

test('memory: a transaction that fails at commit applies nothing; one that fails at sync is applied and durable, and its writes are told they failed', async () => {
  const faults: WriteFault[] = ['commit', 'sync', 'none'];
  const e = new MemoryEngine(undefined, { fault: () => faults.shift() ?? 'none' });
  await assert.rejects(e.data.put(['a'], Buffer.from('1')), (err: unknown) => err instanceof DiskWriteError && err.stage === 'commit');
  assert.equal(e.data.get(['a']), undefined);
  await assert.rejects(e.data.put(['a'], Buffer.from('2')), (err: unknown) => err instanceof DiskWriteError && err.stage === 'sync');
  assert.equal(Buffer.from(e.data.get(['a'])!).toString(), '2');
  await e.data.put(['b'], Buffer.from('3'));
  const after = e.crash();
  assert.equal(Buffer.from(after.data.get(['a'])!).toString(), '2', 'the data of a failed fsync may still be on disk');
  assert.deepEqual(e.failures, { commit: 1, sync: 1 });
});

test("lmdb: a second process cannot open a directory in use (pid lock); a dead holder's lock is taken over", async () => {
  const dir = mkdtempSync(join(tmpdir(), 'lmdb-lock-'));
  dirs.push(dir);
  const { writeFileSync } = await import('node:fs');
  writeFileSync(join(dir, 'LOCK'), '1'); // pid 1 is alive (init): in use
  assert.throws(() => LmdbEngine.open(dir), /in use by process 1/);
  writeFileSync(join(dir, 'LOCK'), '999999999'); // no such process: stale
  const e = LmdbEngine.open(dir);
  await e.close();
});

test.after(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});
