import { Hono, type Context } from 'hono';
import { z } from 'zod';
import { bodyLimit } from 'hono/body-limit';
import { ChorusError } from '../../errors.js';
import { jobSubmissionSchema, type JobEndpoint, type JobService } from '../../jobs/job-service.js';
import { parseJsonBody } from '../../validation/validation.js';
import { jsonBytesResponse, runpodJobJson, runpodJobSchema, runpodStatus } from './job-view.js';
import { answerRun } from './answer-run.js';
import { toRunpodError } from './runpod-errors.js';
import { errorResponses, jsonBody, pathParams, schemaRef, type MediaDoc, type RouteDoc } from '../openapi/route-doc.js';
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
const MAX_WAIT_MS = 300_000;

/** `?wait=`: how long a request waits for the job, ms. */
const waitQuery = (defaultMs: number, min: number) =>
  z.object({
    wait: z.coerce
      .number()
      .int()
      .min(min)
      .max(MAX_WAIT_MS)
      .optional()
      .describe(`How long to wait for the job to finish (for /stream: for output), ms; default ${defaultMs}.`),
  });
const WAIT = {
  runsync: waitQuery(RUNSYNC_DEFAULT_WAIT_MS, 1_000),
  status: waitQuery(0, 0),
  statusSync: waitQuery(STATUS_SYNC_DEFAULT_WAIT_MS, 0),
  stream: waitQuery(STREAM_DEFAULT_WAIT_MS, 0),
};

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
    const wait = waitParam(c, WAIT.runsync, RUNSYNC_DEFAULT_WAIT_MS);
    const endpointId = c.req.param('endpointId');
    const owner = ownerOf(c);
    const { job } = await jobs.submit(endpointId, owner, await readBody(c), true);
    return jsonBytesResponse(runpodJobJson(await jobs.waitForTerminal(endpointId, owner, job.id, wait, c.req.raw.signal)));
  });

  const status = async (c: Context, query: z.ZodObject<{ wait: z.ZodOptional<z.ZodCoercedNumber> }>, defaultWait: number) => {
    const wait = waitParam(c, query, defaultWait);
    const job = await jobs.waitForTerminal(c.req.param('endpointId')!, ownerOf(c), c.req.param('jobId')!, wait, c.req.raw.signal);
    return jsonBytesResponse(runpodJobJson(job));
  };
  app.on(['GET', 'POST'], '/:endpointId/status/:jobId', (c) => status(c, WAIT.status, 0));
  app.on(['GET', 'POST'], '/:endpointId/status-sync/:jobId', (c) => status(c, WAIT.statusSync, STATUS_SYNC_DEFAULT_WAIT_MS));

  app.on(['GET', 'POST'], '/:endpointId/stream/:jobId', async (c) => {
    const wait = waitParam(c, WAIT.stream, STREAM_DEFAULT_WAIT_MS);
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

/** `?wait=` as `query` allows it; a value outside is a 400 naming it and the range. */
function waitParam(c: Context, query: z.ZodObject<{ wait: z.ZodOptional<z.ZodCoercedNumber> }>, fallback: number): number {
  const raw = c.req.query('wait');
  if (raw === undefined || raw === '') return fallback;
  const parsed = query.safeParse({ wait: raw });
  if (parsed.success && parsed.data.wait !== undefined) return parsed.data.wait;
  const { minValue, maxValue } = query.shape.wait.unwrap();
  throw new ChorusError({ code: 'invalid_request', param: 'wait', message: `'wait' must be an integer number of milliseconds from ${minValue} to ${maxValue}, got '${raw}'.` });
}

const JOB_ERRORS = {
  '400': 'The envelope is malformed (no `input`, a bad `policy` or `webhook`, a bad `wait`); `field` names it. A refused `input` is not an HTTP error: the job is FAILED with the reason.',
  '401': 'CHORUS_API_KEYS is set and the key is missing or wrong: `{"error": "Unauthorized"}`.',
  '404': 'No such endpoint, or no such job for this key.',
  '413': 'The body is larger than CHORUS_MAX_RUN_BYTES (CHORUS_MAX_RUNSYNC_BYTES for /runsync).',
  '429': 'Rate limited or the queue is full; see `Retry-After`.',
  '503': 'A store or the engine is unavailable; see `Retry-After`.',
};
const jobErrors = (statuses: readonly (keyof typeof JOB_ERRORS)[]) =>
  errorResponses(schemaRef('RunPodError'), Object.fromEntries(statuses.map((status) => [status, JOB_ERRORS[status]])));
const jobAnswer = jsonBody(runpodJobSchema);
const queuedSchema = z.object({ id: z.string(), status: runpodJobSchema.shape.status });

/**
 * The job API as the OpenAPI document describes it: the routes of each configured endpoint, with
 * its own `input` schema and examples, under its own tag.
 */
export function runpodRouteDocs(endpoints: readonly { readonly id: string; readonly endpoint: JobEndpoint }[]): RouteDoc[] {
  return endpoints.flatMap(({ id, endpoint }) => {
    const base = `/v2/${id}`;
    const name = id.replace(/[^A-Za-z0-9]+(.)?/g, (_match, next: string | undefined) => (next ?? '').toUpperCase());
    const common = { tag: `Jobs: ${id}`, auth: 'bearer-or-bare' } as const;
    const examples = Object.fromEntries(Object.entries(endpoint.input?.examples ?? {}).map(([key, { summary, value }]) => [key, { summary, value: { input: value } }]));
    const submission: Readonly<Record<string, MediaDoc>> = {
      'application/json': {
        schema: jobSubmissionSchema.extend({ input: endpoint.input?.schema ?? jobSubmissionSchema.shape.input }),
        ...(Object.keys(examples).length === 0 ? {} : { examples }),
      },
    };
    const jobId = pathParams({ jobId: 'The id /run or /runsync answered with.' });
    const jobRoute = (path: string, operation: string, summary: string, query?: z.ZodObject) =>
      (['get', 'post'] as const).map(
        (method): RouteDoc => ({
          ...common,
          method,
          path: `${base}/${path}/{jobId}`,
          operationId: `${name}${operation}${method === 'get' ? '' : 'Post'}`,
          summary,
          pathParams: jobId,
          ...(query === undefined ? {} : { query }),
          responses: { '200': { description: 'The job.', content: jobAnswer }, ...jobErrors(['400', '401', '404']) },
        }),
      );
    const runRoute = { ...common, method: 'post', path: `${base}/run`, operationId: `${name}Run`, body: submission } as const;
    const run: RouteDoc =
      endpoint.runAnswer === undefined
        ? {
            ...runRoute,
            summary: 'Queue a job',
            description: 'Answers at once with the job id; poll /status or /stream. An input the worker refuses makes a job that is FAILED at once, its `error` naming the field.',
            responses: { '200': { description: 'The queued (or refused: FAILED) job.', content: jsonBody(queuedSchema) }, ...jobErrors(['400', '401', '404', '413', '429', '503']) },
          }
        : {
            ...runRoute,
            summary: 'Run a job and answer with its result',
            description: "This worker's document answers /run with the finished result; with `stream: true` in the input, as newline-delimited JSON while it is made. The job is queued like any other, so /status, /stream and /cancel see it (`x-job-id`).",
            responses: {
              '200': {
                description: 'The finished job, or its stream.',
                headers: { 'x-job-id': 'The job, for /status and /cancel (streamed answers).' },
                content: {
                  'application/json': { schema: z.object({ id: z.string(), status: z.literal('success'), output: z.unknown() }) },
                  'application/x-ndjson': {
                    schema: {
                      type: 'string',
                      description: 'One message a line: `{"id", "status": "success", "output": element}` for each /stream element, then `{"id", "status": "success", "done": true, "output": summary}`, or `{"id", "status": "error", "error"}`.',
                    },
                  },
                },
              },
              ...errorResponses(schemaRef('AgentError'), {
                '400': 'The input is refused; `field` names what is wrong (`id` is the FAILED job).',
                '500': 'The job failed.',
                '503': 'No language model is configured (CHORUS_LLM_URL), or the engine is unavailable.',
                '504': 'The job did not finish in time; poll /status.',
              }),
              ...jobErrors(['401', '429']),
            },
          };
    return [
      run,
      {
        ...common,
        method: 'post',
        path: `${base}/runsync`,
        operationId: `${name}Runsync`,
        summary: 'Run a job and wait for it',
        description: 'Waits up to `wait` ms for the job to finish; answers with the job as it is then (IN_PROGRESS if it is still running: poll /status).',
        query: WAIT.runsync,
        body: submission,
        responses: { '200': { description: 'The job.', content: jobAnswer }, ...jobErrors(['400', '401', '404', '413', '429', '503']) },
      },
      ...jobRoute('status', 'Status', 'A job\'s state and output', WAIT.status),
      ...jobRoute('status-sync', 'StatusSync', 'A job\'s state, waiting for it to finish', WAIT.statusSync),
      ...(['get', 'post'] as const).map(
        (method): RouteDoc => ({
          ...common,
          method,
          path: `${base}/stream/{jobId}`,
          operationId: `${name}Stream${method === 'get' ? '' : 'Post'}`,
          summary: 'The output a job has streamed since the last call',
          pathParams: jobId,
          query: WAIT.stream,
          responses: {
            '200': {
              description: 'Each element is taken once; poll until the status is terminal.',
              content: jsonBody(z.object({ id: z.string(), status: runpodJobSchema.shape.status, stream: z.array(z.object({ output: z.unknown() })) })),
            },
            ...jobErrors(['400', '401', '404']),
          },
        }),
      ),
      { ...common, method: 'post', path: `${base}/cancel/{jobId}`, operationId: `${name}Cancel`, summary: 'Cancel a job', pathParams: jobId, responses: { '200': { description: 'The job, CANCELLED unless it had ended.', content: jobAnswer }, ...jobErrors(['401', '404']) } },
      { ...common, method: 'post', path: `${base}/retry/{jobId}`, operationId: `${name}Retry`, summary: 'Run a failed, cancelled or timed-out job again', pathParams: jobId, responses: { '200': { description: 'The job, queued again.', content: jsonBody(queuedSchema) }, ...jobErrors(['400', '401', '404']) } },
      {
        ...common,
        method: 'post',
        path: `${base}/purge-queue`,
        operationId: `${name}PurgeQueue`,
        summary: "Remove the key's queued jobs",
        responses: { '200': { description: 'How many were removed.', content: jsonBody(z.object({ removed: z.number().int(), status: z.literal('completed') })) }, ...jobErrors(['401', '404']) },
      },
      {
        ...common,
        method: 'get',
        path: `${base}/health`,
        operationId: `${name}Health`,
        summary: "The key's job counts and the workers",
        responses: {
          '200': {
            description: 'Counts.',
            content: jsonBody(z.object({ jobs: z.record(z.string(), z.number().int()).describe('completed, failed, inProgress, inQueue, retried'), workers: z.record(z.string(), z.number().int()).describe('idle, initializing, ready, running, throttled, unhealthy') })),
          },
          ...jobErrors(['401', '404']),
        },
      },
      {
        ...common,
        method: 'get',
        path: base,
        operationId: `${name}Endpoint`,
        summary: 'The endpoint',
        responses: {
          '200': {
            description: 'Its worker kind and load.',
            content: jsonBody(z.object({ id: z.string(), name: z.string(), description: z.string(), activeWorkers: z.number().int(), idleWorkers: z.number().int(), workersMax: z.number().int(), jobsInQueue: z.number().int(), jobsInProgress: z.number().int() })),
          },
          ...jobErrors(['401', '404']),
        },
      },
    ];
  });
}
