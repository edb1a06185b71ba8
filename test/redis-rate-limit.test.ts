// Rate-limit buckets in Redis: the same token-bucket answers as the in-memory store, shared by
// two stores (two API processes), and requests let through while Redis is away.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { MemoryRateLimitStore } from '../src/server/rate-limit.js';
import { RedisRateLimitStore } from '../src/server/redis-rate-limit-store.js';
import { startTestRedis, type TestRedis } from './support/redis.js';
import { startTestServer } from './support/server.js';

describe('RedisRateLimitStore', () => {
  let redis: TestRedis;
  before(async () => {
    redis = await startTestRedis();
  });
  after(() => redis.close());

  const ready = (store: RedisRateLimitStore): Promise<void> => store.ready();

  it('answers exactly as the in-memory store for the same sequence of requests', async () => {
    const store = new RedisRateLimitStore({ url: redis.url, prefix: 'same' });
    const memory = new MemoryRateLimitStore();
    try {
      await ready(store);
      const settings = { ratePerSecond: 10, burst: 5 };
      for (const now of [1000, 1000, 1000, 1000, 1000, 1000, 1050, 1100, 1100, 1500, 61_000]) {
        assert.deepEqual(await store.take('key:a', settings, now), await memory.take('key:a', settings, now), `at ${now} ms`);
      }
    } finally {
      await store.close();
    }
  });

  it('two stores (two API processes) draw from one bucket per key', async () => {
    const first = new RedisRateLimitStore({ url: redis.url, prefix: 'shared' });
    const second = new RedisRateLimitStore({ url: redis.url, prefix: 'shared' });
    try {
      await Promise.all([ready(first), ready(second)]);
      const settings = { ratePerSecond: 1, burst: 4 };
      const answers = [];
      for (let i = 0; i < 6; i++) answers.push((await (i % 2 === 0 ? first : second).take('key:b', settings, 5000)).allowed);
      assert.deepEqual(answers, [true, true, true, true, false, false]);
      assert.equal((await first.take('key:other', settings, 5000)).allowed, true, 'another key has its own bucket');
    } finally {
      await first.close();
      await second.close();
    }
  });

  it("two servers on one Redis enforce one limit per key: the burst is shared, the next request is a 429 on either", async () => {
    const env = { CHORUS_REDIS_URL: redis.url, CHORUS_REDIS_PREFIX: 'servers', CHORUS_API_KEYS: 'key-one,key-two', CHORUS_RATE_LIMIT_RPS: '0.01', CHORUS_RATE_LIMIT_BURST: '3', CHORUS_WORKERS: '1' };
    const servers = await Promise.all([startTestServer(env), startTestServer(env)]);
    try {
      const models = (index: number, key = 'key-one') => fetch(`${servers[index]!.url}/v1/models`, { headers: { authorization: `Bearer ${key}` } });
      const statuses = [];
      for (let i = 0; i < 5; i++) statuses.push((await models(i % 2)).status);
      assert.deepEqual(statuses, [200, 200, 200, 429, 429]);
      assert.equal((await models(1, 'key-two')).status, 200, 'another key is not limited');
    } finally {
      await Promise.all(servers.map((server) => server.close()));
    }
  });

  it('lets requests through while Redis cannot be reached', async () => {
    const store = new RedisRateLimitStore({ url: 'redis://127.0.0.1:1', prefix: 'down' });
    try {
      const decision = await store.take('key:c', { ratePerSecond: 1, burst: 1 }, 0);
      assert.equal(decision.allowed, true);
    } finally {
      await store.close();
    }
  });
});
