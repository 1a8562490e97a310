// The page calls /graphql on its own origin; the dev server and `vite preview` pass it on to the
// gateway (DYNAMO_GATEWAY, default npm start's http://127.0.0.1:4000), so the gateway needs no
// CORS setting for the demo.
import { defineConfig } from 'vite';

const gateway = process.env.DYNAMO_GATEWAY ?? 'http://127.0.0.1:4000';
const proxy = { '/graphql': { target: gateway, changeOrigin: true } };

export default defineConfig({
  server: { proxy },
  preview: { proxy },
});
