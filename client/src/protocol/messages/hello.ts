// The caller's proof of identity on a connection (docs/security.md, "Roles on the node
// protocol"): its signature of the node's fresh nonce, the node's id and the cluster, made
// with the key its certificate names. It is the first frame of a connection opened with a
// certificate; the node answers ack, or an UNAUTHORIZED error and closes the connection.
import { request } from '../entry.ts';
import { ProtocolError } from '../wire.ts';

export interface HelloRequest {
  readonly type: 'hello';
  /** Ed25519 signature: 64 bytes */
  readonly signature: Uint8Array;
}

const SIGNATURE_BYTES = 64;

const hello = request<HelloRequest>('hello', 84, {
  since: 5,
  write(w, m) {
    if (m.signature.byteLength !== SIGNATURE_BYTES)
      throw new ProtocolError(`a hello's signature is ${SIGNATURE_BYTES} bytes, got ${m.signature.byteLength}`);
    w.bytes(m.signature);
  },
  read: (r) => ({ type: 'hello', signature: r.bytes(SIGNATURE_BYTES) }),
});

export const helloMessages = { hello } as const;
