// The deployment-wide result cache: entries in a shared blob store (S3 on s3rver), index in a real
// Redis. Two instances stand for two processes on different machines.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import type { CachedResult } from '../src/cache/result-cache.js';
import { SharedResultCache } from '../src/cache/shared-result-cache.js';
import { S3BlobStore } from '../src/storage/s3-blob-store.js';
import type { Logger } from '../src/util/logger.js';
import { startTestRedis, type TestRedis } from './support/redis.js';
import { startTestS3, type TestS3 } from './support/s3.js';

const key = (name: string): string => createHash('sha256').update(name).digest('hex');
const result = (bytes: number, fill = 1): CachedResult => ({ audio: new Uint8Array(bytes).fill(fill), meta: { mimetype: 'audio/wav', bytes } });
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

function recordingLogger(): Logger & { warnings: string[] } {
  const warnings: string[] = [];
  const noop = () => undefined;
  return { warnings, debug: noop, info: noop, error: noop, warn: (message) => warnings.push(message) };
}

describe('SharedResultCache (blob store + Redis index) across processes', () => {
  let redis: TestRedis;
  let s3: TestS3;
  let blobs: S3BlobStore;
  let run = 0;
  const caches: SharedResultCache[] = [];
  before(async () => {
    [redis, s3] = await Promise.all([startTestRedis(), startTestS3(['cache'])]);
    blobs = new S3BlobStore({ bucket: 'cache', endpoint: s3.endpoint, region: 'us-east-1', accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' });
  });
  after(async () => {
    for (const cache of caches) await cache.close();
    await redis.close();
    await s3.close();
  });

  /** Two caches of one deployment (a fresh prefix per test). */
  const pair = (options: { maxBytes?: number; enabled?: boolean; logger?: Logger } = {}) => {
    const prefix = `cache${++run}`;
    const open = () => {
      const cache = new SharedResultCache({ url: redis.url, prefix, blobs, maxBytes: options.maxBytes ?? 1 << 20, enabled: options.enabled ?? true, logger: options.logger ?? recordingLogger() });
      caches.push(cache);
      return cache;
    };
    return [open(), open()] as const;
  };

  it('an entry stored by one process is a hit in the other, with the same bytes', async () => {
    const [a, b] = pair();
    assert.equal(await b.get(key('x')), undefined);
    await a.set(key('x'), { audio: new Uint8Array([1, 2, 3]), meta: { duration_ms: 42 } });
    const hit = await b.get(key('x'));
    assert.deepEqual([...hit!.audio], [1, 2, 3]);
    assert.deepEqual(hit!.meta, { duration_ms: 42 });
    const lookup = await b.getOrCompute(key('x'), async () => assert.fail('must not compute'));
    assert.equal(lookup.hit, true);
  });

  it('identical requests in two processes at once are computed once', async () => {
    const [a, b] = pair();
    let computations = 0;
    const compute = async () => {
      computations++;
      await sleep(300);
      return result(100, 7);
    };
    const lookups = await Promise.all([a, b, a, b, a, b].map((cache) => cache.getOrCompute(key('same'), compute)));
    assert.equal(computations, 1);
    assert.equal(lookups.filter((lookup) => !lookup.hit).length, 1);
    assert.ok(lookups.every((lookup) => lookup.result.audio[0] === 7 && lookup.result.audio.length === 100));
  });

  it('a waiter whose leader in another process fails computes for itself', async () => {
    const [a, b] = pair();
    // Both connected first, so the leader is the one that asks first.
    await Promise.all([a.stats(), b.stats()]);
    let leading = false;
    const leader = a.getOrCompute(key('fails'), async () => {
      leading = true;
      await sleep(200);
      throw new Error('boom');
    });
    while (!leading) await sleep(5);
    const waiter = b.getOrCompute(key('fails'), async () => result(10, 3));
    await assert.rejects(leader, /boom/);
    const lookup = await waiter;
    assert.equal(lookup.hit, false);
    assert.equal(lookup.result.audio[0], 3);
  });

  it('a computation whose process died stops blocking others once its lease lapses', async () => {
    const prefix = `cache${++run}`;
    const open = () => {
      const cache = new SharedResultCache({ url: redis.url, prefix, blobs, maxBytes: 1 << 20, enabled: true, logger: recordingLogger(), computeLeaseMs: 600 });
      caches.push(cache);
      return cache;
    };
    const [doomed, survivor] = [open(), open()];
    // The doomed process takes the lease and never finishes (as if killed), and its renewals stop with it.
    void doomed.getOrCompute(key('orphan'), () => new Promise<CachedResult>(() => undefined));
    await sleep(100);
    await doomed.close();
    const started = Date.now();
    const lookup = await survivor.getOrCompute(key('orphan'), async () => result(10, 5));
    assert.equal(lookup.result.audio[0], 5);
    assert.ok(Date.now() - started < 5000, `waited ${Date.now() - started} ms`);
  });

  it('evicts the least recently used entries deployment-wide beyond the size limit, and removes their blobs', async () => {
    // Each entry is 1000 audio bytes plus a small header; three fit, four do not.
    const [a, b] = pair({ maxBytes: 3500 });
    await a.set(key('1'), result(1000, 1));
    await b.set(key('2'), result(1000, 2));
    await a.set(key('3'), result(1000, 3));
    await sleep(20);
    assert.ok(await b.get(key('1')), 'touching 1 makes 2 the least recently used');
    await sleep(20);
    await b.set(key('4'), result(1000, 4));
    assert.equal(await a.get(key('2')), undefined, 'the least recently used entry went');
    assert.ok(await a.get(key('1')));
    assert.ok(await a.get(key('4')));
    assert.equal(await blobs.get(`cache/${key('2')}.entry`), undefined, 'its blob is gone too');
    const stats = await a.stats();
    assert.equal(stats.entries, 3);
    assert.ok(stats.bytes <= 3500);
  });

  it('a corrupt entry is a miss with a warning and is removed; disabled caches store nothing', async () => {
    const logger = recordingLogger();
    const [a, b] = pair({ logger });
    await a.set(key('bad'), result(500));
    await blobs.put(`cache/${key('bad')}.entry`, new Uint8Array([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]), 'application/octet-stream');
    assert.equal(await b.get(key('bad')), undefined);
    assert.ok(logger.warnings.some((warning) => /unreadable/.test(warning)));
    assert.equal((await a.stats()).entries, 0);

    const [off] = pair({ enabled: false });
    await off.set(key('off'), result(10));
    assert.equal(await off.get(key('off')), undefined);
    let computed = 0;
    await off.getOrCompute(key('off'), async () => (computed++, result(10)));
    await off.getOrCompute(key('off'), async () => (computed++, result(10)));
    assert.equal(computed, 2);
  });

  it('without Redis, lookups are misses and results are still computed', async () => {
    const logger = recordingLogger();
    const cache = new SharedResultCache({ url: 'redis://127.0.0.1:1', blobs, maxBytes: 1 << 20, enabled: true, logger });
    caches.push(cache);
    const lookup = await cache.getOrCompute(key('nowhere'), async () => result(10, 9));
    assert.equal(lookup.hit, false);
    assert.equal(lookup.result.audio[0], 9);
  });
});
