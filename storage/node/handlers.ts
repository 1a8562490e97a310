// The node's rows of its dispatch table (dispatch.ts): what it serves itself, beside the
// repair service's rows. Each row hands the request to the part that holds what it needs.
import { StoreError } from '../../client/src/core/errors.ts';
import { MAX_MGET_KEYS } from '../../client/src/core/limits.ts';
import type { NodeId } from '../../client/src/core/ring.ts';
import type { Readiness } from '../coordinator.ts';
import type { StorageNode } from '../node.ts';
import type {
  AckReply,
  ErrorReply,
  HintsReply,
  HintsRequest,
  MgetItem,
  ReplicaWriteRequest,
  Request,
} from '../../client/src/protocol/messages.ts';
import type { Clock } from '../../client/src/runtime.ts';
import type { Handlers } from './dispatch.ts';

export interface HandlerDeps {
  readonly node: StorageNode;
  readonly clock: Clock;
  /** what the coordinator asks before it makes a dot (restore-check.ts) */
  readonly readiness: Readiness;
  /** a failure as the error reply that answers it */
  readonly failure: (e: unknown, request: Request) => ErrorReply;
}

/** The whole table: the node's rows and the repair service's. */
export function nodeHandlers(d: HandlerDeps): Handlers {
  const { node } = d;
  return {
    ...node.repair.handlers,
    // the server checks a hello when a connection opens (transport/server.ts); it never reaches a node
    hello: () => {
      throw new StoreError('PROTOCOL', 'a hello is only the first frame of a connection opened with a certificate');
    },
    ping: () => ({ type: 'pong' }),
    watch: (request, from) => node.watches.watch(from, request),
    get: (request) => node.coordinator.get(request.key, request.r, request.pr),
    mget: async (request) => ({ type: 'mgetReply', items: await mget(d, request.keys, request.r, request.pr) }),
    put: (request) => node.coordinator.put(request, d.readiness),
    ring: () => {
      const ring = node.view.ring;
      return { type: 'ringReply', n: ring.n, r: node.config.r, w: node.config.w, ring };
    },
    replicaRead: (request) => ({ type: 'replicaReadReply', set: node.replica.read(request.key) }),
    replicaReadMany: (request) => ({ type: 'replicaReadManyReply', sets: request.keys.map((k) => node.replica.read(k)) }),
    replicaWrite: (request, from) => replicaWrite(d, from, request),
    hints: (request) => hints(node, request),
    status: () => ({ type: 'statusReply', json: JSON.stringify(node.status()) }),
    gossip: (request, from) => node.gossip.handleGossip(request, from),
    lastBeat: async (request, from) => ({
      type: 'lastBeatReply',
      beat: await node.gossip.handleLastBeat(request.cluster, request.beat, from),
    }),
    ringPush: (request, from) => {
      node.gossip.handleRingPush(request.cluster, request.ring, from);
      return { type: 'ack' };
    },
    change: (request) => node.changes.change(request),
    transferRead: (request) => node.transfers.serve(request),
    transferDone: async (request) => {
      await node.changes.transferDone(request.partition, request.to);
      return { type: 'ack' };
    },
    inspect: (request) => ({
      type: 'inspectReply',
      own: node.replica.readOwn(request.key),
      hints: node.replica.hintOwners(request.key).flatMap((owner) => {
        const hint = node.replica.readHint(owner, request.key);
        return hint ? [{ owner, set: hint.set }] : [];
      }),
    }),
  };
}

async function replicaWrite(d: HandlerDeps, from: NodeId | null, request: ReplicaWriteRequest): Promise<AckReply> {
  const { node } = d;
  const { key, hintFor, set } = request;
  const view = node.view;
  if (hintFor !== null && hintFor !== node.id) {
    // a node that left the ring keeps no new hints: nobody would deliver them
    if (!view.ring.members.some((m) => m.id === node.id))
      throw new StoreError('STALE_RING', `node ${node.id} is not a member at ring version ${view.ring.version}`);
    await node.replica.storeHint(hintFor, key, set, d.clock.wallNow(), from);
    return { type: 'ack' };
  }
  const p = view.partitionOf(key);
  if (!view.replicates(node.id, p)) {
    throw new StoreError('STALE_RING', `node ${node.id} does not replicate key '${key}' at ring version ${view.ring.version}`);
  }
  await node.replica.mergeIn(key, set, from);
  return { type: 'ack' };
}

async function mget(d: HandlerDeps, keys: readonly string[], r: number, pr: number): Promise<MgetItem[]> {
  const { coordinator } = d.node;
  if (keys.length > MAX_MGET_KEYS) throw new StoreError('BAD_REQUEST', `at most ${MAX_MGET_KEYS} keys per multi-get, got ${keys.length}`);
  let reads: Promise<MgetItem>[];
  try {
    reads = coordinator.getMany(keys, r, pr);
  } catch {
    // a bad key or quorum: answer each key on its own, so the others still get their values
    reads = keys.map((key) => coordinator.get(key, r, pr));
  }
  return Promise.all(reads.map((p, i) => p.catch((e: unknown) => d.failure(e, { type: 'get', key: keys[i]!, r, pr }))));
}

function hints(node: StorageNode, request: HintsRequest): HintsReply {
  const listed = [];
  let total = 0;
  for (const h of node.replica.hints(request.owner ?? undefined)) {
    if (listed.length < request.limit) listed.push({ owner: h.owner, key: h.key, storedAt: h.storedAt, siblings: h.set.length });
    total++;
  }
  return { type: 'hintsReply', total, hints: listed };
}
