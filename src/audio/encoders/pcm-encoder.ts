import type { AudioEncoder, AudioFormatInfo, EncoderOptions } from './audio-encoder.js';
import { floatToS16leBytes } from './wav-encoder.js';

export const PCM_MIN_RATE = 1000;
export const PCM_MAX_RATE = 384000;

export const pcmFormatInfo: AudioFormatInfo = {
  format: 'pcm',
  mimeType: 'audio/pcm',
  fileExtension: 'pcm',
  resolveSampleRate: (requested) => {
    const rate = Math.round(Number.isFinite(requested) ? requested : 24000);
    return Math.min(PCM_MAX_RATE, Math.max(PCM_MIN_RATE, rate));
  },
  decodedSampleRate: (rate) => rate,
};

/** Raw signed 16-bit little-endian mono samples, no header. */
export class PcmEncoder implements AudioEncoder {
  private ended = false;

  constructor(options: EncoderOptions) {
    if (!Number.isInteger(options.sampleRate) || options.sampleRate <= 0) {
      throw new RangeError(`pcm: unsupported sample rate ${options.sampleRate}`);
    }
  }

  write(samples: Float32Array): Promise<Uint8Array> {
    if (this.ended) return Promise.reject(new Error('pcm encoder: write after end'));
    return Promise.resolve(floatToS16leBytes(samples));
  }

  end(): Promise<Uint8Array> {
    this.ended = true;
    return Promise.resolve(new Uint8Array(0));
  }

  dispose(): void {
    this.ended = true;
  }
}
