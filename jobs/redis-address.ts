// Where the repair Redis is: one server, a Redis Cluster, or a primary watched by Redis
// Sentinel. Every setting that names the repair Redis (REDIS_URL, --repair-redis-url,
// GATEWAY_RATE_LIMIT_REDIS_URL) takes one of three forms, parsed here and nowhere else:
//
//   redis://[[user]:password@]host[:port][/db]          one server (rediss:// for TLS)
//   redis-cluster://[[user]:password@]host:port,...      Redis Cluster: some of its nodes (seeds)
//   redis-sentinel://[[user]:password@]host:port,.../name  the sentinels, and the name of the
//                                                          primary they watch (db as ?db=N)
//
// The user and password are those of the Redis servers holding the data; with Sentinel they
// are sent to the sentinels too (a sentinel without a password ignores them).
import { z } from 'zod';

export interface HostPort {
  readonly host: string;
  readonly port: number;
}

export type RedisAddress =
  | { readonly kind: 'server'; readonly url: string }
  | { readonly kind: 'cluster'; readonly nodes: readonly HostPort[]; readonly username?: string; readonly password?: string }
  | {
      readonly kind: 'sentinel';
      readonly sentinels: readonly HostPort[];
      readonly name: string;
      readonly username?: string;
      readonly password?: string;
      readonly db?: number;
    };

export class RedisAddressError extends Error {}

const FORMS = 'redis://host:port, redis-cluster://host:port,host:port,... or redis-sentinel://host:port,host:port,.../primary-name';

/** Parses a Redis setting; throws a RedisAddressError that says what is wrong with it. */
export function parseRedisAddress(text: string): RedisAddress {
  const m = /^([a-z-]+):\/\/(?:([^@/]*)@)?([^/?#]*)(\/[^?#]*)?(\?[^#]*)?$/.exec(text.trim());
  if (!m) throw new RedisAddressError(`expected ${FORMS}, got ${JSON.stringify(mask(text))}`);
  const [, scheme, userinfo, hosts, path = '', query = ''] = m as unknown as [
    string,
    string,
    string | undefined,
    string,
    string | undefined,
    string | undefined,
  ];
  const credentials = parseUserinfo(userinfo);
  switch (scheme) {
    case 'redis':
    case 'rediss': {
      try {
        const url = new URL(text.trim());
        if (!url.hostname) throw new Error('no host');
        if (url.pathname.length > 1 && !/^\/\d{1,2}$/.test(url.pathname)) throw new RedisAddressError(`the database of ${scheme}:// must be a number (/0 ... /15), got ${JSON.stringify(url.pathname)}`);
      } catch (e) {
        if (e instanceof RedisAddressError) throw e;
        throw new RedisAddressError(`${JSON.stringify(mask(text))} is not a valid ${scheme}:// URL (host and port, e.g. redis://127.0.0.1:6379)`);
      }
      return { kind: 'server', url: text.trim() };
    }
    case 'redis-cluster': {
      if (path && path !== '/') throw new RedisAddressError(`redis-cluster:// takes no database or name (a Redis Cluster has only database 0), got ${JSON.stringify(path)}`);
      if (query) throw new RedisAddressError(`redis-cluster:// takes no options, got ${JSON.stringify(query)}`);
      return { kind: 'cluster', nodes: parseHosts(hosts, 'redis-cluster:// needs the host:port of at least one node of the Redis Cluster', 6379), ...credentials };
    }
    case 'redis-sentinel': {
      const name = decodeURIComponent(path.slice(1));
      if (!/^[A-Za-z0-9_.-]{1,128}$/.test(name)) throw new RedisAddressError(`redis-sentinel:// needs the name the sentinels know the primary by after the hosts (redis-sentinel://host:26379,host:26379/mymaster), got ${JSON.stringify(name)}`);
      const params = new URLSearchParams(query);
      let db: number | undefined;
      for (const [k, v] of params) {
        if (k !== 'db') throw new RedisAddressError(`redis-sentinel:// takes only the option db, got ${JSON.stringify(k)}`);
        if (!/^\d{1,2}$/.test(v)) throw new RedisAddressError(`redis-sentinel://...?db= must be a database number, got ${JSON.stringify(v)}`);
        db = Number(v);
      }
      return { kind: 'sentinel', sentinels: parseHosts(hosts, 'redis-sentinel:// needs the host:port of at least one sentinel', 26379), name, ...credentials, ...(db !== undefined ? { db } : {}) };
    }
    default:
      throw new RedisAddressError(`unknown scheme ${JSON.stringify(`${scheme}://`)}: expected ${FORMS}`);
  }
}

function parseUserinfo(userinfo: string | undefined): { username?: string; password?: string } {
  if (!userinfo) return {};
  const colon = userinfo.indexOf(':');
  const username = decodeURIComponent(colon < 0 ? userinfo : userinfo.slice(0, colon));
  const password = colon < 0 ? '' : decodeURIComponent(userinfo.slice(colon + 1));
  return { ...(username ? { username } : {}), ...(password ? { password } : {}) };
}

function parseHosts(text: string, missing: string, defaultPort: number): HostPort[] {
  const parts = text.split(',').map((s) => s.trim());
  if (parts.length === 0 || parts.every((p) => p === '')) throw new RedisAddressError(missing);
  return parts.map((part) => {
    // [v6]:port, host:port, or host alone
    const m = /^(?:\[([0-9a-fA-F:.]+)\]|([A-Za-z0-9_.-]+))(?::(\d{1,5}))?$/.exec(part);
    const port = m?.[3] === undefined ? defaultPort : Number(m[3]);
    if (!m || port < 1 || port > 65535)
      throw new RedisAddressError(`${JSON.stringify(part)} is not a host:port (${missing.split(' needs ')[0]})`);
    return { host: m[1] ?? m[2]!, port };
  });
}

/** The setting with its password masked, for messages and logs. */
export function mask(text: string): string {
  return text.replace(/^([a-z-]+:\/\/[^:@/]*):[^@/]+@/, '$1:redacted@');
}

/** A short description for logs: which kind of Redis, and where. */
export function describeRedis(a: RedisAddress): string {
  const list = (hs: readonly HostPort[]) => hs.map((h) => `${h.host.includes(':') ? `[${h.host}]` : h.host}:${h.port}`).join(',');
  switch (a.kind) {
    case 'server':
      return mask(a.url);
    case 'cluster':
      return `Redis Cluster (seeds ${list(a.nodes)})`;
    case 'sentinel':
      return `primary "${a.name}" of the sentinels ${list(a.sentinels)}`;
  }
}

/** A zod schema for a Redis setting named `setting`: the text, checked by parseRedisAddress. */
export function redisSetting(setting: string) {
  return z.string().superRefine((text, ctx) => {
    try {
      parseRedisAddress(text);
    } catch (e) {
      if (!(e instanceof RedisAddressError)) throw e;
      ctx.addIssue({ code: 'custom', message: `${setting}: ${e.message}` });
    }
  });
}
