import { Hono } from 'hono';
import type { LocalBlobStore } from './local-blob-store.js';

/**
 * `GET /files/<key>?expires=<unix>&sig=<hmac>`: local files behind signed links. The signature is
 * the credential, so these routes sit outside the API-key check. Expired or tampered links are 403,
 * a missing file 404, both as `{"error": ...}`.
 */
export function createFileRoutes(store: LocalBlobStore): Hono {
  const app = new Hono();
  app.get('/*', async (c) => {
    const raw = c.req.path.replace(/^\/files\//, '');
    let key: string;
    try {
      key = raw.split('/').map(decodeURIComponent).join('/');
    } catch {
      return c.json({ error: 'Malformed file path.' }, 404);
    }
    const access = await store.open(key, c.req.query('expires'), c.req.query('sig'));
    if (!access.ok) return c.json({ error: access.error }, access.status);
    const { bytes, contentType } = access.blob;
    return c.body(bytes as Uint8Array<ArrayBuffer>, 200, {
      'content-type': contentType,
      'content-length': String(bytes.byteLength),
      'cache-control': 'private, max-age=60',
      'x-content-type-options': 'nosniff',
    });
  });
  return app;
}
