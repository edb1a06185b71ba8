import { createHash, randomBytes } from 'node:crypto';
import { mkdir, readdir, readFile, rename, rm, stat, utimes, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ChorusError } from '../errors.js';
import type { SpeechService } from '../speech/speech-service.js';
import { PIPELINE_REVISION } from '../pipeline/speech-request.js';
import type { Logger } from '../util/logger.js';
import { isStorageFailure } from '../storage/storage-errors.js';
import { describeError, ThrottledLog } from '../util/throttled-log.js';

/** One cached result: the audio bytes and the metadata needed to answer without synthesising. */
export interface CachedResult {
  readonly audio: Uint8Array;
  readonly meta: Readonly<Record<string, unknown>>;
}

export interface ResultCacheOptions {
  /** Directory for entries (created on first use). */
  readonly dir: string;
  /** Total size of all entry files, bytes; least recently used entries go first beyond it. */
  readonly maxBytes: number;
  /** false: every lookup misses, nothing is written, no single-flight. */
  readonly enabled: boolean;
  readonly logger: Logger;
}

export interface CacheLookup {
  readonly result: CachedResult;
  /** true when no synthesis ran for this caller: a stored entry, or another caller's identical in-flight work. */
  readonly hit: boolean;
}

/**
 * The cache key of a request: sha256 over its canonical parts and the engine that would serve it.
 * Built-in voices are the same for everyone, so their results are shared by all keys; a request
 * that uses a user's own voice (from the voice library) must pass that user's `owner` so one
 * key's cloned voice never answers another key's request.
 */
export function resultCacheKey(parts: Record<string, unknown>, speech: SpeechService, scope: { readonly owner?: string } = {}): string {
  return requestDigest(scope.owner === undefined ? parts : { ...parts, owner: scope.owner }, speech);
}

/** A stable sha256 over a request and the engine and pipeline that would serve it (for cache keys). */
function requestDigest(parts: Record<string, unknown>, speech: SpeechService): string {
  const named = typeof parts['engine'] === 'string' && speech.engines.has(parts['engine']) ? speech.engines.engine(parts['engine'], 'engine') : undefined;
  const engine = named ?? speech.engine;
  const canonical = JSON.stringify({ engine: engine.id, version: engine.version, pipeline: PIPELINE_REVISION, ...sortKeys(parts) });
  return createHash('sha256').update(canonical).digest('hex');
}

function sortKeys(value: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined).sort(([a], [b]) => a.localeCompare(b)));
}

/**
 * What every API uses: whole results by key, one computation for identical concurrent requests.
 * `DirectoryResultCache` keeps them in a local directory (one process or machine);
 * `SharedResultCache` in the blob store with its index in Redis (every process of a deployment).
 */
export interface ResultCache {
  readonly enabled: boolean;
  /** The stored result, or undefined (also for a damaged entry, which is removed). */
  get(key: string): Promise<CachedResult | undefined>;
  /** Stores a result; a failure only logs (a cache that cannot write never fails the request it serves). */
  set(key: string, result: CachedResult): Promise<void>;
  /** The cached result for `key`, or `compute()`'s, stored for next time; concurrent callers share one `compute()`. */
  getOrCompute(key: string, compute: () => Promise<CachedResult>, signal?: AbortSignal): Promise<CacheLookup>;
  /** `compute()`'s result, stored over whatever `key` held. */
  refresh(key: string, compute: () => Promise<CachedResult>): Promise<CachedResult>;
  stats(): Promise<{ entries: number; bytes: number; maxBytes: number }>;
}

/** `hit`: answered without a synthesis; `miss`: synthesised and stored; `refresh`: synthesised on request (`no-cache`). */
export type CacheLookupOutcome = 'hit' | 'miss' | 'refresh';

/**
 * `cache`, with the outcome of every lookup through it told to `onLookup` (the metrics). A disabled
 * cache (CACHE_ENABLED=false) reports nothing: its lookups are not lookups, and would read as misses.
 */
export function observeLookups(cache: ResultCache, onLookup: (outcome: CacheLookupOutcome) => void): ResultCache {
  return {
    get enabled() {
      return cache.enabled;
    },
    get: (key) => cache.get(key),
    set: (key, result) => cache.set(key, result),
    async getOrCompute(key, compute, signal) {
      const lookup = await cache.getOrCompute(key, compute, signal);
      if (cache.enabled) onLookup(lookup.hit ? 'hit' : 'miss');
      return lookup;
    },
    async refresh(key, compute) {
      const result = await cache.refresh(key, compute);
      if (cache.enabled) onLookup('refresh');
      return result;
    },
    stats: () => cache.stats(),
  };
}

const MAGIC = Buffer.from('CHRC1\n', 'latin1');
const KEY_PATTERN = /^[0-9a-f]{64}$/;
const ENTRY_SUFFIX = '.entry';

interface IndexEntry {
  readonly size: number;
}

/**
 * Results on disk, one file per key (`<dir>/<key>.entry`): a magic line, a 4-byte JSON length, JSON
 * metadata (with the audio's length and sha256) and the audio bytes. Files are written to a temp
 * name and renamed, so a reader never sees half an entry; an entry that fails its checks (truncated,
 * edited, unreadable) is logged, removed and treated as a miss. Recency lives in an in-memory index
 * (a Map in least-recently-used order), rebuilt at start-up from the files' modification times, which
 * every hit refreshes. Identical requests that arrive while one is being computed wait for it
 * instead of synthesising again (single-flight, within this process). A directory that cannot be
 * made, read or written (read-only, full) turns lookups into misses and writes into no-ops, logged
 * once in a while; the cache works again, without a restart, once the directory does.
 */
export class DirectoryResultCache implements ResultCache {
  readonly #options: ResultCacheOptions;
  readonly #index = new Map<string, IndexEntry>();
  readonly #inflight = new Map<string, Promise<CachedResult>>();
  readonly #complaints: ThrottledLog;
  #totalBytes = 0;
  #ready: Promise<void> | undefined;

  constructor(options: ResultCacheOptions) {
    this.#options = options;
    this.#complaints = new ThrottledLog(options.logger);
  }

  get enabled(): boolean {
    return this.#options.enabled;
  }

  /** Entries and bytes currently indexed. */
  async stats(): Promise<{ entries: number; bytes: number; maxBytes: number }> {
    await this.#usable();
    return { entries: this.#index.size, bytes: this.#totalBytes, maxBytes: this.#options.maxBytes };
  }

  /** The stored result, or undefined (also for a damaged entry, which is removed). */
  async get(key: string): Promise<CachedResult | undefined> {
    if (!this.#options.enabled) return undefined;
    assertKey(key);
    if (!(await this.#usable())) return undefined;
    if (!this.#index.has(key)) return undefined;
    const file = this.#file(key);
    let result: CachedResult;
    try {
      result = decodeEntry(await readFile(file));
    } catch (error) {
      // The disk refusing is not a damaged entry: a miss, and the entry stays for when it can be read.
      if (isStorageFailure(error)) {
        this.#complaints.warn('read', 'result cache cannot read its directory; answering without it', { dir: this.#options.dir, error: describeError(error) });
        return undefined;
      }
      this.#options.logger.warn('result cache entry unreadable; treating as a miss', { key, error: error instanceof Error ? error.message : String(error) });
      await this.#remove(key);
      return undefined;
    }
    this.#touch(key);
    // Recency survives restarts through the file's mtime; the answer need not wait for it.
    const now = new Date();
    void utimes(file, now, now).catch(() => undefined);
    return result;
  }

  /** Stores a result; too large for the cache or a write failure only logs. */
  async set(key: string, result: CachedResult): Promise<void> {
    if (!this.#options.enabled) return;
    assertKey(key);
    if (!(await this.#usable())) return;
    const bytes = encodeEntry(result);
    if (bytes.length > this.#options.maxBytes) return;
    const file = this.#file(key);
    const temp = `${file}.${randomBytes(6).toString('hex')}.tmp`;
    try {
      await writeFile(temp, bytes);
      await rename(temp, file);
    } catch (error) {
      await rm(temp, { force: true }).catch(() => undefined);
      this.#complaints.warn('write', 'result cache write failed; results are not kept until it can write', { dir: this.#options.dir, error: describeError(error) });
      return;
    }
    const previous = this.#index.get(key);
    if (previous !== undefined) this.#totalBytes -= previous.size;
    this.#index.delete(key);
    this.#index.set(key, { size: bytes.length });
    this.#totalBytes += bytes.length;
    await this.#evict(key);
  }

  /**
   * The cached result for `key`, or `compute()`'s, stored for next time. Concurrent calls for one
   * key share a single `compute()`. If that shared computation fails (say its job was cancelled), a
   * waiting caller whose own `signal` is not aborted computes for itself.
   */
  async getOrCompute(key: string, compute: () => Promise<CachedResult>, signal?: AbortSignal): Promise<CacheLookup> {
    if (!this.#options.enabled) return { result: await compute(), hit: false };
    for (;;) {
      const stored = await this.get(key);
      if (stored !== undefined) return { result: stored, hit: true };
      const pending = this.#inflight.get(key);
      if (pending !== undefined) {
        const shared = await joinComputation(pending, signal);
        if (shared !== undefined) return { result: shared, hit: true };
        if (this.#inflight.get(key) === pending) this.#inflight.delete(key);
        continue;
      }
      const work = (async () => {
        const result = await compute();
        await this.set(key, result);
        return result;
      })();
      this.#inflight.set(key, work);
      try {
        return { result: await work, hit: false };
      } finally {
        if (this.#inflight.get(key) === work) this.#inflight.delete(key);
      }
    }
  }

  /** `compute()`'s result, stored over whatever `key` held (a client asked for a fresh answer). */
  async refresh(key: string, compute: () => Promise<CachedResult>): Promise<CachedResult> {
    const result = await compute();
    await this.set(key, result);
    return result;
  }

  #file(key: string): string {
    return join(this.#options.dir, `${key}${ENTRY_SUFFIX}`);
  }

  #touch(key: string): void {
    const entry = this.#index.get(key);
    if (entry === undefined) return;
    this.#index.delete(key);
    this.#index.set(key, entry);
  }

  async #remove(key: string): Promise<void> {
    const entry = this.#index.get(key);
    if (entry !== undefined) {
      this.#totalBytes -= entry.size;
      this.#index.delete(key);
    }
    await rm(this.#file(key), { force: true }).catch(() => undefined);
  }

  /** Drops least recently used entries (never `keep`) until the total fits. */
  async #evict(keep?: string): Promise<void> {
    for (const key of [...this.#index.keys()]) {
      if (this.#totalBytes <= this.#options.maxBytes) return;
      if (key === keep) continue;
      await this.#remove(key);
    }
  }

  /** Whether the directory could be made and read; a failure is tried again on the next call. */
  async #usable(): Promise<boolean> {
    this.#ready ??= this.#load().catch((error: unknown) => {
      this.#ready = undefined;
      throw error;
    });
    try {
      await this.#ready;
      return true;
    } catch (error) {
      this.#complaints.warn('open', 'result cache directory cannot be used; answering without it', { dir: this.#options.dir, error: describeError(error) });
      return false;
    }
  }

  /** Builds the index from the directory, oldest first; stray temp files are removed. */
  async #load(): Promise<void> {
    const { dir, logger } = this.#options;
    await mkdir(dir, { recursive: true });
    const found: { key: string; size: number; mtimeMs: number }[] = [];
    for (const name of await readdir(dir)) {
      const path = join(dir, name);
      if (name.endsWith('.tmp')) {
        await rm(path, { force: true }).catch(() => undefined);
        continue;
      }
      if (!name.endsWith(ENTRY_SUFFIX)) continue;
      const key = name.slice(0, -ENTRY_SUFFIX.length);
      if (!KEY_PATTERN.test(key)) continue;
      try {
        const info = await stat(path);
        if (info.isFile()) found.push({ key, size: info.size, mtimeMs: info.mtimeMs });
      } catch (error) {
        logger.warn('result cache entry cannot be read; skipped', { key, error: String(error) });
      }
    }
    found.sort((a, b) => a.mtimeMs - b.mtimeMs);
    for (const { key, size } of found) {
      this.#index.set(key, { size });
      this.#totalBytes += size;
    }
    await this.#evict();
  }
}

export function assertKey(key: string): void {
  if (!KEY_PATTERN.test(key)) throw new ChorusError({ code: 'internal', message: `Invalid result cache key '${key}'.` });
}

export function encodeEntry(result: CachedResult): Buffer {
  const audio = Buffer.from(result.audio.buffer, result.audio.byteOffset, result.audio.byteLength);
  const meta = Buffer.from(
    JSON.stringify({ meta: result.meta, audioBytes: audio.length, audioSha256: createHash('sha256').update(audio).digest('hex') }),
    'utf8',
  );
  const length = Buffer.alloc(4);
  length.writeUInt32LE(meta.length, 0);
  return Buffer.concat([MAGIC, length, meta, audio]);
}

export function decodeEntry(bytes: Buffer): CachedResult {
  if (bytes.length < MAGIC.length + 4 || !bytes.subarray(0, MAGIC.length).equals(MAGIC)) throw new Error('bad magic');
  const metaLength = bytes.readUInt32LE(MAGIC.length);
  const metaStart = MAGIC.length + 4;
  if (metaStart + metaLength > bytes.length) throw new Error('truncated metadata');
  const header = JSON.parse(bytes.subarray(metaStart, metaStart + metaLength).toString('utf8')) as {
    meta?: unknown;
    audioBytes?: unknown;
    audioSha256?: unknown;
  };
  const audio = bytes.subarray(metaStart + metaLength);
  if (typeof header.meta !== 'object' || header.meta === null || header.audioBytes !== audio.length) throw new Error('length mismatch');
  if (createHash('sha256').update(audio).digest('hex') !== header.audioSha256) throw new Error('checksum mismatch');
  return { audio: new Uint8Array(audio), meta: header.meta as Record<string, unknown> };
}

/**
 * Waits for another caller's computation of the same key: its result, or undefined when it failed
 * (the caller then computes for itself). Throws only when the caller's own `signal` aborts.
 */
export async function joinComputation(pending: Promise<CachedResult>, signal: AbortSignal | undefined): Promise<CachedResult | undefined> {
  try {
    return await abortable(pending, signal);
  } catch (error) {
    if (signal?.aborted) throw error;
    return undefined;
  }
}

function abortable<T>(promise: Promise<T>, signal: AbortSignal | undefined): Promise<T> {
  if (signal === undefined) return promise;
  if (signal.aborted) return Promise.reject(new ChorusError({ code: 'aborted', message: 'The job was stopped.' }));
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(new ChorusError({ code: 'aborted', message: 'The job was stopped.' }));
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(
      (value) => {
        signal.removeEventListener('abort', onAbort);
        resolve(value);
      },
      (error: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(error instanceof Error ? error : new Error(String(error)));
      },
    );
  });
}
