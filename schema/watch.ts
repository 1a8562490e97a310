// Live watches: the watch subscription (docs/graphql.md, docs/watches.md). Each event is a
// key's whole sibling set and context, of the same Versions type `get` returns.
import { StoreError } from '../storage/core/errors.ts';
import { checkKey } from '../storage/core/limits.ts';
import { requireRead } from './access.ts';
import { builder } from './builder.ts';
import { Versions } from './versions.ts';

builder.subscriptionType({ description: 'Live watches, over Server-Sent Events on /graphql (graphql-sse, distinct connections mode).' });

builder.subscriptionFields((t) => ({
  watch: t.field({
    type: Versions,
    description:
      "Follows keys: on subscribing, every key whose current versions its context (contexts[i], the last one the watcher saw for keys[i]) " +
      'does not cover, and every key given no context; then each key again whenever a version it has not emitted is stored. ' +
      'At least once; never the same versions twice in a row. Needs read scope on every key.',
    args: {
      keys: t.arg.stringList({ required: true, description: 'The keys to follow, each once (at most GATEWAY_WATCH_MAX_KEYS).' }),
      contexts: t.arg({ type: ['String'], required: { list: false, items: false }, description: 'contexts[i]: the last context seen for keys[i], or null; as many as keys, or none.' }),
    },
    subscribe: async (_root, args, ctx) => {
      if (!ctx.watches) throw new StoreError('UNAVAILABLE', 'this gateway serves no watches');
      const contexts = args.contexts ?? [];
      if (contexts.length > 0 && contexts.length !== args.keys.length) {
        throw new StoreError('BAD_REQUEST', `contexts, when given, has one entry per key: ${args.keys.length} keys, ${contexts.length} contexts`);
      }
      for (const key of args.keys) {
        checkKey(key);
        requireRead(ctx, key);
      }
      const seen = args.keys.map((key, i) => (contexts[i] ? ctx.contexts.verify(key, contexts[i]) : null));
      return ctx.watches.open(ctx.principal.limitId, args.keys, seen);
    },
    resolve: (state) => state,
  }),
}));
