import { spawn, spawnSync } from 'node:child_process';
import { ChorusError } from '../../errors.js';
import { AacEncoder, aacFormatInfo } from './aac-encoder.js';
import { AUDIO_FORMATS } from './audio-encoder.js';
import type { AudioEncoder, AudioFormat, AudioFormatInfo, EncoderOptions } from './audio-encoder.js';
import { FlacEncoder, flacFormatInfo } from './flac-encoder.js';
import { Mp3Encoder, mp3FormatInfo } from './mp3-encoder.js';
import { OpusEncoder, opusFormatInfo } from './opus-encoder.js';
import { PcmEncoder, pcmFormatInfo } from './pcm-encoder.js';
import { WavEncoder, wavFormatInfo } from './wav-encoder.js';

export { AUDIO_FORMATS } from './audio-encoder.js';
export type { AudioEncoder, AudioFormat, AudioFormatInfo, EncoderOptions } from './audio-encoder.js';

export interface EncoderEnvironment {
  /** ffmpeg binary used for aac; a name on PATH or an absolute path. */
  readonly ffmpegPath: string;
}

const FORMAT_INFO: Readonly<Record<AudioFormat, AudioFormatInfo>> = {
  mp3: mp3FormatInfo,
  opus: opusFormatInfo,
  aac: aacFormatInfo,
  flac: flacFormatInfo,
  wav: wavFormatInfo,
  pcm: pcmFormatInfo,
};

/** Formats that need nothing outside the process. */
const BUILTIN_FORMATS: readonly AudioFormat[] = AUDIO_FORMATS.filter((f) => f !== 'aac');

export function isAudioFormat(value: unknown): value is AudioFormat {
  return typeof value === 'string' && (AUDIO_FORMATS as readonly string[]).includes(value);
}

export function getFormatInfo(format: AudioFormat): AudioFormatInfo {
  return FORMAT_INFO[format];
}

const ffmpegProbes = new Map<string, Promise<boolean>>();
const ffmpegKnown = new Map<string, boolean>();
const PROBE_TIMEOUT_MS = 10_000;

/** Whether `ffmpegPath -version` runs and exits 0; cached per path for the process lifetime. */
export function ffmpegAvailable(ffmpegPath: string): Promise<boolean> {
  const known = ffmpegKnown.get(ffmpegPath);
  if (known !== undefined) return Promise.resolve(known);
  let probe = ffmpegProbes.get(ffmpegPath);
  if (probe === undefined) {
    probe = new Promise<boolean>((resolve) => {
      const settle = (ok: boolean): void => {
        ffmpegKnown.set(ffmpegPath, ok);
        resolve(ok);
      };
      try {
        const child = spawn(ffmpegPath, ['-hide_banner', '-version'], { stdio: 'ignore' });
        const timer = setTimeout(() => {
          child.kill('SIGKILL');
          settle(false);
        }, PROBE_TIMEOUT_MS);
        timer.unref();
        child.on('error', () => {
          clearTimeout(timer);
          settle(false);
        });
        child.on('close', (code) => {
          clearTimeout(timer);
          settle(code === 0);
        });
      } catch {
        settle(false);
      }
    });
    ffmpegProbes.set(ffmpegPath, probe);
  }
  return probe;
}

/** Synchronous variant for `createEncoder`: uses the cached result, else probes once (blocking). */
function ffmpegAvailableSync(ffmpegPath: string): boolean {
  const known = ffmpegKnown.get(ffmpegPath);
  if (known !== undefined) return known;
  let ok = false;
  try {
    const result = spawnSync(ffmpegPath, ['-hide_banner', '-version'], { stdio: 'ignore', timeout: PROBE_TIMEOUT_MS });
    ok = result.error === undefined && result.status === 0;
  } catch {
    ok = false;
  }
  ffmpegKnown.set(ffmpegPath, ok);
  return ok;
}

/** Forgets cached ffmpeg probes (tests, or after the binary was installed). */
export function resetFfmpegProbeCache(): void {
  ffmpegKnown.clear();
  ffmpegProbes.clear();
}

/** Formats this server can produce: aac only when ffmpeg runs. In AUDIO_FORMATS order. */
export async function availableFormats(env: EncoderEnvironment): Promise<AudioFormat[]> {
  const aac = await ffmpegAvailable(env.ffmpegPath);
  return AUDIO_FORMATS.filter((f) => f !== 'aac' || aac);
}

function unsupported(message: string): ChorusError {
  return new ChorusError({ code: 'unsupported_format', param: 'response_format', message });
}

/**
 * A streaming encoder for `format`. `options.sampleRate` must be a rate `resolveSampleRate`
 * returned for that format. Throws `unsupported_format` for unknown formats, unsupported rates,
 * and aac when ffmpeg is not installed (the first aac request probes ffmpeg synchronously unless
 * `availableFormats` already did).
 */
export function createEncoder(format: AudioFormat, options: EncoderOptions, env: EncoderEnvironment): AudioEncoder {
  if (!isAudioFormat(format)) {
    throw unsupported(`unsupported response_format '${String(format)}'; supported formats: ${AUDIO_FORMATS.join(', ')}`);
  }
  const info = FORMAT_INFO[format];
  if (info.resolveSampleRate(options.sampleRate) !== options.sampleRate) {
    throw unsupported(
      `${format} cannot be encoded at ${options.sampleRate} Hz (nearest supported rate: ${info.resolveSampleRate(options.sampleRate)} Hz)`,
    );
  }
  switch (format) {
    case 'wav':
      return new WavEncoder(options);
    case 'pcm':
      return new PcmEncoder(options);
    case 'flac':
      return new FlacEncoder(options);
    case 'opus':
      return new OpusEncoder(options);
    case 'mp3':
      return new Mp3Encoder(options);
    case 'aac': {
      if (!ffmpegAvailableSync(env.ffmpegPath)) {
        throw unsupported(
          `aac needs ffmpeg, which is not installed on this server; available formats: ${BUILTIN_FORMATS.join(', ')}`,
        );
      }
      return new AacEncoder({ ...options, ffmpegPath: env.ffmpegPath });
    }
  }
}
