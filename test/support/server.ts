import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '../../src/config/config.js';
import { startServer, type RunningServer } from '../../src/server/server.js';
import { createLogger, type Logger } from '../../src/util/logger.js';

export interface TestServer extends RunningServer {
  readonly dataDir: string;
}

/** A real Chorus server on 127.0.0.1 and a random port, with its own data directory. */
export async function startTestServer(
  env: Record<string, string> = {},
  options: { dataDir?: string; keepDataDir?: boolean; logger?: Logger } = {},
): Promise<TestServer> {
  const dataDir = options.dataDir ?? mkdtempSync(join(tmpdir(), 'chorus-test-'));
  const config = loadConfig({
    PORT: '0',
    HOST: '127.0.0.1',
    CHORUS_DATA_DIR: dataDir,
    CHORUS_WORKERS: '1',
    CHORUS_LOG_LEVEL: 'silent',
    ...env,
  });
  const server = await startServer(config, options.logger ?? createLogger('silent'));
  return {
    ...server,
    dataDir,
    async close() {
      await server.close();
      if (options.keepDataDir !== true) rmSync(dataDir, { recursive: true, force: true });
    },
  };
}
