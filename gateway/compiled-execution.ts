// Compiled execution: an operation the gateway has run before is executed by graphql-jit's
// compiled form of it instead of the interpreter. The answer is the same data and the same
// errors (test/gateway/compiled-execution.test.ts runs both on the same operations and the
// same answers from the store); what changes is the CPU per request.
//
// - An operation is compiled on its second run, so a one-off document (keys written inline, an
//   explorer's query) never pays for a compilation it would not use again.
// - The compiled form lives as long as its parsed document: Yoga's parse cache holds at most 1,024
//   documents, and each holds its operations' compiled forms in a WeakMap.
// - One that fails to compile runs interpreted, as it would without this plugin.
// - Subscriptions (watches) stay interpreted: this hooks execution only.
// - A document holding graphql-jit's markers is never compiled (holdsMarker, below).
import { BREAK, GraphQLError, visit, type DocumentNode, type ExecutionResult, type Source, type SourceLocation } from 'graphql';
import { compileQuery, isCompiledQuery, type CompiledQuery } from 'graphql-jit';
import type { Plugin } from 'graphql-yoga';

/** per operation name: how often it ran interpreted so far, or its compiled form, or null (it does not compile) */
type Operations = Map<string | null | undefined, number | CompiledQuery | null>;

export interface CompiledExecution extends Plugin {
  /** executions by way: compiled, interpreted (not compiled yet, or not compilable), and compilations that failed */
  readonly counts: { compiled: number; interpreted: number; failed: number };
}

/**
 * The answer as the interpreter gives it: errors before data, each a GraphQLError placed in the
 * document's source. The compiled form's errors hold their locations but not the source or nodes
 * they came from, and Yoga rebuilds each error of an answer from those.
 */
function asInterpreted(result: ExecutionResult, source: Source | undefined): ExecutionResult {
  if (!result.errors) return result;
  const { errors, ...rest } = result;
  return {
    errors: errors.map(
      (e) =>
        new GraphQLError(e.message, {
          source,
          positions: source && e.locations?.map((at) => positionOf(source.body, at)),
          path: e.path,
          originalError: e.originalError,
        }),
    ),
    ...rest,
  };
}

/** the offset of a line and column (both from 1) in a GraphQL source: lines end at \r\n, \n or \r */
export function positionOf(body: string, { line, column }: SourceLocation): number {
  const ends = /\r\n|[\n\r]/g;
  let start = 0;
  for (let l = 1; l < line && ends.exec(body); l++) start = ends.lastIndex;
  return start + column - 1;
}

/**
 * graphql-jit writes an operation's literal arguments into the code it generates with
 * JSON.stringify, and then turns every string holding one of its markers (`__MAGIC_DATE__<uuid>`
 * and the like, for dates, NaN and the infinities) back into code: `new Date(` and the rest of the
 * string `)`. A caller's string literal holding the date marker would run as code in the gateway.
 * So a document with a marker in any string or name (escapes decoded) is left to the interpreter.
 */
const MARKER = '__MAGIC_';

function holdsMarker(document: DocumentNode): boolean {
  let found = false;
  const check = (node: { readonly value: string }) => {
    if (!node.value.includes(MARKER)) return undefined;
    found = true;
    return BREAK;
  };
  visit(document, { StringValue: check, Name: check });
  return found;
}

export function useCompiledExecution({ runsBeforeCompiling = 1 } = {}): CompiledExecution {
  const documents = new WeakMap<DocumentNode, Operations>();
  const counts = { compiled: 0, interpreted: 0, failed: 0 };
  return {
    counts,
    onExecute({ args, executeFn, setExecuteFn }) {
      let operations = documents.get(args.document);
      if (!operations) documents.set(args.document, (operations = new Map()));
      const known = operations.get(args.operationName);
      let compiled = known === undefined ? 0 : known;
      if (typeof compiled === 'number') {
        if (compiled < runsBeforeCompiling) {
          operations.set(args.operationName, compiled + 1);
          counts.interpreted++;
          return;
        }
        const result = holdsMarker(args.document) ? null : compileQuery(args.schema, args.document, args.operationName ?? undefined);
        compiled = result && isCompiledQuery(result) ? result : null;
        if (result && !compiled) counts.failed++;
        operations.set(args.operationName, compiled);
      }
      if (!compiled) {
        counts.interpreted++;
        return;
      }
      counts.compiled++;
      const query = compiled.query;
      const source = args.document.loc?.source;
      setExecuteFn((a) => {
        const result = query(a.rootValue, a.contextValue, a.variableValues);
        if (result instanceof Promise) return result.then((r) => asInterpreted(r, source));
        // variables it refuses: no field has run; the interpreter words the errors as it always has
        if (result.data === undefined) return executeFn(a);
        return asInterpreted(result, source);
      });
    },
  };
}
