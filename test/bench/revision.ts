// Another revision of this repository, ready to run, for `npm run bench -- --against <ref>`:
// `git archive` of the ref unpacked in a temporary directory, with this checkout's node_modules
// linked in when the lockfiles are identical (otherwise `npm ci` there), and built into its own
// dist/ as `npm start` builds (buildTree), so its nodes and gateways run compiled, as users run them.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, realpathSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface Revision {
  /** the ref as given */
  readonly ref: string;
  /** its commit, abbreviated */
  readonly commit: string;
  /** where it is unpacked */
  readonly root: string;
  /** how its dependencies were provided */
  readonly modules: 'linked' | 'npm ci';
}

const git = (root: string, args: string[]) => execFileSync('git', args, { cwd: root, encoding: 'utf8', maxBuffer: 1 << 30 });

/** The commit of this checkout, with `+changes` when the working tree differs from it. */
export function describeCheckout(root: string): string {
  const commit = git(root, ['rev-parse', '--short', 'HEAD']).trim();
  const dirty = git(root, ['status', '--porcelain', '--untracked-files=no']).trim() !== '';
  return dirty ? `${commit}+changes` : commit;
}

/** Unpacks `ref` of the repository at `root` into a new temporary directory and provides its dependencies; the caller removes the directory. */
export function buildRevision(root: string, ref: string, log: (s: string) => void): Revision {
  const commit = git(root, ['rev-parse', '--verify', '--short', `${ref}^{commit}`]).trim();
  const dir = mkdtempSync(join(tmpdir(), `dynamo-bench-${commit}-`));
  try {
    execFileSync('sh', ['-c', `git archive --format=tar "$1" | tar -x -C "$2"`, 'sh', commit, dir], {
      cwd: root,
      stdio: ['ignore', 'ignore', 'inherit'],
    });
    const theirs = readFileSync(join(dir, 'package-lock.json'), 'utf8');
    const ours = readFileSync(join(root, 'package-lock.json'), 'utf8');
    let modules: Revision['modules'];
    if (theirs === ours) {
      symlinkSync(realpathSync(join(root, 'node_modules')), join(dir, 'node_modules'), 'dir');
      modules = 'linked';
    } else {
      log(`${ref} (${commit}) has another package-lock.json: npm ci in ${dir}`);
      execFileSync('npm', ['ci', '--no-audit', '--no-fund'], { cwd: dir, stdio: ['ignore', 'ignore', 'inherit'] });
      modules = 'npm ci';
    }
    buildTree(dir);
    return { ref, commit, root: dir, modules };
  } catch (e) {
    rmSync(dir, { recursive: true, force: true });
    throw e;
  }
}

/**
 * Compiles a tree into its dist/ with its own tsconfig.build.json (what `npm start` runs), with
 * the TypeScript compiler of its node_modules. A tree from before the build has none: it stays
 * on its sources (system.ts runs it through tsx).
 */
export function buildTree(root: string): void {
  if (!existsSync(join(root, 'tsconfig.build.json'))) return;
  execFileSync(process.execPath, [join(root, 'node_modules/typescript/bin/tsc'), '-p', 'tsconfig.build.json'], {
    cwd: root,
    stdio: ['ignore', 'inherit', 'inherit'],
  });
}
