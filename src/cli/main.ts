#!/usr/bin/env node
// Each command loads its own modules when it runs, so help, usage errors and the light commands
// start in a fraction of the time the server's modules take to load.
import { errorMessage } from './error-message.js';
import { USAGE } from './usage.js';

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  switch (command) {
    case 'serve':
      return (await import('./serve-command.js')).serveCommand(rest);
    case 'say':
      return (await import('./say-command.js')).sayCommand(rest);
    case 'voices':
      return (await import('./voices-command.js')).voicesCommand(rest);
    case 'watermark':
      return (await import('./watermark-command.js')).watermarkCommand(rest);
    case 'models':
      return (await import('./models-command.js')).modelsCommand(rest);
    case 'webhook-secret': {
      const [{ loadConfig }, { loadWebhookSecret }] = await Promise.all([import('../config/config.js'), import('../jobs/webhook-sender.js')]);
      const config = loadConfig();
      process.stdout.write(`${loadWebhookSecret(config.webhookSecret, config.dataDir).secret}\n`);
      return 0;
    }
    case undefined:
    case 'help':
    case '--help':
    case '-h':
      process.stdout.write(USAGE);
      return command === undefined ? 1 : 0;
    default:
      process.stderr.write(`Unknown command '${command}'.\n\n${USAGE}`);
      return 1;
  }
}

main(process.argv.slice(2)).then(
  (code) => {
    if (code !== 0) process.exitCode = code;
  },
  (error: unknown) => {
    process.stderr.write(`chorus: ${errorMessage(error)}\n`);
    process.exitCode = 1;
  },
);
