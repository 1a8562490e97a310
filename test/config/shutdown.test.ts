// Every process stops the same way: SIGTERM or SIGINT runs its stop once, then exits 0, or 1
// with the reason when the stop fails.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { join } from 'node:path';
import { ROOT, TS_NODE_ARGS } from '../../bin/launcher.ts';

type Exit = { code: number | null; stdout: string; stderr: string };

async function signalled(signal: NodeJS.Signals, args: string[], twice = false): Promise<Exit> {
  const script = join(ROOT, 'test/config/stop-on-signal-process.ts');
  const child = spawn(process.execPath, [...TS_NODE_ARGS, script, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = once(child, 'exit');
  await new Promise<void>((resolve, reject) => {
    child.stdout.on('data', (d: Buffer) => {
      stdout += d.toString();
      if (stdout.includes('ready\n')) resolve();
    });
    child.once('exit', () => reject(new Error(`exited before it was ready: ${stderr}`)));
  });
  child.kill(signal);
  if (twice) child.kill(signal);
  const [code] = (await exited) as [number | null];
  return { code, stdout, stderr };
}

test('SIGTERM and SIGINT run the stop once and exit 0', async () => {
  const term = await signalled('SIGTERM', [], true);
  assert.equal(term.code, 0, term.stderr);
  assert.equal(term.stdout, 'ready\nstopping 1\n', 'a second signal while stopping changes nothing');
  const int = await signalled('SIGINT', []);
  assert.equal(int.code, 0, int.stderr);
});

test('a stop that fails exits 1 with the reason', async () => {
  const r = await signalled('SIGTERM', ['fail']);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /shutdown failed: the stop failed/);
});
