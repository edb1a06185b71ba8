import { createWriteStream } from 'node:fs';
import { parseArgs } from 'node:util';
import { AUDIO_FORMATS, type AudioFormat } from '../audio/encoders/audio-encoder.js';
import { loadConfig } from '../config/config.js';
import { createEngine } from '../engines/registry.js';
import { ChorusError } from '../errors.js';
import { synthesizeSpeech } from '../pipeline/synthesize-speech.js';
import { OPENAI_VOICE_ALIASES, VoiceCatalog } from '../speech/voice-catalog.js';

export async function sayCommand(args: string[]): Promise<number> {
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
