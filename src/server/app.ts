import { Hono, type Context, type Env, type MiddlewareHandler } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import { createOpenAIRoutes } from '../api/openai/openai-routes.js';
import { toOpenAIError } from '../api/openai/openai-errors.js';
import { createRunpodRoutes } from '../api/runpod/runpod-routes.js';
import type { JobService } from '../jobs/job-service.js';
import type { ChorusConfig } from '../config/config.js';
import { modelCatalogResponse } from '../api/models/model-catalog-route.js';
import { ChorusError } from '../errors.js';
import type { SpeechService } from '../speech/speech-service.js';
import type { BlobStore } from '../storage/blob-store.js';
import { createFileRoutes } from '../storage/file-routes.js';
import { LocalBlobStore } from '../storage/local-blob-store.js';
import { logServerError, type Logger } from '../util/logger.js';
import type { VoiceLibrary } from '../voices/voice-library.js';
import type { ResultCache } from '../cache/result-cache.js';
import { MAX_AUDIO_FILE_BYTES } from '../operations/base64-audio.js';
import { ApiKeyVerifier } from './auth.js';
import { getConnInfo } from '@hono/node-server/conninfo';
import { toRunpodError } from '../api/runpod/runpod-errors.js';
import { MemoryRateLimitStore, rateLimit, rateLimitEnabled, type RateLimitStore } from './rate-limit.js';
import { describeError } from '../util/throttled-log.js';
import { apiDocument } from './api-document.js';
import { DOCS_CONTENT_SECURITY_POLICY, DOCS_PAGE } from '../api/openapi/docs-page.js';
import type { ChorusMetrics } from '../metrics/chorus-metrics.js';
import { metricsHandler, observeRequests } from './metrics-route.js';
import { createPlaygroundRoutes, redirectBrowsersToPlayground } from './playground-routes.js';

export interface AppDependencies {
  readonly config: ChorusConfig;
  readonly speech: SpeechService;
  readonly voices: VoiceLibrary;
  /** Whole-file results of the OpenAI routes are kept here (the job profiles get it separately). */
  readonly resultCache?: ResultCache;
  readonly jobs: JobService;
  readonly logger: Logger;
  readonly version: string;
  /** With local storage, `/files/*` serves the signed links it hands out. */
  readonly storage?: BlobStore;
  /** Where per-key rate-limit buckets live; default: this process's memory. */
  readonly rateLimitStore?: RateLimitStore;
  /** Absent: CHORUS_METRICS is off. */
  readonly metrics?: ChorusMetrics;
}

/** The whole HTTP surface, without listening: tests call `app.request()` or serve it on a port. */
/** Per-request values: the owner (API key digest) that the job API scopes jobs by. */
export type AppEnv = { Variables: { owner: string } };

export function createApp({ config, speech, voices, resultCache, jobs, logger, version, storage, rateLimitStore, metrics }: AppDependencies): Hono<AppEnv> {
  const app = new Hono<AppEnv>();
  const metricsServed = serveMetrics(app, metrics, config);
  const keys = new ApiKeyVerifier(config.apiKeys);
  // Per API key (its digest), or per client address when the server has no keys; runs after auth.
  const limits = { ratePerSecond: config.rateLimitRps, burst: config.rateLimitBurst };
  const limitStore = rateLimitStore ?? new MemoryRateLimitStore();
  const limitKey = (c: Context<AppEnv>): string => (keys.enabled ? `key:${c.get('owner')}` : `ip:${clientAddress(c)}`);
  const limitRequests = (reject: (c: Context<AppEnv>, retryAfterSeconds: number) => Response): MiddlewareHandler<AppEnv> =>
    rateLimitEnabled(limits) ? rateLimit({ ...limits, store: limitStore, keyOf: limitKey, reject }) : (_c, next) => next();
  const rateLimitedError = (retryAfterSeconds: number) =>
    new ChorusError({
      code: 'rate_limited',
      detail: 'rate_limit_exceeded',
      retryable: true,
      message: `Rate limit reached: ${limits.ratePerSecond} requests per second with bursts of ${limits.burst}. Retry after ${retryAfterSeconds} s.`,
    });
  // Failed authentications per client address: a bucket of CHORUS_AUTH_FAILURES_PER_MINUTE refilled
  // over a minute, drawn from by each failure. Once it is empty the address gets 429 for every
  // request that needs a key, before the key is even checked: answering a valid key then would tell
  // a guesser which of its guesses was right. In-memory buckets are pruned by their caller's
  // settings, so these get a store of their own; a shared (Redis) store expires each key itself.
  const authFailures = { ratePerSecond: config.authFailuresPerMinute / 60, burst: config.authFailuresPerMinute };
  const authFailureStore = rateLimitStore ?? new MemoryRateLimitStore();
  /** The seconds the address must wait (Retry-After set), or undefined while it may still try; `failed` draws a token. */
  const authFailureWait = async (c: Context<AppEnv>, failed: boolean): Promise<number | undefined> => {
    if (!rateLimitEnabled(authFailures)) return undefined;
    const decision = await authFailureStore.take(`auth-failures:${clientAddress(c)}`, authFailures, Date.now(), failed ? 1 : 0);
    if (decision.allowed) return undefined;
    const seconds = Math.max(1, Math.ceil(decision.retryAfterMs / 1000));
    c.header('retry-after', String(seconds));
    return seconds;
  };
  const authFailureError = (retryAfterSeconds: number) =>
    new ChorusError({
      code: 'rate_limited',
      detail: 'rate_limit_exceeded',
      retryable: true,
      message: `Too many failed authentication attempts from this address (at most ${authFailures.burst} a minute). Retry after ${retryAfterSeconds} s.`,
    });

  app.use('*', async (c, next) => {
    const started = performance.now();
    await next();
    logger.info('request', {
      method: c.req.method,
      path: c.req.path,
      status: c.res.status,
      ms: Math.round(performance.now() - started),
      // What the client was not told (a store's address, a file system's error) is for this log.
      ...(c.error !== undefined && c.res.status >= 500 ? { error: describeError(c.error) } : {}),
    });
  });

  app.get('/health', (c) => healthResponse(c, speech, version));

  // A static page with no secret in it: its API calls carry the key the user types in.
  if (config.playground) {
    app.get('/', redirectBrowsersToPlayground());
    app.get('/playground/', (c) => c.redirect('/playground', 301));
    app.route('/playground', createPlaygroundRoutes());
  }

  // Every route but /health (and /metrics, which has its own setting) needs a key once keys are configured.
  app.use('/v1/*', async (c, next) => {
    if (!keys.enabled) return next();
    const blocked = await authFailureWait(c, false);
    if (blocked !== undefined) return c.json(toOpenAIError(authFailureError(blocked)).body, 429);
    const owner = keys.verify(c.req.header('authorization'));
    if (owner !== undefined) {
      c.set('owner', owner);
      return next();
    }
    const wait = await authFailureWait(c, true);
    if (wait !== undefined) return c.json(toOpenAIError(authFailureError(wait)).body, 429);
    const { body } = toOpenAIError(
      new ChorusError({
        code: 'unauthorized',
        detail: 'invalid_api_key',
        message: c.req.header('authorization') ? 'Incorrect API key provided.' : 'Missing API key: send Authorization: Bearer <key>.',
      }),
    );
    return c.json(body, 401);
  });

  app.use(
    '/v1/*',
    limitRequests((c, seconds) => c.json(toOpenAIError(rateLimitedError(seconds)).body, 429)),
  );

  // Speech requests are small JSON; a reference upload is an audio file of up to 10 MB plus its form fields.
  const v1BodyLimit = (maxSize: number, what: string): MiddlewareHandler<AppEnv> =>
    bodyLimit({
      maxSize,
      onError: (c) =>
        c.json(
          toOpenAIError(new ChorusError({ code: 'payload_too_large', message: `The request body exceeds ${maxSize} bytes${what}.` })).body,
          413,
        ),
    });
  const speechBodyLimit = v1BodyLimit(config.maxRequestBytes, '');
  const referenceBodyLimit = v1BodyLimit(MAX_AUDIO_FILE_BYTES + 64 * 1024, ' (reference audio files may be up to 10 MB)');
  app.use('/v1/*', (c, next) => (c.req.path.startsWith('/v1/references') ? referenceBodyLimit(c, next) : speechBodyLimit(c, next)));

  app.get('/v1/models/catalog', (c) => modelCatalogResponse(c, speech, config));
  app.route('/v1', createOpenAIRoutes(speech, voices, (c) => (c.get('owner') as string | undefined) ?? '', logger, resultCache));

  // The job API accepts RunPod's two header forms; each key sees only its own jobs.
  app.use('/v2/*', async (c, next) => {
    if (!keys.enabled) {
      c.set('owner', '');
      return next();
    }
    const blocked = await authFailureWait(c, false);
    if (blocked !== undefined) return c.json(toRunpodError(authFailureError(blocked), blocked).body, 429);
    const owner = keys.verify(c.req.header('authorization'), { allowBareKey: true });
    if (owner === undefined) {
      const wait = await authFailureWait(c, true);
      return wait === undefined ? c.json({ error: 'Unauthorized' }, 401) : c.json(toRunpodError(authFailureError(wait), wait).body, 429);
    }
    c.set('owner', owner);
    return next();
  });
  // Polling a job (status, status-sync, stream, health) is not rate limited: RunPod's clients poll
  // in tight loops (runpod-sdk's stream() has no delay) and these routes long-poll anyway.
  const limitJobRequests = limitRequests((c, seconds) => c.json(toRunpodError(rateLimitedError(seconds), seconds).body, 429));
  app.use('/v2/*', (c, next) => (isJobPoll(c.req.path) ? next() : limitJobRequests(c, next)));
  app.route(
    '/v2',
    createRunpodRoutes({
      jobs,
      ownerOf: (c) => (c.get('owner') as string | undefined) ?? '',
      maxRunBytes: config.maxRunBytes,
      maxRunsyncBytes: config.maxRunsyncBytes,
      logger,
    }),
  );

  // Signed links to stored files: the signature is the credential, so no API key is asked for.
  if (storage instanceof LocalBlobStore) app.route('/files', createFileRoutes(storage));

  // The API document, made once from the schemas the routes validate with, and its reference page:
  // no key, like /health (they describe the routes and the configured endpoints, no one's data).
  const document = apiDocument({
    version,
    keysRequired: keys.enabled,
    endpoints: jobs.endpointIds.map((id) => ({ id, endpoint: jobs.profile(id) })),
    localFiles: storage instanceof LocalBlobStore,
    ...(metricsServed ? { metrics: config.metrics } : {}),
    playground: config.playground,
  });
  app.get('/openapi.json', (c) => c.json(document));
  app.get('/docs', (c) => c.html(DOCS_PAGE, 200, { 'content-security-policy': DOCS_CONTENT_SECURITY_POLICY }));

  app.notFound((c) => c.json({ error: { message: `No route ${c.req.method} ${c.req.path}.`, type: 'invalid_request_error', param: null, code: 'not_found' } }, 404));
  app.onError((error, c) => {
    const { status, body, headers } = toOpenAIError(error);
    logServerError(logger, c.req, status, error);
    return c.json(body, status as 500, headers);
  });
  return app;
}

function engineHealth(speech: SpeechService): Record<string, unknown>[] {
  const statuses = speech.engineStatus();
  const loaded = speech.engines.engines.map((engine) => {
    const status = statuses.find((entry) => entry.id === engine.id);
    return {
      id: engine.id,
      version: engine.version,
      placement: engine.placement,
      default: engine.id === speech.engine.id,
      ready: status === undefined || status.state === 'ready',
      ...(status === undefined || status.state === 'ready' ? {} : { state: status.state }),
      ...(status?.reason === undefined ? {} : { reason: status.reason }),
      ...(status?.active === undefined ? {} : { active: status.active, queued: status.queued }),
    };
  });
  const others = statuses
    .filter((entry) => !speech.engines.has(entry.id))
    .map((entry) => ({ id: entry.id, default: false, ready: false, state: entry.state, ...(entry.reason === undefined ? {} : { reason: entry.reason }) }));
  return [...loaded, ...others];
}

/** Engine and worker-thread health, the same on API and worker processes. */
async function healthResponse(c: Context, speech: SpeechService, version: string): Promise<Response> {
  const stats = speech.stats();
  const healthy = stats.readyWorkers > 0;
  return c.json(
    {
      status: healthy ? 'healthy' : 'unhealthy',
      provider: speech.engine.id,
      models_loaded: healthy,
      device: 'cpu',
      streaming_enabled: true,
      version,
      engine: { id: speech.engine.id, version: speech.engine.version, sample_rate: speech.engine.capabilities.sampleRate },
      // Every loaded engine (a remote one may be down), then installed models that failed to load.
      engines: engineHealth(speech),
      workers: { total: stats.workers, ready: stats.readyWorkers },
      jobs: {
        active: stats.activeJobs,
        completed: stats.completedJobs,
        aborted: stats.abortedJobs,
        paused: stats.pausedJobs,
        unread_bytes: stats.unreadBytes,
      },
      formats: await speech.availableFormats(),
    },
    healthy ? 200 : 503,
  );
}

/**
 * A worker process's HTTP surface: /health, plus the signed file links of local storage (the
 * links it hands out point at it). The APIs are served by the API processes.
 */
export function createWorkerApp({ config, speech, jobs, logger, version, storage, metrics }: Pick<AppDependencies, 'config' | 'speech' | 'jobs' | 'logger' | 'version' | 'storage' | 'metrics'>): Hono {
  const app = new Hono();
  // A worker process's syntheses, jobs and engine calls are counted in it, so it is scraped too.
  serveMetrics(app, metrics, config);
  app.get('/health', (c) => healthResponse(c, speech, version));
  app.get('/worker', async (c) => c.json({ role: 'worker', workers: await jobs.workers() }));
  if (storage instanceof LocalBlobStore) app.route('/files', createFileRoutes(storage));
  app.notFound((c) => c.json({ error: { message: `No route ${c.req.method} ${c.req.path}: this is a worker process; the APIs are served by the API processes.`, type: 'invalid_request_error', param: null, code: 'not_found' } }, 404));
  app.onError((error, c) => {
    const { status, body, headers } = toOpenAIError(error);
    logServerError(logger, c.req, status, error);
    return c.json(body, status as 500, headers);
  });
  return app;
}

/** Counts every request, and serves `GET /metrics` unless CHORUS_METRICS is off; true when it does. */
function serveMetrics<E extends Env>(app: Hono<E>, metrics: ChorusMetrics | undefined, config: ChorusConfig): boolean {
  if (metrics === undefined) return false;
  app.use('*', observeRequests(metrics));
  const handler = metricsHandler(metrics, config.metrics, config.apiKeys);
  if (handler !== undefined) app.get('/metrics', handler);
  return handler !== undefined;
}

/** The peer address of the connection (not X-Forwarded-For, which any client can write). */
function clientAddress(c: Context): string {
  try {
    return getConnInfo(c).remote.address ?? 'unknown';
  } catch {
    return 'unknown';
  }
}

const JOB_POLL = /^\/v2\/[^/]+\/(status|status-sync|stream)\/[^/]+$|^\/v2\/[^/]+\/health$/;

function isJobPoll(path: string): boolean {
  return JOB_POLL.test(path);
}
