// The repair dashboard: bull-board on the gateway's own hyper-express server.
//
// bull-board ships adapters for Express, Fastify, Hono, Koa, H3 and others, but not for
// hyper-express (uWebSockets). Rather than run a second HTTP server beside the gateway, this
// is a small IServerAdapter: hyper-express routes for bull-board's API (its `:param` patterns
// match bull-board's), its static files, and its entry page, all behind the admin scope (the
// ADMIN_TOKEN, or an admin API key or JWT). A browser cannot set an Authorization header on
// navigation, so `?token=` on the first visit sets an HttpOnly cookie; API calls may also send
// `Authorization: Bearer`.
import { readFileSync } from 'node:fs';
import { extname, join, normalize } from 'node:path';
import { createBullBoard } from '@bull-board/api';
import { BullMQAdapter } from '@bull-board/api/bullMQAdapter';
import type {
  AppControllerRoute,
  AppViewRoute,
  BullBoardQueues,
  ControllerHandlerReturnType,
  IServerAdapter,
  UIConfig,
} from '@bull-board/api/typings/app';
import type { Queue } from 'bullmq';
import type HyperExpress from 'hyper-express';

/** Whether a bare credential carries the admin scope. */
export type AdminCheck = (credential: string) => Promise<boolean>;

const COOKIE = 'dynamo_admin';
const TYPES: Record<string, string> = {
  '.js': 'text/javascript',
  '.css': 'text/css',
  '.png': 'image/png',
  '.svg': 'image/svg+xml',
  '.json': 'application/json',
  '.ico': 'image/x-icon',
  '.woff2': 'font/woff2',
};

export class HyperExpressAdapter implements IServerAdapter {
  #queues: BullBoardQueues | undefined;
  #viewsPath = '';
  #staticRoute = '/static';
  #staticPath = '';
  #entry: AppViewRoute | undefined;
  #api: AppControllerRoute[] = [];
  #ui: UIConfig = {};
  #errorHandler: ((e: Error) => ControllerHandlerReturnType) | undefined;

  private readonly basePath: string;
  private readonly isAdmin: AdminCheck;
  /** whether the queues' Redis answers: while it does not, API calls get 503 at once instead of waiting */
  private readonly reachable: () => boolean;
  constructor(basePath: string, isAdmin: AdminCheck, reachable: () => boolean = () => true) {
    this.basePath = basePath;
    this.isAdmin = isAdmin;
    this.reachable = reachable;
  }

  setQueues(queues: BullBoardQueues): this {
    this.#queues = queues;
    return this;
  }
  setViewsPath(path: string): this {
    this.#viewsPath = path;
    return this;
  }
  setStaticPath(route: string, path: string): this {
    this.#staticRoute = route;
    this.#staticPath = path;
    return this;
  }
  setEntryRoute(route: AppViewRoute): this {
    this.#entry = route;
    return this;
  }
  setErrorHandler(handler: (e: Error) => ControllerHandlerReturnType): this {
    this.#errorHandler = handler;
    return this;
  }
  setApiRoutes(routes: AppControllerRoute[]): this {
    this.#api = routes;
    return this;
  }
  setUIConfig(config: UIConfig): this {
    this.#ui = config;
    return this;
  }

  /** Mounts everything under the base path on the server. */
  mount(app: HyperExpress.Server): void {
    const base = this.basePath;
    const guard = async (req: HyperExpress.Request, res: HyperExpress.Response): Promise<boolean> => {
      if (await this.#authorized(req)) return true;
      const token = String(req.query_parameters['token'] ?? '');
      if (token && (await this.isAdmin(token))) {
        res.cookie(COOKIE, token, 8 * 3600_000, { path: base, httpOnly: true, sameSite: 'strict' });
        return true;
      }
      res
        .status(401)
        .header('content-type', 'text/plain; charset=utf-8')
        .send('the repair dashboard needs the admin scope: open it once with ?token=<ADMIN_TOKEN or an admin API key or JWT>');
      return false;
    };

    app.get(`${base}${this.#staticRoute}/*`, async (req, res) => {
      if (!(await guard(req, res))) return;
      const rel = normalize(req.path.slice(`${base}${this.#staticRoute}/`.length));
      if (rel.startsWith('..')) return void res.status(404).send('');
      try {
        res.header('content-type', TYPES[extname(rel)] ?? 'application/octet-stream').send(readFileSync(join(this.#staticPath, rel)));
      } catch {
        res.status(404).send('');
      }
    });

    for (const route of this.#api) {
      const methods = Array.isArray(route.method) ? route.method : [route.method];
      const paths = Array.isArray(route.route) ? route.route : [route.route];
      for (const method of methods) {
        for (const path of paths) {
          app[method](`${base}${path}`, async (req, res) => {
            if (!(await guard(req, res))) return;
            if (!this.reachable()) return void res.status(503).json({ error: 'the repair Redis is not reachable now' });
            try {
              const body = method === 'get' ? {} : ((await req.json().catch(() => ({}))) as Record<string, unknown>);
              const out = await route.handler({
                queues: this.#queues!,
                uiConfig: this.#ui,
                query: req.query_parameters,
                params: req.path_parameters,
                body,
                headers: req.headers as Record<string, string>,
              });
              res.status(out.status ?? 200).json(out.body);
            } catch (e) {
              const out = this.#errorHandler?.(e as Error) ?? { status: 500 as const, body: { error: 'internal error' } };
              res.status(out.status ?? 500).json(out.body);
            }
          });
        }
      }
    }

    const entry = this.#entry;
    if (entry) {
      const paths = Array.isArray(entry.route) ? entry.route : [entry.route];
      for (const path of paths) {
        app.get(`${base}${path === '/' ? '' : path}`, async (req, res) => {
          if (!(await guard(req, res))) return;
          const { name, params } = entry.handler({ basePath: base, uiConfig: this.#ui });
          res.header('content-type', 'text/html; charset=utf-8').send(render(readFileSync(join(this.#viewsPath, name), 'utf8'), params));
        });
      }
    }
  }

  async #authorized(req: HyperExpress.Request): Promise<boolean> {
    const bearer = /^Bearer +(\S+) *$/i.exec(req.headers['authorization'] ?? '');
    if (bearer && (await this.isAdmin(bearer[1]!))) return true;
    const cookie = req.cookies[COOKIE];
    return typeof cookie === 'string' && cookie.length > 0 && (await this.isAdmin(cookie));
  }
}

/** bull-board's index.ejs uses only <%= value %> (escaped) and <%- value %> (raw). */
function render(template: string, params: Record<string, string>): string {
  const escape = (s: string) => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
  return template.replace(/<%([=-])\s*(\w+)\s*%>/g, (_m, kind: string, name: string) => {
    const v = params[name] ?? '';
    return kind === '=' ? escape(v) : v;
  });
}

/** The dashboard of the given queues at `basePath`, mounted on the gateway's server. */
export function repairDashboard(
  queues: readonly Queue[],
  basePath: string,
  isAdmin: AdminCheck,
  reachable?: () => boolean,
): HyperExpressAdapter {
  const adapter = new HyperExpressAdapter(basePath, isAdmin, reachable);
  createBullBoard({
    queues: queues.map((q) => new BullMQAdapter(q, { readOnlyMode: false })),
    serverAdapter: adapter,
    options: { uiConfig: { boardTitle: 'Dynamo repair' } },
  });
  return adapter;
}
