// Whose address a request is, behind proxies the operator trusts (`--trust-proxy`): the address
// rate limits and refused credentials are charged to. A peer that is not trusted is the client,
// whatever X-Forwarded-For it sends. A trusted peer's X-Forwarded-For is read from the right
// (each proxy appends the address it heard from): the first address that is not a trusted proxy
// is the client, as Express's `trust proxy` with an address list decides.
import { BlockList, isIP } from 'node:net';

export type TrustedProxies = BlockList;

/** Parses `ADDR` and `ADDR/PREFIX` entries, IPv4 or IPv6; throws naming a bad entry. */
export function trustedProxies(entries: readonly string[]): TrustedProxies {
  const list = new BlockList();
  for (const entry of entries) {
    const [address = '', prefix, ...rest] = entry.split('/');
    const family = isIP(address);
    const bits = prefix === undefined ? undefined : Number(prefix);
    const max = family === 6 ? 128 : 32;
    if (family === 0 || rest.length > 0 || (bits !== undefined && !(Number.isInteger(bits) && bits >= 0 && bits <= max)))
      throw new Error(`a trusted proxy is an IPv4 or IPv6 address, optionally /prefix: got ${JSON.stringify(entry)}`);
    const type = family === 6 ? 'ipv6' : 'ipv4';
    if (bits === undefined) list.addAddress(address, type);
    else list.addSubnet(address, bits, type);
  }
  return list;
}

/** An IPv4 address in IPv6 form (::ffff:a.b.c.d), as uWS reports IPv4 peers on a dual-stack socket, as IPv4. */
function plain(address: string): string {
  const m = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  return m ? m[1]! : address;
}

function trusted(list: TrustedProxies, address: string): boolean {
  const family = isIP(address);
  return family !== 0 && list.check(address, family === 6 ? 'ipv6' : 'ipv4');
}

/** The client's address: `peer` unless it is a trusted proxy, then the right-most untrusted X-Forwarded-For entry. */
export function clientAddress(peer: string, forwardedFor: string | undefined, list: TrustedProxies | null): string {
  let address = plain(peer);
  if (!list || !forwardedFor || !trusted(list, address)) return address;
  const hops = forwardedFor.split(',').map((s) => plain(s.trim()));
  for (let i = hops.length - 1; i >= 0; i--) {
    const hop = hops[i]!;
    // a malformed entry ends the walk: what lies left of it was written by whoever sent it
    if (isIP(hop) === 0) return address;
    address = hop;
    if (!trusted(list, hop)) return hop;
  }
  return address;
}
