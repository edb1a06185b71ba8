import { serve, type ServerType } from '@hono/node-server';
import { mkdirSync, readFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import type { ChorusConfig } from '../config/config.js';
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
  const speech = await createSpeechService(config);
  const app = createApp({ config, speech, logger, version: VERSION });
  const server = await new Promise<ServerType>((resolve, reject) => {
    const listening = serve({ fetch: app.fetch, port: config.port, hostname: config.host }, () => resolve(listening));
    listening.once('error', reject);
  });
  const port = (server.address() as AddressInfo).port;
  const host = config.host.includes(':') ? `[${config.host}]` : config.host;
  const url = `http://${host}:${port}`;
  logger.info('listening', { url, engine: speech.engine.id, workers: config.workers, auth: config.apiKeys.length > 0 });
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
      await speech.close();
    },
  };
}
