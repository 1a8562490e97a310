// `npm start -- --repair`: repair for a stack that `npm start` began without Redis. It starts
// the repair workers (and, when REDIS_URL was not set, a private redis-server if none answers)
// against the Redis the running gateway watches, so the dashboard and the GraphQL repair fields
// come up there too. The nodes go on replaying their own hints as well: two replays of the same
// hints at once lose and duplicate nothing (storage/repair/handoff.ts). Ctrl-C stops the workers
// (and that private Redis); the stack runs on.
import { join } from 'node:path';
import type { ChildProcess } from 'node:child_process';
import { startService, stopProcess } from './launcher.ts';
import { ensureRedis, redisAnswers, type PrivateRedis } from '../jobs/redis.ts';
import { ensureIdentity } from '../client/src/auth/identity-file.ts';
import { readStackFile, running, writeStackFile } from './stack-file.ts';

/** The workers' repair identity, issued by the stack's development authority (a stack started without Redis has none yet). */
function repairIdentity(dataDir: string, cluster: string): string {
  const dir = join(dataDir, 'identities');
  return ensureIdentity(dir, dir, 'repair', { cluster, id: 'repair', role: 'repair' });
}

/** Runs until Ctrl-C or until the stack stops, then exits the process: it never returns. */
export async function startRepairOnly(dataDir: string): Promise<never> {
  const fail = (message: string): never => {
    process.stderr.write(`npm start --repair: ${message}\n`);
    process.exit(2);
  };
  const stack = readStackFile(dataDir);
  if (typeof stack === 'string') return fail(stack);
  if (running(stack.repairPid)) return fail(`the repair workers of this stack already run (process ${stack.repairPid})`);
  const asked = process.env.REDIS_URL;
  if (asked && asked !== stack.redisUrl) {
    fail(
      `the running gateway watches the Redis at ${stack.redisUrl}, not REDIS_URL=${asked}: its dashboard would not see these workers. ` +
        `Start Redis there, or stop npm start and run it again with REDIS_URL=${asked}.`,
    );
  }
  let redis: PrivateRedis;
  if (stack.redisNamed) {
    if (!(await redisAnswers(stack.redisUrl)))
      return fail(`Redis is not answering at ${stack.redisUrl} (REDIS_URL) yet; start it, then run npm start -- --repair again`);
    redis = { url: stack.redisUrl, process: null };
  } else {
    try {
      redis = await ensureRedis(stack.redisUrl, join(dataDir, 'redis'));
    } catch (e) {
      return fail(`${(e as Error).message}`);
    }
  }

  let workers: ChildProcess | null = null;
  let stopping = false;
  const stop = async (code: number): Promise<never> => {
    if (stopping) return new Promise<never>(() => {});
    stopping = true;
    process.stderr.write('\nstopping the repair workers...\n');
    await stopProcess(workers);
    await stopProcess(redis.process);
    const now = readStackFile(dataDir);
    if (typeof now !== 'string' && now.repairPid === process.pid) writeStackFile(dataDir, { ...now, repairPid: null });
    process.stderr.write('repair stopped; the stack runs on\n');
    process.exit(code);
  };
  process.on('SIGINT', () => void stop(0));
  process.on('SIGTERM', () => void stop(0));
  try {
    workers = await startService({
      entry: 'bin/jobs.ts',
      args: ['--port', String(stack.jobsPort), '--seeds', stack.seeds.join(','), '--cluster', stack.cluster],
      env: {
        DYNAMO_IDENTITY: repairIdentity(dataDir, stack.cluster),
        DYNAMO_SECRET: '',
        REDIS_URL: redis.url,
        ...(stack.tlsCa ? { DYNAMO_TLS_CA: stack.tlsCa } : {}),
      },
      health: `127.0.0.1:${stack.jobsPort}`,
      output: 'inherit',
    });
  } catch (e) {
    process.stderr.write(`npm start --repair: the repair workers did not start: ${(e as Error).message}\n`);
    return stop(1);
  }
  writeStackFile(dataDir, { ...stack, repairPid: process.pid });
  // the workers serve the stack: when it stops, so do they
  setInterval(() => {
    if (running(stack.pid)) return;
    process.stderr.write('the stack (npm start) stopped\n');
    void stop(0);
  }, 1000).unref();
  workers.once('exit', (code) => {
    if (!stopping) process.stderr.write(`the repair workers exited (${code})\n`);
    void stop(code === 0 ? 0 : 1);
  });
  process.stdout.write(
    [
      '',
      `repair:   workers running against ${redis.url}${redis.process ? ' (private, started for this run)' : ''}, /health and /metrics on :${stack.jobsPort}`,
      '          the running gateway shows them at /admin/queues and in GraphQL repair status',
      'Ctrl-C stops the repair workers; the stack runs on.',
      '',
    ].join('\n'),
  );
  return new Promise<never>(() => {});
}
