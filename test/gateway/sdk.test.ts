import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { generate, OUTPUT } from '../../examples/sdk/codegen.ts';

test('the example SDK is generated from the current schema (run `npm run sdk` after changing it)', async () => {
  assert.equal(readFileSync(OUTPUT, 'utf8'), await generate());
});
