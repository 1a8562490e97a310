// npm run schema: writes schema/schema.graphql from the code-first schema.
import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { printedSchema } from './index.ts';

const path = fileURLToPath(new URL('./schema.graphql', import.meta.url));
writeFileSync(path, printedSchema());
process.stdout.write(`wrote ${path}\n`);
