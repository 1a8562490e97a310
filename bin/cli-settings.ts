// The dynamo CLI's settings, one row each (storage/settings/table.ts); the commands' own
// options (--r, --w, --context, ...) stay with the commands in dynamo.ts.
import { z } from 'zod';
import type { Table } from '../storage/settings/table.ts';

export const CLI_SETTINGS = {
  seeds: {
    flag: 'seeds', env: 'DYNAMO_SEEDS', arg: 'HOST:PORT,...', default: '127.0.0.1:7001', help: 'nodes to contact',
    schema: z
      .string()
      .transform((s) => s.split(',').map((x) => x.trim()).filter(Boolean))
      .pipe(z.array(z.string()).min(1, 'name at least one node')),
  },
  cluster: { flag: 'cluster', env: 'DYNAMO_CLUSTER', arg: 'NAME', schema: z.string().min(1), default: 'dev', help: "the cluster's name" },
  identity: {
    flag: 'identity', env: 'DYNAMO_IDENTITY', arg: 'FILE', schema: z.string().min(1),
    shown: './data/identities/admin.json (npm start makes it)',
    help: 'the identity to prove to the nodes: an admin identity for ring changes, hints and replicas, or a client one for data',
  },
  secret: {
    flag: 'secret-file', env: 'DYNAMO_SECRET', arg: 'FILE', file: true, secret: true, schema: z.string(), shown: './data/secret',
    help: 'the cluster secret instead of an identity (legacy mode; the flag names a file holding it)',
  },
  tlsCa: {
    flag: 'tls-ca', env: 'DYNAMO_TLS_CA', arg: 'FILE[,FILE]', schema: z.string().min(1),
    help: 'the nodes speak TLS: dial wss:// trusting these authorities',
  },
  json: { flag: 'json', env: 'DYNAMO_JSON', schema: z.boolean(), default: false, shown: 'off', help: 'machine-readable output' },
} as const satisfies Table;
