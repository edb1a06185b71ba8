import { parseArgs } from 'node:util';
import { loadConfig } from '../config/config.js';
import { startServer } from '../server/server.js';
import { createLogger } from '../util/logger.js';
import { describeError } from '../util/throttled-log.js';
import { errorMessage } from './error-message.js';

export async function serveCommand(args: string[]): Promise<number> {
  const { values } = parseArgs({ args, options: { port: { type: 'string' }, host: { type: 'string' }, role: { type: 'string' } } });
  const env = { ...process.env };
  if (values.port !== undefined) env['PORT'] = values.port;
  if (values.host !== undefined) env['HOST'] = values.host;
  if (values.role !== undefined) env['CHORUS_ROLE'] = values.role;
  const config = loadConfig(env);
  const logger = createLogger(config.logLevel);
  // A bug that leaves a promise rejected must not take every request in flight down with it; the
  // log says where it came from.
  process.on('unhandledRejection', (reason) => logger.error('unhandled promise rejection; the server keeps running', { error: describeError(reason), stack: (reason as Error | undefined)?.stack }));
  let server: Awaited<ReturnType<typeof startServer>>;
  try {
    server = await startServer(config, logger);
  } catch (error) {
    // Exit now: engine threads or Redis clients started on the way would keep a failed process alive.
    process.stderr.write(`chorus: ${errorMessage(error)}\n`);
    process.exit(1);
  }
  process.stdout.write(`Chorus listening on ${server.url}\n`);
  let stopping = false;
  const stop = (signal: NodeJS.Signals): void => {
    if (stopping) {
      process.stderr.write(`chorus: second signal (${signal}); exiting now without waiting for requests in flight\n`);
      process.exit(signal === 'SIGINT' ? 130 : 143);
    }
    stopping = true;
    logger.info('shutting down: finishing requests and jobs in flight', { signal, graceMs: config.shutdownGraceMs });
    server.close({ graceMs: config.shutdownGraceMs }).then(
      () => process.exit(0),
      (error: unknown) => {
        logger.error('shutdown failed', { error: describeError(error) });
        process.exit(1);
      },
    );
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
  return new Promise<number>(() => undefined);
}
