// The processes' logger: pino behind the `Logger` interface of runtime.ts (the simulator keeps
// its own). One JSON object per line on stderr by default, for log shippers; readable lines
// (pino-pretty) when LOG_FORMAT=pretty, which `npm start` sets. Secrets, tokens, passwords and
// authorization headers are redacted wherever a log call's fields carry them, up to three
// levels deep, and a password inside a URL is masked.
import { pino, type Logger as Pino } from 'pino';
import pretty from 'pino-pretty';
import { z } from 'zod';
import type { Logger } from '../client/src/runtime.ts';
import { mask as maskPassword } from '../jobs/redis-address.ts';

export const LOG_LEVELS = ['debug', 'info', 'warn', 'error', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];
export const logLevel = z.enum(LOG_LEVELS, {
  error: (i) => `log level must be one of ${LOG_LEVELS.join(', ')}, got ${JSON.stringify(i.input)}`,
});

export const LOG_FORMATS = ['json', 'pretty'] as const;
export type LogFormat = (typeof LOG_FORMATS)[number];
export const logFormat = z.enum(LOG_FORMATS, { error: (i) => `LOG_FORMAT must be json or pretty, got ${JSON.stringify(i.input)}` });

/** The two logging rows of a process's settings table (storage/settings/table.ts): its own level variable first, then LOG_LEVEL. */
export function logSettings<E extends string>(levelEnv: E) {
  return {
    logLevel: {
      flag: 'log-level', env: [levelEnv, 'LOG_LEVEL'], arg: 'LEVEL', schema: logLevel, default: 'info',
      help: 'debug, info, warn, error or silent',
    },
    logFormat: {
      flag: 'log-format', env: 'LOG_FORMAT', arg: 'FORMAT', schema: logFormat, default: 'json',
      help: 'json (one object per line on stderr) or pretty (readable lines; npm start sets it)',
    },
  } as const;
}

/** Field names whose values never reach a log line. */
export const SECRET_FIELDS = [
  'secret',
  'secrets',
  'acceptSecrets',
  'token',
  'adminToken',
  'password',
  'authorization',
  'cookie',
  'contextKeys',
  'apiKey',
  'privateKey',
] as const;
/** Field names holding loaded TLS material (certificates, keys, authorities): shown only as present. */
const TLS_FIELDS = ['tls', 'nodeTls'] as const;
const TLS_SHOWN = '[certificates loaded]';
/** Field names holding URLs whose password is masked (redis://user:password@host). */
const URL_FIELDS = ['url', 'redisUrl', 'repairRedisUrl', 'rateLimitRedisUrl'] as const;

export const REDACTED = '[redacted]';

/** pino's paths for a field at the top level and nested one or two levels down. */
function everywhere(fields: readonly string[]): string[] {
  return fields.flatMap((f) => [f, `*.${f}`, `*.*.${f}`]);
}

function censor(value: unknown, path: string[]): unknown {
  const field = String(path[path.length - 1]);
  if ((TLS_FIELDS as readonly string[]).includes(field)) return value == null ? value : TLS_SHOWN;
  if (!(URL_FIELDS as readonly string[]).includes(field)) return REDACTED;
  return typeof value === 'string' ? maskPassword(value) : value;
}

export interface LoggerOptions {
  readonly level: LogLevel;
  readonly format: LogFormat;
  /** where lines go: a file descriptor (default 2, stderr) */
  readonly fd?: number;
}

/** A process's logger: `name` is the process (gateway, jobs, storage:n1), on every line. */
export function processLogger(name: string, o: LoggerOptions): Logger & { debug: Logger['info'] } {
  const fd = o.fd ?? 2;
  const base: pino.LoggerOptions = {
    name,
    level: o.level,
    base: { pid: process.pid },
    timestamp: pino.stdTimeFunctions.isoTime,
    formatters: { level: (label) => ({ level: label }) },
    redact: { paths: [...everywhere(SECRET_FIELDS), ...everywhere(URL_FIELDS), ...everywhere(TLS_FIELDS)], censor },
  };
  // synchronous writes: a line logged just before process.exit is never lost
  const log: Pino =
    o.format === 'pretty'
      ? pino(
          base,
          pretty({
            destination: fd,
            sync: true,
            singleLine: true,
            errorLikeObjectKeys: ['err'],
            translateTime: 'SYS:HH:MM:ss.l',
            ignore: 'pid,hostname',
          }),
        )
      : pino(base, pino.destination({ fd, sync: true }));
  return {
    debug: (msg, fields) => log.debug(fields ?? {}, msg),
    info: (msg, fields) => log.info(fields ?? {}, msg),
    warn: (msg, fields) => log.warn(fields ?? {}, msg),
    error: (msg, fields) => log.error(fields ?? {}, msg),
  };
}
