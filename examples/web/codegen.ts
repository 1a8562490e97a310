// npm run codegen: GraphQL Code Generator's client preset over the gateway's schema and
// src/operations.graphql, with persisted documents. Writes src/gql/ (typed documents, each
// carrying its sha256 in __meta__.hash) and src/gql/persisted-documents.json ({hash: query}),
// which the gateway loads with --persisted-operations. Like examples/sdk/codegen.ts it drives
// @graphql-codegen/core directly: the CLI package pulls in remote-schema loaders not needed here.
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { codegen } from '@graphql-codegen/core';
import { preset } from '@graphql-codegen/client-preset';
import { buildSchema, parse, printSchema } from 'graphql';

const here = (p: string) => fileURLToPath(new URL(p, import.meta.url));
const schemaAst = buildSchema(readFileSync(here('../../schema/schema.graphql'), 'utf8'));
const operations = here('./src/operations.graphql');
const sdl = readFileSync(operations, 'utf8');

const outputs = await preset.buildGeneratesSection({
  baseOutputDir: here('./src/gql/'),
  schema: parse(printSchema(schemaAst)),
  schemaAst,
  documents: [{ location: operations, document: parse(sdl), rawSDL: sdl }],
  config: { scalars: { JSON: 'unknown' }, useTypeImports: true, enumsAsTypes: true },
  presetConfig: { persistedDocuments: { mode: 'replaceDocumentWithHash' }, fragmentMasking: false },
  plugins: [],
  pluginMap: {},
});
for (const output of outputs) {
  const text = await codegen(output);
  mkdirSync(dirname(output.filename), { recursive: true });
  writeFileSync(output.filename, text);
  process.stdout.write(`wrote ${output.filename}\n`);
}
