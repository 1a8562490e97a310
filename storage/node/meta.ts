// What a node keeps in its meta store besides its identity (identity.ts): the ring it last
// adopted, and the newest run it heard of each peer (which the restore check asks for).
import type { Ring } from '../../client/src/core/ring.ts';
import type { Store, StoreKey } from '../engine/engine.ts';
import { Reader, Writer, readRing, writeRing } from '../../client/src/protocol/codec.ts';
import type { Heartbeat } from '../../client/src/protocol/messages.ts';

const RING_KEY = ['ring'];
/** meta keys [HEARD, node]: the newest generation and life heard of each peer */
const HEARD = 'heard';

/** Meta records the node can lose without doubt about its own dots: the ring (gossip brings it) and peers' runs. */
export function isRingOrHeard(key: StoreKey): boolean {
  const first = Array.isArray(key) ? key[0] : key;
  return first === 'ring' || first === HEARD;
}

/** The ring the node last adopted, or null for a new data directory. */
export function storedRing(meta: Store): Ring | null {
  const stored = meta.get(RING_KEY);
  return stored ? readRing(new Reader(Buffer.from(stored))) : null;
}

export function persistRing(meta: Store, ring: Ring): Promise<void> {
  const w = new Writer(4096);
  writeRing(w, ring);
  return meta.put(RING_KEY, w.result());
}

/** The newest run heard of each peer, as gossip remembers them at start (beat 0). */
export function heardRuns(meta: Store): Heartbeat[] {
  return [...meta.range({ start: [HEARD], end: [`${HEARD}\u0000`] })].map((e) => {
    const r = new Reader(Buffer.from(e.value));
    return { node: String(e.key[1]), generation: r.u64(), beat: 0, life: r.str8() };
  });
}

export function rememberRun(meta: Store, beat: Heartbeat): Promise<void> {
  const w = new Writer(32);
  w.u64(beat.generation);
  w.str8(beat.life);
  return meta.put([HEARD, beat.node], w.result());
}
