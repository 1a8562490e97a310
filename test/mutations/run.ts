// npm run mutations [-- --only <part of a name>]
//
// Brings back each defect of mutations.ts in a copy of the committed tree and runs the check
// that must catch it. Prints one line per mutation and a JSON summary; exits non-zero when a
// mutation survives (its check passed with the defect back in).
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { MUTATIONS, type Mutation } from './mutations.ts';

const { values: o } = parseArgs({ options: { only: { type: 'string' }, 'timeout-s': { type: 'string', default: '900' } } });
const root = resolve(import.meta.dirname, '../..');
const chosen = MUTATIONS.filter((m) => !o.only || m.name.includes(o.only));
if (chosen.length === 0) {
  process.stderr.write(`no mutation matches '${o.only}'\n`);
  process.exit(2);
}

function copyOfTree(): string {
  const dir = mkdtempSync(join(tmpdir(), 'dynamo-mutation-'));
  const archive = execFileSync('git', ['archive', 'HEAD'], { cwd: root, maxBuffer: 1 << 30 });
  execFileSync('tar', ['-x', '-C', dir], { input: archive });
  symlinkSync(join(root, 'node_modules'), join(dir, 'node_modules'));
  return dir;
}

function apply(dir: string, m: Mutation): void {
  const path = join(dir, m.file);
  const text = readFileSync(path, 'utf8');
  const at = text.indexOf(m.find);
  if (at < 0 || text.indexOf(m.find, at + 1) >= 0)
    throw new Error(`mutation '${m.name}': the text to replace is not in ${m.file} exactly once; update mutations.ts`);
  writeFileSync(path, text.slice(0, at) + m.replace + text.slice(at + m.find.length));
}

const results: { name: string; caught: boolean; seconds: number; check: string; evidence: string }[] = [];
for (const m of chosen) {
  const dir = copyOfTree();
  try {
    apply(dir, m);
    const started = performance.now();
    const run = spawnSync(m.check[0]!, m.check.slice(1), {
      cwd: dir,
      encoding: 'utf8',
      timeout: Number(o['timeout-s']) * 1000,
      maxBuffer: 1 << 28,
    });
    const seconds = Math.round((performance.now() - started) / 1000);
    const out = `${run.stdout ?? ''}${run.stderr ?? ''}`;
    const caught = run.status !== 0;
    // the first line that says what failed: a failed seed, a failed test, or the summary
    const evidence = (out.split('\n').find((l) => /FAILED|not ok|failed [1-9]/.test(l)) ?? out.trim().split('\n').pop() ?? '')
      .trim()
      .slice(0, 200);
    results.push({ name: m.name, caught, seconds, check: m.check.slice(2).join(' '), evidence });
    process.stdout.write(
      `${caught ? 'caught  ' : 'SURVIVED'} ${m.name} (${seconds} s; ${m.check.slice(2).join(' ')})\n         ${evidence}\n`,
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
const survived = results.filter((r) => !r.caught).length;
process.stdout.write(JSON.stringify({ mutations: results.length, caught: results.length - survived, survived }) + '\n');
process.exit(survived > 0 ? 1 : 0);
