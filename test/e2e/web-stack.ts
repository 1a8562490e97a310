// What the browser test of examples/web runs against: npm start's stack (compiled, from dist/)
// in a temporary data directory on its own ports, serving the page's persisted documents only,
// and `vite preview` of the built page, which passes /graphql on to that gateway.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ROOT, stopProcess } from '../../bin/launcher.ts';
import { waitFor } from '../helpers/wait.ts';

export const WEB = join(ROOT, 'examples/web');
export const PERSISTED = join(WEB, 'src/gql/persisted-documents.json');

export interface WebStack {
  /** the page, e.g. http://127.0.0.1:22200/ */
  readonly pageUrl: string;
  readonly gatewayUrl: string;
  /** what the processes printed, for a failure message */
  output(): string;
  stop(): Promise<void>;
}

function started(child: ChildProcess, log: string[]): () => string {
  child.stdout!.setEncoding('utf8').on('data', (s: string) => log.push(s));
  child.stderr!.setEncoding('utf8').on('data', (s: string) => log.push(s));
  return () => log.join('');
}

export async function startWebStack(ports: { base: number; gateway: number; jobs: number; web: number }): Promise<WebStack> {
  const built = [
    ['dist/ (npm run build)', join(ROOT, 'dist/bin/start.js')],
    ['the built page (npm run build --prefix examples/web)', join(WEB, 'dist/index.html')],
  ] as const;
  for (const [what, path] of built) {
    if (!existsSync(path)) throw new Error(`${what} is missing: npm run test:e2e builds it`);
  }
  const dataDir = mkdtempSync(join(tmpdir(), 'web-e2e-'));
  const log: string[] = [];
  const start = spawn(
    process.execPath,
    [
      join(ROOT, 'dist/bin/start.js'),
      ...['--data-dir', dataDir, '--base-port', String(ports.base)],
      ...['--gateway-port', String(ports.gateway), '--jobs-port', String(ports.jobs)],
    ],
    {
      cwd: ROOT,
      env: { ...process.env, GATEWAY_PERSISTED_OPERATIONS: PERSISTED, GATEWAY_ONLY_PERSISTED: '1', LOG_LEVEL: 'warn', LOG_FORMAT: '' },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  const output = started(start, log);
  let preview: ChildProcess | undefined;
  const stop = async () => {
    await stopProcess(preview);
    await stopProcess(start);
    rmSync(dataDir, { recursive: true, force: true });
  };
  try {
    await waitFor('npm start to print its addresses', () => {
      if (start.exitCode !== null) throw new Error(`npm start exited ${start.exitCode}: ${output()}`);
      return output().includes('Ctrl-C stops everything.');
    }, 90_000, 100);
    const gatewayUrl = `http://127.0.0.1:${ports.gateway}/graphql`;
    await waitFor('the gateway to reach the cluster', async () => (await fetch(gatewayUrl.replace('/graphql', '/ready'))).ok, 30_000, 100);
    const vite = join(WEB, 'node_modules/vite/bin/vite.js');
    preview = spawn(process.execPath, [vite, 'preview', '--host', '127.0.0.1', '--port', String(ports.web), '--strictPort'], {
      cwd: WEB,
      env: { ...process.env, DYNAMO_GATEWAY: `http://127.0.0.1:${ports.gateway}` },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    started(preview, log);
    const pageUrl = `http://127.0.0.1:${ports.web}/`;
    await waitFor('vite preview to serve the page', async () => {
      if (preview!.exitCode !== null) throw new Error(`vite preview exited ${preview!.exitCode}: ${output()}`);
      return (await fetch(pageUrl)).ok;
    }, 30_000, 100);
    return { pageUrl, gatewayUrl, output, stop };
  } catch (e) {
    await stop();
    throw e;
  }
}
