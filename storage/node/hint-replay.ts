// Hint replay by the node itself: without repair workers (no Redis), and always once the node
// has left the ring (the workers replay the hints of members only). It delivers the hints whose
// owners it can reach, and a node that left passes on what it cannot deliver (repair/handoff.ts).
import type { RingView } from '../../client/src/core/preference.ts';
import type { StorageNode } from '../node.ts';
import { replayHints } from '../repair/handoff.ts';

/** Delivers the hints whose owners this node can reach (see the top of the file). */
export async function replayOwnHints(node: StorageNode, view: RingView | null): Promise<void> {
  if (!view) return;
  const member = view.ring.members.some((m) => m.id === node.id);
  if (member && !node.config.localHandoffEveryMs) return;
  for (const owner of node.replica.hintedOwners()) {
    if (!node.gossip.isUp(owner) && view.ring.members.some((m) => m.id === owner)) continue;
    await replayHints({ transport: node.loopback, view, holder: node.id, owner, batch: 500, timeoutMs: node.config.requestTimeoutMs });
  }
}
