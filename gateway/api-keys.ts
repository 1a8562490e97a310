// Static API keys from a JSON file:
//
//   { "<token or sha256:hex digest>": { "name": "cart-service", "read": ["cart:"], "write": ["cart:"], "admin": false } }
//
// The file may hold the token itself or only its SHA-256 digest, so a deployment can keep the
// tokens out of the gateway's configuration. A presented token is hashed and compared with
// every entry's digest in constant time; the loop does not stop at a match.
import { createHash, timingSafeEqual } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { ConfigError, invalidConfig } from '../storage/config.ts';
import { scopesShape, type Principal } from './principal.ts';

const DIGEST = /^sha256:[0-9a-f]{64}$/;
const MIN_TOKEN_CHARS = 16;

const entryShape = scopesShape.extend({
  name: z.string().regex(/^[A-Za-z0-9_.:@-]{1,128}$/, 'name: 1-128 letters, digits, _ . : @ -'),
});

const fileShape = z
  .record(
    z.string().refine((k) => DIGEST.test(k) || (k.length >= MIN_TOKEN_CHARS && !k.startsWith('sha256:')), {
      message: `each key is a token of at least ${MIN_TOKEN_CHARS} characters or "sha256:" and 64 lowercase hex digits`,
    }),
    entryShape,
  )
  .refine((r) => Object.keys(r).length > 0, { message: 'the file names no API key' })
  .refine((r) => new Set(Object.values(r).map((e) => e.name)).size === Object.keys(r).length, { message: 'API key names must be unique (rate limits and logs count by name)' });

interface Entry {
  readonly digest: Buffer;
  readonly principal: Principal;
}

export function sha256(s: string): Buffer {
  return createHash('sha256').update(s, 'utf8').digest();
}

export class ApiKeys {
  readonly #entries: readonly Entry[];

  private constructor(entries: Entry[]) {
    this.#entries = entries;
  }

  /** Reads and validates the file; a ConfigError says what is wrong with it. */
  static fromFile(path: string): ApiKeys {
    let text: string;
    try {
      text = readFileSync(path, 'utf8');
    } catch (e) {
      throw new ConfigError(`cannot read the API keys file: ${(e as Error).message}`);
    }
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch (e) {
      throw new ConfigError(`the API keys file ${path} is not JSON: ${(e as Error).message}`);
    }
    return ApiKeys.fromJson(json, path);
  }

  static fromJson(json: unknown, source = 'API keys'): ApiKeys {
    const parsed = fileShape.safeParse(json);
    if (!parsed.success) throw invalidConfig(`API keys file ${source}`, parsed.error);
    return new ApiKeys(
      Object.entries(parsed.data).map(([k, e]) => ({
        digest: DIGEST.test(k) ? Buffer.from(k.slice('sha256:'.length), 'hex') : sha256(k),
        principal: { kind: 'api-key', name: e.name, limitId: `key:${e.name}`, read: e.read, write: e.write, admin: e.admin },
      })),
    );
  }

  get size(): number {
    return this.#entries.length;
  }

  get anyAdmin(): boolean {
    return this.#entries.some((e) => e.principal.admin);
  }

  /** The key's principal, or null for a token that is not in the file. */
  lookup(token: string): Principal | null {
    const given = sha256(token);
    let found: Principal | null = null;
    for (const e of this.#entries) if (timingSafeEqual(e.digest, given)) found = e.principal;
    return found;
  }
}
