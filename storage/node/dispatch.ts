// The node's dispatch table: one handler per request type, typed by what answers it
// (protocol/replies.ts). The type checker refuses a table without a handler for every request
// type, or a handler that answers with the wrong reply; a handler refuses by throwing.
import type { NodeId } from '../../client/src/core/ring.ts';
import type { Reply, Request } from '../../client/src/protocol/messages.ts';
import type { ReplyOf, RequestOf, RequestType } from '../../client/src/protocol/replies.ts';

/** Serves one request type; `from` is the peer's node id, or null for a client. */
export type Handler<T extends RequestType> = (request: RequestOf<T>, from: NodeId | null) => ReplyOf<T> | Promise<ReplyOf<T>>;

/** Handlers for some request types: a part of the table that a subsystem serves. */
export type HandlersOf<T extends RequestType> = { readonly [K in T]: Handler<K> };

/** The whole table. */
export type Handlers = HandlersOf<RequestType>;

/** Hands a request to its handler. */
export async function dispatch(handlers: Handlers, request: Request, from: NodeId | null): Promise<Reply> {
  // each row takes its own request type: the table's type ties the two together
  const handler = handlers[request.type] as (request: Request, from: NodeId | null) => Reply | Promise<Reply>;
  return handler(request, from);
}
