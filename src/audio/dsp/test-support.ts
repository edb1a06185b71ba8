/** Signal generators and measurements shared by the DSP tests (not used at runtime). */
import type { PcmTransform } from '../pcm.js';
import { concatFloat32 } from '../pcm.js';

export function sine(freq: number, seconds: number, sampleRate: number, amplitude = 0.5): Float32Array {
  const n = Math.round(seconds * sampleRate);
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = amplitude * Math.sin((2 * Math.PI * freq * i) / sampleRate);
  return out;
}

/** A voice-like harmonic-rich periodic signal: harmonics 1..N (below 5 kHz) with 1/k amplitudes. */
export function pulseTrain(freq: number, seconds: number, sampleRate: number, amplitude = 0.5): Float32Array {
  const n = Math.round(seconds * sampleRate);
  const out = new Float32Array(n);
  const harmonics = Math.floor(Math.min(5000, sampleRate / 2 - 500) / freq);
  let norm = 0;
  for (let k = 1; k <= harmonics; k++) norm += 1 / k;
  for (let i = 0; i < n; i++) {
    let v = 0;
    const phase = (2 * Math.PI * freq * i) / sampleRate;
    for (let k = 1; k <= harmonics; k++) v += Math.cos(k * phase) / k;
    out[i] = (amplitude * v) / norm;
  }
  return out;
}

/** Runs `input` through `transform` in chunks of the given sizes (cycled), then flushes. */
export function runChunked(transform: PcmTransform, input: Float32Array, chunkSizes: readonly number[] = [input.length]): Float32Array {
  const parts: Float32Array[] = [];
  let offset = 0;
  for (let c = 0; offset < input.length; c++) {
    const size = chunkSizes[c % chunkSizes.length]!;
    parts.push(transform.process(input.subarray(offset, offset + size)));
    offset += size;
  }
  parts.push(transform.flush());
  transform.dispose();
  return concatFloat32(parts);
}

/** Frequency of a clean sine from interpolated upward zero crossings over the middle 80%. */
export function zeroCrossingFrequency(samples: Float32Array, sampleRate: number): number {
  const a = Math.max(1, Math.floor(samples.length * 0.1));
  const b = Math.floor(samples.length * 0.9);
  let first = -1;
  let last = -1;
  let count = 0;
  for (let i = a; i < b; i++) {
    const p = samples[i - 1]!;
    const q = samples[i]!;
    if (p < 0 && q >= 0) {
      const t = i - 1 + -p / (q - p);
      if (first < 0) first = t;
      last = t;
      count++;
    }
  }
  if (count < 2) return 0;
  return ((count - 1) * sampleRate) / (last - first);
}

/**
 * Fundamental frequency by normalised autocorrelation over a window from the middle of the signal:
 * the smallest lag whose correlation peak is within 10% of the best, refined by parabolic interpolation.
 */
export function autocorrelationFrequency(samples: Float32Array, sampleRate: number, minHz = 50, maxHz = 1000): number {
  const window = Math.min(samples.length >> 1, Math.round(sampleRate * 0.2));
  const start = Math.floor((samples.length - window) / 2) - Math.ceil(sampleRate / minHz) / 2;
  const x = samples.subarray(Math.max(0, start), Math.max(0, start) + window + Math.ceil(sampleRate / minHz) + 2);
  const minLag = Math.floor(sampleRate / maxHz);
  const maxLag = Math.ceil(sampleRate / minHz);
  const r = new Float64Array(maxLag + 2);
  for (let lag = minLag - 1; lag <= maxLag + 1; lag++) {
    let sxy = 0;
    let sxx = 0;
    let syy = 0;
    for (let i = 0; i < window; i++) {
      const u = x[i] ?? 0;
      const v = x[i + lag] ?? 0;
      sxy += u * v;
      sxx += u * u;
      syy += v * v;
    }
    r[lag] = sxy / Math.sqrt(sxx * syy + 1e-20);
  }
  let best = -Infinity;
  for (let lag = minLag; lag <= maxLag; lag++) best = Math.max(best, r[lag]!);
  for (let lag = minLag; lag <= maxLag; lag++) {
    const c = r[lag]!;
    if (c >= 0.9 * best && c >= r[lag - 1]! && c >= r[lag + 1]!) {
      const y0 = r[lag - 1]!;
      const y2 = r[lag + 1]!;
      const denom = y0 - 2 * c + y2;
      const shift = denom === 0 ? 0 : (0.5 * (y0 - y2)) / denom;
      return sampleRate / (lag + shift);
    }
  }
  return 0;
}

export function rms(samples: Float32Array, from = 0, to = samples.length): number {
  let sum = 0;
  for (let i = from; i < to; i++) sum += samples[i]! * samples[i]!;
  return Math.sqrt(sum / Math.max(1, to - from));
}

export function db(linear: number): number {
  return 20 * Math.log10(linear);
}
