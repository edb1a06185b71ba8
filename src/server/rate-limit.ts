import type { Context, MiddlewareHandler } from 'hono';

/** What a rate-limit check answers: allowed, or how long until one request would be. */
export interface RateDecision {
  readonly allowed: boolean;
  /** Whole tokens left after this request (0 when refused). */
  readonly remaining: number;
  /** When refused: ms until the next request would be allowed; 0 when allowed. */
  readonly retryAfterMs: number;
}

export interface RateLimitSettings {
  /** Sustained requests per second (tokens added per second). */
  readonly ratePerSecond: number;
  /** Bucket size: the most requests allowed at once after a quiet spell. */
  readonly burst: number;
}

/**
 * Where buckets live. The in-memory store serves one process; a Redis store (shared by several
 * Chorus processes behind one address) implements the same method atomically.
 */
export interface RateLimitStore {
  /**
   * Takes `cost` tokens (default one) from `key`'s bucket if it holds at least one; a cost of 0
   * asks whether a request would be allowed without drawing from the bucket.
   */
  take(key: string, settings: RateLimitSettings, now: number, cost?: number): Promise<RateDecision>;
  close?(): Promise<void>;
}

/** A token bucket's state: tokens at `updatedAt` (ms). */
export interface Bucket {
  tokens: number;
  updatedAt: number;
}

/**
 * Token-bucket arithmetic, pure so a store of any kind applies the same rule: the bucket refills
 * at `ratePerSecond` up to `burst`; a request takes one token or is refused with the wait for it.
 */
export function takeToken(bucket: Bucket | undefined, settings: RateLimitSettings, now: number, cost = 1): { bucket: Bucket; decision: RateDecision } {
  const { ratePerSecond, burst } = settings;
  const elapsed = bucket === undefined ? 0 : Math.max(0, now - bucket.updatedAt);
  const tokens = bucket === undefined ? burst : Math.min(burst, bucket.tokens + (elapsed * ratePerSecond) / 1000);
  if (tokens >= 1) {
    return { bucket: { tokens: tokens - cost, updatedAt: now }, decision: { allowed: true, remaining: Math.floor(tokens - cost), retryAfterMs: 0 } };
  }
  const retryAfterMs = Math.ceil(((1 - tokens) * 1000) / ratePerSecond);
  return { bucket: { tokens, updatedAt: now }, decision: { allowed: false, remaining: 0, retryAfterMs } };
}

/** Buckets in a Map; full buckets (idle long enough to refill) are dropped now and then. */
export class MemoryRateLimitStore implements RateLimitStore {
  readonly #buckets = new Map<string, Bucket>();
  #lastPrune = 0;

  async take(key: string, settings: RateLimitSettings, now: number, cost = 1): Promise<RateDecision> {
    this.#prune(settings, now);
    const { bucket, decision } = takeToken(this.#buckets.get(key), settings, now, cost);
    this.#buckets.set(key, bucket);
    return decision;
  }

  get size(): number {
    return this.#buckets.size;
  }

  #prune(settings: RateLimitSettings, now: number): void {
    const refillMs = (settings.burst * 1000) / settings.ratePerSecond;
    if (now - this.#lastPrune < Math.max(10_000, refillMs)) return;
    this.#lastPrune = now;
    for (const [key, bucket] of this.#buckets) {
      if (now - bucket.updatedAt >= refillMs) this.#buckets.delete(key);
    }
  }
}

export interface RateLimitOptions extends RateLimitSettings {
  readonly store: RateLimitStore;
  /** The bucket a request draws from (the API key's owner digest, or the client address). */
  readonly keyOf: (c: Context) => string;
  /** The API's own 429 answer; `retryAfterSeconds` is an integer ≥ 1 and already in `Retry-After`. */
  readonly reject: (c: Context, retryAfterSeconds: number) => Response | Promise<Response>;
  readonly now?: () => number;
}

/** Hono middleware: one token per request; beyond the bucket, the API's 429 with `Retry-After`. */
export function rateLimit(options: RateLimitOptions): MiddlewareHandler {
  const settings: RateLimitSettings = { ratePerSecond: options.ratePerSecond, burst: options.burst };
  const now = options.now ?? Date.now;
  return async (c, next) => {
    const decision = await options.store.take(options.keyOf(c), settings, now());
    if (decision.allowed) return next();
    const seconds = Math.max(1, Math.ceil(decision.retryAfterMs / 1000));
    c.header('retry-after', String(seconds));
    return options.reject(c, seconds);
  };
}

/** 0 for either setting turns rate limiting off. */
export function rateLimitEnabled(settings: RateLimitSettings): boolean {
  return settings.ratePerSecond > 0 && settings.burst > 0;
}
