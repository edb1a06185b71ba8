import { parseArgs } from 'node:util';
import { loadConfig } from '../config/config.js';
import { createEngine } from '../engines/registry.js';

export async function voicesCommand(args: string[]): Promise<number> {
  const { values } = parseArgs({ args, options: { json: { type: 'boolean', default: false } } });
  const engine = await createEngine(loadConfig().engine);
  const voices = engine.listVoices();
  if (values.json) {
    process.stdout.write(`${JSON.stringify(voices, null, 2)}\n`);
    return 0;
  }
  for (const voice of voices) process.stdout.write(`${voice.id.padEnd(12)} ${voice.gender.padEnd(7)} ${voice.description}\n`);
  process.stdout.write(`\n${voices.length} voices; languages: ${engine.capabilities.languages.length} (use --language or the API's 'language').\n`);
  return 0;
}
