// Authentication: the `Authorization: Bearer <credential>` header to a Principal.
//
// A credential is, in this order, the ADMIN_TOKEN (the admin scope, and no data scope unless
// the gateway runs open), a JWT when JWT keys are configured and the credential looks like one,
// or an API key from the keys file. A credential that is none of these is refused: a caller
// who sent a wrong one learns it at once rather than being treated as anonymous. With no
// credential the caller is anonymous: every key when the gateway runs without data
// authentication ("open"), nothing otherwise.
import { timingSafeEqual } from 'node:crypto';
import { ApiKeys, sha256 } from './api-keys.ts';
import { JwtRefused, looksLikeJwt, type JwtVerifier } from './jwt.ts';
import { ALL_KEYS, anonymous, type Principal } from './principal.ts';

/** A refused credential: UNAUTHENTICATED, or UNAVAILABLE when the JWT keys cannot be fetched. */
export class AuthError extends Error {
  readonly code: 'UNAUTHENTICATED' | 'UNAVAILABLE';
  constructor(
    code: 'UNAUTHENTICATED' | 'UNAVAILABLE',
    message: string,
  ) {
    super(message);
    this.code = code;
  }
}

export interface AuthOptions {
  readonly apiKeys?: ApiKeys | null;
  readonly jwt?: JwtVerifier | null;
  readonly adminToken?: string | null;
}

export class Authenticator {
  /** no API keys and no JWT: every caller may read and write every key */
  readonly open: boolean;
  readonly #adminDigest: Buffer | null;

  private readonly o: AuthOptions = {};
  constructor(o: AuthOptions = {}) {
    this.o = o;
    this.open = !o.apiKeys && !o.jwt;
    this.#adminDigest = o.adminToken ? sha256(o.adminToken) : null;
  }

  /** Whether any credential could carry the admin scope. */
  get adminPossible(): boolean {
    return this.#adminDigest !== null || Boolean(this.o.apiKeys?.anyAdmin) || Boolean(this.o.jwt);
  }

  /** What the data credentials are, for the start-up log. */
  describe(): string {
    const parts = [this.o.apiKeys ? `${this.o.apiKeys.size} API keys` : null, this.o.jwt ? 'JWT' : null].filter(Boolean);
    return parts.length ? parts.join(' and ') : 'none (open)';
  }

  /** `ip` may be a function: it is asked only for an anonymous caller. */
  async authenticate(header: string | null | undefined, ip: string | (() => string)): Promise<Principal> {
    if (!header) return anonymous(typeof ip === 'function' ? ip() : ip, this.open);
    const match = /^Bearer +(\S+) *$/i.exec(header);
    if (!match) throw new AuthError('UNAUTHENTICATED', 'the Authorization header must be "Bearer <credential>"');
    return this.credential(match[1]!);
  }

  /** The principal of a bare credential (the header's, or the dashboard's cookie). */
  async credential(token: string): Promise<Principal> {
    if (this.#adminDigest && timingSafeEqual(sha256(token), this.#adminDigest)) {
      const data = this.open ? ALL_KEYS : [];
      return { kind: 'admin-token', name: 'admin-token', limitId: 'admin-token', read: data, write: data, admin: true };
    }
    if (this.o.jwt && looksLikeJwt(token)) {
      try {
        return await this.o.jwt.verify(token);
      } catch (e) {
        if (e instanceof JwtRefused) throw new AuthError(e.unavailable ? 'UNAVAILABLE' : 'UNAUTHENTICATED', e.message);
        throw e;
      }
    }
    const key = this.o.apiKeys?.lookup(token);
    if (key) return key;
    throw new AuthError(
      'UNAUTHENTICATED',
      this.open && !this.#adminDigest
        ? 'this gateway accepts no credentials; send none'
        : 'the bearer credential is not a known API key, admin token or valid JWT',
    );
  }
}
