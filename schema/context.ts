// What resolvers receive with every operation. The gateway builds one per request; tests may
// build their own. The schema knows the store only through this.
import type DataLoader from 'dataloader';
import type { DynamoClient, ReadResult } from '../client/src/client.ts';
import type { ContextSigner } from '../gateway/context-token.ts';
import type { Principal } from '../gateway/principal.ts';
import type { RepairQueues } from '../jobs/queues.ts';
import type { RepairStats } from '../jobs/stats.ts';
import type { WatchHub } from '../gateway/watch/hub.ts';

export interface ReadKey {
  readonly key: string;
  /** per-request read quorum; 0 for the cluster default */
  readonly r: number;
}

export interface GatewayContext {
  readonly client: DynamoClient;
  /** batches and deduplicates the reads of one operation (cache key includes r) */
  readonly reads: DataLoader<ReadKey, ReadResult, string>;
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
