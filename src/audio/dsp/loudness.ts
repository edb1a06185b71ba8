/**
 * Loudness normalisation: whole-buffer (peak / gated RMS, with a look-ahead limiter) and streaming
 * (running estimate + smoothed gain + lookahead-free limiter).
 *
 * Levels are in dBFS relative to full scale 1.0 (a full-scale sine has peak 0 dBFS, RMS -3 dBFS).
 */
import type { PcmTransform } from '../pcm.js';

export function dbToGain(db: number): number {
  return Math.pow(10, db / 20);
}

export function gainToDb(gain: number): number {
  return gain > 0 ? 20 * Math.log10(gain) : -Infinity;
}

/** Largest absolute sample value (linear). */
export function measurePeak(samples: Float32Array): number {
  let peak = 0;
  for (let i = 0; i < samples.length; i++) {
    const a = Math.abs(samples[i]!);
    if (a > peak) peak = a;
  }
  return peak;
}

/** Frames quieter than this are silence and never count towards RMS. */
export const ABSOLUTE_GATE_DBFS = -60;
/** Frames this far below the absolutely-gated mean are pauses/breaths and do not count either. */
export const RELATIVE_GATE_DB = -20;
const FRAME_SEC = 0.02;

/**
 * RMS in dBFS over the non-silent 20 ms frames (two-stage gate, in the spirit of EBU R128:
 * absolute -60 dBFS, then 20 dB below the mean of the frames that passed). -Infinity if all silent.
 * `sampleRate` only sets the frame length; a wrong value merely changes the gating granularity.
 */
export function measureRmsDbfs(samples: Float32Array, sampleRate = 24_000): number {
  const frame = Math.max(1, Math.round(sampleRate * FRAME_SEC));
  const powers: number[] = [];
  for (let start = 0; start < samples.length; start += frame) {
    const end = Math.min(samples.length, start + frame);
    // A trailing fragment shorter than half a frame is too short to judge; skip it (unless it is all).
    if (end - start < frame / 2 && start > 0) break;
    let sum = 0;
    for (let i = start; i < end; i++) sum += samples[i]! * samples[i]!;
    powers.push(sum / (end - start));
  }
  const absGate = dbToGain(ABSOLUTE_GATE_DBFS) ** 2;
  const loud = powers.filter((p) => p >= absGate);
  if (loud.length === 0) return -Infinity;
  const mean = loud.reduce((a, b) => a + b, 0) / loud.length;
  const relGate = mean * dbToGain(RELATIVE_GATE_DB) ** 2;
  const kept = loud.filter((p) => p >= relGate);
  const power = kept.reduce((a, b) => a + b, 0) / kept.length;
  return 10 * Math.log10(power);
}

/**
 * Scales `samples` IN PLACE so its peak is `targetDbfs`; returns the same array. Silence is left alone.
 */
export function normalizePeak(samples: Float32Array, targetDbfs = -1): Float32Array {
  const peak = measurePeak(samples);
  if (peak <= 1e-9) return samples;
  const gain = dbToGain(targetDbfs) / peak;
  for (let i = 0; i < samples.length; i++) samples[i] = samples[i]! * gain;
  return samples;
}

/**
 * Scales `samples` IN PLACE so the RMS of its non-silent 20 ms frames is `targetDbfs`, and keeps
 * every peak at or below `peakCeilingDbfs` with a look-ahead limiter (gain dips of ~10 ms around the
 * offending peaks only, so the overall level stays on target); returns the same array.
 * `sampleRate` (default 24000) sets the 20 ms frame and the limiter window.
 */
export function normalizeRms(
  samples: Float32Array,
  targetDbfs = -20,
  peakCeilingDbfs = -1,
  sampleRate = 24_000,
): Float32Array {
  const ceiling = dbToGain(peakCeilingDbfs);
  // Limiting removes some energy, so re-measure and correct (converges in 1-3 rounds; if peaks
  // dominate, the result ends as close to the target as the ceiling allows).
  for (let round = 0; round < 4; round++) {
    const rms = measureRmsDbfs(samples, sampleRate);
    if (!Number.isFinite(rms)) return samples;
    if (round > 0 && Math.abs(rms - targetDbfs) < 0.05) break;
    const gain = dbToGain(targetDbfs - rms);
    for (let i = 0; i < samples.length; i++) samples[i] = samples[i]! * gain;
    if (measurePeak(samples) <= ceiling) break;
    limitInPlace(samples, ceiling, sampleRate);
  }
  return samples;
}

/**
 * Whole-buffer look-ahead limiter. Required gain r[i] = min(1, ceiling/|x[i]|); a sliding minimum over
 * ±h samples followed by a ±h moving average gives a smooth gain g with g[i] <= r[i] everywhere
 * (every window averaged at i contains i), so no sample exceeds the ceiling and there is no step.
 */
export function limitInPlace(samples: Float32Array, ceiling: number, sampleRate = 24_000, halfWindowSec = 0.005): void {
  const n = samples.length;
  if (measurePeak(samples) <= ceiling) return;
  const h = Math.max(1, Math.round(sampleRate * halfWindowSec));
  const required = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    const a = Math.abs(samples[i]!);
    required[i] = a > ceiling ? ceiling / a : 1;
  }
  // Sliding minimum over [i-h, i+h] (monotonic deque of indices).
  const minimum = new Float32Array(n);
  const deque = new Int32Array(n);
  let head = 0;
  let tail = 0;
  let next = 0;
  for (let i = 0; i < n; i++) {
    const hi = Math.min(n - 1, i + h);
    for (; next <= hi; next++) {
      const v = required[next]!;
      while (tail > head && required[deque[tail - 1]!]! >= v) tail--;
      deque[tail++] = next;
    }
    while (deque[head]! < i - h) head++;
    minimum[i] = required[deque[head]!]!;
  }
  // Moving average over [i-h, i+h] (clipped at the ends) via a running sum in float64.
  const prefix = new Float64Array(n + 1);
  for (let i = 0; i < n; i++) prefix[i + 1] = prefix[i]! + minimum[i]!;
  for (let i = 0; i < n; i++) {
    const lo = Math.max(0, i - h);
    const hi = Math.min(n, i + h + 1);
    const g = (prefix[hi]! - prefix[lo]!) / (hi - lo);
    const v = samples[i]! * Math.min(g, required[i]!); // min() only absorbs float rounding
    samples[i] = v > ceiling ? ceiling : v < -ceiling ? -ceiling : v;
  }
}

export interface LoudnessNormalizerOptions {
  mode: 'peak' | 'rms';
  sampleRate: number;
  /** Target level in dBFS: peak for 'peak' (default -1), gated RMS for 'rms' (default -20). */
  targetDbfs?: number;
  /**
   * Gain applied from the first sample, before any audio has been measured: the gain that takes the
   * engine's known typical level to the target (target - typical level). Default 0.
   */
  initialGainDb?: number;
  /** Output never exceeds this. Default: the target for 'peak', -1 dBFS for 'rms'. */
  peakCeilingDbfs?: number;
  /** Bounds on the applied gain (dB), so noise or a quiet intro is not boosted without limit. */
  maxGainDb?: number;
  minGainDb?: number;
}

/** Level-detector block length; gain is still interpolated per sample. */
const BLOCK_SEC = 0.005;
/** Blocks below this level are treated as pauses: the level estimate holds instead of sinking. */
const STREAM_GATE_DBFS = -50;
/** RMS estimate time constants (power domain): rises faster than it falls. */
const RMS_ATTACK_SEC = 0.3;
const RMS_RELEASE_SEC = 1.0;
/** Peak envelope: instant attack, exponential release (≈ 4.3 dB/s). */
const PEAK_RELEASE_SEC = 2.0;
/** Per-sample gain smoothing: gain falls quickly and rises slowly (no zipper noise, no clicks). */
const GAIN_DOWN_SEC = 0.005;
const GAIN_UP_SEC = 0.05;
/** Limiter release back to unity after it clamped a peak. */
const LIMITER_RELEASE_SEC = 0.05;

/**
 * Streaming loudness normaliser for audio that is sent before the whole utterance exists.
 *
 * Trade-off (vs. the whole-buffer functions): it can only react to what it has already heard, so
 * - the start plays at `initialGainDb` (the engine's typical level is a good prior) and the gain
 *   then converges with the detector time constants (RMS: 0.3 s up / 1 s down; peak: instant up,
 *   ~4 dB/s down), i.e. the level is only approximately on target, and it drifts within an
 *   utterance as the estimate adapts (slowly, so it is not audible as pumping);
 * - pauses (blocks below -50 dBFS) freeze the estimate, so silence and breaths are not boosted;
 * - an unexpectedly loud onset is caught by a lookahead-free limiter: instant gain reduction on the
 *   sample that would exceed the ceiling (guaranteeing it never does) and a 50 ms release. Without
 *   lookahead that instant reduction slightly distorts the first few ms of such a transient; adding
 *   lookahead would delay the stream instead. Gain changes from the estimator are smoothed per sample
 *   (5 ms down, 50 ms up), so they never click.
 * Use normalizePeak / normalizeRms when the whole buffer is available (buffered delivery).
 */
export function createLoudnessNormalizer(options: LoudnessNormalizerOptions): PcmTransform {
  const { mode, sampleRate } = options;
  if (mode !== 'peak' && mode !== 'rms') throw new RangeError(`mode must be 'peak' or 'rms' (got ${String(mode)})`);
  if (!Number.isFinite(sampleRate) || sampleRate <= 0) throw new RangeError(`sampleRate must be positive (got ${sampleRate})`);
  const target = options.targetDbfs ?? (mode === 'peak' ? -1 : -20);
  const ceilingDb = options.peakCeilingDbfs ?? (mode === 'peak' ? Math.min(target, 0) : -1);
  const maxGainDb = options.maxGainDb ?? 24;
  const minGainDb = options.minGainDb ?? -40;
  const initialGainDb = Math.min(maxGainDb, Math.max(minGainDb, options.initialGainDb ?? 0));
  const ceiling = dbToGain(ceilingDb);

  const blockLength = Math.max(1, Math.round(sampleRate * BLOCK_SEC));
  const blockSec = blockLength / sampleRate;
  const coef = (sec: number, step: number) => 1 - Math.exp(-step / sec);
  const rmsAttack = coef(RMS_ATTACK_SEC, blockSec);
  const rmsRelease = coef(RMS_RELEASE_SEC, blockSec);
  const peakDecay = Math.exp(-blockSec / PEAK_RELEASE_SEC);
  const gainDown = coef(GAIN_DOWN_SEC, 1 / sampleRate);
  const gainUp = coef(GAIN_UP_SEC, 1 / sampleRate);
  const limiterRelease = coef(LIMITER_RELEASE_SEC, 1 / sampleRate);
  const gate = dbToGain(STREAM_GATE_DBFS);
  const gatePower = gate * gate;
  const minGain = dbToGain(minGainDb);
  const maxGain = dbToGain(maxGainDb);

  // Level estimate, initialised to the level at which initialGainDb would be exactly right.
  // 'rms': mean power; 'peak': linear peak envelope.
  const initialLevel = dbToGain(target - initialGainDb);
  let level = mode === 'rms' ? initialLevel * initialLevel : initialLevel;
  let desiredGain = dbToGain(initialGainDb);
  let gain = desiredGain;
  let limiter = 1;
  let blockSum = 0;
  let blockPeak = 0;
  let blockCount = 0;
  let finished = false;

  const updateLevel = () => {
    if (mode === 'rms') {
      const power = blockSum / blockCount;
      if (power >= gatePower) level += (power - level) * (power > level ? rmsAttack : rmsRelease);
      desiredGain = dbToGain(target) / Math.sqrt(level);
    } else {
      if (blockPeak >= gate) level = Math.max(blockPeak, level * peakDecay);
      desiredGain = dbToGain(target) / level;
    }
    desiredGain = Math.min(maxGain, Math.max(minGain, desiredGain));
    blockSum = 0;
    blockPeak = 0;
    blockCount = 0;
  };

  return {
    outputSampleRate: sampleRate,
    process(samples) {
      if (finished) throw new Error('loudness normaliser already flushed');
      const out = new Float32Array(samples.length);
      for (let i = 0; i < samples.length; i++) {
        const x = samples[i]!;
        // Detector (on the input, so the estimate does not depend on the gain it controls).
        blockSum += x * x;
        const ax = Math.abs(x);
        if (ax > blockPeak) blockPeak = ax;
        if (++blockCount === blockLength) updateLevel();
        // Smoothed gain.
        gain += (desiredGain - gain) * (desiredGain < gain ? gainDown : gainUp);
        let y = x * gain;
        // Lookahead-free limiter: instant attack, exponential release.
        limiter += (1 - limiter) * limiterRelease;
        const ay = Math.abs(y);
        if (ay * limiter > ceiling) limiter = ceiling / ay;
        y *= limiter;
        out[i] = y > ceiling ? ceiling : y < -ceiling ? -ceiling : y;
      }
      return out;
    },
    flush() {
      finished = true;
      return new Float32Array(0);
    },
    dispose() {
      finished = true;
    },
  };
}
