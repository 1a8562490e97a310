// `npm run settings:docs`: rewrites the configuration tables in README.md from the processes'
// settings tables (between the <!-- settings:NAME --> markers). test/config/readme-settings.test.ts
// fails when README.md is stale.
import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { resolve } from 'node:path';
import { NODE_SETTINGS } from '../storage/config.ts';
import { GATEWAY_SETTINGS } from '../gateway/config.ts';
import { JOBS_SETTINGS } from '../jobs/config.ts';
import { CLI_SETTINGS } from './cli-settings.ts';
import { withTables } from '../storage/settings/markdown.ts';
import type { Table } from '../storage/settings/table.ts';

/** Each README table's marker name and the settings it shows. */
export const README_TABLES: Readonly<Record<string, Table>> = {
  node: NODE_SETTINGS,
  gateway: GATEWAY_SETTINGS,
  jobs: JOBS_SETTINGS,
  cli: CLI_SETTINGS,
};

export const README = resolve(fileURLToPath(import.meta.url), '../../README.md');

if (resolve(process.argv[1] ?? '') === fileURLToPath(import.meta.url)) {
  const before = readFileSync(README, 'utf8');
  const after = withTables(before, README_TABLES);
  writeFileSync(README, after);
  process.stdout.write(`README.md: the configuration tables ${before === after ? 'were current' : 'are rewritten'}\n`);
}
