// The README's configuration tables, made from the processes' settings tables and kept between
// marker comments (<!-- settings:NAME --> ... <!-- /settings:NAME -->) so that
// `npm run settings:docs` rewrites them and a test finds them stale.
import { shownDefault, type Table } from './table.ts';

const cell = (text: string) => text.replaceAll('|', '\\|').replaceAll('<', '&lt;');

/** A markdown table: flag, environment, default, meaning. */
export function markdownTable(table: Table): string {
  const rows = Object.values(table).map((s) => {
    const env = (typeof s.env === 'string' ? [s.env] : s.env).map((n) => `\`${n}\``).join(', then ');
    const meaning = [s.help, s.secret ? '(secret: never logged)' : '', s.note ?? ''].filter(Boolean).join(' ');
    return `| \`--${s.flag}${s.arg ? ` ${s.arg}` : ''}\` | ${env} | ${cell(shownDefault(s))} | ${cell(meaning)} |`;
  });
  return ['| flag | env | default | meaning |', '| --- | --- | --- | --- |', ...rows].join('\n');
}

/** The text with the tables between each name's markers replaced; throws when a marker is missing. */
export function withTables(text: string, tables: Readonly<Record<string, Table>>): string {
  let out = text;
  for (const [name, table] of Object.entries(tables)) {
    const open = `<!-- settings:${name} -->`;
    const close = `<!-- /settings:${name} -->`;
    const start = out.indexOf(open);
    const end = out.indexOf(close);
    if (start < 0 || end < start) throw new Error(`README.md has no ${open} ... ${close} markers`);
    out = `${out.slice(0, start + open.length)}\n${markdownTable(table)}\n${out.slice(end)}`;
  }
  return out;
}
