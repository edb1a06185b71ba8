import { readdirSync, readFileSync } from 'node:fs';
import { extname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Hono, type MiddlewareHandler } from 'hono';
import { z } from 'zod';
import type { RouteDoc } from '../api/openapi/route-doc.js';

/** The page's files sit beside src/ and dist/ alike, so the same relative path serves both. */
const PLAYGROUND_DIR = fileURLToPath(new URL('../../public/playground/', import.meta.url));

const CONTENT_TYPES: Readonly<Record<string, string>> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
};

/**
 * Scripts and styles only from this origin and never inline, so injected markup cannot run; requests
 * only to this origin, so the key the page holds cannot be sent elsewhere. `blob:` media is the
 * audio the page assembles from the stream (MediaSource and finished files).
 */
const CONTENT_SECURITY_POLICY = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "media-src 'self' blob:",
  "connect-src 'self'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ');

const SECURITY_HEADERS: Readonly<Record<string, string>> = {
  'content-security-policy': CONTENT_SECURITY_POLICY,
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  // A new Chorus version's page must not run against cached scripts of the old one.
  'cache-control': 'no-cache',
};

/**
 * The web playground: static files read once at start-up (only these names can be served, so no
 * path ever reaches the file system), `/playground` answering with the page.
 */
export function createPlaygroundRoutes(): Hono {
  const files = new Map<string, { body: Uint8Array; type: string }>();
  for (const name of readdirSync(PLAYGROUND_DIR)) {
    const type = CONTENT_TYPES[extname(name)];
    if (type !== undefined) files.set(name, { body: readFileSync(PLAYGROUND_DIR + name), type });
  }
  const serve = (name: string): Response | undefined => {
    const file = files.get(name);
    return file === undefined ? undefined : new Response(file.body, { headers: { ...SECURITY_HEADERS, 'content-type': file.type } });
  };

  const app = new Hono();
  app.get('/', () => serve('index.html')!);
  app.get('/:file', (c, next) => serve(c.req.param('file')) ?? next());
  return app;
}

/** `/` sends browsers to the playground; API clients (no `text/html` in Accept) keep getting what they got before. */
export function redirectBrowsersToPlayground(): MiddlewareHandler {
  return async (c, next) => {
    if (/\btext\/html\b/i.test(c.req.header('accept') ?? '')) return c.redirect('/playground', 302);
    return next();
  };
}

const html = { 'text/html': { schema: { type: 'string' } } } as const;

/** The playground's routes in the OpenAPI document (served only while CHORUS_PLAYGROUND is on). */
export const PLAYGROUND_ROUTE_DOCS: readonly RouteDoc[] = [
  {
    method: 'get',
    path: '/',
    operationId: 'root',
    summary: 'Browsers (Accept: text/html) are sent to the playground; other clients get a 404',
    tag: 'Server',
    auth: 'none',
    responses: { '302': { description: 'To /playground.' }, '404': { description: 'Not a browser: nothing here.' } },
  },
  {
    method: 'get',
    path: '/playground',
    operationId: 'playground',
    summary: 'The web playground (docs/playground.md)',
    tag: 'Server',
    auth: 'none',
    responses: { '200': { description: 'The page; it asks for an API key when the server needs one.', content: html } },
  },
  {
    method: 'get',
    path: '/playground/',
    operationId: 'playgroundSlash',
    summary: 'Sends /playground/ to /playground',
    tag: 'Server',
    auth: 'none',
    responses: { '301': { description: 'To /playground.' } },
  },
  {
    method: 'get',
    path: '/playground/{file}',
    operationId: 'playgroundFile',
    summary: "One of the playground's scripts or styles",
    tag: 'Server',
    auth: 'none',
    pathParams: z.object({ file: z.string().describe('A file of the page, as it names it (app.js, style.css, …).') }),
    responses: {
      '200': { description: 'The file.', content: { 'text/javascript': { schema: { type: 'string' } }, 'text/css': { schema: { type: 'string' } } } },
      '404': { description: 'Not a file of the page.' },
    },
  },
];
