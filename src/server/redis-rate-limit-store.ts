import type { Redis } from 'ioredis';
import { commandClient, connected, ifConnected } from '../storage/redis-client.js';
import type { RateDecision, RateLimitSettings, RateLimitStore } from './rate-limit.js';

type ScriptedRedis = Redis & { takeToken(key: string, rate: number, burst: number, now: number, cost: number): Promise<[number, number, number]> };

/**
 * Token buckets in Redis, shared by every API process of a deployment, so a key's limit holds
 * however its requests are spread. The arithmetic is `takeToken`'s, in one Lua script per request.
 * While Redis cannot be reached (or does not answer within the Redis deadline) requests are let
 * through: rate limiting must not take the speech API down with it.
 */
export class RedisRateLimitStore implements RateLimitStore {
  readonly #redis: ScriptedRedis;
  readonly #prefix: string;
  readonly #url: string;

  constructor(options: { url: string; prefix?: string }) {
    this.#prefix = `${options.prefix ?? 'chorus'}:rate`;
    this.#url = options.url;
    this.#redis = commandClient(options.url) as ScriptedRedis;
    // KEYS: bucket. ARGV: rate per second, burst, now (ms), cost (0 asks without taking). → {allowed 1|0, remaining, retry-after ms}.
    this.#redis.defineCommand('takeToken', {
      numberOfKeys: 1,
      lua: `
        local rate = tonumber(ARGV[1])
        local burst = tonumber(ARGV[2])
        local now = tonumber(ARGV[3])
        local cost = tonumber(ARGV[4])
        local state = redis.call('HMGET', KEYS[1], 'tokens', 'updatedAt')
        local tokens = burst
        if state[1] then
          local elapsed = math.max(0, now - tonumber(state[2]))
          tokens = math.min(burst, tonumber(state[1]) + elapsed * rate / 1000)
        end
        local refillMs = math.ceil(burst * 1000 / rate)
        if tokens >= 1 then
          redis.call('HSET', KEYS[1], 'tokens', tostring(tokens - cost), 'updatedAt', now)
          redis.call('PEXPIRE', KEYS[1], refillMs)
          return {1, math.floor(tokens - cost), 0}
        end
        redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'updatedAt', now)
        redis.call('PEXPIRE', KEYS[1], refillMs)
        return {0, 0, math.ceil((1 - tokens) * 1000 / rate)}`,
    });
  }

  /** Resolves once connected; rejects with `store_unavailable` if Redis does not answer in time. */
  ready(): Promise<void> {
    return connected(this.#redis, this.#url);
  }

  async take(key: string, settings: RateLimitSettings, now: number, cost = 1): Promise<RateDecision> {
    try {
      const [allowed, remaining, retryAfterMs] = await ifConnected(this.#redis, this.#url, () =>
        this.#redis.takeToken(`${this.#prefix}:${key}`, settings.ratePerSecond, settings.burst, now, cost),
      );
      return { allowed: allowed === 1, remaining, retryAfterMs };
    } catch {
      return { allowed: true, remaining: settings.burst, retryAfterMs: 0 };
    }
  }

  async close(): Promise<void> {
    this.#redis.disconnect();
  }
}
