// Operator HTTP routes: /metrics and the repair dashboard. On the public listener /metrics
// needs a bearer credential with the admin scope; with --admin-listen both move to a listener
// of their own (an address only operators reach), where /metrics is open to the scraper and
// the dashboard still asks for the admin scope, since it can retry and remove jobs.
import type { ServerTls } from '../storage/transport/tls.ts';
import HyperExpress from 'hyper-express';
import type { Authenticator } from './auth.ts';
import type { HyperExpressAdapter } from './bull-board.ts';
import type { GatewayMetrics } from './metrics.ts';

/** Whether a bare credential carries the admin scope (errors and unknown credentials: no). */
export function adminCheck(auth: Authenticator): (credential: string) => Promise<boolean> {
  return async (credential) => {
    try {
      return (await auth.credential(credential)).admin;
    } catch {
      return false;
    }
  };
}

export function mountMetrics(app: HyperExpress.Server, metrics: GatewayMetrics, auth: Authenticator | null): void {
  app.get('/metrics', async (req, res) => {
    if (auth) {
      const refused = await refusal(auth, req.headers['authorization']);
      if (refused) {
        if (refused.status === 401) res.header('www-authenticate', 'Bearer');
        return void res.status(refused.status).header('content-type', 'text/plain; charset=utf-8').send(refused.message);
      }
    }
    res.header('content-type', metrics.registry.contentType).send(await metrics.registry.metrics());
  });
}

async function refusal(auth: Authenticator, header: string | undefined): Promise<{ status: number; message: string } | null> {
  if (!header)
    return { status: 401, message: '/metrics needs the admin scope: Authorization: Bearer <ADMIN_TOKEN, or an admin API key or JWT>' };
  try {
    const p = await auth.authenticate(header, '');
    return p.admin ? null : { status: 403, message: '/metrics needs the admin scope; this credential has none' };
  } catch (e) {
    return { status: 401, message: (e as Error).message };
  }
}

/** The separate operator listener: /metrics (open), /health, and the dashboard when there is one. */
export async function startAdminServer(o: {
  host: string;
  port: number;
  metrics: GatewayMetrics;
  dashboard: HyperExpressAdapter | null;
  tls?: ServerTls;
}): Promise<HyperExpress.Server> {
  const app = new HyperExpress.Server({
    auto_close: false,
    ...(o.tls ? { cert_file_name: o.tls.certFile, key_file_name: o.tls.keyFile } : {}),
  });
  mountMetrics(app, o.metrics, null);
  app.get('/health', (_req, res) => void res.json({ status: 'ok' }));
  o.dashboard?.mount(app);
  app.set_not_found_handler((_req, res) => void res.status(404).send('not found'));
  await app.listen(o.port, o.host);
  return app;
}
