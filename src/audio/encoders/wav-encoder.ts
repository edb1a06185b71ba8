import { floatToInt16 } from '../pcm.js';
import type { AudioEncoder, AudioFormatInfo, EncoderOptions } from './audio-encoder.js';

/** Streamed WAV leaves both RIFF sizes at this value, as streaming servers (and ffmpeg's `-rf64 never` pipes) do. */
const UNKNOWN_SIZE = 0xffffffff;

export const WAV_MIN_RATE = 8000;
export const WAV_MAX_RATE = 48000;

export function clampRate(requested: number, min: number, max: number): number {
  const rate = Math.round(Number.isFinite(requested) ? requested : max);
  return Math.min(max, Math.max(min, rate));
}

export const wavFormatInfo: AudioFormatInfo = {
  format: 'wav',
  mimeType: 'audio/wav',
  fileExtension: 'wav',
  resolveSampleRate: (requested) => clampRate(requested, WAV_MIN_RATE, WAV_MAX_RATE),
  decodedSampleRate: (rate) => rate,
};

/** The 44-byte canonical header for 16-bit mono PCM; `dataBytes` undefined means "unknown length". */
export function wavHeader(sampleRate: number, dataBytes: number | undefined): Uint8Array {
  const header = new Uint8Array(44);
  const view = new DataView(header.buffer);
  const ascii = (offset: number, text: string): void => {
    for (let i = 0; i < text.length; i++) header[offset + i] = text.charCodeAt(i);
  };
  // An exact size only fits when it is below 4 GiB; otherwise fall back to the streaming marker.
  const known = dataBytes !== undefined && dataBytes + 36 <= 0xfffffffe;
  ascii(0, 'RIFF');
  view.setUint32(4, known ? dataBytes + 36 : UNKNOWN_SIZE, true);
  ascii(8, 'WAVE');
  ascii(12, 'fmt ');
  view.setUint32(16, 16, true);
  view.setUint16(20, 1, true); // PCM
  view.setUint16(22, 1, true); // mono
  view.setUint32(24, sampleRate, true);
  view.setUint32(28, sampleRate * 2, true); // byte rate
  view.setUint16(32, 2, true); // block align
  view.setUint16(34, 16, true); // bits per sample
  ascii(36, 'data');
  view.setUint32(40, known ? dataBytes : UNKNOWN_SIZE, true);
  return header;
}

/** Little-endian s16 bytes of float samples (the host may be big-endian in theory, so no Int16Array view). */
export function floatToS16leBytes(samples: Float32Array): Uint8Array {
  const ints = floatToInt16(samples);
  const out = new Uint8Array(ints.length * 2);
  for (let i = 0, j = 0; i < ints.length; i++, j += 2) {
    const v = ints[i]!;
    out[j] = v & 0xff;
    out[j + 1] = (v >> 8) & 0xff;
  }
  return out;
}

export class WavEncoder implements AudioEncoder {
  private headerSent = false;
  private ended = false;
  private readonly header: Uint8Array;

  constructor(options: EncoderOptions) {
    const rate = options.sampleRate;
    if (!Number.isInteger(rate) || rate < WAV_MIN_RATE || rate > WAV_MAX_RATE) {
      throw new RangeError(`wav: unsupported sample rate ${rate}`);
    }
    this.header = wavHeader(rate, options.totalSamples === undefined ? undefined : options.totalSamples * 2);
  }

  write(samples: Float32Array): Promise<Uint8Array> {
    if (this.ended) return Promise.reject(new Error('wav encoder: write after end'));
    return Promise.resolve(this.withHeader(floatToS16leBytes(samples)));
  }

  end(): Promise<Uint8Array> {
    if (this.ended) return Promise.resolve(new Uint8Array(0));
    this.ended = true;
    return Promise.resolve(this.withHeader(new Uint8Array(0)));
  }

  dispose(): void {
    this.ended = true;
  }

  private withHeader(body: Uint8Array): Uint8Array {
    if (this.headerSent) return body;
    this.headerSent = true;
    const out = new Uint8Array(this.header.length + body.length);
    out.set(this.header, 0);
    out.set(body, this.header.length);
    return out;
  }
}
