#!/usr/bin/env node
// The CLI's compiled JavaScript, from any directory: dist/ is built by `npm run build`, which
// `npm ci` runs (prepare). From the sources: npx tsx bin/dynamo.ts.
import { existsSync } from 'node:fs';

const compiled = new URL('../dist/bin/dynamo.js', import.meta.url);
if (!existsSync(compiled)) {
  process.stderr.write(`dynamo: ${compiled.pathname} is missing: run npm run build in ${new URL('..', import.meta.url).pathname}\n`);
  process.exit(1);
}
await import(compiled.href);
