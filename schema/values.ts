// How values look to GraphQL clients: the gateway stores JSON as UTF-8. Values other
// clients wrote that are not JSON come back as their text, or as { base64 } when not text.
import { isUtf8 } from 'node:buffer';

export function encodeValue(value: unknown): Uint8Array {
  return Buffer.from(JSON.stringify(value), 'utf8');
}

export function decodeValue(bytes: Uint8Array): unknown {
  const b = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (!isUtf8(b)) return { base64: b.toString('base64') };
  const text = b.toString('utf8');
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}
