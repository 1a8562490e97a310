// What a running `npm start` tells a later `npm start -- --repair`: where its nodes are, the
// cluster's name, the Redis its gateway watches, and whether repair workers already run. Kept
// as DATA-DIR/stack.json while the stack runs, removed when it stops.
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export interface StackFile {
  /** the npm start process */
  readonly pid: number;
  readonly seeds: readonly string[];
  readonly cluster: string;
  /** the Redis the gateway was given (it connects whenever that Redis answers) */
  readonly redisUrl: string;
  /** REDIS_URL named it: never replaced by a private redis-server */
  readonly redisNamed: boolean;
  /** the authorities to dial the nodes with, when they speak TLS */
  readonly tlsCa: string | null;
  readonly jobsPort: number;
  /** the process running the repair workers, if any (npm start itself, or npm start --repair) */
  readonly repairPid: number | null;
}

export function stackFilePath(dataDir: string): string {
  return join(dataDir, 'stack.json');
}

export function writeStackFile(dataDir: string, s: StackFile): void {
  writeFileSync(stackFilePath(dataDir), `${JSON.stringify(s, null, 2)}\n`, { mode: 0o600 });
}

export function removeStackFile(dataDir: string): void {
  rmSync(stackFilePath(dataDir), { force: true });
}

/** Whether a process with this id runs (signal 0 checks without sending anything). */
export function running(pid: number | null): boolean {
  if (pid === null) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** The running stack of this data directory, or a message saying why there is none. */
export function readStackFile(dataDir: string): StackFile | string {
  const path = stackFilePath(dataDir);
  if (!existsSync(path)) return `no npm start is running with the data directory ${dataDir} (no ${path}); start the stack first: npm start`;
  let s: StackFile;
  try {
    s = JSON.parse(readFileSync(path, 'utf8')) as StackFile;
  } catch (e) {
    return `${path} is not readable: ${(e as Error).message}`;
  }
  if (!running(s.pid))
    return `the npm start that wrote ${path} (process ${s.pid}) is not running any more; start the stack again: npm start`;
  return s;
}
