// npm test's first step (pretest): the services the integration tests use from the machine,
// Redis and Chromium, are checked before anything runs, and what is missing is said once with
// how to install it (instead of a run of timeouts). .ci/run installs and starts them.
import { existsSync } from 'node:fs';
import { DEFAULT_REDIS_URL, redisAnswers } from '../jobs/redis.ts';
import { CHROMIUM } from './helpers/chromium.ts';

const redisUrl = process.env.REDIS_URL || DEFAULT_REDIS_URL;
const missing: string[] = [];
if (!(await redisAnswers(redisUrl, 2000))) {
  missing.push(
    `Redis does not answer at ${redisUrl}${process.env.REDIS_URL ? ' (REDIS_URL)' : ''}: the repair, fault, TLS and gateway tests use it.\n` +
      '    Install and start it: sudo apt-get install redis-server (Debian and Ubuntu start it on 127.0.0.1:6379),\n' +
      '    or run one: redis-server --port 6379 --save "" --maxmemory-policy noeviction --daemonize yes',
  );
}
if (!existsSync(CHROMIUM)) {
  missing.push(
    `Chromium is missing at ${CHROMIUM}: the GraphiQL and repair dashboard tests render pages in it.\n    Install it: sudo apt-get install chromium`,
  );
}
if (missing.length > 0) {
  process.stderr.write(
    `npm test needs services it does not install:\n${missing.map((m) => `  - ${m}`).join('\n')}\n(.ci/run installs and starts both on a fresh Debian or Ubuntu machine as root.)\n`,
  );
  process.exit(1);
}
