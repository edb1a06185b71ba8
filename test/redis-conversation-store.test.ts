// The conversation-store conformance suite against the Redis store, on a real redis-server; plus
// two stores (two processes) sharing conversations, and an outage answered fast and recovered from.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { conversationStoreConformance, turn } from '../src/conversations/conversation-store.case.js';
import { RedisConversationStore } from '../src/conversations/redis-conversation-store.js';
import { startTestRedis, type TestRedis } from './support/redis.js';

describe('RedisConversationStore', () => {
  let redis: TestRedis;
  let run = 0;
  before(async () => {
    redis = await startTestRedis();
  });
  after(() => redis.close());
  const limits = { maxTurns: 10, maxChars: 10_000, idleMs: 60_000 };

  conversationStoreConformance(async () => new RedisConversationStore({ url: redis.url, prefix: `conversations${++run}` }));

  it('a turn saved through one process is the history of the next request through another', async () => {
    const prefix = `shared${++run}`;
    const first = new RedisConversationStore({ url: redis.url, prefix });
    const second = new RedisConversationStore({ url: redis.url, prefix });
    try {
      await first.append('owner-a', 'c1', turn(1), limits);
      assert.deepEqual(await second.history('owner-a', 'c1'), [turn(1)]);
      await second.append('owner-a', 'c1', turn(2), { ...limits, maxTurns: 1 });
      assert.deepEqual(await first.history('owner-a', 'c1'), [turn(2)]);
    } finally {
      await first.close();
      await second.close();
    }
  });

  it('with Redis gone it answers store_unavailable within seconds, and works again when Redis returns', async () => {
    const store = new RedisConversationStore({ url: redis.url, prefix: `outage${++run}` });
    try {
      await store.append('owner-a', 'c1', turn(1), limits);
      await redis.stop();
      try {
        const started = Date.now();
        const unavailable = (error: Error & { code?: string }): boolean => error.code === 'store_unavailable';
        await Promise.all([
          assert.rejects(store.history('owner-a', 'c1'), unavailable),
          assert.rejects(store.append('owner-a', 'c1', turn(2), limits), unavailable),
        ]);
        assert.ok(Date.now() - started < 6500, `answered in ${Date.now() - started} ms, not hung`);
      } finally {
        await redis.start();
      }
      let history: unknown;
      for (let attempt = 0; history === undefined; attempt++) {
        try {
          history = await store.history('owner-a', 'c1');
        } catch (error) {
          if (attempt >= 50) throw error;
          await sleep(100);
        }
      }
      // Nothing half-written during the outage: the failed append left no turn behind.
      assert.deepEqual(history, [turn(1)]);
      await store.append('owner-a', 'c1', turn(3), limits);
      assert.deepEqual(await store.history('owner-a', 'c1'), [turn(1), turn(3)]);
    } finally {
      await store.close();
    }
  });
});
