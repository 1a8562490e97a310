// Static API keys from a JSON file:
//
//   { "<token or sha256:hex digest>": { "name": "cart-service", "read": ["cart:"], "write": ["cart:"], "admin": false } }
//
// The file may hold the token itself or only its SHA-256 digest, so a deployment can keep the
// tokens out of the gateway's configuration. A presented token is hashed and compared with
// every entry's digest in constant time; the loop does not stop at a match.
import { hash, timingSafeEqual } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { ConfigError } from '../storage/config.ts';
import { scopesShape, type Principal } from './principal.ts';

const DIGEST = /^sha256:[0-9a-f]{64}$/;
const MIN_TOKEN_CHARS = 16;

const entryShape = scopesShape.extend({
  name: z.string().regex(/^[A-Za-z0-9_.:@-]{1,128}$/, 'name: 1-128 letters, digits, _ . : @ -'),
});

const NOT_A_KEY = `the key must be a token of at least ${MIN_TOKEN_CHARS} characters, or "sha256:" and 64 lowercase hex digits`;

interface Entry {
  readonly digest: Buffer;
  readonly principal: Principal;
}

export function sha256(s: string): Buffer {
  return hash('sha256', s, 'buffer');
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

  /**
   * Validates the parsed file. Messages name an entry by its position and name, never by its
   * key: the key may be a live token, and these messages go to logs.
   */
  static fromJson(json: unknown, source = 'API keys'): ApiKeys {
    if (typeof json !== 'object' || json === null || Array.isArray(json))
      throw new ConfigError(`the API keys file ${source} must hold a JSON object {"<token or sha256:hex>": {name, read, write, admin}}`);
    const problems: string[] = [];
    const entries: Entry[] = [];
    Object.entries(json).forEach(([k, v], i) => {
      const name = typeof (v as { name?: unknown } | null)?.name === 'string' ? ` ('${(v as { name: string }).name}')` : '';
      const where = `entry ${i + 1}${name}`;
      if (!DIGEST.test(k) && (k.length < MIN_TOKEN_CHARS || k.startsWith('sha256:'))) problems.push(`${where}: ${NOT_A_KEY}`);
      const e = entryShape.safeParse(v);
      if (!e.success) {
        for (const issue of e.error.issues)
          problems.push(`${where}${issue.path.length ? '.' + issue.path.join('.') : ''}: ${issue.message}`);
        return;
      }
      entries.push({
        digest: DIGEST.test(k) ? Buffer.from(k.slice('sha256:'.length), 'hex') : sha256(k),
        principal: {
          kind: 'api-key',
          name: e.data.name,
          limitId: `key:${e.data.name}`,
          read: e.data.read,
          write: e.data.write,
          admin: e.data.admin,
        },
      });
    });
    if (Object.keys(json).length === 0) problems.push('the file names no API key');
    const names = entries.map((e) => e.principal.name);
    for (const dup of new Set(names.filter((n, i) => names.indexOf(n) !== i)))
      problems.push(`the name '${dup}' is used twice; names must be unique (rate limits and logs count by name)`);
    if (problems.length) throw new ConfigError(`invalid API keys file ${source}:\n${problems.map((p) => `  ${p}`).join('\n')}`);
    return new ApiKeys(entries);
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
