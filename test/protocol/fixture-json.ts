// Messages as JSON, for the wire-compatibility fixture: bytes as { $hex }, version vectors
// (Maps) as { $vv: [actor, counter][] }. Everything else in a message is already JSON.
import type { Message } from '../../client/src/protocol/messages.ts';

export interface FixtureFrame {
  readonly id: number;
  readonly message: unknown;
  /** the whole frame, header included, as the codec of the fixture's version wrote it */
  readonly hex: string;
}

export interface Fixture {
  readonly protocolVersion: number;
  readonly note: string;
  readonly frames: readonly FixtureFrame[];
}

export function toJson(m: unknown): unknown {
  if (m instanceof Uint8Array) return { $hex: Buffer.from(m).toString('hex') };
  if (m instanceof Map) return { $vv: [...m].map(([k, v]) => [k, v]) };
  if (Array.isArray(m)) return m.map(toJson);
  if (m && typeof m === 'object') return Object.fromEntries(Object.entries(m).map(([k, v]) => [k, toJson(v)]));
  return m;
}

export function fromJson(j: unknown): Message {
  return revive(j) as Message;
}

function revive(j: unknown): unknown {
  if (Array.isArray(j)) return j.map(revive);
  if (j && typeof j === 'object') {
    if ('$hex' in j) return new Uint8Array(Buffer.from(String(j.$hex), 'hex'));
    if ('$vv' in j) return new Map(j.$vv as [string, number][]);
    return Object.fromEntries(Object.entries(j).map(([k, v]) => [k, revive(v)]));
  }
  return j;
}
