// Records on disk that failed their checksum (engine/records.ts). A corrupt record is never
// served (it reads as absent) and read repair or anti-entropy writes the key again from other
// replicas. The node forgot what the record held, possibly its own dots or what superseded
// them, so its actor for the key range moves on before it makes a dot there again.
import type { StoreKey } from '../engine/engine.ts';
import type { StoreName } from '../engine/records.ts';
import type { Identity } from '../identity.ts';
import type { Logger } from '../../client/src/runtime.ts';

export class CorruptRecords {
  /** records that failed their checksum since start (each counted once) */
  count = 0;
  readonly #identity: Identity;
  readonly #logger: Logger;
  readonly #track: (work: Promise<unknown>, what: string) => void;
  readonly #reported = new Set<string>();
  /** key ranges whose actor is moving on because a record there was corrupt: no dot is made there until it has */
  readonly #incarnating = new Map<number, Promise<void>>();

  constructor(identity: Identity, logger: Logger, track: (work: Promise<unknown>, what: string) => void) {
    this.#identity = identity;
    this.#logger = logger;
    this.#track = track;
  }

  /** A record failed its check. */
  report(store: StoreName, key: StoreKey): void {
    const id = `${store}:${JSON.stringify(key)}`;
    if (!this.#reported.has(id)) {
      this.#reported.add(id);
      this.count++;
      this.#logger.error('a record on disk failed its checksum: not served, to be repaired from other replicas', {
        store,
        key: JSON.stringify(key),
      });
    }
    const partition = store === 'data' ? key[0] : store === 'hints' ? key[2] : undefined;
    if (typeof partition === 'number' && !this.#incarnating.has(partition)) {
      const moving = this.#identity.newIncarnation(partition).finally(() => this.#incarnating.delete(partition));
      this.#incarnating.set(partition, moving);
      this.#track(moving, 'move an actor on after a corrupt record');
    }
  }

  /** Resolves once the key range's actor has moved on after a corrupt record; null when it is not moving. */
  rangeReady(partition: number): Promise<void> | null {
    return this.#incarnating.get(partition) ?? null;
  }
}
