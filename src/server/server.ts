import { serve, type ServerType } from '@hono/node-server';
import { mkdirSync, readFileSync } from 'node:fs';
import type { Server as HttpServer, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { toOpenAIError } from '../api/openai/openai-errors.js';
import { toRunpodError } from '../api/runpod/runpod-errors.js';
import { ChorusError } from '../errors.js';
import type { ChorusConfig } from '../config/config.js';
import { JobRunner } from '../jobs/job-runner.js';
import { JobService } from '../jobs/job-service.js';
import type { JobQueue } from '../jobs/job-queue.js';
import type { JobRecord } from '../jobs/job.js';
import { SqliteJobQueue } from '../jobs/sqlite-job-queue.js';
import { loadWebhookSecret, WebhookSender } from '../jobs/webhook-sender.js';
import { runpodJobJson } from '../api/runpod/job-view.js';
import { readJsonBytes } from '../jobs/job-output.js';
import { DirectoryResultCache, observeLookups } from '../cache/result-cache.js';
import { ChorusMetrics } from '../metrics/chorus-metrics.js';
import type { SharedResultCache } from '../cache/shared-result-cache.js';
import { createProfiles } from '../operations/index.js';
import { createSpeechService, type SpeechService } from '../speech/speech-service.js';
import { createBlobStore } from '../storage/index.js';
import { asStorageError } from '../storage/storage-errors.js';
import { createLogger, type Logger } from '../util/logger.js';
import type { RedisRateLimitStore } from './redis-rate-limit-store.js';
import { SqliteVoiceStore } from '../voices/sqlite-voice-store.js';
import type { VoiceStore } from '../voices/voice-store.js';
import { VoiceLibrary } from '../voices/voice-library.js';
import type { ConversationStore } from '../conversations/conversation-store.js';
import { SqliteConversationStore } from '../conversations/sqlite-conversation-store.js';
import { createOpenAIChatModel } from '../llm/openai-chat-model.js';
import { createApp, createWorkerApp } from './app.js';
import { startWyomingServer, type RunningWyomingServer } from '../api/wyoming/wyoming-server.js';

export interface RunningServer {
  readonly url: string;
  readonly port: number;
  readonly speech: SpeechService;
  /** What the app registered, as Hono lists it (middleware too, as method ALL): the OpenAPI test compares it with the document. */
  readonly routes: readonly { readonly method: string; readonly path: string }[];
  /** The Wyoming server's bound address, when CHORUS_WYOMING_PORT is set. */
  readonly wyoming?: { readonly host: string; readonly port: number };
  /**
   * Stops the server. With `graceMs` (a SIGTERM), it drains first: it stops accepting, lets requests
   * and running jobs finish for up to `graceMs`, then answers waiting requests with the job as it is,
   * ends streams after their last whole chunk, and hands running jobs back to the queue. Without,
   * everything in flight is dropped at once.
   */
  close(options?: { readonly graceMs?: number }): Promise<void>;
}

export const VERSION: string = (
  JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }
).version;

interface SharedState {
  readonly queue: JobQueue;
  readonly voiceStore: VoiceStore;
  readonly conversations: ConversationStore;
  /** Absent: rate-limit buckets live in this process's memory. */
  readonly rateLimitStore?: RedisRateLimitStore;
}

async function openSharedState(config: ChorusConfig, logger: Logger): Promise<SharedState> {
  if (config.redisUrl === undefined) {
    return {
      queue: new SqliteJobQueue({ path: join(config.dataDir, 'jobs.sqlite'), maxQueuedJobs: config.maxQueuedJobs }),
      voiceStore: new SqliteVoiceStore(join(config.dataDir, 'voices.sqlite')),
      conversations: new SqliteConversationStore(join(config.dataDir, 'conversations.sqlite')),
    };
  }
  // Loaded only here: ioredis and BullMQ are a third of the server's start-up, and a single process never uses them.
  const [{ RedisJobQueue }, { RedisRateLimitStore }, { RedisVoiceStore }, { RedisConversationStore }] = await Promise.all([
    import('../jobs/redis-job-queue.js'),
    import('./redis-rate-limit-store.js'),
    import('../voices/redis-voice-store.js'),
    import('../conversations/redis-conversation-store.js'),
  ]);
  const redis = { url: config.redisUrl, prefix: config.redisPrefix };
  const queue = new RedisJobQueue({ ...redis, maxQueuedJobs: config.maxQueuedJobs, lockDurationMs: config.jobLockMs });
  const rateLimitStore = new RedisRateLimitStore(redis);
  try {
    await Promise.all([queue.ready(), rateLimitStore.ready()]);
  } catch {
    // Start anyway: requests that need Redis answer 503 until it can be reached, and the clients reconnect.
    logger.warn('Redis cannot be reached yet; job and voice requests answer 503 until it can', { redis: config.redisUrl.replace(/\/\/[^@/]*@/, '//') });
  }
  return { queue, voiceStore: new RedisVoiceStore(redis), conversations: new RedisConversationStore(redis), rateLimitStore };
}

/**
 * Takes the data directory (a second process on it is refused before anything starts that would
 * keep the refused process alive), starts the engine workers, then listens. Resolves once the
 * server accepts requests; a failure on the way closes what was opened.
 */
export async function startServer(config: ChorusConfig, logger: Logger = createLogger(config.logLevel)): Promise<RunningServer> {
  let shared: SharedState;
  try {
    mkdirSync(config.dataDir, { recursive: true });
    shared = await openSharedState(config, logger);
  } catch (error) {
    throw asStorageError(config.dataDir, error);
  }
  // Made first: the speech service reports every synthesis to it from the start.
  const metrics = config.metrics.mode === 'off' ? undefined : new ChorusMetrics();
  try {
    return await startOn(shared, config, logger, metrics);
  } catch (error) {
    await closeSharedState(shared);
    throw error;
  }
}

async function closeSharedState({ queue, voiceStore, conversations, rateLimitStore }: SharedState): Promise<void> {
  await queue.close();
  await voiceStore.close();
  await conversations.close();
  await rateLimitStore?.close();
}

async function startOn(shared: SharedState, config: ChorusConfig, logger: Logger, metrics: ChorusMetrics | undefined): Promise<RunningServer> {
  const speech = await createSpeechService(config, { logger, ...(metrics === undefined ? {} : { observer: metrics }) });
  try {
    return await listen(shared, speech, config, logger, metrics);
  } catch (error) {
    await speech.close();
    throw error;
  }
}

async function listen(shared: SharedState, speech: SpeechService, config: ChorusConfig, logger: Logger, metrics: ChorusMetrics | undefined): Promise<RunningServer> {
  // Local file links point at this server; its URL is known once it listens (PORT=0).
  let listeningUrl = '';
  const storage = await createBlobStore(config, () => config.publicUrl ?? listeningUrl);
  // With Redis the cache is the deployment's (entries in the blob store, index in Redis); without, this machine's.
  const cacheSettings = { maxBytes: config.cacheMaxBytes, enabled: config.cacheEnabled, logger };
  let sharedResults: SharedResultCache | undefined;
  if (config.redisUrl !== undefined) {
    const { SharedResultCache } = await import('../cache/shared-result-cache.js');
    sharedResults = new SharedResultCache({ ...cacheSettings, url: config.redisUrl, prefix: config.redisPrefix, blobs: storage });
  }
  const storedResults = sharedResults ?? new DirectoryResultCache({ ...cacheSettings, dir: config.cacheDir });
  const resultCache = metrics === undefined ? storedResults : observeLookups(storedResults, metrics.cacheLookup);
  // With Redis every process shares the queue, the voice library and the conversations; without, they live in the data directory.
  const { queue, voiceStore, conversations, rateLimitStore } = shared;
  const chat =
    config.llmUrl === undefined || config.llmModel === undefined
      ? undefined
      : createOpenAIChatModel({ url: config.llmUrl, model: config.llmModel, timeoutMs: config.llmTimeoutMs, ...(config.llmApiKey === undefined ? {} : { apiKey: config.llmApiKey }) });
  const profiles = createProfiles(config, { resultCache, conversations, ...(chat === undefined ? {} : { chat }) });
  const voices = new VoiceLibrary({ store: voiceStore, blobs: storage, speech, dataDir: config.dataDir });
  const webhookSecret = loadWebhookSecret(config.webhookSecret, config.dataDir);
  if (webhookSecret.source === 'generated') {
    logger.info('generated a webhook signing secret; read it with `chorus webhook-secret`', { path: webhookSecret.path });
  }
  const webhooks = new WebhookSender({
    secret: webhookSecret.secret,
    bodyOf: (job) => readJsonBytes(runpodJobJson(job)),
    allowPrivate: config.allowPrivateUrls,
    retryDelayMs: config.webhookRetryDelayMs,
    timeoutMs: config.webhookTimeoutMs,
    logger,
    userAgent: `Chorus/${VERSION}`,
  });
  const deliverWebhook = (job: JobRecord): void => {
    const delivery = webhooks.deliver(job);
    if (metrics !== undefined) void delivery?.then(metrics.webhookEnded);
  };
  const runner = new JobRunner({
    queue,
    onFinished: deliverWebhook,
    // Two jobs per engine thread: one can prepare (fetch, decode, upload) while the other speaks.
    concurrency: config.workers * 2,
    logger,
    handlerFor: (endpointId) => {
      const profile = profiles.get(endpointId);
      return profile === undefined
        ? undefined
        : (job, context) => profile.run(job.input, { ...context, jobId: job.id, owner: job.owner, speech, voices, storage });
    },
  });
  const jobs = new JobService({
    queue,
    runner,
    profiles,
    // Operations validate with the engine and the voice library, which jobs/ does not know about.
    validateInput: (endpointId, input, { owner, signal }) => {
      const profile = profiles.get(endpointId);
      if (profile === undefined) throw new ChorusError({ code: 'not_found', param: 'endpoint_id', message: `Endpoint '${endpointId}' not found.` });
      return profile.validate(input, { speech, voices, owner, signal });
    },
    settings: {
      defaultExecutionTimeoutMs: 600_000,
      defaultTtlMs: 86_400_000,
      runRetentionMs: config.runRetentionMs,
      runsyncRetentionMs: config.runsyncRetentionMs,
      allowPrivateUrls: config.allowPrivateUrls,
    },
    onFinished: deliverWebhook,
  });
  metrics?.watch({ speech, queue, endpointIds: jobs.endpointIds, ...(config.role === 'api' ? {} : { runner }) });
  const app =
    config.role === 'worker'
      ? createWorkerApp({ config, jobs, speech, logger, version: VERSION, storage, ...(metrics === undefined ? {} : { metrics }) })
      : createApp({
          config,
          speech,
          voices,
          resultCache,
          jobs,
          logger,
          version: VERSION,
          storage,
          ...(rateLimitStore === undefined ? {} : { rateLimitStore }),
          ...(metrics === undefined ? {} : { metrics }),
        });
  let draining = false;
  // Worker processes serve no API, so no Wyoming either.
  const wyoming: RunningWyomingServer | undefined =
    config.wyomingPort === undefined || config.role === 'worker'
      ? undefined
      : await startWyomingServer({
          speech,
          voices,
          logger,
          version: VERSION,
          host: config.wyomingHost,
          port: config.wyomingPort,
          maxDataBytes: config.maxRequestBytes,
          ...(config.wyomingZeroconf === undefined ? {} : { zeroconf: { name: config.wyomingZeroconf } }),
        });
  const server = await new Promise<ServerType>((resolve, reject) => {
    const listening = serve(
      {
        // A request that arrives on a kept-alive connection while draining is refused in its API's shape.
        fetch: (request, env) => (draining ? shuttingDown(request) : app.fetch(request, env)),
        port: config.port,
        hostname: config.host,
        serverOptions: {
          // Slow-loris clients: the headers within headersTimeout, the whole request (not the answer,
          // so long-polls and streams are not cut) within requestTimeout, checked every second.
          headersTimeout: config.headersTimeoutMs,
          requestTimeout: config.requestTimeoutMs,
          connectionsCheckingInterval: 1000,
        },
      },
      () => resolve(listening),
    );
    listening.once('error', reject);
  }).catch(async (error: unknown) => {
    await wyoming?.close();
    throw error;
  });
  (server as HttpServer).keepAliveTimeout = config.keepAliveTimeoutMs;
  const inFlight = new Set<ServerResponse>();
  server.on('request', (_request, response: ServerResponse) => {
    inFlight.add(response);
    response.once('close', () => inFlight.delete(response));
  });
  const port = (server.address() as AddressInfo).port;
  const host = config.host.includes(':') ? `[${config.host}]` : config.host;
  const url = `http://${host}:${port}`;
  listeningUrl = url;
  // An API process leaves queued jobs to the worker processes.
  if (config.role !== 'api') runner.start();
  logger.info('listening', {
    url,
    role: config.role,
    queue: config.redisUrl === undefined ? 'embedded' : 'redis',
    engine: speech.engine.id,
    workers: config.workers,
    auth: config.apiKeys.length > 0,
    endpoints: jobs.endpointIds,
  });
  let closing: Promise<void> | undefined;
  const close = async (graceMs: number): Promise<void> => {
    const http = server as HttpServer;
    draining = true;
    runner.stopClaiming();
    const wyomingClosed = wyoming?.close(graceMs);
    const listenerClosed = new Promise<void>((resolve) => http.close(() => resolve()));
    // Answers still to be written close their connection; idle ones are closed by close() itself.
    for (const response of inFlight) if (!response.headersSent) response.shouldKeepAlive = false;
    if (graceMs > 0) {
      const deadline = Date.now() + graceMs;
      // Once no job runs here, a long-poll would wait for nothing: it answers with the job as it is.
      // (An API process runs none; its long-polls wait for the workers' jobs for the grace.)
      let runnerIdle = false;
      if (config.role !== 'api') {
        void runner.idle().then(() => {
          runnerIdle = true;
          jobs.releaseWaiters();
        });
      }
      await until(() => inFlight.size === 0 && (runnerIdle || config.role === 'api'), deadline);
      jobs.releaseWaiters();
      await until(() => inFlight.size === 0, Math.min(deadline, Date.now() + 250));
    }
    jobs.releaseWaiters();
    for (const response of inFlight) {
      if (!response.headersSent || response.writableEnded) continue;
      // A stream still going: end it after its last whole chunk (the chunked terminator is written).
      // The stream writer's next write then fails harmlessly instead of crashing the process.
      response.on('error', () => undefined);
      response.end();
    }
    await runner.stop();
    await webhooks.close();
    await wyomingClosed;
    await speech.close();
    // What is left (a synthesis the engine shutdown just failed) is answering now; then connections go.
    if (graceMs > 0) await until(() => inFlight.size === 0, Date.now() + 1000);
    http.closeAllConnections();
    await listenerClosed;
    await closeSharedState(shared);
    await sharedResults?.close();
    (storage as { close?: () => void }).close?.();
  };
  return {
    url,
    port,
    speech,
    routes: app.routes.map(({ method, path }) => ({ method, path })),
    ...(wyoming === undefined ? {} : { wyoming: { host: wyoming.host, port: wyoming.port } }),
    close(options = {}) {
      closing ??= close(options.graceMs ?? 0);
      return closing;
    },
  };
}

/** While draining: 503 `engine_unavailable` in the shape of the API asked, and the connection closes. */
function shuttingDown(request: Request): Response {
  const error = new ChorusError({ code: 'engine_unavailable', retryable: true, message: 'The server is shutting down; retry shortly.' });
  const { status, body, headers } = new URL(request.url).pathname.startsWith('/v2/') ? toRunpodError(error) : toOpenAIError(error);
  return Response.json(body, { status, headers: { ...headers, connection: 'close' } });
}

/** Polls `done` until it holds or `deadline` (epoch ms) passes. */
async function until(done: () => boolean, deadline: number): Promise<void> {
  while (!done() && Date.now() < deadline) await sleep(Math.min(25, Math.max(1, deadline - Date.now())));
}
