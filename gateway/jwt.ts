// JWTs verified with jose against a JWKS (a file or an https URL) or one PEM public key.
//
// A token must be signed by one of those keys with an asymmetric algorithm that fits the key
// (jose refuses "none" and a public key used as an HMAC secret), carry `exp` and `sub`, be
// inside its `nbf`..`exp` window, and match the configured issuer and audience when they are
// set. Its `dynamo` claim holds the scopes: { read: [prefix], write: [prefix], admin }. A
// token without the claim is authenticated but may do nothing.
import { createPublicKey, type KeyObject } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createLocalJWKSet, createRemoteJWKSet, errors, jwtVerify, type JWTVerifyGetKey } from 'jose';
import { ConfigError } from '../storage/config.ts';
import { scopesShape, type Principal } from './principal.ts';

export interface JwtSettings {
  /** a JWKS URL (http/https), a JWKS file, a PEM public key file, or an inline PEM */
  readonly keys: string;
  readonly issuer?: string;
  readonly audience?: string;
  /** seconds of clock skew tolerated on exp and nbf */
  readonly clockToleranceS: number;
}

/** Why a token was refused: said to the caller as UNAUTHENTICATED (or UNAVAILABLE when the keys cannot be fetched). */
export class JwtRefused extends Error {
  readonly unavailable: boolean;
  constructor(
    message: string,
    unavailable = false,
  ) {
    super(message);
    this.unavailable = unavailable;
  }
}

/** A compact JWS has three base64url parts and a JSON header ("eyJ" is the encoding of '{"'). */
export function looksLikeJwt(token: string): boolean {
  return token.startsWith('eyJ') && token.split('.').length === 3;
}

export class JwtVerifier {
  readonly #key: KeyObject | JWTVerifyGetKey;

  private readonly settings: JwtSettings;
  private constructor(
    key: KeyObject | JWTVerifyGetKey,
    settings: JwtSettings,
  ) {
    this.settings = settings;
    this.#key = key;
  }

  /** Loads the keys named by the setting; a ConfigError says what is wrong. */
  static load(settings: JwtSettings): JwtVerifier {
    return new JwtVerifier(loadKeys(settings.keys), settings);
  }

  async verify(token: string): Promise<Principal> {
    let payload: Record<string, unknown>;
    try {
      const options = {
        issuer: this.settings.issuer,
        audience: this.settings.audience,
        clockTolerance: this.settings.clockToleranceS,
        requiredClaims: ['exp', 'sub'],
      };
      // jwtVerify is overloaded on the key's kind; each branch calls the matching overload
      payload = (typeof this.#key === 'function' ? await jwtVerify(token, this.#key, options) : await jwtVerify(token, this.#key, options))
        .payload;
    } catch (e) {
      if (e instanceof errors.JWKSTimeout || !(e instanceof errors.JOSEError)) {
        throw new JwtRefused(`the token's signing keys cannot be fetched: ${(e as Error).message}`, true);
      }
      throw new JwtRefused(reason(e));
    }
    const sub = String(payload.sub);
    const claim = scopesShape.safeParse(payload.dynamo ?? {});
    if (!claim.success)
      throw new JwtRefused(
        `the token's "dynamo" claim is malformed: ${claim.error.issues.map((i) => `${i.path.join('.') || 'dynamo'}: ${i.message}`).join('; ')}`,
      );
    return { kind: 'jwt', name: sub, limitId: `jwt:${sub}`, ...claim.data };
  }
}

function reason(e: errors.JOSEError): string {
  if (e instanceof errors.JWTExpired) return 'the token has expired';
  if (e instanceof errors.JWTClaimValidationFailed) return `the token's "${e.claim}" claim is refused: ${e.message}`;
  if (e instanceof errors.JWSSignatureVerificationFailed) return 'the token signature does not verify';
  if (e instanceof errors.JWKSNoMatchingKey) return 'no configured key matches the token (kid or alg)';
  return `the token is refused: ${e.message}`;
}

function loadKeys(setting: string): KeyObject | JWTVerifyGetKey {
  if (/^https?:\/\//.test(setting)) {
    try {
      return createRemoteJWKSet(new URL(setting));
    } catch (e) {
      throw new ConfigError(`GATEWAY_JWKS: not a usable URL: ${(e as Error).message}`);
    }
  }
  if (setting.startsWith('-----BEGIN')) return pem(setting, 'GATEWAY_JWKS');
  let text: string;
  try {
    text = readFileSync(setting, 'utf8');
  } catch (e) {
    throw new ConfigError(`GATEWAY_JWKS names neither a URL nor a readable file: ${(e as Error).message}`);
  }
  if (text.trimStart().startsWith('-----BEGIN')) return pem(text, setting);
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw new ConfigError(`${setting} is neither a PEM public key nor JSON: ${(e as Error).message}`);
  }
  const keys = (json as { keys?: unknown } | null)?.keys;
  if (!Array.isArray(keys) || keys.length === 0)
    throw new ConfigError(`${setting} must be a JWKS: {"keys": [<JWK>, ...]} with at least one key`);
  if (keys.some((k) => typeof k !== 'object' || k === null || 'd' in k || (k as { kty?: unknown }).kty === 'oct')) {
    throw new ConfigError(`${setting} must hold public keys only (no "d", no symmetric "oct" keys)`);
  }
  try {
    return createLocalJWKSet(json as Parameters<typeof createLocalJWKSet>[0]);
  } catch (e) {
    throw new ConfigError(`${setting} is not a valid JWKS: ${(e as Error).message}`);
  }
}

function pem(text: string, source: string): KeyObject {
  try {
    const key = createPublicKey(text);
    if (key.type !== 'public') throw new Error('not a public key');
    return key;
  } catch (e) {
    throw new ConfigError(`${source}: not a PEM public key: ${(e as Error).message}`);
  }
}
