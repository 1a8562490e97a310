// The GraphQL metrics of @graphql-yoga/plugin-prometheus, as this gateway configures them (docs/
// operations.md, Metrics): the same series, names, help, labels and buckets, recorded by one
// plugin whose hooks do only what each series needs. The library's plugin, per request, builds a
// label object per series through a generic filter, filters its handler lists per phase and
// copies its parameters; that was about a fifth of the gateway's CPU per GraphQL get.
//
//   graphql_envelop_phase_{parse,validate,context,execute,subscribe}{operationType,operationName}
//   graphql_envelop_request_duration{operationType,operationName}   the execute (or subscribe) time
//   graphql_envelop_request{operationType,operationName}            operations executed
//   graphql_envelop_error_result{operationType,operationName,path,phase}
//   graphql_envelop_schema_change
//   graphql_yoga_http_duration{operationName,operationType,method,statusCode}
//
// operationName is the request's operationName, else the first definition's name, else
// "Anonymous"; the HTTP histogram names the operation getOperationAST picks ("Anonymous",
// "unknown" type when none). Two of the library's metrics are left out for their cost: the
// request-time summary (a t-digest repeating the duration histogram) and the deprecated-field
// counter (a walk of every document; the schema deprecates nothing).
import { getOperationAST, type DocumentNode, type ExecutionResult, type GraphQLError } from 'graphql';
import { isAsyncIterable, type Plugin } from 'graphql-yoga';
import { Counter, Histogram, type Registry } from 'prom-client';

type Labels = Partial<Record<string, string | number>> & {
  readonly operationName: string;
  readonly operationType: string | undefined;
};

const OPERATION = ['operationType', 'operationName'];

export function useGraphqlMetrics(registry: Registry): Plugin {
  const registers = [registry];
  const histogram = (name: string, help: string) => new Histogram({ name, help, labelNames: OPERATION, registers });
  const parse = histogram('graphql_envelop_phase_parse', 'Time spent on running GraphQL "parse" function');
  const validate = histogram('graphql_envelop_phase_validate', 'Time spent on running GraphQL "validate" function');
  const context = histogram('graphql_envelop_phase_context', 'Time spent on building the GraphQL context');
  const execute = histogram('graphql_envelop_phase_execute', 'Time spent on running the GraphQL "execute" function');
  const subscribe = histogram('graphql_envelop_phase_subscribe', 'Time spent on running the GraphQL "subscribe" function');
  const duration = histogram('graphql_envelop_request_duration', 'Time spent on running the GraphQL operation from parse to execute');
  const errors = new Counter({
    name: 'graphql_envelop_error_result',
    help: 'Counts the amount of errors reported from all phases',
    labelNames: ['operationType', 'operationName', 'path', 'phase'],
    registers,
  });
  const requests = new Counter({
    name: 'graphql_envelop_request',
    help: 'Counts the amount of GraphQL requests executed through Envelop',
    labelNames: OPERATION,
    registers,
  });
  const schemaChanges = new Counter({ name: 'graphql_envelop_schema_change', help: 'Counts the amount of schema changes', registers });
  const http = new Histogram({
    name: 'graphql_yoga_http_duration',
    help: 'Time spent on HTTP connection',
    labelNames: ['operationName', 'operationType', 'method', 'statusCode'],
    registers,
  });

  const labelsOf = new WeakMap<object, Labels>();
  const started = new WeakMap<Request, number>();
  const httpOperation = new WeakMap<Request, { operationName?: string; operationType?: string }>();
  const counted = new WeakSet<object>();
  const seconds = (since: number) => (performance.now() - since) / 1000;
  const error = (labels: Partial<Record<string, string | number>>, phase: string | undefined, e: unknown) => {
    const path = (e as Partial<GraphQLError> | null)?.path;
    errors.inc(path ? { ...labels, phase, path: path.join('.') } : { ...labels, phase });
  };
  const resultErrors = (labels: Labels, result: ExecutionResult) => {
    for (const e of result.errors ?? []) error(labels, 'execute', e);
  };
  const done = (labels: Labels, phase: Histogram, since: number) => {
    const t = seconds(since);
    phase.observe(labels, t);
    duration.observe(labels, t);
    requests.inc(labels);
  };

  return {
    onSchemaChange({ schema }) {
      if (counted.has(schema)) return;
      counted.add(schema);
      schemaChanges.inc();
    },
    onPluginInit({ registerContextErrorHandler }) {
      registerContextErrorHandler(({ context: ctx, error: e }) => {
        const labels = labelsOf.get(ctx);
        error(labels ?? {}, 'context', e);
      });
    },
    onRequest({ request }) {
      started.set(request, performance.now());
    },
    onParse({ context: ctx }) {
      const since = performance.now();
      return ({ result }) => {
        const t = seconds(since);
        const request = (ctx as { request?: Request }).request;
        if (result === null || result instanceof Error) {
          // an unparsable operation has no name or type
          const none = { operationName: undefined, operationType: undefined } as unknown as Labels;
          parse.observe(none, t);
          error(none, 'parse', result);
          return;
        }
        const document = result as DocumentNode;
        const params = (ctx as { params?: { operationName?: string } }).params;
        const first = document.definitions[0] as { name?: { value: string }; operation?: string } | undefined;
        const labels: Labels = {
          operationName: params?.operationName || first?.name?.value || 'Anonymous',
          operationType: first?.operation,
        };
        labelsOf.set(ctx, labels);
        parse.observe(labels, t);
        if (request) {
          const ast = getOperationAST(document, params?.operationName);
          httpOperation.set(request, { operationName: ast?.name?.value, operationType: ast?.operation });
        }
      };
    },
    onValidate({ context: ctx }) {
      const labels = labelsOf.get(ctx);
      if (!labels) return;
      const since = performance.now();
      return ({ valid }) => {
        validate.observe(labels, seconds(since));
        if (!valid) error(labels, 'validate', null);
      };
    },
    onContextBuilding({ context: ctx }) {
      const labels = labelsOf.get(ctx);
      if (!labels) return;
      const since = performance.now();
      return () => context.observe(labels, seconds(since));
    },
    onExecute({ args }) {
      const labels = labelsOf.get(args.contextValue as object);
      if (!labels) return;
      const since = performance.now();
      return {
        onExecuteDone({ result }) {
          if (isAsyncIterable(result)) {
            return { onNext: ({ result: r }) => resultErrors(labels, r), onEnd: () => done(labels, execute, since) };
          }
          resultErrors(labels, result);
          done(labels, execute, since);
          return undefined;
        },
      };
    },
    onSubscribe({ args }) {
      const labels = labelsOf.get(args.contextValue as object);
      if (!labels) return;
      const since = performance.now();
      return {
        onSubscribeResult({ result }) {
          if (isAsyncIterable(result)) {
            return { onNext: ({ result: r }) => resultErrors(labels, r), onEnd: () => done(labels, subscribe, since) };
          }
          resultErrors(labels, result);
          done(labels, subscribe, since);
          return undefined;
        },
        onSubscribeError: ({ error: e }) => error(labels, 'subscribe', e),
      };
    },
    onResponse({ request, response }) {
      const since = started.get(request);
      const op = httpOperation.get(request);
      if (since === undefined || !op) return;
      http.observe(
        {
          method: request.method,
          statusCode: response.status,
          operationType: op.operationType || 'unknown',
          operationName: op.operationName || 'Anonymous',
        },
        seconds(since),
      );
    },
  };
}
