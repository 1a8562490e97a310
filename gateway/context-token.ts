// Contexts as clients see them: opaque strings, signed by the gateway and bound to a key.
//
//   token = base64url( 0x01 | version vector (codec encoding) | tag )
//   tag   = first 16 bytes of HMAC-SHA256(key, "dynamo-context/1" | u16 length of the key | key | vector)
//
// A client cannot hand in a malformed, oversized, forged or borrowed context: the size is
// checked before anything else, then the tag, and only then is the vector decoded. Every
// gateway of a cluster shares the signing keys; the first key signs, all of them verify, so
// keys can be rotated without invalidating contexts in flight.
import { createHmac, timingSafeEqual } from 'node:crypto';
import { StoreError } from '../client/src/core/errors.ts';
import type { VersionVector } from '../client/src/core/version-vector.ts';
import { decodeContext, encodeContext } from '../client/src/client.ts';

const FORMAT = 1;
const TAG_BYTES = 16;
/** A vector of 64 entries with long actor names stays below this. */
export const MAX_CONTEXT_CHARS = 4096;
const BASE64URL = /^[A-Za-z0-9_-]+$/;

export class ContextSigner {
  readonly #keys: Buffer[];

  constructor(keys: readonly string[]) {
    if (keys.length === 0 || keys.some((k) => Buffer.byteLength(k) < 32)) {
      throw new Error('context signing keys must be at least 32 bytes each');
    }
    this.#keys = keys.map((k) => Buffer.from(k, 'utf8'));
  }

  sign(key: string, vv: VersionVector): string {
    const body = encodeContext(vv);
    return Buffer.concat([Buffer.from([FORMAT]), body, tag(this.#keys[0]!, key, body)]).toString('base64url');
  }

  /** The vector a token carries, if this gateway signed it for this key; BAD_CONTEXT otherwise. */
  verify(key: string, token: string): VersionVector {
    if (token.length > MAX_CONTEXT_CHARS) throw bad(`the context is ${token.length} characters; the limit is ${MAX_CONTEXT_CHARS}`);
    if (token.length === 0 || !BASE64URL.test(token)) throw bad('the context is not a context this gateway issued');
    const raw = Buffer.from(token, 'base64url');
    if (raw.length < 1 + 1 + TAG_BYTES || raw[0] !== FORMAT) throw bad('the context is truncated or not one this gateway issued');
    const body = raw.subarray(1, raw.length - TAG_BYTES);
    const given = raw.subarray(raw.length - TAG_BYTES);
    if (!this.#keys.some((k) => timingSafeEqual(tag(k, key, body), given))) {
      throw bad(
        `the context was not issued for key '${key.length > 64 ? key.slice(0, 64) + '…' : key}' (read the key again and use its context)`,
      );
    }
    try {
      return decodeContext(body);
    } catch {
      throw bad('the context is malformed');
    }
  }
}

function tag(secret: Buffer, key: string, body: Buffer): Buffer {
  const keyBytes = Buffer.from(key, 'utf8');
  const len = Buffer.alloc(2);
  len.writeUInt16BE(keyBytes.length);
  return createHmac('sha256', secret).update('dynamo-context/1').update(len).update(keyBytes).update(body).digest().subarray(0, TAG_BYTES);
}

function bad(message: string): StoreError {
  return new StoreError('BAD_CONTEXT', message);
}
