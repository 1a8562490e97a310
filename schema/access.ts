// Scope checks for resolvers: a key outside the caller's read or write prefixes is FORBIDDEN,
// an operator field without the admin scope is UNAUTHENTICATED for an anonymous caller and
// FORBIDDEN for any other. They throw per field, so a getMany answers the keys it may read
// and reports each refused key as a null item with its own error.
import { canRead, canWrite, describe } from '../gateway/principal.ts';
import type { GatewayContext } from './context.ts';

/** A refusal by scope. Gateway-only codes, never on the node protocol (client/src/core/errors.ts). */
export class AccessError extends Error {
  override readonly name = 'AccessError';
  readonly code: 'UNAUTHENTICATED' | 'FORBIDDEN';
  constructor(
    code: 'UNAUTHENTICATED' | 'FORBIDDEN',
    message: string,
  ) {
    super(message);
    this.code = code;
  }
}

const shown = (key: string) => (key.length > 64 ? key.slice(0, 64) + '…' : key);

export function requireRead(ctx: GatewayContext, key: string): void {
  if (!canRead(ctx.principal, key))
    throw new AccessError('FORBIDDEN', `${describe(ctx.principal)} may not read '${shown(key)}': no read scope covers it`);
}

export function requireWrite(ctx: GatewayContext, key: string): void {
  if (!canWrite(ctx.principal, key))
    throw new AccessError('FORBIDDEN', `${describe(ctx.principal)} may not write '${shown(key)}': no write scope covers it`);
}

export function requireAdmin(ctx: GatewayContext): void {
  if (ctx.principal.admin) return;
  if (ctx.principal.kind === 'anonymous') {
    throw new AccessError(
      'UNAUTHENTICATED',
      'admin fields need a credential with the admin scope: Authorization: Bearer <ADMIN_TOKEN, or an admin API key or JWT>',
    );
  }
  throw new AccessError('FORBIDDEN', `${describe(ctx.principal)} has no admin scope`);
}
