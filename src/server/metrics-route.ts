import type { Context, Handler, MiddlewareHandler } from 'hono';
import { matchedRoutes } from 'hono/route';
import { toOpenAIError } from '../api/openai/openai-errors.js';
import type { MetricsAccess } from '../config/config.js';
import { ChorusError } from '../errors.js';
import type { ChorusMetrics } from '../metrics/chorus-metrics.js';
import { ApiKeyVerifier } from './auth.js';

/** Label of requests no route matched (and of methods a path does not have): their paths are anyone's text. */
const UNMATCHED_ROUTE = 'unmatched';

/**
 * Counts and times every request by the route pattern it matched. The pattern is that of the
 * handler the request was routed to, also when a middleware (a key check, a body limit) answered
 * for it, so a 401 on `/v1/audio/speech` is counted under that route.
 */
export function observeRequests(metrics: ChorusMetrics): MiddlewareHandler {
  return async (c, next) => {
    const started = performance.now();
    try {
      await next();
    } finally {
      metrics.httpRequestEnded(c.req.method, routeOf(c), c.res.status, (performance.now() - started) / 1000);
    }
  };
}

function routeOf(c: Context): string {
  // Middleware is registered for every method (`ALL`); a handler for its own.
  return matchedRoutes(c).find((route) => route.method !== 'ALL')?.path ?? UNMATCHED_ROUTE;
}

/**
 * `GET /metrics`, or undefined when CHORUS_METRICS is off (the path is then not found). With a
 * token or API keys, a scrape without the right bearer token gets 401.
 */
export function metricsHandler(metrics: ChorusMetrics | undefined, access: MetricsAccess, apiKeys: readonly string[]): Handler | undefined {
  if (metrics === undefined || access.mode === 'off') return undefined;
  const verifier = access.mode === 'token' ? new ApiKeyVerifier([access.token]) : access.mode === 'api-keys' ? new ApiKeyVerifier(apiKeys) : undefined;
  return async (c) => {
    if (verifier !== undefined && verifier.verify(c.req.header('authorization')) === undefined) {
      const error = new ChorusError({
        code: 'unauthorized',
        detail: 'invalid_metrics_token',
        message: c.req.header('authorization')
          ? 'Incorrect metrics token.'
          : `Missing metrics token: send Authorization: Bearer <${access.mode === 'token' ? 'the CHORUS_METRICS token' : 'an API key'}>.`,
      });
      return c.json(toOpenAIError(error).body, 401, { 'www-authenticate': 'Bearer realm="metrics"' });
    }
    return c.body(await metrics.exposition(), 200, { 'content-type': metrics.contentType, 'cache-control': 'no-store' });
  };
}
