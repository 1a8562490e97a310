// The gateway's schema: every type file registers itself on the builder; this builds it.
import { printSchema, type GraphQLSchema } from 'graphql';
import { builder } from './builder.ts';
import './json.ts';
import './versions.ts';
import './write.ts';
import './counter.ts';
import './set.ts';
import './map.ts';
import './cluster.ts';
import './admin.ts';
import './membership.ts';
import './repair.ts';
import './watch.ts';

// declaration order, so the printed SDL reads like the contract
export const schema: GraphQLSchema = builder.toSchema({ sortSchema: false });

/** The SDL committed as schema/schema.graphql (a test fails when it is out of date). */
export function printedSchema(): string {
  return printSchema(schema) + '\n';
}
