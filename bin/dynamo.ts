// The command-line client: get, put and delete against a running cluster, printing siblings
// and the context to write back with; hints, ring and node status for operators.
import { readFileSync, existsSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { ConflictError, StoreError } from '../client/src/core/errors.ts';
import { partitionCounts } from '../client/src/core/ring.ts';
import { canonical } from '../client/src/core/crdt/canonical.ts';
import { counterValue } from '../client/src/core/crdt/counter.ts';
import { members } from '../client/src/core/crdt/orswot.ts';
import { joinSiblings } from '../client/src/core/crdt/typed.ts';
import { contextOf as contextOfSet, type SiblingSet } from '../client/src/core/siblings.ts';
import { formatDot } from '../client/src/core/version-vector.ts';
import { DynamoClient, decodeContext, encodeContext, type WriteResult } from '../client/src/client.ts';
import type { ClientTls } from '../client/src/transport/tls.ts';
import { readCa } from '../storage/transport/tls.ts';
import type { PutCondition } from '../client/src/protocol/messages.ts';
import { changeRing, showStatus } from './membership.ts';
import { checkTtl, MAX_TTL_SECONDS } from '../client/src/core/expiry.ts';
import { readCredential, type NodeCredential } from '../storage/config.ts';
import { flagOptions, settingsFrom, usage, type Parsed } from '../storage/settings/table.ts';
import { CLI_SETTINGS } from './cli-settings.ts';

const USAGE = `dynamo: command-line client for the Dynamo cluster

  dynamo get KEY [--r R] [--pr PR]
  dynamo put KEY VALUE [--context CTX] [--if current|absent] [--ttl SECONDS] [--w W] [--pw PW]     (VALUE "-" reads stdin)
  dynamo delete KEY [--context CTX] [--if current] [--w W]
  dynamo incr KEY [BY] [--w W]               add BY (default 1) to a counter; prints its value after
  dynamo decr KEY [BY] [--w W]               subtract BY (default 1)
  dynamo counter KEY [--r R]                 a counter's value
  dynamo sadd KEY MEMBER... [--w W]          add members to a set (JSON, or else taken as a string); prints the set after
  dynamo srem KEY MEMBER... [--w W]          remove members from a set
  dynamo members KEY [--r R]                 a set's members, one per line as JSON
  dynamo hints [--node ID] [--limit N]
  dynamo replicas KEY                        every node's own versions of KEY and its hints for it, without repair
  dynamo ring
  dynamo status [--node ID]                  members and reachability as one node sees them, transfers
  dynamo join ID HOST:PORT [--weight W] [--wait]     start the new node first, with --seeds
  dynamo leave ID [--wait]                   the node hands its data and hints on, then may stop
  dynamo remove ID [--wait]                  take out a dead node; the others copy its ranges
  dynamo replace DEAD-ID NEW-ID HOST:PORT [--wait]   a new node takes exactly a dead node's ranges
      (changes accept --expect-version V: refused if the ring moved past V)

${usage('', CLI_SETTINGS).replace(/^\n+/, '')}

A put without --context is a blind write: it becomes a sibling of what is there.
A delete without --context deletes what its coordinator holds at that moment.
--if current writes only if the context covers every version the key holds; --if absent
(put only) only if the key holds no live version. A refusal prints the key's siblings and
their context, to merge and write again with, and exits with status 3.
--ttl SECONDS (put only, 1 to ${MAX_TTL_SECONDS}): the value expires that long after its coordinator
writes it, by that node's clock, and then reads as absent (docs/graphql.md, Expiry).
Counters and sets merge themselves (docs/types.md): concurrent updates through other nodes
are never lost; an update to a key holding a plain value or another type is refused.`;

/** The commands' own options; the settings (--seeds, --identity, ...) come from CLI_SETTINGS. */
const COMMAND_OPTIONS = {
  context: { type: 'string' },
  r: { type: 'string' },
  pr: { type: 'string' },
  w: { type: 'string' },
  pw: { type: 'string' },
  node: { type: 'string' },
  limit: { type: 'string' },
  weight: { type: 'string' },
  'expect-version': { type: 'string' },
  if: { type: 'string' },
  ttl: { type: 'string' },
  wait: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const;

type CommandFlags = {
  -readonly [K in keyof typeof COMMAND_OPTIONS]?: (typeof COMMAND_OPTIONS)[K]['type'] extends 'string' ? string : boolean;
} & { json?: boolean };

/** The settings from the parsed flags and the environment; a bad one is a BAD_REQUEST naming it. */
function cliSettings(flags: Record<string, string | boolean | undefined>): Parsed<typeof CLI_SETTINGS> {
  try {
    return settingsFrom(CLI_SETTINGS, flags, process.env, 'dynamo configuration');
  } catch (e) {
    throw new StoreError('BAD_REQUEST', (e as Error).message);
  }
}

/** The exit status of a conditional write the key's coordinator refused. */
const EXIT_CONFLICT = 3;

async function main(argv: string[]): Promise<number> {
  const options = { ...flagOptions(CLI_SETTINGS), ...COMMAND_OPTIONS };
  const { values, positionals } = parseArgs({ args: argv, allowPositionals: true, options });
  const o = values as CommandFlags;
  const [command, key, value, extra] = positionals;
  const rest = positionals.slice(2);
  if (o.help || !command) {
    process.stdout.write(USAGE + '\n');
    return command ? 0 : 2;
  }
  const num = (s: string | undefined, name: string): number | undefined => {
    if (s === undefined) return undefined;
    const n = Number(s);
    if (!Number.isInteger(n) || n < 0) throw new StoreError('BAD_REQUEST', `--${name} must be a non-negative integer, got '${s}'`);
    return n;
  };
  const context = o.context === undefined ? undefined : parseContext(o.context);
  const condition = parseCondition(o.if, command);
  const ttl = parseTtl(o.ttl, command);
  const settings = cliSettings(values);
  o.json = settings.values.json;
  const { cluster } = settings.values;
  const tls = tlsCa(settings.values.tlsCa);
  const client = await DynamoClient.connect({ seeds: settings.values.seeds, cluster, ...credential(settings, cluster), tls });
  const print = (text: string, json: unknown) => process.stdout.write((o.json ? JSON.stringify(json) : text) + '\n');
  /** A write, or null when its condition failed: then what the coordinator held is printed. */
  const conditional = async (key: string, write: Promise<WriteResult>): Promise<WriteResult | null> => {
    try {
      return await write;
    } catch (e) {
      if (!(e instanceof ConflictError)) throw e;
      process.stderr.write(`error CONFLICT: ${e.message}\n`);
      print(formatSiblings(key, e.siblings, 'held by its coordinator'), { key, error: 'CONFLICT', ...siblingsJson(e.siblings) });
      return null;
    }
  };
  try {
    switch (command) {
      case 'get': {
        const k = required(key, 'KEY');
        const r = await client.get(k, { r: num(o.r, 'r'), pr: num(o.pr, 'pr') });
        print(formatSiblings(k, r.siblings, `${r.replies} replicas answered`), { key: k, replies: r.replies, ...siblingsJson(r.siblings) });
        return 0;
      }
      case 'put': {
        const k = required(key, 'KEY');
        const v = required(value, 'VALUE');
        const bytes = v === '-' ? readFileSync(0) : Buffer.from(v, 'utf8');
        const w = await conditional(k, client.put(k, bytes, { context, w: num(o.w, 'w'), pw: num(o.pw, 'pw'), ...condition, ...ttl }));
        if (!w) return EXIT_CONFLICT;
        const ctx = encodeContext(w.context).toString('base64url');
        print(`ok: ${w.acks} acks, version ${formatDot(w.dot)}\ncontext: ${ctx}`, {
          key: k,
          acks: w.acks,
          dot: formatDot(w.dot),
          context: ctx,
        });
        return 0;
      }
      case 'delete': {
        const k = required(key, 'KEY');
        const w = await conditional(k, client.delete(k, { context, w: num(o.w, 'w'), pw: num(o.pw, 'pw'), ...condition }));
        if (!w) return EXIT_CONFLICT;
        const ctx = encodeContext(w.context).toString('base64url');
        print(`deleted: ${w.acks} acks, tombstone ${formatDot(w.dot)}\ncontext: ${ctx}`, {
          key: k,
          acks: w.acks,
          dot: formatDot(w.dot),
          context: ctx,
        });
        return 0;
      }
      case 'incr':
      case 'decr': {
        const k = required(key, 'KEY');
        const by = value === undefined ? 1 : Number(value);
        if (!Number.isSafeInteger(by)) throw new StoreError('BAD_REQUEST', `BY must be an integer, got '${value}'`);
        const u = await client.update(k, { type: 'counter', by: command === 'decr' ? -by : by }, { w: num(o.w, 'w'), pw: num(o.pw, 'pw') });
        const n = u.state.type === 'counter' ? counterValue(u.state.state) : 0;
        print(String(n), { key: k, value: n, acks: u.acks, dot: formatDot(u.dot) });
        return 0;
      }
      case 'sadd':
      case 'srem': {
        const k = required(key, 'KEY');
        if (rest.length === 0) throw new StoreError('BAD_REQUEST', 'name at least one MEMBER');
        const list = rest.map(memberOf);
        const u = await client.update(
          k,
          { type: 'set', add: command === 'sadd' ? list : [], remove: command === 'srem' ? list : [] },
          { w: num(o.w, 'w'), pw: num(o.pw, 'pw') },
        );
        const m = u.state.type === 'set' ? members(u.state.state) : [];
        print(m.join('\n'), { key: k, members: m.map((x) => JSON.parse(x) as unknown), acks: u.acks, dot: formatDot(u.dot) });
        return 0;
      }
      case 'counter':
      case 'members': {
        const k = required(key, 'KEY');
        const r = await client.get(k, { r: num(o.r, 'r'), pr: num(o.pr, 'pr') });
        const t = joinSiblings(k, r.siblings, command === 'counter' ? 'counter' : 'set');
        if (command === 'counter') {
          const n = t?.type === 'counter' ? counterValue(t.state) : 0;
          print(String(n), { key: k, value: n });
        } else {
          const m = t?.type === 'set' ? members(t.state) : [];
          print(m.join('\n'), { key: k, members: m.map((x) => JSON.parse(x) as unknown) });
        }
        return 0;
      }
      case 'hints': {
        const nodes = o.node ? [o.node] : client.ring.members.map((m) => m.id);
        const out: unknown[] = [];
        for (const id of nodes) {
          const reply = await client.hints(id, num(o.limit, 'limit') ?? 20);
          out.push({ node: id, total: reply.total, hints: reply.hints });
          if (!o.json) {
            process.stdout.write(`${id}: ${reply.total} hints\n`);
            for (const h of reply.hints)
              process.stdout.write(`  for ${h.owner}: '${h.key}' (${h.siblings} siblings, stored ${new Date(h.storedAt).toISOString()})\n`);
          }
        }
        if (o.json) print('', out);
        return 0;
      }
      case 'replicas': {
        const k = required(key, 'KEY');
        const copies = await client.replicas(k);
        const lines = copies.map((c) => {
          const where = `${c.node}${c.primary ? ' (primary)' : ''}${c.hintFor ? `, hint for ${c.hintFor}` : ''}`;
          if (!c.reachable) return `  ${where}: unreachable`;
          return `  ${where}: ${c.set.length === 0 ? 'nothing' : c.set.map((v) => `${formatDot(v.dot)}${v.deleted ? ' (deleted)' : ''}`).join(', ')}`;
        });
        print(
          `'${k}' on every member, read without repair:\n${lines.join('\n')}`,
          copies.map((c) => ({
            node: c.node,
            primary: c.primary,
            reachable: c.reachable,
            hintFor: c.hintFor,
            versions: siblingsJson(c.set).siblings,
          })),
        );
        return 0;
      }
      case 'ring': {
        const counts = partitionCounts(client.ring);
        const lines = client.ring.members.map((m) => `  ${m.id}  ${m.address}  weight ${m.weight}  ${counts.get(m.id)} partitions`);
        print(
          `ring version ${client.ring.version}, ${client.ring.partitions} partitions, N=${client.defaults.n} R=${client.defaults.r} W=${client.defaults.w}\n${lines.join('\n')}`,
          {
            ...client.defaults,
            ring: client.ring,
          },
        );
        return 0;
      }
      case 'status':
        await showStatus(client, o.node, o.json ?? false);
        return 0;
      case 'join':
        await changeRing(
          client,
          {
            kind: 'join',
            node: required(key, 'ID'),
            address: required(value, 'HOST:PORT'),
            weight: num(o.weight, 'weight'),
            expectedVersion: num(o['expect-version'], 'expect-version'),
          },
          o.wait ?? false,
        );
        return 0;
      case 'leave':
      case 'remove':
        await changeRing(
          client,
          { kind: command, node: required(key, 'ID'), expectedVersion: num(o['expect-version'], 'expect-version') },
          o.wait ?? false,
        );
        return 0;
      case 'replace':
        await changeRing(
          client,
          {
            kind: 'replace',
            node: required(key, 'DEAD-ID'),
            by: required(value, 'NEW-ID'),
            address: required(extra, 'HOST:PORT'),
            weight: num(o.weight, 'weight'),
            expectedVersion: num(o['expect-version'], 'expect-version'),
          },
          o.wait ?? false,
        );
        return 0;
      default:
        process.stderr.write(`unknown command '${command}'\n\n${USAGE}\n`);
        return 2;
    }
  } finally {
    client.close();
  }
}

/** --ttl SECONDS, for put only: a whole number of seconds from 1 to MAX_TTL_SECONDS. */
function parseTtl(text: string | undefined, command: string): { ttlSeconds?: number } {
  if (text === undefined) return {};
  if (command !== 'put') throw new StoreError('BAD_REQUEST', '--ttl is for put');
  if (!/^\d+$/.test(text)) {
    throw new StoreError('BAD_REQUEST', `--ttl takes a whole number of seconds from 1 to ${MAX_TTL_SECONDS}, got '${text}'`);
  }
  const ttlSeconds = Number(text);
  checkTtl(ttlSeconds);
  return { ttlSeconds };
}

function parseCondition(text: string | undefined, command: string): { condition?: PutCondition } {
  if (text === undefined) return {};
  if (command !== 'put' && command !== 'delete') throw new StoreError('BAD_REQUEST', '--if is for put and delete');
  if (text === 'current' || (text === 'absent' && command === 'put')) return { condition: text };
  throw new StoreError(
    'BAD_REQUEST',
    `--if takes ${command === 'put' ? "'current' or 'absent'" : "'current'"} for ${command}, got '${text}'`,
  );
}

/** A set member as typed on the command line: JSON when it parses, else the text as a string. */
function memberOf(text: string): string {
  try {
    return canonical(JSON.parse(text));
  } catch {
    return canonical(text);
  }
}

function required(v: string | undefined, name: string): string {
  if (v === undefined) throw new StoreError('BAD_REQUEST', `${name} is required`);
  return v;
}

function parseContext(text: string) {
  try {
    return decodeContext(Buffer.from(text, 'base64url'));
  } catch {
    throw new StoreError('BAD_CONTEXT', 'the context is not one this cluster printed (copy it whole from a get or put)');
  }
}

/** The authorities to trust when the nodes speak TLS; a bad file is a BAD_REQUEST naming it. */
function tlsCa(files: string | undefined): ClientTls | undefined {
  if (files === undefined) return undefined;
  try {
    return readCa(files, '--tls-ca (DYNAMO_TLS_CA)');
  } catch (e) {
    throw new StoreError('BAD_REQUEST', (e as Error).message);
  }
}

/**
 * What the CLI proves to the nodes: the flags first (--identity, --secret-file), then the
 * environment (DYNAMO_IDENTITY, DYNAMO_SECRET), then what npm start keeps in ./data.
 */
function credential({ values: s, from }: Parsed<typeof CLI_SETTINGS>, cluster: string): NodeCredential {
  const load = (identity: string | undefined, secret: string | undefined) => {
    try {
      return readCredential(identity, secret, { cluster, roles: ['admin', 'client'], what: 'dynamo' });
    } catch (e) {
      throw new StoreError('BAD_REQUEST', (e as Error).message);
    }
  };
  if (from.identity === 'flag') return load(s.identity, undefined);
  if (from.secret === 'flag') return load(undefined, s.secret);
  if (s.identity) return load(s.identity, undefined);
  if (s.secret) return load(undefined, s.secret);
  if (existsSync(DEV_IDENTITY)) return load(DEV_IDENTITY, undefined);
  if (existsSync('data/secret')) return load(undefined, readFileSync('data/secret', 'utf8').trim());
  throw new StoreError('UNAUTHORIZED', `no identity: pass --identity FILE or set DYNAMO_IDENTITY (npm start makes ${DEV_IDENTITY})`);
}

const DEV_IDENTITY = 'data/identities/admin.json';

function show(value: Uint8Array): string {
  const b = Buffer.from(value);
  const text = b.toString('utf8');
  return Buffer.from(text, 'utf8').equals(b) && !/[\u0000-\u0008\u000e-\u001f]/.test(text) ? text : `base64:${b.toString('base64')}`;
}

function siblingsJson(set: SiblingSet) {
  const ctx = set.length ? encodeContext(contextOfSet(set)).toString('base64url') : null;
  return {
    found: set.some((v) => !v.deleted),
    siblings: set.map((v) => ({
      dot: formatDot(v.dot),
      deleted: v.deleted,
      writtenAt: new Date(v.writtenAt).toISOString(),
      expiresAt: v.expiresAt === undefined ? null : new Date(v.expiresAt).toISOString(),
      value: v.deleted ? null : show(v.value),
    })),
    context: ctx,
  };
}

function formatSiblings(key: string, set: SiblingSet, source: string): string {
  if (set.length === 0) return `'${key}': not found (${source})`;
  const j = siblingsJson(set);
  const lines = j.siblings.map(
    (s, i) =>
      `  [${i + 1}] ${s.deleted ? '(deleted)' : s.value}    version ${s.dot}, written ${s.writtenAt}${s.expiresAt ? `, expires ${s.expiresAt}` : ''}`,
  );
  return `'${key}': ${set.length} sibling${set.length > 1 ? 's' : ''} (${source})\n${lines.join('\n')}\ncontext: ${j.context}`;
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (e: unknown) => {
    if (e instanceof StoreError) process.stderr.write(`error ${e.code}: ${e.message}\n`);
    else process.stderr.write(`error: ${e instanceof Error ? e.message : String(e)}\n`);
    process.exit(1);
  },
);
