// Live watches: the watch subscription (docs/graphql.md, docs/watches.md). Each event is a
// key's whole sibling set and context, of the same Versions type `get` returns.
import { StoreError } from '../client/src/core/errors.ts';
import { checkKey } from '../client/src/core/limits.ts';
import { EMPTY_VV } from '../client/src/core/version-vector.ts';
import { requireRead } from './access.ts';
import { builder } from './builder.ts';
import { Versions } from './versions.ts';

builder.subscriptionType({ description: 'Live watches, over Server-Sent Events on /graphql (graphql-sse, distinct connections mode).' });

builder.subscriptionFields((t) => ({
  watch: t.field({
    type: Versions,
    description:
      'Follows keys. On subscribing: without contexts, every key at once (a key never written with no siblings and a null context); ' +
      'with contexts (contexts[i] the last context seen for keys[i], null for none), ' +
      'each key holding versions its context does not cover. ' +
      'Then a key again whenever a version it has not emitted is stored, whoever wrote it. ' +
      'At least once; never the same versions twice in a row. Needs read scope on every key.',
    args: {
      keys: t.arg.stringList({ required: true, description: 'The keys to follow, each once (at most GATEWAY_WATCH_MAX_KEYS).' }),
      contexts: t.arg({
        type: ['String'],
        required: { list: false, items: false },
        description: 'contexts[i]: the last context seen for keys[i] (null: none, or the key had no versions); ' + 'as many as keys, or omitted.',
      }),
    },
    subscribe: async (_root, args, ctx) => {
      if (!ctx.watches) throw new StoreError('UNAVAILABLE', 'this gateway serves no watches');
      const contexts = args.contexts ?? [];
      if (contexts.length > 0 && contexts.length !== args.keys.length) {
        const counts = `${args.keys.length} keys, ${contexts.length} contexts`;
        throw new StoreError('BAD_REQUEST', `contexts, when given, has one entry per key: ${counts}`);
      }
      for (const key of args.keys) {
        checkKey(key);
        requireRead(ctx, key);
      }
      // without contexts every key is emitted at once; with them, a null one means "no versions seen"
      const seen = args.contexts
        ? args.keys.map((key, i) => (contexts[i] ? ctx.contexts.verify(key, contexts[i]) : EMPTY_VV))
        : args.keys.map(() => null);
      return ctx.watches.open(ctx.principal.limitId, args.keys, seen, ctx.gone);
    },
    resolve: (state) => state,
  }),
}));
