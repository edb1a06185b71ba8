#!/usr/bin/env node
import { createWriteStream, readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { decodeAudioBytes } from '../audio/decode-audio.js';
import { AUDIO_FORMATS, type AudioFormat } from '../audio/encoders/audio-encoder.js';
import { detectWatermark } from '../audio/watermark/watermark.js';
import { ConfigError, loadConfig } from '../config/config.js';
import { createEngine } from '../engines/registry.js';
import { ChorusError } from '../errors.js';
import { synthesizeSpeech } from '../pipeline/synthesize-speech.js';
import { startServer } from '../server/server.js';
import { loadWebhookSecret } from '../jobs/webhook-sender.js';
import { createLogger } from '../util/logger.js';
import { describeError } from '../util/throttled-log.js';
import { OPENAI_VOICE_ALIASES, VoiceCatalog } from '../speech/voice-catalog.js';
import { MODELS_USAGE, modelsCommand } from './models-command.js';

const USAGE = `Usage:
  chorus serve [--port N] [--host H] [--role all|api|worker]
                                            start the HTTP server (settings from the environment)
  chorus say [TEXT] [options]               speak TEXT (or standard input) to a file or stdout
      -v, --voice NAME        voice name (default: default; see 'chorus voices')
      -f, --format FORMAT     ${AUDIO_FORMATS.join(' | ')} (default: from --output's extension, else wav)
      -o, --output FILE       write here instead of stdout
      -s, --speed X           0.25 to 4 (default 1)
      -p, --pitch SEMITONES   -12 to 12 (default 0)
      -r, --sample-rate HZ    8000 to 48000 (default 24000)
      -l, --language CODE     eSpeak language (default: the voice's, or detected from the script)
          --gap SECONDS       silence between sentences
          --timings           print word timings as JSON lines on stderr
          --no-watermark      leave out the inaudible watermark
  chorus voices [--json]                    list the built-in voices
${MODELS_USAGE}  chorus webhook-secret                     print the secret that signs webhooks (generated on first use)
  chorus watermark detect FILE [--json]     does FILE (WAV, MP3, FLAC, Ogg) carry Chorus's watermark?
                                            exit 0 whether or not it does; 2 if FILE is unreadable or not usable audio
`;

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  switch (command) {
    case 'serve':
      return serveCommand(rest);
    case 'say':
      return sayCommand(rest);
    case 'voices':
      return voicesCommand(rest);
    case 'watermark':
      return watermarkCommand(rest);
    case 'models':
      return modelsCommand(rest);
    case 'webhook-secret': {
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

async function serveCommand(args: string[]): Promise<number> {
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

async function sayCommand(args: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: {
      voice: { type: 'string', short: 'v', default: 'default' },
      format: { type: 'string', short: 'f' },
      output: { type: 'string', short: 'o' },
      speed: { type: 'string', short: 's', default: '1' },
      pitch: { type: 'string', short: 'p', default: '0' },
      'sample-rate': { type: 'string', short: 'r', default: '24000' },
      language: { type: 'string', short: 'l' },
      gap: { type: 'string' },
      timings: { type: 'boolean', default: false },
      'no-watermark': { type: 'boolean', default: false },
    },
  });
  const text = positionals.length > 0 ? positionals.join(' ') : await readStdin();
  const format = (values.format ?? values.output?.split('.').pop() ?? 'wav') as AudioFormat;
  if (!(AUDIO_FORMATS as readonly string[]).includes(format)) throw new ChorusError({ code: 'unsupported_format', param: '--format', message: `Unknown format '${format}'; use one of ${AUDIO_FORMATS.join(', ')}.` });
  const speed = numberOption('--speed', values.speed, 0.25, 4);
  const pitch = numberOption('--pitch', values.pitch, -12, 12);
  const sampleRate = numberOption('--sample-rate', values['sample-rate'], 8000, 48000);
  const config = loadConfig();
  const engine = await createEngine(config.engine);
  const voice = new VoiceCatalog(engine.listVoices(), engine.id, engine.id === 'espeak' ? OPENAI_VOICE_ALIASES : {}).resolve(values.voice, '--voice');
  const output = values.output === undefined ? process.stdout : createWriteStream(values.output);
  const controller = new AbortController();
  process.once('SIGINT', () => controller.abort());
  const parts = synthesizeSpeech(
    { engine, ffmpegPath: config.ffmpegPath },
    {
      text,
      engine: engine.id,
      voiceId: voice.id,
      speed,
      pitchSemitones: pitch,
      sampleRate: Math.round(sampleRate),
      format,
      normalization: 'none',
      maxChunkChars: config.maxCharsPerChunk,
      delivery: values.output === undefined ? 'stream' : 'buffered',
      ...(values.language === undefined ? {} : { language: values.language }),
      ...(values.gap === undefined ? {} : { sentenceGapSec: numberOption('--gap', values.gap, 0, 10) }),
      watermark: !values['no-watermark'],
    },
    controller.signal,
  );
  for await (const part of parts) {
    if (part.type === 'audio') {
      if (!output.write(part.bytes)) await new Promise<void>((resolve) => output.once('drain', () => resolve()));
    } else if (part.type === 'words' && values.timings) {
      for (const word of part.words) process.stderr.write(`${JSON.stringify(word)}\n`);
    } else if (part.type === 'end' && values.output !== undefined) {
      process.stderr.write(`${values.output}: ${part.durationSec.toFixed(2)} s of ${format}\n`);
    }
  }
  if (output !== process.stdout) await new Promise<void>((resolve) => output.end(resolve));
  return 0;
}

async function voicesCommand(args: string[]): Promise<number> {
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

/** Exit 0 for both answers, so scripts can tell "not marked" (0) from "could not check" (2). */
async function watermarkCommand(args: string[]): Promise<number> {
  try {
    const { values, positionals } = parseArgs({ args, allowPositionals: true, options: { json: { type: 'boolean', default: false } } });
    const [action, file, ...extra] = positionals;
    if (action !== 'detect' || file === undefined || extra.length > 0) {
      throw new ChorusError({ code: 'invalid_request', param: 'FILE', message: 'Usage: chorus watermark detect FILE [--json]' });
    }
    let bytes: Uint8Array;
    try {
      bytes = readFileSync(file);
    } catch (error) {
      throw new ChorusError({ code: 'invalid_request', param: 'FILE', message: `Cannot read '${file}': ${(error as Error).message}` });
    }
    const audio = await decodeAudioBytes(bytes, file, { minSec: 0.1, maxSec: 3600 });
    const result = detectWatermark(audio.samples, audio.sampleRate);
    if (values.json) {
      const report = { file, ...result, durationSec: audio.durationSec, sampleRate: audio.sampleRate, format: audio.format };
      process.stdout.write(`${JSON.stringify(report)}\n`);
    } else {
      process.stdout.write(
        `watermark: ${result.detected ? 'detected' : 'not detected'} (score ${result.score.toFixed(1)}, threshold ${result.threshold.toFixed(1)}; ` +
          `${result.analysedSec.toFixed(1)} s of ${audio.durationSec.toFixed(1)} s analysed)\n`,
      );
    }
    return 0;
  } catch (error) {
    process.stderr.write(`chorus: ${error instanceof Error ? error.message : String(error)}\n`);
    return 2;
  }
}

function numberOption(name: string, raw: string, min: number, max: number): number {
  const value = Number(raw);
  if (!Number.isFinite(value) || value < min || value > max) {
    throw new ChorusError({ code: 'invalid_request', param: name, message: `${name} must be a number from ${min} to ${max}, got '${raw}'.` });
  }
  return value;
}

async function readStdin(): Promise<string> {
  if (process.stdin.isTTY) throw new ChorusError({ code: 'invalid_request', param: 'TEXT', message: 'Give the text as an argument or on standard input.' });
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
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

/** What the operator reads: the message of an error Chorus raised on purpose, the stack of a bug. */
function errorMessage(error: unknown): string {
  return ChorusError.isInstance(error) || error instanceof ConfigError ? error.message : String((error as Error)?.stack ?? error);
}
