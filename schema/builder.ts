// The one typed schema builder. Every type registers itself on it in a file of its own;
// index.ts imports them all and builds the schema.
import SchemaBuilder from '@pothos/core';
import type { GatewayContext } from './context.ts';

export const builder = new SchemaBuilder<{
  Context: GatewayContext;
  Scalars: { JSON: { Input: unknown; Output: unknown } };
  DefaultFieldNullability: false;
}>({ defaultFieldNullability: false });

builder.queryType({ description: 'Reads: every causally-maximal version of a key, with a context to write back with.' });
builder.mutationType({ description: 'Writes: a context from a read makes a write supersede what that read saw.' });
