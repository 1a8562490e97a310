// One request to a node, typed by what answers it (protocol/replies.ts). Every caller that
// speaks to nodes goes through here, so an error reply and a reply of the wrong type become
// the same StoreError everywhere.
import { StoreError } from './core/errors.ts';
import type { NodeId } from './core/ring.ts';
import type { Reply, Request } from './protocol/messages.ts';
import { answers, type ReplyOf } from './protocol/replies.ts';
import type { Transport } from './runtime.ts';

/**
 * A node answered, but refused the request (an error reply: its code, the message prefixed with
 * the node, its details) or answered it with a reply of the wrong type (PROTOCOL).
 */
export class ReplyError extends StoreError {
  readonly node: NodeId;
  /** what the node answered */
  readonly reply: Reply;
  constructor(node: NodeId, request: Request, reply: Reply) {
    if (reply.type === 'error') super(reply.code, `${node}: ${reply.message}`, reply.details);
    else super('PROTOCOL', `${node} answered ${request.type} with ${reply.type}`);
    this.node = node;
    this.reply = reply;
  }
}

/** Sends `request` to `to`; resolves with its reply, or throws a StoreError (a ReplyError when the node answered). */
export async function call<R extends Request>(
  transport: Transport,
  to: NodeId,
  request: R,
  timeoutMs: number,
): Promise<ReplyOf<R['type']>> {
  return expectReply(to, request, await transport.request(to, request, timeoutMs));
}

/** The reply, when it answers `request`; otherwise a ReplyError. */
export function expectReply<R extends Request>(node: NodeId, request: R, reply: Reply): ReplyOf<R['type']> {
  if (answers<R['type']>(request.type, reply)) return reply;
  throw new ReplyError(node, request, reply);
}
