/**
 * Chorus's inaudible watermark: a fixed, key-derived fine ripple in the magnitude spectrum.
 *
 * Embedding. The band 400 Hz – 7.6 kHz (up to 0.46 × the sample rate, so 8 kHz output still
 * carries 400–3680 Hz) is cut into 25 Hz bands taken in adjacent pairs. A SHA-256 stream of the key
 * gives every pair a sign s = ±1; the pair's lower band is raised by 1 dB × s and its upper band
 * lowered by the same amount (1.25 dB below 16 kHz output, which has less than half the bands). A
 * linear-phase FIR (frequency-sampling design, ±35 ms, Tukey window) applies that response.
 * Because each pair sums to zero the ripple has no broad tilt, and 25 Hz bands are far narrower
 * than the ear's critical bands (about 70–850 Hz over this range), which average the ripple out.
 * In time-domain terms it is a spray of weak echoes up to 35 ms away with random signs, about 20 dB
 * below the speech in total, without the regular comb that makes a single echo audible as colour.
 *
 * Detection needs only the key. The watermark is a time-invariant filter, so an offset, trimming,
 * an encoder delay or a change of sample rate (bands are fixed in Hz) do not disturb it. The
 * detector takes 96 ms Hann frames, keeps the frames with speech (within 40 dB of the loud ones),
 * divides every bin by the mean power of the ±120 Hz around it in the same frame (this cancels the
 * frame's own envelope and level), averages those ratios over the frames, and goes to dB per band.
 * A moving average over ±5 bands is removed and each pair contributes a = (lower − upper band). The
 * score is the normalised correlation with the key's signs,
 *
 *     z = Σ s·a / √(Σ a²).
 *
 * Why the threshold holds for any unmarked audio: for audio that was not marked with this key, the
 * a values do not depend on the signs, which are fair coin flips from SHA-256. Conditional on the
 * audio, z is then a normalised Rademacher sum: mean 0, variance exactly 1, and by Hoeffding's
 * inequality P(z ≥ t) ≤ exp(−t²/2) whatever the audio is (speech, music, noise, another key's
 * mark). The threshold 3.5 gives P ≤ 0.22 % (a Gaussian approximation gives 0.02 %). That bound is
 * over keys; for one fixed key, fine spectral structure that all of an engine's output shares can
 * shift the unmarked mean a little (eSpeak with the default key: about +0.2 to +0.4, measured in
 * bench/watermark.ts, which also measures marked speech: far above the threshold).
 */
import { createHash } from 'node:crypto';
import type { PcmTransform } from '../pcm.js';
import { fft, inverseRealFft, nextPowerOfTwo, realFft } from '../fft.js';

export const DEFAULT_WATERMARK_KEY = 'chorus-watermark-v1';

/** The key's ripple, ±dB per band, at band centres (the realised filter overshoots a little at band edges). */
export const WATERMARK_RIPPLE_DB = 1;
/**
 * Below 16 kHz output the mark has less than half the bands (400 Hz up to 0.46 × the rate), so it is
 * made a little deeper there: at 8 kHz, 1 dB left high-voiced clips a few per cent short of the goal.
 */
export const WATERMARK_NARROWBAND_RIPPLE_DB = 1.25;
const NARROWBAND_BELOW_HZ = 16_000;
/** Detection threshold on the score z; P(z ≥ 3.5) ≤ exp(−3.5²/2) ≈ 0.22 % for unmarked audio. */
export const WATERMARK_THRESHOLD = 3.5;
/** Delay the filter adds before compensation: its half length. */
export const WATERMARK_LATENCY_SEC = 0.035;

const LOW_HZ = 400;
const HIGH_HZ = 7600;
const BAND_HZ = 25;
/** Bands above this fraction of the sample rate are neither marked nor read (resampler roll-off). */
const TOP_FRACTION = 0.46;
/** Share of the filter window that is flat before the cosine taper. */
const FLAT_SHARE = 0.5;

const FRAME_SEC = 0.096;
const ACTIVE_DB = 40;
const ENVELOPE_HZ = 120;
const DETREND_BANDS = 5;
/** Long files are read in at most this many seconds of frames, spread evenly over the file. */
const MAX_ANALYSED_SEC = 120;
/** Fewer pairs than this cannot give a meaningful score. */
const MIN_PAIRS = 8;

const CACHE_LIMIT = 32;
const TOTAL_BANDS = 2 * Math.floor((HIGH_HZ - LOW_HZ) / BAND_HZ / 2);

// ---------------------------------------------------------------------------------------------
// The key's pattern

const patterns = new Map<string, Int8Array>();

function remember<V>(cache: Map<string, V>, id: string, value: V): V {
  if (cache.size >= CACHE_LIMIT) cache.delete(cache.keys().next().value!);
  cache.set(id, value);
  return value;
}

/** Sign per band: pair j is (s_j, −s_j), s_j from SHA-256(key, block) bits. */
function patternFor(key: string): Int8Array {
  const known = patterns.get(key);
  if (known !== undefined) return known;
  const signs = new Int8Array(TOTAL_BANDS);
  const pairs = TOTAL_BANDS / 2;
  for (let block = 0, j = 0; j < pairs; block++) {
    const digest = createHash('sha256').update(`chorus-watermark\u0000${key}\u0000${block}`).digest();
    for (let bit = 0; bit < digest.length * 8 && j < pairs; bit++, j++) {
      const s = (digest[bit >> 3]! >> (bit & 7)) & 1 ? 1 : -1;
      signs[2 * j] = s;
      signs[2 * j + 1] = -s;
    }
  }
  return remember(patterns, key, signs);
}

/** Bands (an even number) that fit below TOP_FRACTION of the rate. */
function bandsAt(sampleRate: number): number {
  const top = Math.min(HIGH_HZ, TOP_FRACTION * sampleRate);
  return Math.max(0, 2 * Math.floor((top - LOW_HZ) / BAND_HZ / 2));
}

function bandOf(hz: number): number {
  return Math.floor((hz - LOW_HZ) / BAND_HZ);
}

// ---------------------------------------------------------------------------------------------
// The filter

interface FilterDesign {
  readonly delay: number;
  readonly taps: Float64Array;
  /** Spectrum (bins 0..size/2) of the zero-padded taps, per FFT size used so far. */
  readonly spectra: Map<number, { readonly re: Float64Array; readonly im: Float64Array }>;
}

const designs = new Map<string, FilterDesign>();

function assertRate(sampleRate: number): void {
  if (!Number.isInteger(sampleRate) || sampleRate < 1000 || sampleRate > 384_000) {
    throw new RangeError(`sampleRate must be an integer between 1000 and 384000 Hz (got ${sampleRate})`);
  }
}

function designFilter(sampleRate: number, key: string): FilterDesign {
  const id = `${sampleRate}\u0000${key}`;
  const known = designs.get(id);
  if (known !== undefined) return known;
  const signs = patternFor(key);
  const bands = bandsAt(sampleRate);
  const ripple = sampleRate < NARROWBAND_BELOW_HZ ? WATERMARK_NARROWBAND_RIPPLE_DB : WATERMARK_RIPPLE_DB;
  const delay = Math.round(WATERMARK_LATENCY_SEC * sampleRate);
  const length = 2 * delay + 1;
  // Frequency sampling on a grid much finer than the filter's resolution, then a window.
  const m = nextPowerOfTwo(8 * length);
  const re = new Float64Array(m);
  const im = new Float64Array(m);
  for (let i = 0; i <= m / 2; i++) {
    const k = bandOf((i * sampleRate) / m);
    const db = k >= 0 && k < bands ? ripple * signs[k]! : 0;
    re[i] = 10 ** (db / 20);
    if (i > 0 && i < m / 2) re[m - i] = re[i]!;
  }
  fft(re, im, true);
  const taps = new Float64Array(length);
  for (let n = -delay; n <= delay; n++) {
    const x = Math.abs(n) / (delay + 1);
    const w = x <= FLAT_SHARE ? 1 : 0.5 * (1 + Math.cos((Math.PI * (x - FLAT_SHARE)) / (1 - FLAT_SHARE)));
    taps[n + delay] = (re[(n + m) % m]! / m) * w;
  }
  return remember(designs, id, { delay, taps, spectra: new Map() });
}

function tapSpectrum(design: FilterDesign, size: number): { readonly re: Float64Array; readonly im: Float64Array } {
  let spectrum = design.spectra.get(size);
  if (spectrum === undefined) {
    const padded = new Float64Array(size);
    padded.set(design.taps);
    const re = new Float64Array(size / 2 + 1);
    const im = new Float64Array(size / 2 + 1);
    realFft(padded, re, im);
    spectrum = { re, im };
    design.spectra.set(size, spectrum);
  }
  return spectrum;
}

interface Workspace {
  readonly block: Float64Array;
  readonly re: Float64Array;
  readonly im: Float64Array;
}

/** Scratch buffers per FFT size; every call runs to completion before the next, so one set is enough. */
const workspaces = new Map<number, Workspace>();

function workspace(size: number): Workspace {
  let w = workspaces.get(size);
  if (w === undefined) {
    w = { block: new Float64Array(size), re: new Float64Array(size / 2 + 1), im: new Float64Array(size / 2 + 1) };
    workspaces.set(size, w);
  }
  return w;
}

/**
 * The ripple can lift a peak by a few per cent. Above the knee samples bend smoothly towards ±1
 * instead of being cut off; below it (nearly all speech) they pass untouched.
 */
const KNEE = 0.94;

function softLimit(x: number): number {
  const a = Math.abs(x);
  if (a <= KNEE) return x;
  const y = KNEE + (1 - KNEE) * Math.tanh((a - KNEE) / (1 - KNEE));
  return x < 0 ? -y : y;
}

/**
 * FFT overlap-add with no input buffering: every call convolves what it gets (in blocks of at most
 * `blockSize`) and emits all output that no later input can change, so the only delay is the
 * filter's own half length, which is dropped from the front and returned by `flush`. Output is
 * emitted block by block, so the accumulator stays a few blocks long even for a whole file.
 */
class Watermarker implements PcmTransform {
  readonly outputSampleRate: number;
  private readonly design: FilterDesign;
  private readonly blockSize: number;
  /** Filter output y[accStart + i], not yet delay-compensated; float64 keeps chunkings within rounding of each other. */
  private acc = new Float64Array(0);
  private accStart = 0;
  private inputCount = 0;
  private emitted = 0;
  private finished = false;

  constructor(sampleRate: number, key: string) {
    assertRate(sampleRate);
    this.outputSampleRate = sampleRate;
    this.design = designFilter(sampleRate, key);
    this.blockSize = nextPowerOfTwo(4 * this.design.taps.length) - this.design.taps.length + 1;
  }

  process(samples: Float32Array): Float32Array {
    if (this.finished) throw new Error('The watermarker was used after flush() or dispose().');
    const out = new Float32Array(Math.max(0, this.inputCount + samples.length - this.design.delay - this.emitted));
    let at = 0;
    for (let offset = 0; offset < samples.length; offset += this.blockSize) {
      this.convolve(samples.subarray(offset, Math.min(samples.length, offset + this.blockSize)));
      at += this.emit(this.inputCount - this.design.delay, out, at);
    }
    return out;
  }

  flush(): Float32Array {
    if (this.finished) return new Float32Array(0);
    const out = new Float32Array(Math.max(0, this.inputCount - this.emitted));
    this.emit(this.inputCount, out, 0);
    this.dispose();
    return out;
  }

  dispose(): void {
    this.finished = true;
    this.acc = new Float64Array(0);
  }

  /** Adds the filtered `block` (at most `blockSize` samples) into the accumulator. */
  private convolve(block: Float32Array): void {
    const taps = this.design.taps.length;
    const length = block.length;
    const needed = this.inputCount + length + taps - 1 - this.accStart;
    if (needed > this.acc.length) {
      const grown = new Float64Array(Math.max(needed, 2 * this.acc.length));
      grown.set(this.acc);
      this.acc = grown;
    }
    if (length > 0) {
      const size = nextPowerOfTwo(length + taps - 1);
      const { block: work, re, im } = workspace(size);
      for (let i = 0; i < length; i++) work[i] = block[i]!;
      work.fill(0, length);
      realFft(work, re, im);
      const h = tapSpectrum(this.design, size);
      for (let k = 0; k <= size / 2; k++) {
        const a = re[k]!;
        const b = im[k]!;
        re[k] = a * h.re[k]! - b * h.im[k]!;
        im[k] = a * h.im[k]! + b * h.re[k]!;
      }
      inverseRealFft(re, im, work);
      const base = this.inputCount - this.accStart;
      for (let i = 0; i < length + taps - 1; i++) this.acc[base + i]! += work[i]!;
    }
    this.inputCount += length;
  }

  /** Writes delay-compensated output up to (not including) sample `end` into `out` at `at`; returns how many. */
  private emit(end: number, out: Float32Array, at: number): number {
    const count = Math.max(0, end - this.emitted);
    const from = this.emitted + this.design.delay - this.accStart;
    for (let i = 0; i < count; i++) out[at + i] = softLimit(this.acc[from + i]!);
    this.emitted += count;
    const consumed = this.emitted + this.design.delay - this.accStart;
    // Shift only once half the buffer is spent, so small chunks do not copy on every call.
    if (consumed > 0 && consumed >= this.acc.length / 2) {
      this.acc.copyWithin(0, consumed);
      this.acc.fill(0, this.acc.length - consumed);
      this.accStart += consumed;
    }
    return count;
  }
}

/**
 * A streaming watermarker. Output length equals input length in total; the first ~35 ms come out
 * later (the filter's half length), and `flush` emits the rest.
 */
export function createWatermarker(sampleRate: number, key: string = DEFAULT_WATERMARK_KEY): PcmTransform {
  return new Watermarker(sampleRate, key);
}

/** Whole-buffer convenience: the marked copy of `samples`, same length. */
export function applyWatermark(samples: Float32Array, sampleRate: number, key: string = DEFAULT_WATERMARK_KEY): Float32Array {
  const marker = createWatermarker(sampleRate, key);
  const head = marker.process(samples);
  const tail = marker.flush();
  const out = new Float32Array(samples.length);
  out.set(head);
  out.set(tail, head.length);
  return out;
}

// ---------------------------------------------------------------------------------------------
// Detection

export interface WatermarkDetection {
  readonly detected: boolean;
  /** z: about N(0, 1) for unmarked audio; grows with the length of marked speech. */
  readonly score: number;
  readonly threshold: number;
  /** Seconds of audio (speech-active frames) the score rests on. */
  readonly analysedSec: number;
}

export function detectWatermark(samples: Float32Array, sampleRate: number, key: string = DEFAULT_WATERMARK_KEY): WatermarkDetection {
  assertRate(sampleRate);
  const nothing: WatermarkDetection = { detected: false, score: 0, threshold: WATERMARK_THRESHOLD, analysedSec: 0 };
  const bands = bandsAt(sampleRate);
  const frame = Math.round(FRAME_SEC * sampleRate);
  if (bands / 2 < MIN_PAIRS || samples.length < frame) return nothing;
  const signs = patternFor(key);
  const size = nextPowerOfTwo(frame);
  const binHz = sampleRate / size;
  const envelope = Math.max(1, Math.round(ENVELOPE_HZ / binHz));
  // Bins of the marked range plus a margin so every envelope window is whole.
  const loBin = Math.max(0, Math.floor(LOW_HZ / binHz) - envelope);
  const hiBin = Math.min(size / 2, Math.ceil((LOW_HZ + bands * BAND_HZ) / binHz) + envelope + 1);
  const width = hiBin - loBin;

  const frameHop = Math.max(1, Math.round(frame / 2));
  const hop = Math.max(frameHop, Math.ceil((samples.length - frame) / Math.ceil((MAX_ANALYSED_SEC * sampleRate) / frameHop)));
  const frames = Math.floor((samples.length - frame) / hop) + 1;
  const window = new Float64Array(frame);
  for (let i = 0; i < frame; i++) window[i] = 0.5 - 0.5 * Math.cos((2 * Math.PI * (i + 0.5)) / frame);

  // Speech-active frames by windowed energy: within ACTIVE_DB of the loud (95th percentile) frames.
  const energy = new Float64Array(frames);
  for (let t = 0; t < frames; t++) {
    let e = 0;
    for (let i = 0; i < frame; i++) e += (samples[t * hop + i]! * window[i]!) ** 2;
    energy[t] = e;
  }
  const loud = Float64Array.from(energy).sort()[Math.floor(0.95 * (frames - 1))]!;
  const gate = Math.max(loud * 10 ** (-ACTIVE_DB / 10), frame * 1e-12);
  const active: number[] = [];
  for (let t = 0; t < frames; t++) if (energy[t]! >= gate) active.push(t);
  if (active.length === 0) return nothing;

  // Σ over frames of power / local mean power, per bin.
  const ratios = new Float64Array(width);
  const power = new Float64Array(width);
  const prefix = new Float64Array(width + 1);
  const re = new Float64Array(size);
  const im = new Float64Array(size);
  const accumulate = (): void => {
    for (let j = 0; j < width; j++) prefix[j + 1] = prefix[j]! + power[j]!;
    const tiny = (prefix[width]! / width) * 1e-9 + 1e-30;
    for (let j = 0; j < width; j++) {
      const lo = Math.max(0, j - envelope);
      const hi = Math.min(width, j + envelope + 1);
      ratios[j]! += power[j]! / ((prefix[hi]! - prefix[lo]!) / (hi - lo) + tiny);
    }
  };
  for (let a = 0; a < active.length; a += 2) {
    const t1 = active[a]!;
    const t2 = active[a + 1];
    re.fill(0);
    im.fill(0);
    for (let i = 0; i < frame; i++) re[i] = samples[t1 * hop + i]! * window[i]!;
    if (t2 !== undefined) for (let i = 0; i < frame; i++) im[i] = samples[t2 * hop + i]! * window[i]!;
    fft(re, im);
    // Two real frames in one FFT: X1[k] = (Z[k] + conj Z[−k]) / 2, X2[k] = (Z[k] − conj Z[−k]) / 2i.
    for (let j = 0; j < width; j++) {
      const k = loBin + j;
      const r1 = re[k]!;
      const i1 = im[k]!;
      const r2 = re[(size - k) % size]!;
      const i2 = im[(size - k) % size]!;
      power[j] = ((r1 + r2) ** 2 + (i1 - i2) ** 2) / 4;
    }
    accumulate();
    if (t2 === undefined) break;
    for (let j = 0; j < width; j++) {
      const k = loBin + j;
      const r1 = re[k]!;
      const i1 = im[k]!;
      const r2 = re[(size - k) % size]!;
      const i2 = im[(size - k) % size]!;
      power[j] = ((i1 + i2) ** 2 + (r2 - r1) ** 2) / 4;
    }
    accumulate();
  }

  // Per band: mean dB of the averaged ratios of the bins whose centre lies in the band. Bins are
  // 5.2–10.4 Hz at every rate (96 ms rounded up to a power of two), so each 25 Hz band has several.
  const level = new Float64Array(bands);
  const counts = new Float64Array(bands);
  for (let j = 0; j < width; j++) {
    const k = bandOf((loBin + j) * binHz);
    if (k < 0 || k >= bands) continue;
    level[k]! += 10 * Math.log10(ratios[j]! / active.length + 1e-30);
    counts[k]!++;
  }
  for (let k = 0; k < bands; k++) level[k]! /= counts[k]!;
  let dot = 0;
  let norm = 0;
  const residual = (k: number): number => {
    let sum = 0;
    let n = 0;
    for (let q = Math.max(0, k - DETREND_BANDS); q <= Math.min(bands - 1, k + DETREND_BANDS); q++, n++) sum += level[q]!;
    return level[k]! - sum / n;
  };
  for (let k = 0; k + 1 < bands; k += 2) {
    const a = residual(k) - residual(k + 1);
    dot += signs[k]! * a;
    norm += a * a;
  }
  const score = norm > 0 ? dot / Math.sqrt(norm) : 0;
  return {
    detected: score >= WATERMARK_THRESHOLD,
    score,
    threshold: WATERMARK_THRESHOLD,
    analysedSec: (active.length * frameHop) / sampleRate,
  };
}

/**
 * The realised marking filter, measured from its impulse response: the largest and rms deviation
 * from 0 dB between `fromHz` and `toHz`, and the gain at any frequency. For audibility reports.
 */
export function measureWatermarkFilter(
  sampleRate: number,
  fromHz: number,
  toHz: number,
  key: string = DEFAULT_WATERMARK_KEY,
): { readonly maxDb: number; readonly rmsDb: number; gainDbAt(hz: number): number } {
  const impulse = new Float32Array(sampleRate);
  impulse[sampleRate / 2] = 0.5;
  const response = applyWatermark(impulse, sampleRate, key);
  const n = 1 << 16;
  const re = new Float64Array(n);
  const im = new Float64Array(n);
  for (let i = 0; i < response.length; i++) re[i] = response[i]! / 0.5;
  fft(re, im);
  const gainDbAt = (hz: number): number => {
    const k = Math.round((hz / sampleRate) * n);
    return 10 * Math.log10(re[k]! ** 2 + im[k]! ** 2);
  };
  let maxDb = 0;
  let sumSq = 0;
  let bins = 0;
  for (let k = Math.round((fromHz / sampleRate) * n); k < Math.round((toHz / sampleRate) * n); k++) {
    const db = gainDbAt((k * sampleRate) / n);
    maxDb = Math.max(maxDb, Math.abs(db));
    sumSq += db * db;
    bins++;
  }
  return { maxDb, rmsDb: Math.sqrt(sumSq / Math.max(1, bins)), gainDbAt };
}
