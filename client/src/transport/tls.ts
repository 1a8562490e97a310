// What a process that dials nodes needs for TLS (nodes dialing peers, the client library, the
// gateway, the workers, the CLI): the authorities it trusts, the scheme, and a hint when a
// connection fails the way a TLS mismatch does. Reading them from files is the server side's
// (storage/transport/tls.ts).

/** What a dialing process needs: the authorities it trusts. */
export interface ClientTls {
  /** PEM certificates of the trusted authorities; empty: the system's */
  readonly ca: readonly Buffer[];
}

/** The scheme a client dials a node with. */
export function wsScheme(tls: ClientTls | undefined): 'ws' | 'wss' {
  return tls ? 'wss' : 'ws';
}

/** A hint for a failed connection that looks like a TLS mismatch, or '' (appended to the error). */
export function tlsHint(e: Error & { code?: string }, tls: ClientTls | undefined): string {
  const code = e.code ?? '';
  if (/CERT|SIGNATURE|ISSUER|ALTNAME/.test(code)) return ` (TLS: the node's certificate is not trusted by ${tls && tls.ca.length > 0 ? 'the authorities given in --tls-ca / DYNAMO_TLS_CA' : 'the system'}, or does not name this address)`;
  if (tls && (code === 'EPROTO' || /wrong version number|packet length too long/i.test(e.message))) return ' (TLS: the node does not speak TLS)';
  if (!tls && (code === 'ECONNRESET' || /socket hang up|Parse Error/i.test(e.message))) return ' (if the node speaks TLS, dial it with --tls-ca / DYNAMO_TLS_CA)';
  return '';
}
