// GraphiQL served by the gateway alone: in headless Chromium with every request off loopback
// refused, the editor renders, runs a query against a real cluster and shows its result.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Browser } from 'playwright-core';
import { GRAPHIQL_CSP } from '../../gateway/graphiql.ts';
import { launchChromium } from '../helpers/chromium.ts';
import { withStack } from '../helpers/stack.ts';

const LOOPBACK = new Set(['127.0.0.1', 'localhost', '[::1]']);

test('GraphiQL renders, runs a query and shows its result with every non-loopback request blocked', async () => {
  await withStack({ nodes: 1, basePort: 7811, gatewayPort: 4711 }, async ({ gql, url }) => {
    const put = await gql(`mutation { put(key: "offline-greeting", value: {hello: "from the cluster"}) { acks } }`, undefined, {
      'x-graphql-yoga-csrf': '1',
    });
    assert.deepEqual(put.errors, undefined);

    // the page names nothing but the gateway's own routes, under a policy of 'self'
    const page = await fetch(url, { headers: { accept: 'text/html' } });
    assert.equal(page.status, 200);
    assert.equal(page.headers.get('content-security-policy'), GRAPHIQL_CSP);
    const html = await page.text();
    const sources = [...html.matchAll(/(?:src|href)="([^"]+)"/g)].map((m) => m[1]!);
    assert.deepEqual(sources.sort(), [
      'graphiql/env.js',
      'graphiql/favicon.ico',
      'graphiql/graphiql.css',
      'graphiql/graphiql.js',
      'graphiql/start.js',
    ]);
    const script = await fetch(url.replace('/graphql', '/graphiql/graphiql.js'), { headers: { 'accept-encoding': 'gzip' } });
    assert.equal(script.status, 200);
    assert.equal(script.headers.get('content-encoding'), 'gzip');
    const etag = script.headers.get('etag')!;
    await script.arrayBuffer();
    assert.equal((await fetch(url.replace('/graphql', '/graphiql/graphiql.js'), { headers: { 'if-none-match': etag } })).status, 304);
    assert.equal((await fetch(url.replace('/graphql', '/graphiql/nothing.js'))).status, 404);

    let browser: Browser | undefined;
    try {
      browser = await launchChromium();
      const context = await browser.newContext();
      const blocked: string[] = [];
      const served: string[] = [];
      await context.route('**/*', async (route) => {
        const target = new URL(route.request().url());
        if ((target.protocol === 'http:' || target.protocol === 'https:' || target.protocol === 'ws:') && !LOOPBACK.has(target.hostname)) {
          blocked.push(target.href);
          await route.abort('blockedbyclient');
          return;
        }
        served.push(target.pathname);
        await route.continue();
      });
      const tab = await context.newPage();
      const problems: string[] = [];
      tab.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
      tab.on('console', (m) => {
        if (m.type() === 'error') problems.push(`console: ${m.text()}`);
      });
      await tab.goto(url);
      // the editor is up when Monaco has drawn the query editor
      const editor = tab.locator('.graphiql-query-editor .monaco-editor').first();
      await editor.waitFor({ timeout: 30_000 });
      await editor.click();
      await tab.keyboard.press('Control+A');
      await tab.keyboard.press('Delete');
      await tab.keyboard.insertText('{ get(key: "offline-greeting") { found siblings { value } } }');
      await tab.locator('.graphiql-execute-button').click();
      const response = tab.locator('.graphiql-response');
      await response.getByText('from the cluster').first().waitFor({ timeout: 30_000 });
      const shown = await response.innerText();
      // Monaco draws spaces as no-break spaces
      assert.match(shown.replace(/\s+/g, ' '), /"found": true/);
      assert.deepEqual(blocked, [], 'no request left loopback');
      // the workers came from the gateway too: Monaco's editor and GraphQL language workers
      assert.ok(
        served.includes('/graphiql/editor.worker.js') || served.includes('/graphiql/graphql.worker.js'),
        `assets served: ${[...new Set(served)].join(' ')}`,
      );
      assert.deepEqual(problems, [], 'no errors in the page (scripts, policy violations)');
      process.stdout.write(`# GraphiQL offline: served by the gateway: ${[...new Set(served)].join(' ')}; nothing requested elsewhere\n`);
    } finally {
      await browser?.close();
    }
  });
});
