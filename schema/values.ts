// How values look to GraphQL clients: the gateway stores JSON as UTF-8. Values other
// clients wrote that are not JSON come back as their text, or as { base64 } when not text.
import { isUtf8 } from 'node:buffer';

export function encodeValue(value: unknown): Uint8Array {
  return Buffer.from(JSON.stringify(value), 'utf8');
}

/** Text that can be a JSON document; anything else is returned as text without a parse (a failed parse throws, and a throw costs more than the whole read). */
const MAY_BE_JSON = /^\s*(?:[{["\-0-9]|(?:true|false|null)\s*$)/;

export function decodeValue(bytes: Uint8Array): unknown {
  const b = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (!isUtf8(b)) return { base64: b.toString('base64') };
  const text = b.toString('utf8');
  if (!MAY_BE_JSON.test(text)) return text;
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}
