import decodeAudio from 'audio-decode';
import { ChorusError } from '../errors.js';

export type AudioContainer = 'wav' | 'mp3' | 'flac' | 'ogg';

export interface DecodedAudio {
  readonly format: AudioContainer;
  readonly sampleRate: number;
  readonly channels: number;
  readonly durationSec: number;
  /** All channels mixed to mono. */
  readonly samples: Float32Array;
}

export interface DurationLimits {
  readonly minSec?: number;
  readonly maxSec?: number;
}

/** The container by its magic bytes: WAV (RIFF/WAVE), FLAC (fLaC), Ogg (OggS), MP3 (ID3 tag or an MPEG audio frame sync). */
export function sniffAudioFormat(bytes: Uint8Array): AudioContainer | undefined {
  const ascii = (start: number, length: number) => String.fromCharCode(...bytes.subarray(start, start + length));
  if (bytes.length >= 12 && ascii(0, 4) === 'RIFF' && ascii(8, 4) === 'WAVE') return 'wav';
  if (bytes.length >= 4 && ascii(0, 4) === 'fLaC') return 'flac';
  if (bytes.length >= 4 && ascii(0, 4) === 'OggS') return 'ogg';
  if (bytes.length >= 3 && ascii(0, 3) === 'ID3') return 'mp3';
  // MPEG-1/2/2.5 layer III frame header: 11 sync bits, layer bits 01.
  if (bytes.length >= 2 && bytes[0] === 0xff && (bytes[1]! & 0xe0) === 0xe0 && (bytes[1]! & 0x06) === 0x02) return 'mp3';
  return undefined;
}

/**
 * Decodes an uploaded or fetched audio file and checks that it holds usable sound; every error names
 * `param`. Only WAV, MP3, FLAC and Ogg are let through to the decoder: `audio-decode` would load
 * GPL-2.0-only decoders for some other containers (AAC, AC-3), which cannot be combined with
 * Chorus's GPL-3.0 engine (docs/licenses.md).
 */
export async function decodeAudioBytes(bytes: Uint8Array, param: string, limits: DurationLimits = {}): Promise<DecodedAudio> {
  const fail = (message: string, cause?: unknown) =>
    new ChorusError({ code: 'invalid_request', param, message: `'${param}' ${message}`, ...(cause === undefined ? {} : { cause }) });
  const format = sniffAudioFormat(bytes);
  if (format === undefined) throw fail('is not audio in a supported format (WAV, MP3, FLAC or Ogg expected).');
  let decoded: { channelData: Float32Array[]; sampleRate: number };
  try {
    decoded = await decodeAudio(bytes);
  } catch (error) {
    throw fail(`could not be decoded as ${format.toUpperCase()}: ${error instanceof Error ? error.message : String(error)}.`, error);
  }
  const channels = decoded.channelData.filter((channel) => channel.length > 0);
  const first = channels[0];
  if (first === undefined || !(decoded.sampleRate > 0)) throw fail(`holds no audio samples (${format.toUpperCase()}).`);
  const samples = channels.length === 1 ? first : mixToMono(channels);
  const durationSec = samples.length / decoded.sampleRate;
  const minSec = limits.minSec ?? 0.1;
  const maxSec = limits.maxSec ?? 600;
  if (durationSec < minSec) throw fail(`is too short: ${durationSec.toFixed(2)} s of audio, at least ${minSec} s is needed.`);
  if (durationSec > maxSec) throw fail(`is too long: ${durationSec.toFixed(1)} s of audio, at most ${maxSec} s is accepted.`);
  let peak = 0;
  for (const sample of samples) {
    if (!Number.isFinite(sample)) throw fail('decodes to invalid samples.');
    peak = Math.max(peak, Math.abs(sample));
  }
  if (peak === 0) throw fail('is silent.');
  return { format, sampleRate: decoded.sampleRate, channels: decoded.channelData.length, durationSec, samples };
}

function mixToMono(channels: readonly Float32Array[]): Float32Array {
  const length = Math.min(...channels.map((channel) => channel.length));
  const out = new Float32Array(length);
  for (const channel of channels) for (let i = 0; i < length; i++) out[i]! += channel[i]! / channels.length;
  return out;
}
