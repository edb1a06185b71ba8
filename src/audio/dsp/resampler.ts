/**
 * Streaming sample-rate conversion on the Speex resampler (wasm).
 *
 * Latency compensation: Speex's filter delays its output by half the filter length. We call
 * `speex_resampler_skip_zeros` up front so the first output sample lines up with the first input
 * sample, and in `flush` we feed enough zeros to push the filter tail out, then cut the total output
 * to exactly round(totalInput * outputRate / inputRate) samples. Net effect: a resampled stream is
 * time-aligned with its input and has the length one would expect, however it was chunked.
 */
import { concatFloat32, type PcmTransform } from '../pcm.js';
import { getSpeex, type SpeexModule } from './dsp-modules.js';

export interface ResamplerOptions {
  inputRate: number;
  outputRate: number;
  /** Speex quality 0 (fastest) .. 10 (best). Default 5 (Speex's "desktop" setting). */
  quality?: number;
}

/** Input is fed to Speex in blocks of at most this many samples, which bounds the wasm buffers. */
const MAX_BLOCK = 8192;
const EMPTY = new Float32Array(0);

function assertRate(name: string, value: number): void {
  if (!Number.isInteger(value) || value < 1000 || value > 384_000) {
    throw new RangeError(`${name} must be an integer sample rate between 1000 and 384000 Hz (got ${value})`);
  }
}

export function createResampler(options: ResamplerOptions): PcmTransform {
  const { inputRate, outputRate } = options;
  const quality = options.quality ?? 5;
  assertRate('inputRate', inputRate);
  assertRate('outputRate', outputRate);
  if (!Number.isInteger(quality) || quality < 0 || quality > 10) {
    throw new RangeError(`quality must be an integer between 0 and 10 (got ${quality})`);
  }
  if (inputRate === outputRate) return identityTransform(outputRate);
  return new SpeexResampler(getSpeex(), inputRate, outputRate, inputRate, outputRate, outputRate, quality);
}

/** A whole buffer resampled at once (uploads, analysis, tests); streaming callers use createResampler. */
export function resampleBuffer(samples: Float32Array, inputRate: number, outputRate: number, quality = 5): Float32Array {
  if (inputRate === outputRate) return samples;
  const resampler = createResampler({ inputRate, outputRate, quality });
  try {
    return concatFloat32([resampler.process(samples), resampler.flush()]);
  } finally {
    resampler.dispose();
  }
}

export interface PlaybackRateOptions {
  sampleRate: number;
  /** >1 plays faster (shorter, higher), <1 slower (longer, lower). 0.25 .. 4. */
  factor: number;
  quality?: number;
}

/** Denominator used to approximate a real playback factor by a ratio of integers for Speex. */
const FACTOR_DENOMINATOR = 10_000;

/**
 * "Varispeed": resamples as if the input had been recorded at sampleRate * factor, so at the same
 * output sample rate duration scales by 1/factor and every frequency by factor (tape speed-up).
 * Used for pitch shifting after a Sonic time-stretch. The factor is approximated by n/10000
 * (error < 0.005%); the output length is round(inputLength / factor') for that rational factor'.
 */
export function createPlaybackRateTransform(options: PlaybackRateOptions): PcmTransform {
  const { sampleRate, factor } = options;
  const quality = options.quality ?? 5;
  assertRate('sampleRate', sampleRate);
  if (!Number.isFinite(factor) || factor < 0.25 || factor > 4) {
    throw new RangeError(`factor must be between 0.25 and 4 (got ${factor})`);
  }
  if (!Number.isInteger(quality) || quality < 0 || quality > 10) {
    throw new RangeError(`quality must be an integer between 0 and 10 (got ${quality})`);
  }
  let num = Math.round(factor * FACTOR_DENOMINATOR);
  let den = FACTOR_DENOMINATOR;
  const g = gcd(num, den);
  num /= g;
  den /= g;
  if (num === den) return identityTransform(sampleRate);
  return new SpeexResampler(getSpeex(), num, den, Math.round(sampleRate * factor), sampleRate, sampleRate, quality);
}

function gcd(a: number, b: number): number {
  while (b !== 0) [a, b] = [b, a % b];
  return a;
}

/** Pass-through used when no conversion is needed (no wasm involved). */
export function identityTransform(sampleRate: number): PcmTransform {
  let flushed = false;
  return {
    outputSampleRate: sampleRate,
    process(samples) {
      if (flushed) throw new Error('transform already flushed');
      return samples;
    },
    flush() {
      flushed = true;
      return EMPTY;
    },
    dispose() {
      flushed = true;
    },
  };
}

class SpeexResampler implements PcmTransform {
  readonly outputSampleRate: number;
  private readonly ratio: number;
  private state: number;
  /** Two int32s: [inLen, outLen], in/out parameters of process_float. */
  private lenPtr: number;
  private inPtr = 0;
  private inCapacity = 0;
  private outPtr = 0;
  private outCapacity = 0;
  private totalIn = 0;
  private totalOut = 0;
  private readonly inputLatency: number;
  private done = false;

  constructor(
    private readonly wasm: SpeexModule,
    /** Resampling ratio input:output = ratioNum:ratioDen (Speex reduces it by the gcd). */
    ratioNum: number,
    ratioDen: number,
    inputRate: number,
    outputRate: number,
    outputSampleRate: number,
    quality: number,
  ) {
    this.outputSampleRate = outputSampleRate;
    this.ratio = ratioDen / ratioNum;
    const errPtr = wasm._malloc(4);
    try {
      wasm.HEAP32[errPtr >> 2] = 0;
      this.state = wasm._speex_resampler_init_frac(1, ratioNum, ratioDen, inputRate, outputRate, quality, errPtr);
      const err = wasm.HEAP32[errPtr >> 2] ?? 0;
      if (this.state === 0 || err !== 0) {
        throw new Error(`speex_resampler_init(${inputRate} -> ${outputRate}, q${quality}) failed with code ${err}`);
      }
    } finally {
      wasm._free(errPtr);
    }
    wasm._speex_resampler_skip_zeros(this.state);
    this.inputLatency = wasm._speex_resampler_get_input_latency(this.state);
    this.lenPtr = wasm._malloc(8);
  }

  process(samples: Float32Array): Float32Array {
    if (this.done) throw new Error('resampler already flushed or disposed');
    this.totalIn += samples.length;
    return this.run(samples);
  }

  flush(): Float32Array {
    if (this.done) throw new Error('resampler already flushed or disposed');
    const target = Math.round(this.totalIn * this.ratio);
    const needed = Math.max(0, target - this.totalOut);
    const parts: Float32Array[] = [];
    let have = 0;
    // Push the filter's tail out with zeros. inputLatency is enough in theory; loop defensively.
    const zeros = new Float32Array(this.inputLatency + 2);
    for (let guard = 0; have < needed && guard < 4; guard++) {
      const out = this.run(zeros);
      parts.push(out);
      have += out.length;
    }
    this.dispose();
    const result = new Float32Array(needed); // zero-padded if the tail came up short (it should not)
    let offset = 0;
    for (const part of parts) {
      if (offset >= needed) break;
      const take = Math.min(part.length, needed - offset);
      result.set(take === part.length ? part : part.subarray(0, take), offset);
      offset += take;
    }
    this.totalOut = target;
    return result;
  }

  dispose(): void {
    if (this.state !== 0) {
      this.wasm._speex_resampler_destroy(this.state);
      this.state = 0;
    }
    for (const ptr of [this.inPtr, this.outPtr, this.lenPtr]) if (ptr !== 0) this.wasm._free(ptr);
    this.inPtr = this.outPtr = this.lenPtr = 0;
    this.inCapacity = this.outCapacity = 0;
    this.done = true;
  }

  /** Runs all of `samples` through Speex and returns what it produced (not yet counted in totalOut). */
  private run(samples: Float32Array): Float32Array {
    if (samples.length === 0) return EMPTY;
    const wasm = this.wasm;
    const block = Math.min(samples.length, MAX_BLOCK);
    this.ensureBuffers(block, Math.ceil(block * this.ratio) + 16);
    const expected = Math.ceil(samples.length * this.ratio) + 16;
    let out = new Float32Array(expected);
    let produced = 0;
    let offset = 0;
    while (offset < samples.length) {
      const n = Math.min(samples.length - offset, this.inCapacity);
      wasm.HEAPF32.set(samples.subarray(offset, offset + n), this.inPtr >> 2);
      wasm.HEAP32[this.lenPtr >> 2] = n;
      wasm.HEAP32[(this.lenPtr >> 2) + 1] = this.outCapacity;
      wasm._speex_resampler_process_float(this.state, 0, this.inPtr, this.lenPtr, this.outPtr, this.lenPtr + 4);
      const consumed = wasm.HEAP32[this.lenPtr >> 2] ?? 0;
      const written = wasm.HEAP32[(this.lenPtr >> 2) + 1] ?? 0;
      if (produced + written > out.length) {
        const grown = new Float32Array(Math.max(out.length * 2, produced + written));
        grown.set(out.subarray(0, produced));
        out = grown;
      }
      out.set(wasm.HEAPF32.subarray(this.outPtr >> 2, (this.outPtr >> 2) + written), produced);
      produced += written;
      offset += consumed;
      if (consumed === 0 && written === 0) throw new Error('speex resampler made no progress');
    }
    this.totalOut += produced;
    return produced === out.length ? out : out.slice(0, produced);
  }

  private ensureBuffers(inSamples: number, outSamples: number): void {
    const wasm = this.wasm;
    if (inSamples > this.inCapacity) {
      if (this.inPtr !== 0) wasm._free(this.inPtr);
      this.inCapacity = Math.max(inSamples, 1024);
      this.inPtr = wasm._malloc(this.inCapacity * 4);
    }
    if (outSamples > this.outCapacity) {
      if (this.outPtr !== 0) wasm._free(this.outPtr);
      this.outCapacity = Math.max(outSamples, 1024);
      this.outPtr = wasm._malloc(this.outCapacity * 4);
    }
    if (this.inPtr === 0 || this.outPtr === 0) throw new Error('wasm malloc failed in resampler');
  }
}
