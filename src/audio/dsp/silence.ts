/** Silence generation and trimming. */
import { dbToGain } from './loudness.js';

/** `seconds` of digital silence at `sampleRate` (length rounded to the nearest sample). */
export function silence(seconds: number, sampleRate: number): Float32Array {
  if (!Number.isFinite(seconds) || seconds < 0) throw new RangeError(`seconds must be >= 0 (got ${seconds})`);
  if (!Number.isFinite(sampleRate) || sampleRate <= 0) throw new RangeError(`sampleRate must be positive (got ${sampleRate})`);
  return new Float32Array(Math.round(seconds * sampleRate));
}

export interface SilenceBoundsOptions {
  /** Samples whose magnitude stays below this are silence. Default -50 dBFS. */
  thresholdDbfs?: number;
  /** Keep this much audio around the detected speech (seconds), so onsets/decays are not cut. Default 0.01. */
  paddingSec?: number;
}

/**
 * [start, end) of the non-silent part of `samples`: first and last sample above the threshold,
 * widened by the padding. Returns [0, 0] when everything is silent.
 */
export function silenceBounds(
  samples: Float32Array,
  sampleRate: number,
  options: SilenceBoundsOptions = {},
): [start: number, end: number] {
  const threshold = dbToGain(options.thresholdDbfs ?? -50);
  const padding = Math.round((options.paddingSec ?? 0.01) * sampleRate);
  let first = -1;
  for (let i = 0; i < samples.length; i++) {
    if (Math.abs(samples[i]!) > threshold) {
      first = i;
      break;
    }
  }
  if (first < 0) return [0, 0];
  let last = first;
  for (let i = samples.length - 1; i > first; i--) {
    if (Math.abs(samples[i]!) > threshold) {
      last = i;
      break;
    }
  }
  return [Math.max(0, first - padding), Math.min(samples.length, last + 1 + padding)];
}

/** Leading and trailing silence removed (a view into `samples`, not a copy). */
export function trimSilence(samples: Float32Array, sampleRate: number, options: SilenceBoundsOptions = {}): Float32Array {
  const [start, end] = silenceBounds(samples, sampleRate, options);
  return samples.subarray(start, end);
}
