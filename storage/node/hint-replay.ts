// Hint replay by the node itself: without repair workers (no Redis), and always once the node
// has left the ring (the workers replay the hints of members only). It delivers the hints whose
// owners it can reach, and a node that left passes on what it cannot deliver (repair/handoff.ts).
import type { RingView } from '../core/preference.ts';
import type { NodeId } from '../core/ring.ts';
import type { StorageNode } from '../node.ts';
import type { Replica } from '../replica.ts';
import { replayHints } from '../repair/handoff.ts';

/** Owners a replica holds hints for. */
export function hintOwners(replica: Replica): NodeId[] {
  const owners = new Set<NodeId>();
  let last: NodeId | undefined;
  for (const h of replica.hints()) {
    if (h.owner !== last) owners.add((last = h.owner));
  }
  return [...owners];
}

export async function replayOwnHints(node: StorageNode, view: RingView | null): Promise<void> {
  if (!view) return;
  const member = view.ring.members.some((m) => m.id === node.id);
  if (member && !node.config.localHandoffEveryMs) return;
  for (const owner of hintOwners(node.replica)) {
    if (!node.gossip.isUp(owner) && view.ring.members.some((m) => m.id === owner)) continue;
    await replayHints({ transport: node.loopback, view, holder: node.id, owner, batch: 500, timeoutMs: node.config.requestTimeoutMs });
  }
}
