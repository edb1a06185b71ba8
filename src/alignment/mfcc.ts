/**
 * Mel-frequency cepstral coefficients for alignment. The analysis is the one Echogarden's `dtw`
 * aligner uses at its "high" granularity (25 ms Hamming frames, 10 ms hop, 40 mel filters from 133
 * to 6855 Hz, 13 coefficients, pre-emphasis 0.97). They describe the spectral envelope (what is
 * being said) and discard pitch, so two voices saying the same words give comparable sequences.
 *
 * Unlike Echogarden, c0 is kept but the per-utterance mean of every coefficient is removed
 * (cepstral mean normalisation), and delta coefficients are appended. Measured on eSpeak voices
 * aligned against another eSpeak voice and against flite: c0 dropped, mean word-start error 30-60 ms;
 * c0 + mean normalisation, ~20 ms; + deltas, 6 ms (eSpeak) and 19 ms (flite). Loudness differences
 * are a constant offset on c0, which the mean removal cancels; c0's rise and fall still marks
 * syllables and pauses, and the deltas mark onsets, where word boundaries are.
 */
import { nextPowerOfTwo, realFft } from '../audio/fft.js';

export interface MelOptions {
  /** Default 0.025 s. */
  readonly frameSec?: number;
  /** Default 0.010 s. */
  readonly hopSec?: number;
  /** Default 40. */
  readonly filterCount?: number;
  /** Default 133 Hz. */
  readonly lowHz?: number;
  /** Default 6855 Hz (capped below Nyquist). */
  readonly highHz?: number;
  /** Default 0.97; 0 disables it. */
  readonly preEmphasis?: number;
}

export interface CepstrumOptions {
  /** Cepstral coefficients, c0 included. Default 13. */
  readonly coefficientCount?: number;
  /** Leave c0 (the frame's level) out. Default false. */
  readonly dropC0?: boolean;
  /** Subtract each coefficient's mean over the utterance. Default true. */
  readonly meanNormalize?: boolean;
  /** Append delta (slope over ±2 frames) coefficients. Default true. */
  readonly deltas?: boolean;
  /**
   * Band energies are floored this many dB below the loudest band energy of the signal. Default 60.
   * Without a floor, digital silence (log 0) and faint noise would look maximally different,
   * although both are "nothing spoken".
   */
  readonly floorDb?: number;
}

/** Power in each mel band, frame-major (`energies[frame * bands + band]`). */
export interface MelEnergies {
  readonly energies: Float64Array;
  readonly frames: number;
  readonly bands: number;
  /** Seconds between frame starts; frame `i` starts at `i * hopSec`. */
  readonly hopSec: number;
}

export interface MfccFeatures {
  /** Frame-major: frame `i` is `data[i * dims .. (i + 1) * dims)`. */
  readonly data: Float32Array;
  readonly frames: number;
  readonly dims: number;
  readonly hopSec: number;
}

interface MelBank {
  /** Per filter: first FFT bin and the weights of consecutive bins from there. */
  readonly starts: Int32Array;
  readonly weights: Float64Array[];
}

const banks = new Map<string, MelBank>();
const dcts = new Map<string, Float64Array>();

const hzToMel = (hz: number): number => 2595 * Math.log10(1 + hz / 700);
const melToHz = (mel: number): number => 700 * (10 ** (mel / 2595) - 1);

function melBank(sampleRate: number, fftSize: number, filterCount: number, lowHz: number, highHz: number): MelBank {
  const key = [sampleRate, fftSize, filterCount, lowHz, highHz].join(':');
  let bank = banks.get(key);
  if (bank !== undefined) return bank;
  const lowMel = hzToMel(lowHz);
  const highMel = hzToMel(highHz);
  // filterCount + 2 edge frequencies, in fractional FFT bins.
  const edges: number[] = [];
  for (let m = 0; m < filterCount + 2; m++) {
    edges.push((melToHz(lowMel + ((highMel - lowMel) * m) / (filterCount + 1)) * fftSize) / sampleRate);
  }
  const starts = new Int32Array(filterCount);
  const weights: Float64Array[] = [];
  for (let m = 0; m < filterCount; m++) {
    const left = edges[m]!;
    const centre = edges[m + 1]!;
    const right = edges[m + 2]!;
    const first = Math.ceil(left);
    const last = Math.min(fftSize / 2, Math.floor(right));
    const w = new Float64Array(Math.max(0, last - first + 1));
    for (let k = first; k <= last; k++) {
      w[k - first] = k <= centre ? (k - left) / Math.max(1e-9, centre - left) : (right - k) / Math.max(1e-9, right - centre);
    }
    starts[m] = first;
    weights.push(w);
  }
  bank = { starts, weights };
  banks.set(key, bank);
  return bank;
}

/** Orthonormal DCT-II matrix, row k = coefficient k. */
function dctMatrix(coefficientCount: number, bands: number): Float64Array {
  const key = `${coefficientCount}:${bands}`;
  let dct = dcts.get(key);
  if (dct !== undefined) return dct;
  dct = new Float64Array(coefficientCount * bands);
  for (let k = 0; k < coefficientCount; k++) {
    const scale = k === 0 ? Math.sqrt(1 / bands) : Math.sqrt(2 / bands);
    for (let m = 0; m < bands; m++) dct[k * bands + m] = scale * Math.cos((Math.PI * k * (m + 0.5)) / bands);
  }
  dcts.set(key, dct);
  return dct;
}

/** Mel band energies of mono `samples`. Frames run while a whole frame fits, plus one zero-padded frame. */
export function computeMelEnergies(samples: Float32Array, sampleRate: number, options: MelOptions = {}): MelEnergies {
  const frameSec = options.frameSec ?? 0.025;
  const hopSec = options.hopSec ?? 0.01;
  const bands = options.filterCount ?? 40;
  const lowHz = options.lowHz ?? 133;
  const highHz = Math.min(options.highHz ?? 6855, sampleRate / 2 - 1);
  const preEmphasis = options.preEmphasis ?? 0.97;

  const frameLength = Math.max(2, Math.round(frameSec * sampleRate));
  const hop = Math.max(1, Math.round(hopSec * sampleRate));
  const fftSize = Math.max(2, nextPowerOfTwo(frameLength));
  const bank = melBank(sampleRate, fftSize, bands, lowHz, highHz);
  const frames = samples.length === 0 ? 0 : Math.ceil(Math.max(0, samples.length - frameLength) / hop) + 1;

  const window = new Float64Array(frameLength);
  for (let i = 0; i < frameLength; i++) window[i] = 0.54 - 0.46 * Math.cos((2 * Math.PI * i) / (frameLength - 1));
  const input = new Float64Array(fftSize);
  const re = new Float64Array(fftSize / 2 + 1);
  const im = new Float64Array(fftSize / 2 + 1);
  const energies = new Float64Array(frames * bands);
  for (let f = 0; f < frames; f++) {
    const offset = f * hop;
    input.fill(0);
    const length = Math.min(frameLength, samples.length - offset);
    for (let i = 0; i < length; i++) {
      const index = offset + i;
      const previous = index > 0 ? samples[index - 1]! : 0;
      input[i] = (samples[index]! - preEmphasis * previous) * window[i]!;
    }
    realFft(input, re, im);
    for (let m = 0; m < bands; m++) {
      const w = bank.weights[m]!;
      const start = bank.starts[m]!;
      let sum = 0;
      for (let k = 0; k < w.length; k++) {
        const bin = start + k;
        sum += w[k]! * (re[bin]! * re[bin]! + im[bin]! * im[bin]!);
      }
      energies[f * bands + m] = sum;
    }
  }
  return { energies, frames, bands, hopSec: hop / sampleRate };
}

/** Cepstra of mel energies: floor, log, DCT, then optional mean normalisation and deltas. */
export function melToMfcc(mel: MelEnergies, options: CepstrumOptions = {}): MfccFeatures {
  const coefficientCount = options.coefficientCount ?? 13;
  const dropC0 = options.dropC0 ?? false;
  const meanNormalize = options.meanNormalize ?? true;
  const withDeltas = options.deltas ?? true;
  const floorDb = options.floorDb ?? 60;
  const { frames, bands, energies } = mel;
  const dct = dctMatrix(coefficientCount, bands);

  let loudest = 0;
  for (let i = 0; i < energies.length; i++) if (energies[i]! > loudest) loudest = energies[i]!;
  const floor = Math.max(loudest * 10 ** (-floorDb / 10), 1e-30);
  const firstCoefficient = dropC0 ? 1 : 0;
  const base = coefficientCount - firstCoefficient;
  const dims = withDeltas ? 2 * base : base;
  const data = new Float32Array(frames * dims);
  const logs = new Float64Array(bands);
  for (let f = 0; f < frames; f++) {
    for (let m = 0; m < bands; m++) logs[m] = Math.log(Math.max(floor, energies[f * bands + m]!));
    for (let k = firstCoefficient; k < coefficientCount; k++) {
      let sum = 0;
      const row = k * bands;
      for (let m = 0; m < bands; m++) sum += dct[row + m]! * logs[m]!;
      data[f * dims + k - firstCoefficient] = sum;
    }
  }
  if (meanNormalize && frames > 0) {
    for (let d = 0; d < base; d++) {
      let mean = 0;
      for (let f = 0; f < frames; f++) mean += data[f * dims + d]!;
      mean /= frames;
      for (let f = 0; f < frames; f++) data[f * dims + d] = data[f * dims + d]! - mean;
    }
  }
  if (withDeltas) {
    for (let f = 0; f < frames; f++) {
      const before = Math.max(0, f - 2);
      const after = Math.min(frames - 1, f + 2);
      for (let d = 0; d < base; d++) data[f * dims + base + d] = (data[after * dims + d]! - data[before * dims + d]!) / 2;
    }
  }
  return { data, frames, dims, hopSec: mel.hopSec };
}

/** Per band, the energy below which `fraction` of the frames fall: the noise floor where speech pauses. */
export function bandPercentile(mel: MelEnergies, fraction: number): Float64Array {
  const result = new Float64Array(mel.bands);
  if (mel.frames === 0) return result;
  const column = new Float64Array(mel.frames);
  const index = Math.min(mel.frames - 1, Math.max(0, Math.floor(fraction * mel.frames)));
  for (let m = 0; m < mel.bands; m++) {
    for (let f = 0; f < mel.frames; f++) column[f] = mel.energies[f * mel.bands + m]!;
    column.sort();
    result[m] = column[index]!;
  }
  return result;
}

/** Frame energy (sum over bands) below which `fraction` of the frames fall. */
export function framePercentile(mel: MelEnergies, fraction: number): number {
  if (mel.frames === 0) return 0;
  const totals = new Float64Array(mel.frames);
  for (let f = 0; f < mel.frames; f++) {
    let sum = 0;
    for (let m = 0; m < mel.bands; m++) sum += mel.energies[f * mel.bands + m]!;
    totals[f] = sum;
  }
  totals.sort();
  return totals[Math.min(mel.frames - 1, Math.max(0, Math.floor(fraction * mel.frames)))]!;
}

/** `mel` with `noise[band] * gain` added to every frame (a copy). */
export function addNoiseFloor(mel: MelEnergies, noise: Float64Array, gain: number): MelEnergies {
  const energies = new Float64Array(mel.energies.length);
  for (let f = 0; f < mel.frames; f++) {
    for (let m = 0; m < mel.bands; m++) energies[f * mel.bands + m] = mel.energies[f * mel.bands + m]! + noise[m]! * gain;
  }
  return { ...mel, energies };
}
