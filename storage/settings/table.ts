// A process's settings, declared once as rows of a table: each row names its flag, its
// environment variable(s), its zod schema, its default, its help line and whether it is a
// secret. From the table come the parsed values (a flag over the environment over the
// default), the --help text, the README's configuration tables (markdown.ts) and the
// configuration a process logs (secrets redacted).
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { z } from 'zod';

/** A whole number setting from a flag or variable's text, at least `min` and at most `max` when given. */
export function intSetting(min: number, max?: number) {
  const n = z.coerce.number().int().min(min);
  return max === undefined ? n : n.max(max);
}

/** A name setting (a node id, a cluster, a queue prefix): 1-64 letters, digits, _ . - */
export function nameSetting(what: string) {
  return z.string().regex(/^[A-Za-z0-9_.-]{1,64}$/, `${what}: 1-64 letters, digits, _ . -`);
}

export class ConfigError extends Error {
  override readonly name = 'ConfigError';
}

/** What a default is computed from: the values picked so far (flags and environment, unparsed) and the environment. */
export type DefaultOf = (picked: Readonly<Record<string, unknown>>, env: NodeJS.ProcessEnv) => unknown;

export interface Setting {
  /** the flag, without its dashes */
  readonly flag: string;
  /** the environment variable, or several: the first one set wins */
  readonly env: string | readonly string[];
  readonly schema: z.ZodType;
  /** the flag's value as help shows it (FILE, T); absent: the flag is a switch, its value a boolean */
  readonly arg?: string;
  /** the value (before the schema) when neither the flag nor the environment sets it */
  readonly default?: unknown;
  /** a default computed from other settings, in place of `default` */
  readonly defaultOf?: DefaultOf;
  /** the process refuses to start without it */
  readonly required?: boolean;
  /** the default as help and the README show it, when not the plain value */
  readonly shown?: string;
  /** one line for --help and the README */
  readonly help: string;
  /** more for the README only (markdown) */
  readonly note?: string;
  /** never logged: the process's configuration line shows [redacted] */
  readonly secret?: boolean;
  /** the flag names a file holding the value (the environment variable holds the value itself) */
  readonly file?: boolean;
}

export type Table = Readonly<Record<string, Setting>>;

/** The parsed values of a table: a setting with a default or required always has one. */
export type Values<T extends Table> = {
  -readonly [K in keyof T]: T[K] extends { readonly schema: infer S extends z.ZodType }
    ? T[K] extends { readonly default: unknown } | { readonly defaultOf: DefaultOf } | { readonly required: true }
      ? z.output<S>
      : z.output<S> | undefined
    : never;
};

/** Where a value came from. */
export type Source = 'flag' | 'env' | 'default';

export interface Parsed<T extends Table> {
  readonly values: Values<T>;
  readonly from: { readonly [K in keyof T]: Source | undefined };
}

const envNames = (s: Setting): readonly string[] => (typeof s.env === 'string' ? [s.env] : s.env);

/** How messages name a setting: `--data-dir (DYNAMO_DATA_DIR)`. */
export function settingName(s: Setting): string {
  return `--${s.flag} (${envNames(s).join(' or ')})`;
}

const TRUE = ['1', 'true', 'yes', 'on'];
const FALSE = ['0', 'false', 'no', 'off'];

type FlagOptions = Record<string, { type: 'string' | 'boolean'; short?: string }>;
type Flags = Record<string, string | boolean | undefined>;

/** The table's flags as node:util parseArgs options (a process with more flags adds its own). */
export function flagOptions(table: Table): FlagOptions {
  const options: FlagOptions = {};
  for (const s of Object.values(table)) options[s.flag] = { type: s.arg ? 'string' : 'boolean' };
  return options;
}

/**
 * Parses `argv` and `env` against the table. An unknown or malformed flag, and --help, throw a
 * ConfigError carrying the usage; every invalid or missing setting is named in one ConfigError
 * (`invalid <what>:` and a line per setting).
 */
export function parseSettings<T extends Table>(
  table: T,
  argv: string[],
  env: NodeJS.ProcessEnv,
  o: { usage: string; what: string },
): Parsed<T> {
  let flags: Flags;
  try {
    const options = { ...flagOptions(table), help: { type: 'boolean' as const } };
    flags = parseArgs({ args: argv, options, strict: true, allowPositionals: false }).values;
  } catch (e) {
    throw new ConfigError(`${(e as Error).message}\n\n${o.usage}`);
  }
  if (flags.help) throw new ConfigError(o.usage);
  return settingsFrom(table, flags, env, o.what);
}

/** The table's values from flags already parsed (by flagOptions) and the environment. */
export function settingsFrom<T extends Table>(table: T, flags: Flags, env: NodeJS.ProcessEnv, what: string): Parsed<T> {
  const picked: Record<string, unknown> = {};
  const from: Record<string, Source | undefined> = {};
  const issues: string[] = [];
  for (const [key, s] of Object.entries(table)) {
    const flag = flags[s.flag];
    if (flag !== undefined) {
      picked[key] = s.file ? readValueFile(s, flag as string, issues) : flag;
      from[key] = 'flag';
      continue;
    }
    const name = envNames(s).find((n) => env[n] !== undefined && env[n] !== '');
    if (name === undefined) continue;
    const text = env[name]!;
    from[key] = 'env';
    if (s.arg) picked[key] = text;
    else if (TRUE.includes(text.toLowerCase())) picked[key] = true;
    else if (FALSE.includes(text.toLowerCase())) picked[key] = false;
    else issues.push(`  ${name}: must be 1 or 0 (true or false), got ${JSON.stringify(text)}`);
  }
  const values: Record<string, unknown> = {};
  for (const [key, s] of Object.entries(table)) {
    let raw = picked[key];
    if (raw === undefined && from[key] === undefined) {
      raw = s.defaultOf ? s.defaultOf(picked, env) : s.default;
      if (raw !== undefined) from[key] = 'default';
    }
    if (raw === undefined) {
      if (s.required && from[key] === undefined) issues.push(`  ${settingName(s)}: required`);
      continue;
    }
    const r = s.schema.safeParse(raw);
    if (r.success) values[key] = r.data;
    else issues.push(...r.error.issues.map((i) => `  ${settingName(s)}: ${i.message}`));
  }
  if (issues.length > 0) throw new ConfigError(`invalid ${what}:\n${issues.join('\n')}`);
  return { values: values as Values<T>, from: from as Parsed<T>['from'] };
}

function readValueFile(s: Setting, file: string, issues: string[]): string | undefined {
  try {
    return readFileSync(file, 'utf8').trim();
  } catch (e) {
    issues.push(`  --${s.flag}: cannot read ${file}: ${(e as Error).message}`);
    return undefined;
  }
}

/** The default as help and the README show it; '' for none. */
export function shownDefault(s: Setting): string {
  if (s.shown !== undefined) return s.shown;
  if (s.required) return 'required';
  if (s.default === undefined || s.default === false) return '';
  return String(s.default);
}

/** The --help text: a heading, a line per setting, and whatever follows. */
export function usage(heading: string, table: Table, after = ''): string {
  const lines = Object.values(table).map((s) => {
    const flag = `  --${s.flag}${s.arg ? ` ${s.arg}` : ''}`;
    const shown = shownDefault(s);
    const tail = `(${envNames(s).join(' or ')}${shown ? `; ${shown.startsWith('required') ? shown : `default ${shown}`}` : ''})`;
    return `${flag.padEnd(32)} ${s.help} ${tail}`;
  });
  return [heading, '', ...lines, ...(after ? ['', after] : [])].join('\n');
}

export const REDACTED = '[redacted]';

/** The values with every secret setting's value replaced, for a configuration log line. */
export function redacted<T extends object>(table: Table, values: T): T {
  const out: Record<string, unknown> = { ...(values as Record<string, unknown>) };
  for (const [key, s] of Object.entries(table)) if (s.secret && out[key] !== undefined) out[key] = REDACTED;
  return out as T;
}

/** Loads a process's configuration, or prints what is wrong with it and exits with status 2. */
export function configOrExit<T>(load: () => T): T {
  try {
    return load();
  } catch (e) {
    if (!(e instanceof ConfigError)) throw e;
    process.stderr.write(`${e.message}\n`);
    process.exit(2);
  }
}
