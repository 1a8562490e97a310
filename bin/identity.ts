// `npm run identity`: the cluster authority and the identities it issues (docs/security.md,
// "Roles on the node protocol"). The authority's private key stays with the operator; nodes
// are given only its public key (--authority).
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { ensureAuthority, issueIdentity, loadAuthorityKey, loadIdentity } from '../client/src/auth/identity-file.ts';
import { isRole, ROLES } from '../client/src/auth/roles.ts';

const USAGE = `identity: the cluster authority and per-process identities

  npm run identity -- authority [--dir DIR]
      make an authority (DIR/authority.key, private, and DIR/authority.pub) unless one is there
  npm run identity -- issue --id ID --role ROLE [--cluster NAME] [--days D] [--dir DIR]
                            [--authority-key FILE] [--out FILE] [--force]
      a new key pair and a certificate signed by the authority, in DIR/ID.json (or --out)
  npm run identity -- show FILE
      print an identity's certificate, checked (its key belongs to it, it is valid now)

  --dir DIR               where the authority and identities are kept (default data/identities,
                          where npm start keeps them)
  --authority-key FILE    the authority's private key (default DIR/authority.key)
  --role ROLE             ${ROLES.join(' | ')}: a storage node is a peer with its node id as ID
  --cluster NAME          the cluster it is for (default dev)
  --days D                valid for D days from now (default 30)`;

function fail(message: string): never {
  process.stderr.write(`${message}\n`);
  process.exit(2);
}

const { values: o, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    dir: { type: 'string', default: 'data/identities' },
    'authority-key': { type: 'string' },
    id: { type: 'string' },
    role: { type: 'string' },
    cluster: { type: 'string', default: 'dev' },
    days: { type: 'string', default: '30' },
    out: { type: 'string' },
    force: { type: 'boolean' },
    help: { type: 'boolean', short: 'h' },
  },
});
const [command, file] = positionals;
if (o.help || !command) {
  process.stdout.write(`${USAGE}\n`);
  process.exit(command || o.help ? 0 : 2);
}

try {
  switch (command) {
    case 'authority': {
      const files = ensureAuthority(o.dir!);
      process.stdout.write(
        `authority: ${files.key} (private: keep it off the nodes) and ${files.pub} (give it to the nodes as --authority)\n`,
      );
      break;
    }
    case 'issue': {
      if (!o.id) fail('issue needs --id');
      if (!o.role || !isRole(o.role)) fail(`issue needs --role, one of ${ROLES.join(', ')}; got '${o.role ?? ''}'`);
      const days = Number(o.days);
      if (!(days > 0 && days <= 3650)) fail(`--days must be a number from 1 to 3650, got '${o.days}'`);
      const keyFile = o['authority-key'] ?? join(o.dir!, 'authority.key');
      if (!existsSync(keyFile))
        fail(`no authority key at ${keyFile}: make one with 'npm run identity -- authority', or name it with --authority-key`);
      const out = o.out ?? join(o.dir!, `${o.id}.json`);
      if (existsSync(out) && !o.force) fail(`${out} exists: give --force to replace it, or --out another file`);
      writeFileSync(out, issueIdentity(loadAuthorityKey(keyFile), { cluster: o.cluster!, id: o.id, role: o.role, days }), { mode: 0o600 });
      process.stdout.write(`${out}: ${o.role} '${o.id}' of cluster '${o.cluster}', valid for ${days} days\n`);
      break;
    }
    case 'show': {
      if (!file) fail('show needs a FILE');
      process.stdout.write(`${JSON.stringify(loadIdentity(file).certificate, null, 2)}\n`);
      break;
    }
    default:
      fail(`unknown command '${command}'\n\n${USAGE}`);
  }
} catch (e) {
  fail((e as Error).message);
}
