import type { PcmFormat } from '../pcm.js';

export const AUDIO_FORMATS = ['mp3', 'opus', 'aac', 'flac', 'wav', 'pcm'] as const;
export type AudioFormat = (typeof AUDIO_FORMATS)[number];

export interface EncoderOptions {
  /** Sample rate of the PCM handed to `write`; must be one `resolveSampleRate` returned. */
  readonly sampleRate: number;
  /** Target bitrate for lossy formats, kbit/s. */
  readonly bitrateKbps?: number;
  /**
   * Total number of samples when known before encoding starts (buffered responses). Lets wav, flac
   * and mp3 write exact lengths into their headers; streamed output leaves them open.
   */
  readonly totalSamples?: number;
}

/**
 * A streaming encoder for one output stream. `write` and `end` resolve to the bytes that are ready
 * (possibly empty). In-process encoders resolve at once; the ffmpeg-backed one waits on its pipe.
 */
export interface AudioEncoder {
  write(samples: Float32Array): Promise<Uint8Array>;
  end(): Promise<Uint8Array>;
  /** Frees native memory or kills a child process; safe after `end` and safe to call twice. */
  dispose(): void;
}

export interface AudioFormatInfo {
  readonly format: AudioFormat;
  readonly mimeType: string;
  readonly fileExtension: string;
  /**
   * The rate the encoder will be fed for a requested output rate. Containers that only allow a set
   * of rates (mp3, aac, opus) pick the nearest allowed one; the pipeline resamples to it.
   */
  resolveSampleRate(requested: number): number;
  /** The rate a decoder (ffprobe) reports for the file: opus always decodes at 48 kHz. */
  decodedSampleRate(encoderRate: number): number;
}

export type { PcmFormat };
