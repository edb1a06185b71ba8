import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, it } from 'node:test';
import type { Logger } from '../util/logger.js';
import { DirectoryResultCache, resultCacheKey, type CachedResult } from './result-cache.js';
import type { SpeechService } from '../speech/speech-service.js';

const key = (name: string): string => createHash('sha256').update(name).digest('hex');
const result = (bytes: number, fill = 1): CachedResult => ({ audio: new Uint8Array(bytes).fill(fill), meta: { mimetype: 'audio/wav', bytes } });

function recordingLogger(): Logger & { warnings: string[] } {
  const warnings: string[] = [];
  const noop = () => undefined;
  return { warnings, debug: noop, info: noop, error: noop, warn: (message) => warnings.push(message) };
}

describe('ResultCache', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'chorus-cache-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  const open = (options: { maxBytes?: number; enabled?: boolean; logger?: Logger } = {}) =>
    new DirectoryResultCache({ dir, maxBytes: options.maxBytes ?? 1 << 20, enabled: options.enabled ?? true, logger: options.logger ?? recordingLogger() });

  it('misses, then hits with the same bytes and metadata; survives a restart', async () => {
    const cache = open();
    assert.equal(await cache.get(key('a')), undefined);
    await cache.set(key('a'), { audio: new Uint8Array([1, 2, 3]), meta: { duration_ms: 42 } });
    const hit = await cache.get(key('a'));
    assert.deepEqual([...hit!.audio], [1, 2, 3]);
    assert.deepEqual(hit!.meta, { duration_ms: 42 });
    const reopened = open();
    assert.deepEqual([...(await reopened.get(key('a')))!.audio], [1, 2, 3]);
  });

  it('getOrCompute computes once, then answers from the cache', async () => {
    const cache = open();
    let calls = 0;
    const compute = async () => {
      calls++;
      return result(10);
    };
    const first = await cache.getOrCompute(key('b'), compute);
    const second = await cache.getOrCompute(key('b'), compute);
    assert.equal(first.hit, false);
    assert.equal(second.hit, true);
    assert.equal(calls, 1);
    assert.deepEqual(second.result.audio, first.result.audio);
  });

  it('evicts the least recently used entries beyond the size limit', async () => {
    // Each entry is 1000 audio bytes plus a small header; three fit in 3500 bytes, four do not.
    const cache = open({ maxBytes: 3500 });
    await cache.set(key('1'), result(1000));
    await cache.set(key('2'), result(1000));
    await cache.set(key('3'), result(1000));
    assert.ok(await cache.get(key('1'))); // 1 is now the most recently used; 2 is the oldest
    await cache.set(key('4'), result(1000));
    assert.equal(await cache.get(key('2')), undefined, 'least recently used entry evicted');
    assert.ok(await cache.get(key('1')));
    assert.ok(await cache.get(key('3')));
    assert.ok(await cache.get(key('4')));
    const stats = await cache.stats();
    assert.equal(stats.entries, 3);
    assert.ok(stats.bytes <= 3500);
    assert.equal(readdirSync(dir).filter((name) => name.endsWith('.entry')).length, 3);
    // An entry larger than the whole cache is not stored, and evicts nothing.
    await cache.set(key('huge'), result(5000));
    assert.equal(await cache.get(key('huge')), undefined);
    assert.equal((await cache.stats()).entries, 3);
  });

  it('restores recency order from disk after a restart', async () => {
    const first = open({ maxBytes: 3500 });
    await first.set(key('old'), result(1000));
    await new Promise((resolve) => setTimeout(resolve, 20));
    await first.set(key('mid'), result(1000));
    await new Promise((resolve) => setTimeout(resolve, 20));
    await first.set(key('new'), result(1000));
    const second = open({ maxBytes: 3500 });
    await second.set(key('newest'), result(1000));
    assert.equal(await second.get(key('old')), undefined);
    assert.ok(await second.get(key('mid')));
  });

  it('concurrent identical requests share one computation (single-flight)', async () => {
    const cache = open();
    let calls = 0;
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const compute = async () => {
      calls++;
      await gate;
      return result(100, 7);
    };
    const pending = Array.from({ length: 5 }, () => cache.getOrCompute(key('same'), compute));
    await new Promise((resolve) => setTimeout(resolve, 20));
    release();
    const answers = await Promise.all(pending);
    assert.equal(calls, 1);
    assert.equal(answers.filter((a) => !a.hit).length, 1, 'one caller computed');
    for (const answer of answers) assert.deepEqual(answer.result.audio, new Uint8Array(100).fill(7));
    // Different keys do not wait for each other.
    let other = 0;
    await Promise.all([
      cache.getOrCompute(key('x'), async () => (other++, result(1))),
      cache.getOrCompute(key('y'), async () => (other++, result(1))),
    ]);
    assert.equal(other, 2);
  });

  it('a waiter whose leader failed computes for itself; the failure reaches only the leader', async () => {
    const cache = open();
    let calls = 0;
    const leader = cache.getOrCompute(key('f'), async () => {
      calls++;
      await new Promise((resolve) => setTimeout(resolve, 10));
      throw new Error('leader cancelled');
    });
    const follower = cache.getOrCompute(key('f'), async () => {
      calls++;
      return result(3);
    });
    await assert.rejects(leader, /leader cancelled/);
    const answer = await follower;
    assert.equal(answer.hit, false);
    assert.equal(calls, 2);
  });

  it('a waiter that is aborted stops waiting', async () => {
    const cache = open();
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const leader = cache.getOrCompute(key('w'), async () => (await gate, result(1)));
    const controller = new AbortController();
    const waiter = cache.getOrCompute(key('w'), async () => result(1), controller.signal);
    controller.abort();
    await assert.rejects(waiter, /stopped/);
    release();
    assert.equal((await leader).hit, false);
  });

  it('a corrupt or truncated entry is a miss with a warning, and is removed', async () => {
    const logger = recordingLogger();
    const cache = open({ logger });
    await cache.set(key('c'), result(200));
    const file = join(dir, `${key('c')}.entry`);
    const bytes = readFileSync(file);
    bytes[bytes.length - 1] = bytes[bytes.length - 1]! ^ 0xff; // flip the bits of the last audio byte
    writeFileSync(file, bytes);
    assert.equal(await cache.get(key('c')), undefined);
    assert.equal(logger.warnings.length, 1);
    assert.match(logger.warnings[0]!, /unreadable/);
    assert.ok(!readdirSync(dir).includes(`${key('c')}.entry`));

    await cache.set(key('t'), result(200));
    truncateSync(join(dir, `${key('t')}.entry`), 20);
    let calls = 0;
    const answer = await cache.getOrCompute(key('t'), async () => (calls++, result(200)));
    assert.equal(answer.hit, false);
    assert.equal(calls, 1);
    assert.equal(logger.warnings.length, 2);
    assert.ok(await cache.get(key('t')), 'recomputed entry is stored again');

    // Garbage that is not an entry at all.
    writeFileSync(join(dir, `${key('g')}.entry`), 'not a cache entry');
    const reopened = open({ logger });
    assert.equal(await reopened.get(key('g')), undefined);
    assert.equal(logger.warnings.length, 3);
  });

  it('disabled: nothing is stored, every lookup computes, nothing is written to disk', async () => {
    const cache = open({ enabled: false });
    let calls = 0;
    const compute = async () => (calls++, result(10));
    assert.equal((await cache.getOrCompute(key('d'), compute)).hit, false);
    assert.equal((await cache.getOrCompute(key('d'), compute)).hit, false);
    assert.equal(calls, 2);
    await cache.set(key('d'), result(10));
    assert.equal(await cache.get(key('d')), undefined);
    assert.deepEqual(readdirSync(dir), []);
  });

  it('resultCacheKey adds the owner only when one is given', () => {
    const speech = { engine: { id: 'espeak', version: '1' } } as unknown as SpeechService;
    const shared = resultCacheKey({ text: 'hi', voice: 'Amy' }, speech);
    assert.match(shared, /^[0-9a-f]{64}$/);
    assert.equal(resultCacheKey({ voice: 'Amy', text: 'hi' }, speech), shared, 'key order does not matter');
    const alice = resultCacheKey({ text: 'hi', voice: 'mine' }, speech, { owner: 'alice' });
    const bob = resultCacheKey({ text: 'hi', voice: 'mine' }, speech, { owner: 'bob' });
    assert.notEqual(alice, bob);
    assert.notEqual(alice, resultCacheKey({ text: 'hi', voice: 'mine' }, speech));
  });
});
