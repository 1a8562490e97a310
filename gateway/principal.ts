// Who is calling and what they may do: scopes by key prefix. Pure; no I/O.
//
// A principal may read a key when one of its `read` prefixes starts the key, and write (put,
// delete) it when one of its `write` prefixes does; the empty prefix covers every key. Write
// does not imply read. `admin` opens the operator fields, /metrics and the repair dashboard.
import { z } from 'zod';

/** The scopes an API key entry or a JWT's `dynamo` claim carries. */
export const scopesShape = z
  .object({
    read: z.array(z.string().max(1024, 'a key prefix is at most 1024 characters')).default([]),
    write: z.array(z.string().max(1024, 'a key prefix is at most 1024 characters')).default([]),
    admin: z.boolean().default(false),
  })
  .strict();

export type Scopes = z.infer<typeof scopesShape>;

export type PrincipalKind = 'api-key' | 'jwt' | 'admin-token' | 'anonymous';

export interface Principal {
  readonly kind: PrincipalKind;
  /** the API key's name, the JWT's subject, "admin-token", or "anonymous" */
  readonly name: string;
  /** whom a rate limit counts: "key:<name>", "jwt:<sub>", "admin-token", or "ip:<address>" */
  readonly limitId: string;
  readonly read: readonly string[];
  readonly write: readonly string[];
  readonly admin: boolean;
}

/** Every key, for a gateway that runs without data authentication. */
export const ALL_KEYS: readonly string[] = [''];

export function anonymous(ip: string, open: boolean): Principal {
  return {
    kind: 'anonymous',
    name: 'anonymous',
    limitId: `ip:${ip}`,
    read: open ? ALL_KEYS : [],
    write: open ? ALL_KEYS : [],
    admin: false,
  };
}

export function covers(prefixes: readonly string[], key: string): boolean {
  return prefixes.some((p) => key.startsWith(p));
}

export const canRead = (p: Principal, key: string): boolean => covers(p.read, key);
export const canWrite = (p: Principal, key: string): boolean => covers(p.write, key);

/** How a principal is named in an error message. */
export function describe(p: Principal): string {
  switch (p.kind) {
    case 'api-key':
      return `API key '${p.name}'`;
    case 'jwt':
      return `token of '${p.name}'`;
    case 'admin-token':
      return 'the admin token';
    case 'anonymous':
      return 'an anonymous caller';
  }
}
