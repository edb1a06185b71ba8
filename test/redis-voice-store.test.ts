// The voice-store conformance suite against the Redis store, on a real redis-server; plus two
// stores (two processes) seeing each other's voices at once.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { RedisVoiceStore } from '../src/voices/redis-voice-store.js';
import { voice, voiceStoreConformance } from '../src/voices/voice-store.case.js';
import { startTestRedis, type TestRedis } from './support/redis.js';

describe('RedisVoiceStore', () => {
  let redis: TestRedis;
  let run = 0;
  before(async () => {
    redis = await startTestRedis();
  });
  after(() => redis.close());

  voiceStoreConformance(async () => new RedisVoiceStore({ url: redis.url, prefix: `voices${++run}` }));

  it('a voice stored through one process is found through another at once, and its name stays taken', async () => {
    const first = new RedisVoiceStore({ url: redis.url, prefix: 'shared' });
    const second = new RedisVoiceStore({ url: redis.url, prefix: 'shared' });
    try {
      await first.insert(voice());
      assert.deepEqual(await second.findByName('owner-a', 'narrator'), voice());
      assert.equal(await second.idTaken('a1b2c3d4'), true);
      await assert.rejects(second.insert(voice({ voiceId: 'e1e2e3e4' })), (error: Error & { code?: string }) => error.code === 'conflict');
      assert.equal(await second.delete('owner-a', 'a1b2c3d4'), true);
      assert.equal(await first.get('owner-a', 'a1b2c3d4'), undefined);
    } finally {
      await first.close();
      await second.close();
    }
  });
});
