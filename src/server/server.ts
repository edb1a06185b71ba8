import { serve, type ServerType } from '@hono/node-server';
import { mkdirSync, readFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import type { ChorusConfig } from '../config/config.js';
import { JobRunner } from '../jobs/job-runner.js';
import { JobService } from '../jobs/job-service.js';
import type { JobQueue } from '../jobs/job-queue.js';
import { RedisJobQueue } from '../jobs/redis-job-queue.js';
import { SqliteJobQueue } from '../jobs/sqlite-job-queue.js';
import { loadWebhookSecret, WebhookSender } from '../jobs/webhook-sender.js';
import { runpodJobJson } from '../api/runpod/job-view.js';
import { readJsonBytes } from '../jobs/job-output.js';
import { DirectoryResultCache } from '../cache/result-cache.js';
import { SharedResultCache } from '../cache/shared-result-cache.js';
import { createProfiles } from '../operations/index.js';
import { createSpeechService, type SpeechService } from '../pipeline/speech-service.js';
import { createBlobStore } from '../storage/index.js';
import { createLogger, type Logger } from '../util/logger.js';
import { RedisVoiceStore } from '../voices/redis-voice-store.js';
import { RedisRateLimitStore } from './redis-rate-limit-store.js';
import { SqliteVoiceStore } from '../voices/sqlite-voice-store.js';
import type { VoiceStore } from '../voices/voice-store.js';
import { VoiceLibrary } from '../voices/voice-library.js';
import type { ConversationStore } from '../conversations/conversation-store.js';
import { RedisConversationStore } from '../conversations/redis-conversation-store.js';
import { SqliteConversationStore } from '../conversations/sqlite-conversation-store.js';
import { createOpenAIChatModel } from '../llm/openai-chat-model.js';
import { createApp, createWorkerApp } from './app.js';

export interface RunningServer {
  readonly url: string;
  readonly port: number;
  readonly speech: SpeechService;
  close(): Promise<void>;
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

/** Starts the engine workers, then listens. Resolves once the server accepts requests. */
export async function startServer(config: ChorusConfig, logger: Logger = createLogger(config.logLevel)): Promise<RunningServer> {
  mkdirSync(config.dataDir, { recursive: true });
  const speech = await createSpeechService(config);
  // Local file links point at this server; its URL is known once it listens (PORT=0).
  let listeningUrl = '';
  const storage = await createBlobStore(config, () => config.publicUrl ?? listeningUrl);
  // With Redis the cache is the deployment's (entries in the blob store, index in Redis); without, this machine's.
  const cacheSettings = { maxBytes: config.cacheMaxBytes, enabled: config.cacheEnabled, logger };
  const resultCache =
    config.redisUrl === undefined
      ? new DirectoryResultCache({ ...cacheSettings, dir: config.cacheDir })
      : new SharedResultCache({ ...cacheSettings, url: config.redisUrl, prefix: config.redisPrefix, blobs: storage });
  // With Redis every process shares the queue, the voice library and the conversations; without, they live in the data directory.
  const { queue, voiceStore, conversations, rateLimitStore } = await openSharedState(config, logger);
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
  const runner = new JobRunner({
    queue,
    onFinished: (job) => void webhooks.deliver(job),
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
    speech,
    voices,
    settings: {
      defaultExecutionTimeoutMs: 600_000,
      defaultTtlMs: 86_400_000,
      runRetentionMs: config.runRetentionMs,
      runsyncRetentionMs: config.runsyncRetentionMs,
      allowPrivateUrls: config.allowPrivateUrls,
    },
    onFinished: (job) => void webhooks.deliver(job),
  });
  const app =
    config.role === 'worker'
      ? createWorkerApp({ jobs, speech, logger, version: VERSION, storage })
      : createApp({ config, speech, voices, resultCache, jobs, logger, version: VERSION, storage, ...(rateLimitStore === undefined ? {} : { rateLimitStore }) });
  const server = await new Promise<ServerType>((resolve, reject) => {
    const listening = serve({ fetch: app.fetch, port: config.port, hostname: config.host }, () => resolve(listening));
    listening.once('error', reject);
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
  return {
    url,
    port,
    speech,
    async close() {
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        // Streaming clients would hold the server open; shutting down means dropping them.
        (server as { closeAllConnections?: () => void }).closeAllConnections?.();
      });
      await runner.stop();
      await webhooks.close();
      await speech.close();
      await queue.close();
      await voiceStore.close();
      await conversations.close();
      await rateLimitStore?.close();
      if (resultCache instanceof SharedResultCache) await resultCache.close();
      (storage as { close?: () => void }).close?.();
    },
  };
}
