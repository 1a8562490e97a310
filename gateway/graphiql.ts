// GraphiQL from the gateway itself, with no CDN: the page Yoga renders at /graphql for a
// browser names only the gateway's own /graphiql/ routes, which serve the editor's script,
// style sheet, Monaco workers and icon from the bundle of @graphql-yoga/render-graphiql. It
// works on machines without internet, and under a Content-Security-Policy of 'self'.
//
// The bundle (about 9 MB) is loaded on the first request for it, and each asset is gzipped
// once, on its first request that accepts gzip. Assets carry an ETag of their content.
import { createHash } from 'node:crypto';
import { gzipSync } from 'node:zlib';
import type { GraphiQLOptions, Plugin } from 'graphql-yoga';

/** the folder of the assets, relative to the GraphQL endpoint's folder */
const FOLDER = 'graphiql';
export const ASSET_PATH = `/${FOLDER}/`;

/** Monaco asks for a worker by label; each is one bundled script */
const WORKERS: Record<string, string> = { editorWorkerService: 'editor.worker.js', json: 'json.worker.js', graphql: 'graphql.worker.js' };

/** The page's policy: everything from the gateway; Monaco sets inline styles, fonts and icons are data: URLs */
export const GRAPHIQL_CSP = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self' 'unsafe-inline'",
  "img-src 'self' data:",
  "font-src 'self' data:",
  "worker-src 'self'",
  "connect-src 'self'",
  "base-uri 'none'",
  "frame-ancestors 'none'",
].join('; ');

interface Asset {
  readonly type: string;
  readonly body: Buffer;
  readonly etag: string;
  gzipped?: Buffer;
}

/** Runs before the bundle: Monaco reads its environment when it loads. */
const ENV_SCRIPT = `self.MonacoEnvironment = {
  globalAPI: false,
  getWorkerUrl: function (_moduleId, label) {
    var workers = ${JSON.stringify(WORKERS)};
    return new URL('${FOLDER}/' + (workers[label] || workers.editorWorkerService), document.baseURI).href;
  },
};
`;

/** Runs after the bundle, with the options Yoga rendered into the page. */
const START_SCRIPT = `YogaGraphiQL.renderYogaGraphiQL(
  document.getElementById('root'),
  JSON.parse(document.getElementById('graphiql-options').textContent),
);
`;

let assets: Promise<Map<string, Asset>> | null = null;

function loadAssets(): Promise<Map<string, Asset>> {
  return (assets ??= import('@graphql-yoga/render-graphiql/graphiql').then((b) => {
    const js = 'text/javascript; charset=utf-8';
    const entries: [string, string, string | Buffer][] = [
      ['graphiql.js', js, b.js],
      ['graphiql.css', 'text/css; charset=utf-8', b.css],
      ['editor.worker.js', js, b.editorWorkerService],
      ['json.worker.js', js, b.jsonWorker],
      ['graphql.worker.js', js, b.graphqlWorker],
      ['env.js', js, ENV_SCRIPT],
      ['start.js', js, START_SCRIPT],
      ['favicon.ico', 'image/x-icon', Buffer.from(b.favicon.slice(b.favicon.indexOf(',') + 1), 'base64')],
    ];
    return new Map(
      entries.map(([name, type, content]) => {
        const body = Buffer.isBuffer(content) ? content : Buffer.from(content);
        return [name, { type, body, etag: `"${createHash('sha256').update(body).digest('base64url').slice(0, 22)}"` }];
      }),
    );
  }));
}

/** The page: the options as JSON data, every script and style sheet from the gateway. */
export function renderGraphiQL(options: GraphiQLOptions): string {
  const escape = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
  // "<" escaped, so no value can close the script element
  const json = JSON.stringify(options).replace(/</g, '\\u003c');
  return `<!doctype html>
<html lang="en">
  <head>
    <meta charset="utf-8" />
    <title>${escape(options.title ?? 'GraphiQL')}</title>
    <link rel="icon" href="${FOLDER}/favicon.ico" />
    <link rel="stylesheet" href="${FOLDER}/graphiql.css" />
  </head>
  <body id="body" class="no-focus-outline">
    <noscript>You need to enable JavaScript to run GraphiQL.</noscript>
    <div id="root"></div>
    <script id="graphiql-options" type="application/json">${json}</script>
    <script src="${FOLDER}/env.js"></script>
    <script src="${FOLDER}/graphiql.js"></script>
    <script src="${FOLDER}/start.js"></script>
  </body>
</html>
`;
}

/** Serves the assets under /graphiql/, and puts the policy on the GraphiQL page. */
export function graphiqlAssets(): Plugin {
  return {
    async onRequest({ url, request, endResponse, fetchAPI }) {
      if (!url.pathname.startsWith(ASSET_PATH)) return;
      const asset = (await loadAssets()).get(url.pathname.slice(ASSET_PATH.length));
      if (!asset || (request.method !== 'GET' && request.method !== 'HEAD')) {
        endResponse(new fetchAPI.Response('not found', { status: 404, headers: { 'content-type': 'text/plain' } }));
        return;
      }
      const headers: Record<string, string> = {
        'content-type': asset.type,
        etag: asset.etag,
        'cache-control': 'no-cache',
        vary: 'accept-encoding',
      };
      if (request.headers.get('if-none-match') === asset.etag) {
        endResponse(new fetchAPI.Response(null, { status: 304, headers }));
        return;
      }
      let body = asset.body;
      if (/\bgzip\b/.test(request.headers.get('accept-encoding') ?? '')) {
        body = asset.gzipped ??= gzipSync(asset.body);
        headers['content-encoding'] = 'gzip';
      }
      endResponse(new fetchAPI.Response(request.method === 'HEAD' ? null : new Uint8Array(body), { status: 200, headers }));
    },
    onResponse({ request, response }) {
      if (request.method === 'GET' && response.headers.get('content-type')?.startsWith('text/html')) {
        response.headers.set('content-security-policy', GRAPHIQL_CSP);
      }
    },
  };
}
