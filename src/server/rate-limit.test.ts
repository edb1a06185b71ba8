import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { MemoryRateLimitStore, rateLimitEnabled, takeToken, type Bucket } from './rate-limit.js';

describe('token bucket', () => {
  const settings = { ratePerSecond: 10, burst: 5 };

  it('a new key gets the whole burst, then is refused with the wait for one token', () => {
    let bucket: Bucket | undefined;
    for (let i = 0; i < 5; i++) {
      const step = takeToken(bucket, settings, 1000);
      assert.equal(step.decision.allowed, true, `request ${i + 1}`);
      assert.equal(step.decision.remaining, 4 - i);
      bucket = step.bucket;
    }
    const refused = takeToken(bucket, settings, 1000);
    assert.equal(refused.decision.allowed, false);
    assert.equal(refused.decision.retryAfterMs, 100); // one token at 10/s
    // A refused request takes nothing.
    assert.equal(refused.bucket.tokens, 0);
  });

  it('refills at the rate, never above the burst', () => {
    let bucket: Bucket = { tokens: 0, updatedAt: 0 };
    const early = takeToken(bucket, settings, 50);
    assert.equal(early.decision.allowed, false);
    assert.equal(early.decision.retryAfterMs, 50); // half a token there, half to go
    bucket = early.bucket;
    const onTime = takeToken(bucket, settings, 100);
    assert.equal(onTime.decision.allowed, true);
    assert.ok(Math.abs(onTime.bucket.tokens) < 1e-9);
    const later = takeToken(onTime.bucket, settings, 100 + 60_000);
    assert.equal(later.decision.allowed, true);
    assert.equal(later.bucket.tokens, 4, 'capped at the burst (5) before taking one');
  });

  it('slow rates give waits over a second; a clock that goes back gives nothing', () => {
    const slow = { ratePerSecond: 0.5, burst: 1 };
    const first = takeToken(undefined, slow, 0);
    const second = takeToken(first.bucket, slow, 0);
    assert.equal(second.decision.retryAfterMs, 2000);
    const back = takeToken(second.bucket, slow, -5000);
    assert.equal(back.decision.allowed, false);
  });

  it('the memory store keeps one bucket per key', async () => {
    const store = new MemoryRateLimitStore();
    for (let i = 0; i < 5; i++) assert.equal((await store.take('a', settings, 0)).allowed, true);
    assert.equal((await store.take('a', settings, 0)).allowed, false);
    assert.equal((await store.take('b', settings, 0)).allowed, true);
    assert.equal((await store.take('a', settings, 100)).allowed, true);
    // Idle buckets that have refilled are dropped.
    await store.take('c', settings, 60_000);
    assert.equal(store.size, 1);
  });

  it('0 for the rate or the burst turns limiting off', () => {
    assert.equal(rateLimitEnabled({ ratePerSecond: 0, burst: 50 }), false);
    assert.equal(rateLimitEnabled({ ratePerSecond: 10, burst: 0 }), false);
    assert.equal(rateLimitEnabled({ ratePerSecond: 10, burst: 50 }), true);
  });
});
