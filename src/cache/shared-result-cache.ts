import { randomUUID } from 'node:crypto';
import type { Redis } from 'ioredis';
import { ChorusError } from '../errors.js';
import type { BlobStore } from '../storage/blob-store.js';
import { commandClient, connected, ifConnected } from '../storage/redis-client.js';
import type { Logger } from '../util/logger.js';
import { describeError, ThrottledLog } from '../util/throttled-log.js';
import { assertKey, decodeEntry, encodeEntry, type CachedResult, type CacheLookup, type ResultCache, joinComputation } from './result-cache.js';

export interface SharedResultCacheOptions {
  readonly url: string;
  readonly prefix?: string;
  /** Where entries live: the deployment's shared store (S3 when API and worker processes are on several machines). */
  readonly blobs: BlobStore;
  readonly maxBytes: number;
  readonly enabled: boolean;
  readonly logger: Logger;
  /**
   * The lease of a computation, renewed while it runs: a process that dies mid-computation stops
   * renewing, and the others stop waiting this long after. Default 10 s.
   */
  readonly computeLeaseMs?: number;
}

type ScriptedRedis = Redis & {
  indexEntry(lru: string, sizes: string, total: string, key: string, size: number, now: number, maxBytes: number): Promise<string[]>;
  dropEntry(lru: string, sizes: string, total: string, key: string): Promise<number>;
};

const WAIT_POLL_MS = 50;

/**
 * The result cache of a deployment with several processes: entries (the same checked format as the
 * directory cache) in the blob store under `cache/`, the index in Redis: a sorted set by last use
 * (least recently used go first beyond `maxBytes`, whichever process adds the entry that overflows),
 * sizes and their total. A hit in any process is a hit for all. Identical requests in different
 * processes share one computation through a lease key (SET NX); the others wait for the entry.
 * Without Redis (down, or silent past the Redis deadline) or with a damaged entry, lookups are
 * misses with a warning and stores are skipped, never failures or waits beyond that deadline.
 */
export class SharedResultCache implements ResultCache {
  readonly #options: SharedResultCacheOptions;
  readonly #redis: ScriptedRedis;
  readonly #prefix: string;
  readonly #inflight = new Map<string, Promise<CachedResult>>();
  readonly #complaints: ThrottledLog;
  /** The first connection; lookups wait for it once (later outages are misses at once). */
  readonly #started: Promise<void>;

  constructor(options: SharedResultCacheOptions) {
    this.#options = options;
    this.#complaints = new ThrottledLog(options.logger);
    this.#prefix = `${options.prefix ?? 'chorus'}:cache`;
    this.#redis = commandClient(options.url) as ScriptedRedis;
    this.#started = connected(this.#redis, options.url).catch(() => undefined);
    // KEYS: lru, sizes, total. ARGV: key, size, now, maxBytes. Indexes the entry, then returns the
    // least recently used other keys that must go for the total to fit.
    this.#redis.defineCommand('indexEntry', {
      numberOfKeys: 3,
      lua: `
        local previous = tonumber(redis.call('HGET', KEYS[2], ARGV[1]) or '0')
        redis.call('HSET', KEYS[2], ARGV[1], ARGV[2])
        redis.call('ZADD', KEYS[1], ARGV[3], ARGV[1])
        local total = redis.call('INCRBY', KEYS[3], tonumber(ARGV[2]) - previous)
        local evicted = {}
        local max = tonumber(ARGV[4])
        while total > max do
          local oldest = redis.call('ZRANGE', KEYS[1], 0, 1)
          local victim = oldest[1]
          if victim == ARGV[1] then victim = oldest[2] end
          if not victim then break end
          local size = tonumber(redis.call('HGET', KEYS[2], victim) or '0')
          redis.call('ZREM', KEYS[1], victim)
          redis.call('HDEL', KEYS[2], victim)
          total = redis.call('DECRBY', KEYS[3], size)
          table.insert(evicted, victim)
        end
        return evicted`,
    });
    // KEYS: lru, sizes, total. ARGV: key.
    this.#redis.defineCommand('dropEntry', {
      numberOfKeys: 3,
      lua: `
        local size = redis.call('HGET', KEYS[2], ARGV[1])
        if not size then return 0 end
        redis.call('ZREM', KEYS[1], ARGV[1])
        redis.call('HDEL', KEYS[2], ARGV[1])
        redis.call('DECRBY', KEYS[3], tonumber(size))
        return 1`,
    });
  }

  get enabled(): boolean {
    return this.#options.enabled;
  }

  async stats(): Promise<{ entries: number; bytes: number; maxBytes: number }> {
    await this.#started;
    const [entries, total] = await this.#call(() => Promise.all([this.#redis.zcard(this.#key('lru')), this.#redis.get(this.#key('total'))]));
    return { entries, bytes: Number(total ?? 0), maxBytes: this.#options.maxBytes };
  }

  async get(key: string): Promise<CachedResult | undefined> {
    if (!this.#options.enabled) return undefined;
    assertKey(key);
    await this.#started;
    try {
      // The index says what exists; the blob may still be missing if another process evicted it a moment ago.
      if ((await this.#call(() => this.#redis.zscore(this.#key('lru'), key))) === null) return undefined;
      const blob = await this.#options.blobs.get(this.#blobKey(key));
      if (blob === undefined) {
        await this.#call(() => this.#redis.dropEntry(this.#key('lru'), this.#key('sizes'), this.#key('total'), key));
        return undefined;
      }
      let result: CachedResult;
      try {
        result = decodeEntry(Buffer.from(blob.bytes.buffer, blob.bytes.byteOffset, blob.bytes.byteLength));
      } catch (error) {
        this.#options.logger.warn('result cache entry unreadable; treating as a miss', { key, error: error instanceof Error ? error.message : String(error) });
        await this.#drop(key);
        return undefined;
      }
      // Recency for eviction; the answer need not wait for it.
      void this.#call(() => this.#redis.zadd(this.#key('lru'), 'XX', Date.now(), key)).catch(() => undefined);
      return result;
    } catch (error) {
      this.#complaints.warn('read', 'result cache unavailable; treating lookups as misses', { error: describeError(error) });
      return undefined;
    }
  }

  async set(key: string, result: CachedResult): Promise<void> {
    if (!this.#options.enabled) return;
    assertKey(key);
    const bytes = encodeEntry(result);
    if (bytes.length > this.#options.maxBytes) return;
    await this.#started;
    try {
      await this.#options.blobs.put(this.#blobKey(key), bytes, 'application/octet-stream');
      const evicted = await this.#call(() => this.#redis.indexEntry(this.#key('lru'), this.#key('sizes'), this.#key('total'), key, bytes.length, Date.now(), this.#options.maxBytes));
      for (const victim of evicted) await this.#options.blobs.delete(this.#blobKey(victim)).catch(() => undefined);
    } catch (error) {
      this.#complaints.warn('write', 'result cache write failed; results are not kept until it can write', { error: describeError(error) });
    }
  }

  async refresh(key: string, compute: () => Promise<CachedResult>): Promise<CachedResult> {
    const result = await compute();
    await this.set(key, result);
    return result;
  }

  async getOrCompute(key: string, compute: () => Promise<CachedResult>, signal?: AbortSignal): Promise<CacheLookup> {
    if (!this.#options.enabled) return { result: await compute(), hit: false };
    const stored = await this.get(key);
    if (stored !== undefined) return { result: stored, hit: true };
    // Within this process: share the computation directly.
    const pending = this.#inflight.get(key);
    const shared = pending === undefined ? undefined : await joinComputation(pending, signal);
    if (shared !== undefined) return { result: shared, hit: true };
    // Across processes: one holds the lease and computes; the others wait for its entry.
    const lease = await this.#takeLease(key);
    if (lease === undefined) {
      const waited = await this.#waitForEntry(key, signal);
      if (waited !== undefined) return { result: waited, hit: true };
    }
    const leaseMs = this.#options.computeLeaseMs ?? 10_000;
    const renew = lease === undefined ? undefined : setInterval(() => void this.#call(() => this.#redis.pexpire(this.#key(`lease:${key}`), leaseMs)).catch(() => undefined), leaseMs / 3);
    renew?.unref();
    const work = (async () => {
      try {
        const result = await compute();
        await this.set(key, result);
        return result;
      } finally {
        clearInterval(renew);
        if (lease !== undefined) await this.#releaseLease(key, lease);
      }
    })();
    this.#inflight.set(key, work);
    try {
      return { result: await work, hit: false };
    } finally {
      if (this.#inflight.get(key) === work) this.#inflight.delete(key);
    }
  }

  async close(): Promise<void> {
    this.#redis.disconnect();
  }

  /** A lease token, or undefined when another process holds the key (or Redis cannot say). */
  async #takeLease(key: string): Promise<string | undefined> {
    const token = randomUUID();
    try {
      const taken = await this.#call(() => this.#redis.set(this.#key(`lease:${key}`), token, 'PX', this.#options.computeLeaseMs ?? 10_000, 'NX'));
      return taken === 'OK' ? token : undefined;
    } catch {
      // Redis away: compute alone rather than wait for nobody.
      return randomUUID();
    }
  }

  async #releaseLease(key: string, token: string): Promise<void> {
    const lease = this.#key(`lease:${key}`);
    try {
      if ((await this.#call(() => this.#redis.get(lease))) === token) await this.#call(() => this.#redis.del(lease));
    } catch {
      // It expires by itself.
    }
  }

  /** The entry once the lease holder stores it; undefined if the lease ends without one (its job failed or was cancelled). */
  async #waitForEntry(key: string, signal: AbortSignal | undefined): Promise<CachedResult | undefined> {
    for (;;) {
      if (signal?.aborted) throw new ChorusError({ code: 'aborted', message: 'The job was stopped.' });
      const stored = await this.get(key);
      if (stored !== undefined) return stored;
      let held: number;
      try {
        held = await this.#call(() => this.#redis.exists(this.#key(`lease:${key}`)));
      } catch {
        return undefined;
      }
      if (held === 0) return this.get(key);
      await new Promise((resolve) => setTimeout(resolve, WAIT_POLL_MS));
    }
  }

  async #drop(key: string): Promise<void> {
    await this.#call(() => this.#redis.dropEntry(this.#key('lru'), this.#key('sizes'), this.#key('total'), key)).catch(() => undefined);
    await this.#options.blobs.delete(this.#blobKey(key)).catch(() => undefined);
  }

  /** Every Redis call goes through here: the cache never waits for Redis longer than the deadline. */
  #call<T>(work: () => Promise<T>): Promise<T> {
    return ifConnected(this.#redis, this.#options.url, work);
  }

  #key(name: string): string {
    return `${this.#prefix}:${name}`;
  }

  #blobKey(key: string): string {
    return `cache/${key}.entry`;
  }
}
