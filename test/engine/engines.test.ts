import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MemoryEngine } from '../../storage/engine/memory.ts';
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

test('memory: a crash undoes exactly the writes that were not yet durable, and kills the old handle', async () => {
  const pending: (() => void)[] = [];
  const e = new MemoryEngine(undefined, (durable) => pending.push(durable));
  const first = e.data.put(['a'], Buffer.from('1'));
  pending.shift()!();
  await first;
  void e.data.put(['a'], Buffer.from('2'));
  void e.data.put(['b'], Buffer.from('3'));
  const after = e.crash();
  assert.equal(Buffer.from(after.data.get(['a'])!).toString(), '1');
  assert.equal(after.data.get(['b']), undefined);
  assert.throws(() => e.data.get(['a']), /dead/);
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
