import { Hono, type Context } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import { ChorusError } from '../../errors.js';
import type { JobService } from '../../jobs/job-service.js';
import { parseJsonBody } from '../../validation/validation.js';
import { jsonBytesResponse, runpodJobJson, runpodStatus } from './job-view.js';
import { answerRun } from './answer-run.js';
import { toRunpodError } from './runpod-errors.js';
import { logServerError, type Logger } from '../../util/logger.js';

export interface RunpodRouteOptions {
  readonly jobs: JobService;
  /** Owner of the request (the key's digest), set by the auth middleware; '' without keys. */
  readonly ownerOf: (c: Context) => string;
  readonly maxRunBytes: number;
  readonly maxRunsyncBytes: number;
  readonly logger: Logger;
}

const RUNSYNC_DEFAULT_WAIT_MS = 90_000;
const STATUS_SYNC_DEFAULT_WAIT_MS = 90_000;
const STREAM_DEFAULT_WAIT_MS = 5_000;

/** RunPod's queue API under /v2/{endpoint_id}/…, served by the job service. Success is always 200. */
export function createRunpodRoutes({ jobs, ownerOf, maxRunBytes, maxRunsyncBytes, logger }: RunpodRouteOptions): Hono {
  const app = new Hono();
  app.onError((error, c) => {
    const { status, body, headers } = toRunpodError(error);
    logServerError(logger, c.req, status, error);
    return c.json(body, status as 400, headers);
  });
  app.notFound((c) => c.json({ error: `No route ${c.req.method} ${c.req.path}.` }, 404));

  const limit = (bytes: number) =>
    bodyLimit({
      maxSize: bytes,
      onError: (c) => c.json({ error: `The request body exceeds ${bytes} bytes.` }, 413),
    });
  const readBody = async (c: Context): Promise<unknown> => parseJsonBody(await c.req.text());

  app.post('/:endpointId/run', limit(maxRunBytes), async (c) => {
    const endpointId = c.req.param('endpointId');
    if (jobs.profile(endpointId).runAnswer !== undefined) return answerRun(c, { jobs, endpointId, owner: ownerOf(c), body: () => readBody(c), logger });
    // A refused input is answered like any job: its id and its state, FAILED.
    const { job } = await jobs.submit(endpointId, ownerOf(c), await readBody(c), false);
    return c.json({ id: job.id, status: runpodStatus(job.state) });
  });

  app.post('/:endpointId/runsync', limit(maxRunsyncBytes), async (c) => {
    const wait = waitParam(c, RUNSYNC_DEFAULT_WAIT_MS, 1_000, 300_000);
    const endpointId = c.req.param('endpointId');
    const owner = ownerOf(c);
    const { job } = await jobs.submit(endpointId, owner, await readBody(c), true);
    return jsonBytesResponse(runpodJobJson(await jobs.waitForTerminal(endpointId, owner, job.id, wait, c.req.raw.signal)));
  });

  const status = async (c: Context, defaultWait: number) => {
    const wait = waitParam(c, defaultWait, 0, 300_000);
    const job = await jobs.waitForTerminal(c.req.param('endpointId')!, ownerOf(c), c.req.param('jobId')!, wait, c.req.raw.signal);
    return jsonBytesResponse(runpodJobJson(job));
  };
  app.on(['GET', 'POST'], '/:endpointId/status/:jobId', (c) => status(c, 0));
  app.on(['GET', 'POST'], '/:endpointId/status-sync/:jobId', (c) => status(c, STATUS_SYNC_DEFAULT_WAIT_MS));

  app.on(['GET', 'POST'], '/:endpointId/stream/:jobId', async (c) => {
    const wait = waitParam(c, STREAM_DEFAULT_WAIT_MS, 0, 300_000);
    const { job, chunks } = await jobs.stream(c.req.param('endpointId'), ownerOf(c), c.req.param('jobId'), wait, c.req.raw.signal);
    return c.json({ id: job.id, status: runpodStatus(job.state), stream: chunks.map((chunk) => ({ output: chunk.output })) });
  });

  app.post('/:endpointId/cancel/:jobId', async (c) => {
    const job = await jobs.cancel(c.req.param('endpointId'), ownerOf(c), c.req.param('jobId'));
    return jsonBytesResponse(runpodJobJson(job));
  });

  app.post('/:endpointId/retry/:jobId', async (c) => {
    const job = await jobs.retry(c.req.param('endpointId'), ownerOf(c), c.req.param('jobId'));
    return c.json({ id: job.id, status: runpodStatus(job.state) });
  });

  app.post('/:endpointId/purge-queue', async (c) => {
    const removed = await jobs.purge(c.req.param('endpointId'), ownerOf(c));
    return c.json({ removed, status: 'completed' });
  });

  app.get('/:endpointId/health', async (c) => {
    // The key's own jobs; the workers are everyone's.
    const counts = await jobs.counts(c.req.param('endpointId'), ownerOf(c));
    const workers = await jobs.workers();
    return c.json({
      jobs: {
        completed: counts.completed,
        failed: counts.failed + counts.timedOut,
        inProgress: counts.running,
        inQueue: counts.queued,
        retried: counts.retried,
      },
      workers: {
        idle: workers.slots - workers.running,
        initializing: 0,
        ready: workers.slots,
        running: workers.running,
        throttled: 0,
        unhealthy: 0,
      },
    });
  });

  app.get('/:endpointId', async (c) => {
    const endpointId = c.req.param('endpointId');
    const profile = jobs.profile(endpointId);
    const counts = await jobs.counts(endpointId, ownerOf(c));
    const workers = await jobs.workers();
    return c.json({
      id: endpointId,
      name: profile.name,
      description: profile.description,
      activeWorkers: workers.running,
      idleWorkers: workers.slots - workers.running,
      workersMax: workers.slots,
      jobsInQueue: counts.queued,
      jobsInProgress: counts.running,
    });
  });

  return app;
}

/** `?wait=` in ms within [min, max]; a value outside is a 400 naming it. */
function waitParam(c: Context, fallback: number, min: number, max: number): number {
  const raw = c.req.query('wait');
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new ChorusError({ code: 'invalid_request', param: 'wait', message: `'wait' must be an integer number of milliseconds from ${min} to ${max}, got '${raw}'.` });
  }
  return value;
}
