import { spawn } from 'node:child_process';
import type { ChildProcessByStdio } from 'node:child_process';
import type { Readable, Writable } from 'node:stream';
import { ChorusError } from '../../errors.js';
import { concatBytes } from '../pcm.js';
import type { AudioEncoder, AudioFormatInfo, EncoderOptions } from './audio-encoder.js';
import { nearestRate } from './opus-encoder.js';

/** AAC sampling frequencies (ADTS index table) within Chorus' 8..48 kHz range. */
export const AAC_SAMPLE_RATES = [8000, 11025, 12000, 16000, 22050, 24000, 32000, 44100, 48000] as const;
export const AAC_DEFAULT_BITRATE_KBPS = 64;
const STDERR_LIMIT = 4096;

export const aacFormatInfo: AudioFormatInfo = {
  format: 'aac',
  mimeType: 'audio/aac',
  fileExtension: 'aac',
  resolveSampleRate: (requested) => nearestRate(requested, AAC_SAMPLE_RATES, true),
  decodedSampleRate: (rate) => rate,
};

export interface AacEncoderOptions extends EncoderOptions {
  readonly ffmpegPath: string;
}

type FfmpegProcess = ChildProcessByStdio<Writable, Readable, Readable>;

/**
 * AAC-LC in ADTS via an ffmpeg child process: float PCM goes to stdin, ADTS comes back on stdout.
 * `write` resolves once ffmpeg has accepted the chunk (backpressure) with whatever ADTS it has
 * produced so far; `end` closes stdin and resolves with the rest when ffmpeg exits.
 */
export class AacEncoder implements AudioEncoder {
  private readonly child: FfmpegProcess;
  private output: Uint8Array[] = [];
  private stderr = '';
  private failure: Error | undefined;
  private readonly exited: Promise<void>;
  private ended = false;
  private killed = false;

  constructor(options: AacEncoderOptions) {
    const rate = options.sampleRate;
    if (!(AAC_SAMPLE_RATES as readonly number[]).includes(rate)) {
      throw new RangeError(`aac: unsupported sample rate ${rate}`);
    }
    const kbps = Math.round(Math.min(320, Math.max(16, options.bitrateKbps ?? AAC_DEFAULT_BITRATE_KBPS)));
    const args = [
      '-hide_banner',
      '-loglevel',
      'error',
      '-nostdin',
      '-f',
      'f32le',
      '-ar',
      String(rate),
      '-ac',
      '1',
      '-i',
      'pipe:0',
      '-c:a',
      'aac',
      '-b:a',
      `${kbps}k`,
      '-f',
      'adts',
      // Push packets out as they are encoded instead of buffering in the muxer.
      '-flush_packets',
      '1',
      'pipe:1',
    ];
    this.child = spawn(options.ffmpegPath, args, { stdio: ['pipe', 'pipe', 'pipe'] });
    this.child.stdout.on('data', (chunk: Buffer) => {
      this.output.push(new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.byteLength));
    });
    this.child.stderr.setEncoding('utf8');
    this.child.stderr.on('data', (text: string) => {
      if (this.stderr.length < STDERR_LIMIT) this.stderr += text.slice(0, STDERR_LIMIT - this.stderr.length);
    });
    // EPIPE and the like surface through `exited`; keep them from crashing the process.
    this.child.stdin.on('error', (error: Error) => {
      this.failure ??= error;
    });
    this.exited = new Promise<void>((resolve) => {
      this.child.on('error', (error: Error) => {
        this.failure ??= error;
        resolve();
      });
      this.child.on('close', (code: number | null, signal: NodeJS.Signals | null) => {
        if (!this.killed && code !== 0) {
          const detail = this.stderr.trim().split('\n').slice(-3).join(' | ');
          this.failure = new ChorusError({
            code: 'engine_failed',
            message: `ffmpeg aac encoder exited with ${code === null ? `signal ${signal}` : `code ${code}`}${detail ? `: ${detail}` : ''}`,
            retryable: false,
          });
        }
        resolve();
      });
    });
  }

  async write(samples: Float32Array): Promise<Uint8Array> {
    if (this.ended) throw new Error('aac encoder: write after end');
    this.throwIfFailed();
    const stdin = this.child.stdin;
    const bytes = littleEndianFloats(samples);
    await new Promise<void>((resolve, reject) => {
      let pending = 2; // write callback + drain (if needed)
      const done = (error?: Error | null): void => {
        if (error) {
          reject(this.wrap(error));
          return;
        }
        if (--pending === 0) resolve();
      };
      const ok = stdin.write(bytes, (error) => done(error));
      if (ok) done();
      else stdin.once('drain', () => done());
    }).catch(async (error: unknown) => {
      // A broken pipe usually means ffmpeg died: report its exit status instead.
      await this.exited;
      this.throwIfFailed();
      throw error;
    });
    return this.take();
  }

  async end(): Promise<Uint8Array> {
    if (this.ended) return new Uint8Array(0);
    this.ended = true;
    this.child.stdin.end();
    await this.exited;
    this.throwIfFailed();
    return this.take();
  }

  dispose(): void {
    this.ended = true;
    if (this.child.exitCode === null && this.child.signalCode === null && !this.killed) {
      this.killed = true;
      this.child.stdin.destroy();
      this.child.kill('SIGKILL');
    }
  }

  private take(): Uint8Array {
    const out = concatBytes(this.output);
    this.output = [];
    return out;
  }

  private throwIfFailed(): void {
    if (this.failure !== undefined) throw this.wrap(this.failure);
  }

  private wrap(error: Error): ChorusError {
    if (ChorusError.isInstance(error)) return error;
    return new ChorusError({ code: 'engine_failed', message: `ffmpeg aac encoder failed: ${error.message}`, cause: error });
  }
}

function littleEndianFloats(samples: Float32Array): Uint8Array {
  const out = new Uint8Array(samples.length * 4);
  const view = new DataView(out.buffer);
  for (let i = 0; i < samples.length; i++) view.setFloat32(i * 4, samples[i]!, true);
  return out;
}
