// Which protocol version a connection speaks. Each end speaks a range of versions (codec.ts:
// PROTOCOL_MIN..PROTOCOL_MAX), so a cluster is upgraded one node at a time; a connection
// speaks the highest version both ends have.
//
// The client offers its range in two upgrade headers:
//   x-dynamo-protocol:     its lowest version
//   x-dynamo-protocol-max: its highest version
// A node of version 2 alone, from before ranges, reads only the first and accepts exactly its
// own version there. Offering the lowest version in it is what lets an upgraded node still
// reach one that is not upgraded yet: that node accepts, and both speak 2.
//
// The node answers the version it picked in `x-dynamo-protocol` on the 101 response. An answer
// without it comes from a node of version 2 alone, which accepted the client's lowest version.
import { describeRange, type VersionRange } from '../protocol/codec.ts';

export const PROTOCOL_HEADER = 'x-dynamo-protocol';
export const PROTOCOL_MAX_HEADER = 'x-dynamo-protocol-max';
/** where a node accepts protocol connections (here, not in server.ts, so a client never loads the server) */
export const WS_PATH = '/ws';

/** The upgrade headers that offer `range`. */
export function offerHeaders(range: VersionRange): Record<string, string> {
  return { [PROTOCOL_HEADER]: String(range.min), [PROTOCOL_MAX_HEADER]: String(range.max) };
}

function version(header: string | undefined, name: string): number | string | undefined {
  if (header === undefined) return undefined;
  const v = Number(header);
  return /^[0-9]{1,3}$/.test(header) && v <= 255 ? v : `${name} must be a protocol version number (0 to 255), got '${header}'`;
}

/**
 * The range a client offered, or why its headers are unusable. A client that names no version
 * (a tool, a test) takes whatever the node speaks; one that names only x-dynamo-protocol speaks
 * that version alone, as every client did before ranges.
 */
export function offeredRange(ours: VersionRange, minHeader: string | undefined, maxHeader: string | undefined): VersionRange | string {
  const min = version(minHeader, PROTOCOL_HEADER);
  const max = version(maxHeader, PROTOCOL_MAX_HEADER);
  if (typeof min === 'string') return min;
  if (typeof max === 'string') return max;
  if (min === undefined) return max === undefined ? ours : `${PROTOCOL_MAX_HEADER} needs ${PROTOCOL_HEADER}, the lowest version offered`;
  const offered = { min, max: max ?? min };
  if (offered.min > offered.max) return `${PROTOCOL_HEADER} ${offered.min} is above ${PROTOCOL_MAX_HEADER} ${offered.max}`;
  return offered;
}

/** The highest version both ranges hold, or null when they do not overlap. */
export function agree(ours: VersionRange, theirs: VersionRange): number | null {
  const v = Math.min(ours.max, theirs.max);
  return v >= Math.max(ours.min, theirs.min) ? v : null;
}

/** Why a node refuses a client's range: both ranges, so an operator sees which side to upgrade. */
export function refusal(ours: VersionRange, theirs: VersionRange): string {
  return `no protocol version in common: this node speaks ${describeRange(ours)}, the client offered ${describeRange(theirs)}`;
}

/** The version a node answered, checked against what the client offered. */
export function answered(ours: VersionRange, header: string | undefined): number | string {
  // no answer: a node of version 2 alone, which accepted our lowest version or would have refused
  if (header === undefined) return ours.min;
  const v = version(header, PROTOCOL_HEADER);
  if (typeof v === 'number' && v >= ours.min && v <= ours.max) return v;
  return `the node answered protocol version '${header}', outside the ${describeRange(ours)} offered`;
}
