import { Hono } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import { createOpenAIRoutes } from '../api/openai/openai-routes.js';
import { toOpenAIError } from '../api/openai/openai-errors.js';
import { createRunpodRoutes } from '../api/runpod/runpod-routes.js';
import type { JobService } from '../jobs/job-service.js';
import type { ChorusConfig } from '../config/config.js';
import { ChorusError } from '../errors.js';
import type { SpeechService } from '../pipeline/speech-service.js';
import type { Logger } from '../util/logger.js';
import { ApiKeyVerifier } from './auth.js';

export interface AppDependencies {
  readonly config: ChorusConfig;
  readonly speech: SpeechService;
  readonly jobs: JobService;
  readonly logger: Logger;
  readonly version: string;
}

/** The whole HTTP surface, without listening: tests call `app.request()` or serve it on a port. */
/** Per-request values: the owner (API key digest) that the job API scopes jobs by. */
export type AppEnv = { Variables: { owner: string } };

export function createApp({ config, speech, jobs, logger, version }: AppDependencies): Hono<AppEnv> {
  const app = new Hono<AppEnv>();
  const keys = new ApiKeyVerifier(config.apiKeys);

  app.use('*', async (c, next) => {
    const started = performance.now();
    await next();
    logger.info('request', {
      method: c.req.method,
      path: c.req.path,
      status: c.res.status,
      ms: Math.round(performance.now() - started),
    });
  });

  app.get('/health', async (c) => {
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
        workers: { total: stats.workers, ready: stats.readyWorkers },
        jobs: { active: stats.activeJobs, completed: stats.completedJobs, aborted: stats.abortedJobs },
        formats: await speech.availableFormats(),
      },
      healthy ? 200 : 503,
    );
  });

  // Every route but /health needs a key once keys are configured.
  app.use('/v1/*', async (c, next) => {
    if (!keys.enabled) return next();
    if (keys.verify(c.req.header('authorization')) !== undefined) return next();
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
    bodyLimit({
      maxSize: config.maxRequestBytes,
      onError: (c) =>
        c.json(
          toOpenAIError(
            new ChorusError({ code: 'payload_too_large', message: `The request body exceeds ${config.maxRequestBytes} bytes.` }),
          ).body,
          413,
        ),
    }),
  );

  app.route('/v1', createOpenAIRoutes(speech));

  // The job API accepts RunPod's two header forms; each key sees only its own jobs.
  app.use('/v2/*', async (c, next) => {
    if (!keys.enabled) {
      c.set('owner', '');
      return next();
    }
    const owner = keys.verify(c.req.header('authorization'), { allowBareKey: true });
    if (owner === undefined) return c.json({ error: 'Unauthorized' }, 401);
    c.set('owner', owner);
    return next();
  });
  app.route(
    '/v2',
    createRunpodRoutes({
      jobs,
      ownerOf: (c) => (c.get('owner') as string | undefined) ?? '',
      maxRunBytes: config.maxRunBytes,
      maxRunsyncBytes: config.maxRunsyncBytes,
    }),
  );

  app.notFound((c) => c.json({ error: { message: `No route ${c.req.method} ${c.req.path}.`, type: 'invalid_request_error', param: null, code: 'not_found' } }, 404));
  app.onError((error, c) => {
    logger.error('unhandled error', { path: c.req.path, error: error instanceof Error ? error.message : String(error) });
    const { status, body, headers } = toOpenAIError(error);
    return c.json(body, status as 500, headers);
  });
  return app;
}
