// The CLI (bin/dynamo.ts) as a user runs it against a test cluster: its exit code and output,
// whether it succeeded or not.
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { ROOT, TS_NODE_ARGS, type LocalCluster } from '../../bin/launcher.ts';
import { TEST_SECRET } from './cluster.ts';

export interface CliResult {
  readonly code: number;
  readonly out: string;
  readonly err: string;
}

/** Runs `dynamo <args>` with the cluster's seeds and name, and the test secret. */
export function runCli(cluster: LocalCluster, ...args: string[]): Promise<CliResult> {
  const argv = [...TS_NODE_ARGS, join(ROOT, 'bin/dynamo.ts'), '--seeds', cluster.seeds.join(','), '--cluster', cluster.cluster, ...args];
  return promisify(execFile)(process.execPath, argv, { env: { ...process.env, DYNAMO_SECRET: TEST_SECRET } }).then(
    (r) => ({ code: 0, out: r.stdout, err: r.stderr }),
    (e: { code: number; stdout: string; stderr: string }) => ({ code: e.code, out: e.stdout, err: e.stderr }),
  );
}
