// README.md's configuration tables are the processes' settings tables: after a setting changes,
// `npm run settings:docs` rewrites them, and this test fails until it has.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { README, README_TABLES } from '../../bin/settings-docs.ts';
import { withTables } from '../../storage/settings/markdown.ts';

test('the configuration tables in README.md are current (npm run settings:docs rewrites them)', () => {
  const text = readFileSync(README, 'utf8');
  assert.equal(text, withTables(text, README_TABLES), 'README.md is stale: run npm run settings:docs');
});

test('a README without the markers is an error naming them', () => {
  const missing = /README.md has no <!-- settings:node --> \.\.\. <!-- \/settings:node --> markers/;
  assert.throws(() => withTables('# no tables here\n', README_TABLES), missing);
});
