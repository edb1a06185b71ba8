import { serve, type ServerType } from '@hono/node-server';
import { mkdirSync, readFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import type { ChorusConfig } from '../config/config.js';
import { JobRunner } from '../jobs/job-runner.js';
import { JobService } from '../jobs/job-service.js';
import { SqliteJobQueue } from '../jobs/sqlite-job-queue.js';
import { createProfiles } from '../operations/index.js';
import { createSpeechService, type SpeechService } from '../pipeline/speech-service.js';
import { createLogger, type Logger } from '../util/logger.js';
import { createApp } from './app.js';

export interface RunningServer {
  readonly url: string;
  readonly port: number;
  readonly speech: SpeechService;
  close(): Promise<void>;
}

export const VERSION: string = (
  JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }
).version;

/** Starts the engine workers, then listens. Resolves once the server accepts requests. */
export async function startServer(config: ChorusConfig, logger: Logger = createLogger(config.logLevel)): Promise<RunningServer> {
  mkdirSync(config.dataDir, { recursive: true });
  const profiles = createProfiles(config);
  const speech = await createSpeechService(config);
  const queue = new SqliteJobQueue({ path: join(config.dataDir, 'jobs.sqlite'), maxQueuedJobs: config.maxQueuedJobs });
  const runner = new JobRunner({
    queue,
    // Two jobs per engine thread: one can prepare (fetch, decode, upload) while the other speaks.
    concurrency: config.workers * 2,
    logger,
    handlerFor: (endpointId) => {
      const profile = profiles.get(endpointId);
      return profile === undefined
        ? undefined
        : (job, context) => profile.run(job.input, { ...context, jobId: job.id, owner: job.owner, speech });
    },
  });
  const jobs = new JobService({
    queue,
    runner,
    profiles,
    speech,
    settings: {
      defaultExecutionTimeoutMs: 600_000,
      defaultTtlMs: 86_400_000,
      runRetentionMs: config.runRetentionMs,
      runsyncRetentionMs: config.runsyncRetentionMs,
    },
  });
  const app = createApp({ config, speech, jobs, logger, version: VERSION });
  const server = await new Promise<ServerType>((resolve, reject) => {
    const listening = serve({ fetch: app.fetch, port: config.port, hostname: config.host }, () => resolve(listening));
    listening.once('error', reject);
  });
  const port = (server.address() as AddressInfo).port;
  const host = config.host.includes(':') ? `[${config.host}]` : config.host;
  const url = `http://${host}:${port}`;
  runner.start();
  logger.info('listening', {
    url,
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
      await speech.close();
      await queue.close();
    },
  };
}
