import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { assertValidKey, isValidKey, type BlobStore, type StoredBlob } from './blob-store.js';
import { asStorageError } from './storage-errors.js';

export interface LocalBlobStoreOptions {
  /** The data directory; files go under `<dataDir>/files/`. */
  readonly dataDir: string;
  /** Base URL links start with (no trailing slash), read when a link is made. */
  readonly publicUrl: () => string;
  /** HMAC key for links; without one a random key is made once and kept in the data directory. */
  readonly secret?: string;
}

export type FileAccess =
  | { readonly ok: true; readonly blob: StoredBlob }
  | { readonly ok: false; readonly status: 403 | 404; readonly error: string };

const SECRET_FILE = 'url-signing-secret';
/** Content types live beside the files, in a folder no valid key can name (segments never start with '.'). */
const META_DIR = '.meta';

/**
 * Files under `<dataDir>/files/`, served by Chorus itself at `GET /files/<key>?expires=<unix>&sig=<hmac>`.
 * The signature (HMAC-SHA256 over key and expiry) is the credential, so the route needs no API key.
 */
export class LocalBlobStore implements BlobStore {
  readonly kind = 'local' as const;
  readonly #root: string;
  readonly #publicUrl: () => string;
  readonly #secret: Buffer;

  private constructor(root: string, publicUrl: () => string, secret: Buffer) {
    this.#root = root;
    this.#publicUrl = publicUrl;
    this.#secret = secret;
  }

  static async open(options: LocalBlobStoreOptions): Promise<LocalBlobStore> {
    const root = join(options.dataDir, 'files');
    await mkdir(join(root, META_DIR), { recursive: true });
    const secret = options.secret !== undefined ? Buffer.from(options.secret, 'utf8') : await loadOrCreateSecret(options.dataDir);
    return new LocalBlobStore(root, options.publicUrl, secret);
  }

  /** A directory that cannot be written (read-only, full) is `storage_unavailable` naming it. */
  async put(key: string, bytes: Uint8Array, contentType: string): Promise<void> {
    assertValidKey(key);
    const path = join(this.#root, key);
    const meta = join(this.#root, META_DIR, `${key}.json`);
    try {
      await mkdir(dirname(path), { recursive: true });
      await mkdir(dirname(meta), { recursive: true });
      await writeFile(meta, JSON.stringify({ contentType }));
      await writeFile(path, bytes);
    } catch (error) {
      throw asStorageError(this.#root, error);
    }
  }

  async get(key: string): Promise<StoredBlob | undefined> {
    if (!isValidKey(key)) return undefined;
    try {
      const bytes = await readFile(join(this.#root, key));
      let contentType = 'application/octet-stream';
      try {
        const meta = JSON.parse(await readFile(join(this.#root, META_DIR, `${key}.json`), 'utf8')) as { contentType?: unknown };
        if (typeof meta.contentType === 'string') contentType = meta.contentType;
      } catch {
        // A file without its metadata is still served, as bytes.
      }
      return { bytes: new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength), contentType };
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code === 'ENOENT' || code === 'EISDIR' || code === 'ENOTDIR') return undefined;
      throw asStorageError(this.#root, error);
    }
  }

  async delete(key: string): Promise<void> {
    if (!isValidKey(key)) return;
    try {
      await rm(join(this.#root, key), { force: true });
      await rm(join(this.#root, META_DIR, `${key}.json`), { force: true });
    } catch (error) {
      throw asStorageError(this.#root, error);
    }
  }

  async signedUrl(key: string, expiresInSec: number): Promise<string> {
    assertValidKey(key);
    const expires = Math.floor(Date.now() / 1000) + Math.max(1, Math.round(expiresInSec));
    const path = key.split('/').map(encodeURIComponent).join('/');
    return `${this.#publicUrl()}/files/${path}?expires=${expires}&sig=${this.#sign(key, expires)}`;
  }

  /** What `GET /files/<key>?expires=…&sig=…` answers: the blob, 403 for a bad or expired link, 404 for no file. */
  async open(key: string, expires: string | undefined, sig: string | undefined, nowSec = Date.now() / 1000): Promise<FileAccess> {
    if (expires === undefined || sig === undefined || !/^\d{1,12}$/.test(expires) || !/^[0-9a-f]{64}$/.test(sig)) {
      return { ok: false, status: 403, error: 'This link is not signed: it needs expires and sig parameters.' };
    }
    const expected = Buffer.from(this.#sign(key, Number(expires)), 'hex');
    if (!timingSafeEqual(expected, Buffer.from(sig, 'hex'))) {
      return { ok: false, status: 403, error: 'This link has an invalid signature.' };
    }
    if (Number(expires) < nowSec) return { ok: false, status: 403, error: 'This link has expired.' };
    const blob = await this.get(key);
    if (blob === undefined) return { ok: false, status: 404, error: 'The file no longer exists.' };
    return { ok: true, blob };
  }

  #sign(key: string, expires: number): string {
    return createHmac('sha256', this.#secret).update(`${key}\n${expires}`).digest('hex');
  }
}

/** The persisted random key, created once (0600) so links survive restarts. */
async function loadOrCreateSecret(dataDir: string): Promise<Buffer> {
  const path = join(dataDir, SECRET_FILE);
  try {
    return Buffer.from((await readFile(path, 'utf8')).trim(), 'hex');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  }
  await mkdir(dataDir, { recursive: true });
  const secret = randomBytes(32);
  try {
    await writeFile(path, `${secret.toString('hex')}\n`, { mode: 0o600, flag: 'wx' });
    return secret;
  } catch (error) {
    // Another process made it first: use theirs.
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') return Buffer.from((await readFile(path, 'utf8')).trim(), 'hex');
    throw error;
  }
}
