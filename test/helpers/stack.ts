// A real cluster and a real gateway process, for tests of the GraphQL front door.
import type { ChildProcess } from 'node:child_process';
import { startService, stopProcess } from '../../bin/launcher.ts';
import { withCluster, type TestCluster } from './cluster.ts';

export const TEST_CONTEXT_KEY = 'test-context-signing-key-0123456789abcdef';
export const TEST_ADMIN_TOKEN = 'test-admin-token-0123456789';
export const CSRF = { 'x-graphql-yoga-csrf': '1' };

export interface GqlResult<T = Record<string, any>> {
  status: number;
  data?: T | null;
  errors?: { message: string; path?: (string | number)[]; extensions?: Record<string, any> }[];
}

export interface TestStack extends TestCluster {
  readonly url: string;
  gql<T = Record<string, any>>(query: string, variables?: Record<string, unknown>, headers?: Record<string, string>): Promise<GqlResult<T>>;
}

export async function withStack(
  options: {
    nodes: number;
    basePort: number;
    gatewayPort: number;
    gatewayArgs?: string[];
    gatewayEnv?: Record<string, string>;
    nodeEnv?: Record<string, string>;
  },
  body: (s: TestStack) => Promise<void>,
): Promise<void> {
  await withCluster(
    { nodes: options.nodes, basePort: options.basePort, ...(options.nodeEnv ? { env: options.nodeEnv } : {}) },
    async (t) => {
      let gateway: ChildProcess | undefined;
      try {
        gateway = await startService({
          entry: 'bin/gateway.ts',
          args: ['--port', String(options.gatewayPort), '--seeds', t.cluster.seeds.join(','), ...(options.gatewayArgs ?? [])],
          // an admin identity: the tests use the gateway's admin fields (ring changes, replicas, hints)
          env: {
            DYNAMO_IDENTITY: t.cluster.identity('gateway', 'admin'),
            DYNAMO_SECRET: '',
            GATEWAY_CONTEXT_KEYS: TEST_CONTEXT_KEY,
            ADMIN_TOKEN: TEST_ADMIN_TOKEN,
            GATEWAY_LOG_LEVEL: 'warn',
            ...options.gatewayEnv,
          },
          health: `127.0.0.1:${options.gatewayPort}`,
          output: process.env.NODE_OUTPUT === '1' ? 'inherit' : 'ignore',
        });
        const url = `http://127.0.0.1:${options.gatewayPort}/graphql`;
        const gql = async <T>(
          query: string,
          variables?: Record<string, unknown>,
          headers: Record<string, string> = {},
        ): Promise<GqlResult<T>> => {
          const res = await fetch(url, {
            method: 'POST',
            headers: { 'content-type': 'application/json', accept: 'application/graphql-response+json', ...headers },
            body: JSON.stringify({ query, variables }),
          });
          const json = (await res.json()) as GqlResult<T>;
          return { ...json, status: res.status };
        };
        await waitReady(url);
        await body({ ...t, url, gql });
      } finally {
        await stopProcess(gateway);
      }
    },
  );
}

async function waitReady(url: string): Promise<void> {
  const ready = url.replace('/graphql', '/ready');
  for (let i = 0; i < 100; i++) {
    const res = await fetch(ready).catch(() => null);
    if (res?.ok) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error('gateway never became ready');
}
