// What resolvers receive with every operation. The gateway builds one per request; tests may
// build their own. The schema knows the store only through this.
import type DataLoader from 'dataloader';
import type { DynamoClient, ReadResult } from '../client/src/client.ts';
import type { ContextSigner } from '../gateway/context-token.ts';
import type { Principal } from '../gateway/principal.ts';
import type { RepairQueues } from '../jobs/queues.ts';
import type { RepairStats } from '../jobs/stats.ts';
import type { WatchHub } from '../gateway/watch/hub.ts';

/** A read of one key (a get) or of a list of keys (a getMany): one load of the operation's loader. */
export interface ReadKeys {
  readonly keys: readonly string[];
  /** per-request read quorum; 0 for the cluster default */
  readonly r: number;
}

/** What a load answers: per key asked, in order, its result or the StoreError it failed with. */
export type ReadResults = readonly (ReadResult | Error)[];

export interface GatewayContext {
  readonly client: DynamoClient;
  /** batches the reads of one operation into one multi-get per quorum, each (r, key) read once */
  readonly reads: DataLoader<ReadKeys, ReadResults, string>;
  readonly contexts: ContextSigner;
  /** keys this operation may still read (all its gets and getManys together) */
  readonly readBudget: { left: number };
  /** who is calling, and the key prefixes they may read and write (schema/access.ts checks them) */
  readonly principal: Principal;
  /** the repair queues and their reports, when the gateway is given the repair Redis */
  readonly repair: { readonly queues: RepairQueues; readonly stats: RepairStats } | null;
  /** live watches (gateway/watch/); null when the gateway serves none */
  readonly watches?: WatchHub | null;
  /** fires when the caller goes away (streamed responses only): ends a watch */
  readonly gone?: AbortSignal;
}
