/**
 * Voice profiles: the handful of measurements "voice matching" needs to move speech toward a
 * reference (pitch level and range, speaking rate, loudness, spectral envelope), and the distance
 * and formant-scale estimates built on them. Profiles are plain JSON data because they are stored.
 */
import { quantileSorted, trackPitch, voicedPitchStats } from './pitch.js';
import { fft, nextPowerOfTwo } from '../fft.js';

export interface VoiceProfile {
  readonly version: 1;
  readonly durationSec: number;
  /** Time above the speech energy gate. */
  readonly speechSec: number;
  readonly medianPitchHz: number;
  readonly pitchP10Hz: number;
  readonly pitchP90Hz: number;
  /** 12 * log2(p90 / p10). */
  readonly pitchRangeSemitones: number;
  /** Voiced frames / all frames of the recording. */
  readonly voicedFraction: number;
  /** From energy-envelope peaks (syllable nuclei) over speech time. */
  readonly syllablesPerSec: number;
  /** RMS of speech frames. */
  readonly loudnessDbfs: number;
  /** Centroid of the long-term spectrum of speech frames, 50 Hz .. 8 kHz. */
  readonly spectralCentroidHz: number;
  /** Long-term average spectral envelope of voiced frames, dB, tilt kept, on ENVELOPE_GRID. */
  readonly envelope: readonly number[];
}

/** Log-frequency grid of VoiceProfile.envelope: minHz * 2^(i / pointsPerOctave) up to maxHz. */
export const ENVELOPE_GRID: { readonly minHz: number; readonly maxHz: number; readonly pointsPerOctave: number } = Object.freeze({
  minHz: 100,
  maxHz: 5000,
  pointsPerOctave: 24,
});

export const FORMANT_RATIO_RANGE = { min: 0.8, max: 1.25 } as const;

/** Frequencies (Hz) of the envelope points. */
export function envelopeFrequencies(): number[] {
  const { minHz, maxHz, pointsPerOctave } = ENVELOPE_GRID;
  const count = Math.floor(Math.log2(maxHz / minHz) * pointsPerOctave + 1e-9) + 1;
  return Array.from({ length: count }, (_, i) => minHz * 2 ** (i / pointsPerOctave));
}

const HOP_SEC = 0.01;
/** Speech frames are at most this far below the loud (95th percentile) frames, and above the floor. */
const SPEECH_RELATIVE_DB = 35;
const SPEECH_FLOOR_DBFS = -55;
/** Syllable nuclei must rise this far above the dip separating them from the previous nucleus. */
const NUCLEUS_PROMINENCE_DB = 2.5;
const CENTROID_BAND: readonly [number, number] = [50, 8000];
const SYLLABLE_BAND: readonly [number, number] = [300, 3000];
/** Cepstral lifter: quefrencies below ~2.5 ms keep formants (a few hundred Hz wide) but not harmonics. */
const LIFTER_SEC = 0.0025;

export function analyzeVoice(samples: Float32Array, sampleRate: number): VoiceProfile {
  if (!(sampleRate >= 8000)) throw new Error(`sample rate ${sampleRate} Hz is too low for voice analysis`);
  const durationSec = samples.length / sampleRate;
  const track = trackPitch(samples, sampleRate, { hopSec: HOP_SEC });
  const stats = voicedPitchStats(track);
  if (stats === undefined) throw new Error('no voiced speech found in the audio');
  const frameCount = track.f0.length;

  // Frame energies (25 ms windows) decide which frames are speech.
  const prefix = new Float64Array(samples.length + 1);
  for (let i = 0; i < samples.length; i++) prefix[i + 1] = prefix[i]! + samples[i]! * samples[i]!;
  const halfWin = Math.round(0.0125 * sampleRate);
  const frameMs = new Float64Array(frameCount);
  const frameDb = new Float64Array(frameCount);
  for (let i = 0; i < frameCount; i++) {
    const c = Math.round(i * HOP_SEC * sampleRate);
    const a = Math.max(0, c - halfWin);
    const b = Math.min(samples.length, c + halfWin);
    frameMs[i] = b > a ? (prefix[b]! - prefix[a]!) / (b - a) : 0;
    frameDb[i] = 10 * Math.log10(frameMs[i]! + 1e-12);
  }
  const sortedDb = Array.from(frameDb).sort((x, y) => x - y);
  const gateDb = Math.max(SPEECH_FLOOR_DBFS, quantileSorted(sortedDb, 0.95) - SPEECH_RELATIVE_DB);
  const speech = new Uint8Array(frameCount);
  let speechFrames = 0;
  let speechEnergy = 0;
  for (let i = 0; i < frameCount; i++) {
    if (frameDb[i]! >= gateDb) {
      speech[i] = 1;
      speechFrames++;
      speechEnergy += frameMs[i]!;
    }
  }
  if (speechFrames === 0) throw new Error('no speech found in the audio');

  const fftSize = nextPowerOfTwo(Math.ceil(0.032 * sampleRate));
  const bins = fftSize / 2 + 1;
  const binHz = sampleRate / fftSize;
  const window = hann(fftSize);
  const re = new Float64Array(fftSize);
  const im = new Float64Array(fftSize);
  const power = new Float64Array(bins);
  const peakEnvelope = new Float64Array(bins);
  const ltasAll = new Float64Array(bins);
  const ltasVoiced = new Float64Array(bins);
  let voicedUsed = 0;
  const bandDb = new Float64Array(frameCount).fill(gateDb - 20);
  const bandLo = Math.ceil(SYLLABLE_BAND[0] / binHz);
  const bandHi = Math.min(bins - 1, Math.floor(SYLLABLE_BAND[1] / binHz));
  let windowPower = 0;
  for (const w of window) windowPower += w * w;

  for (let i = 0; i < frameCount; i++) {
    if (speech[i] === 0) continue;
    const start = Math.round(i * HOP_SEC * sampleRate) - fftSize / 2;
    for (let j = 0; j < fftSize; j++) {
      const k = start + j;
      re[j] = k >= 0 && k < samples.length ? samples[k]! * window[j]! : 0;
      im[j] = 0;
    }
    fft(re, im);
    let band = 0;
    for (let k = 0; k < bins; k++) {
      // Scaled so a frame's spectrum sums to its mean square (Parseval), whatever the FFT size.
      const p = ((re[k]! * re[k]! + im[k]! * im[k]!) * (k === 0 || k === bins - 1 ? 1 : 2)) / (fftSize * windowPower);
      power[k] = p;
      ltasAll[k]! += p;
      if (k >= bandLo && k <= bandHi) band += p;
    }
    bandDb[i] = 10 * Math.log10(band + 1e-12);
    const hz = track.f0[i]!;
    if (hz > 0) {
      // Max over one harmonic spacing: the envelope through the harmonic peaks, so voices at
      // different pitches yield comparable envelopes (the valleys between harmonics say nothing
      // about formants).
      const half = Math.max(1, Math.round((0.5 * hz) / binHz));
      slidingMax(power, half, peakEnvelope);
      for (let k = 0; k < bins; k++) ltasVoiced[k]! += peakEnvelope[k]!;
      voicedUsed++;
    }
  }
  if (voicedUsed === 0) throw new Error('no voiced speech found in the audio');

  const smoothDb = cepstralSmoothDb(ltasVoiced, voicedUsed, fftSize, sampleRate);
  const envelope = envelopeFrequencies().map((hz) => round2(interpolate(smoothDb, hz / binHz)));

  let num = 0;
  let den = 0;
  for (let k = Math.ceil(CENTROID_BAND[0] / binHz); k < bins && k * binHz <= CENTROID_BAND[1]; k++) {
    num += k * binHz * ltasAll[k]!;
    den += ltasAll[k]!;
  }
  const spectralCentroidHz = den > 0 ? num / den : 0;

  const nuclei = countNuclei(bandDb, speech, track.f0, gateDb);
  const speechSec = speechFrames * HOP_SEC;
  return {
    version: 1,
    durationSec,
    speechSec,
    medianPitchHz: stats.medianHz,
    pitchP10Hz: stats.p10Hz,
    pitchP90Hz: stats.p90Hz,
    pitchRangeSemitones: 12 * Math.log2(stats.p90Hz / stats.p10Hz),
    voicedFraction: stats.voicedFraction,
    syllablesPerSec: nuclei / speechSec,
    loudnessDbfs: 10 * Math.log10(speechEnergy / speechFrames + 1e-12),
    spectralCentroidHz,
    envelope,
  };
}

/**
 * The factor alpha in [0.8, 1.25] such that `from`'s envelope with every frequency multiplied by
 * alpha best matches `to`'s: the shift along the log-frequency grid that maximises the correlation
 * of the two envelopes (200-4500 Hz of `to`) after removing tilt: first each envelope's one-octave
 * moving average, then a straight line over the compared stretch.
 *
 * Envelopes from different recording chains can share too little structure for that match to mean
 * anything (best correlation below ~0.6). The estimate is then blended, in the log domain, toward
 * the ratio the pitch difference suggests (pitch ratio^0.25: an octave between an adult male and
 * female voice goes with formants ~15-20% apart), entirely so below a correlation of 0.3.
 */
export function estimateFormantRatio(from: VoiceProfile, to: VoiceProfile): number {
  const { alpha, correlation } = matchEnvelopes(from, to);
  const weight = clamp((correlation - WEAK_MATCH) / (STRONG_MATCH - WEAK_MATCH), 0, 1);
  const prior = clamp((to.medianPitchHz / from.medianPitchHz) ** 0.25, FORMANT_RATIO_RANGE.min, FORMANT_RATIO_RANGE.max);
  const blended = weight === 1 ? alpha : Math.exp(weight * Math.log(alpha) + (1 - weight) * Math.log(prior));
  return clamp(blended, FORMANT_RATIO_RANGE.min, FORMANT_RATIO_RANGE.max);
}

/** Envelope correlations below WEAK_MATCH carry no formant information, above STRONG_MATCH they are trusted. */
const WEAK_MATCH = 0.3;
const STRONG_MATCH = 0.6;

/**
 * Dissimilarity of two voices, in roughly semitone-equivalent units: median pitch (semitones),
 * pitch range (semitones, weighted 0.35), formant scale (semitones, weighted 1.5: vocal-tract length
 * is as telling as pitch) and speaking rate (log2 ratio, 4 per octave). Symmetric, 0 for identical
 * profiles. The formant term uses the envelope match alone, shrunk toward "no difference" when the
 * match is weak, so pitch is not counted twice.
 */
export function voiceDistance(a: VoiceProfile, b: VoiceProfile): number {
  const pitch = Math.abs(12 * Math.log2(a.medianPitchHz / b.medianPitchHz));
  const range = Math.abs(a.pitchRangeSemitones - b.pitchRangeSemitones);
  const formantSemitones = (from: VoiceProfile, to: VoiceProfile): number => {
    const { alpha, correlation } = matchEnvelopes(from, to);
    return clamp((correlation - WEAK_MATCH) / (STRONG_MATCH - WEAK_MATCH), 0, 1) * Math.abs(12 * Math.log2(alpha));
  };
  const formant = 0.5 * (formantSemitones(a, b) + formantSemitones(b, a));
  const rate = Math.abs(Math.log2(Math.max(0.5, a.syllablesPerSec) / Math.max(0.5, b.syllablesPerSec)));
  return pitch + 0.35 * range + 1.5 * formant + 4 * rate;
}

/** The best log-frequency shift of `from`'s envelope onto `to`'s, as a frequency factor, and its correlation. */
function matchEnvelopes(from: VoiceProfile, to: VoiceProfile): { alpha: number; correlation: number } {
  const grid = envelopeFrequencies();
  if (from.envelope.length !== grid.length || to.envelope.length !== grid.length) throw new Error('voice profile envelope does not match ENVELOPE_GRID');
  const ppo = ENVELOPE_GRID.pointsPerOctave;
  // Only the formant pattern should drive the match. Removing a one-octave moving average takes
  // away tilt and the broad hump of the long-term spectrum, which differ between microphones and
  // synthesizers and otherwise dominate the correlation.
  const a = removeTrend(from.envelope, ppo);
  const b = removeTrend(to.envelope, ppo);
  const maxShift = Math.log2(FORMANT_RATIO_RANGE.max) * ppo;
  const minShift = Math.log2(FORMANT_RATIO_RANGE.min) * ppo;
  // Compare over the formant region of `to`; below ~200 Hz a high voice has no harmonics at all.
  const lo = Math.ceil(Math.log2(200 / ENVELOPE_GRID.minHz) * ppo);
  const hi = Math.min(grid.length - 1, Math.floor(Math.log2(4500 / ENVELOPE_GRID.minHz) * ppo));
  const step = 0.05;
  let bestShift = 0;
  let bestScore = -Infinity;
  let bestCorrelation = 0;
  const xs: number[] = [];
  const ys: number[] = [];
  const idx: number[] = [];
  for (let k = Math.ceil(minShift / step); k <= Math.floor(maxShift / step); k++) {
    const s = k * step;
    xs.length = 0;
    ys.length = 0;
    idx.length = 0;
    for (let i = lo; i <= hi; i++) {
      const j = i - s;
      if (j < 0 || j > a.length - 1) continue;
      const j0 = Math.floor(j);
      const t = j - j0;
      const v = t === 0 ? a[j0]! : a[j0]! * (1 - t) + a[j0 + 1]! * t;
      xs.push(v);
      ys.push(b[i]!);
      idx.push(i);
    }
    if (xs.length < ppo) continue;
    const score = detrendedCorrelation(idx, xs, ys);
    // A whisker of preference for small shifts breaks ties between near-equal correlations.
    const penalized = score - 0.002 * Math.abs(s);
    if (penalized > bestScore) {
      bestScore = penalized;
      bestShift = s;
      bestCorrelation = score;
    }
  }
  return { alpha: clamp(2 ** (bestShift / ppo), FORMANT_RATIO_RANGE.min, FORMANT_RATIO_RANGE.max), correlation: bestCorrelation };
}

function clamp(value: number, min: number, max: number): number {
  return Math.min(max, Math.max(min, value));
}

/** x minus its Hann-weighted moving average over +-`half` points (edges extended with their end values). */
function removeTrend(x: readonly number[], half: number): number[] {
  const weights = Array.from({ length: 2 * half + 1 }, (_, k) => 0.5 - 0.5 * Math.cos((2 * Math.PI * (k + 1)) / (2 * half + 2)));
  const total = weights.reduce((sum, w) => sum + w, 0);
  return x.map((value, i) => {
    let mean = 0;
    for (let k = -half; k <= half; k++) mean += weights[k + half]! * x[Math.max(0, Math.min(x.length - 1, i + k))]!;
    return value - mean / total;
  });
}

/** Pearson correlation of y and z after removing each one's least-squares line over x. */
function detrendedCorrelation(x: readonly number[], y: readonly number[], z: readonly number[]): number {
  const n = x.length;
  let mx = 0;
  let my = 0;
  let mz = 0;
  for (let i = 0; i < n; i++) {
    mx += x[i]!;
    my += y[i]!;
    mz += z[i]!;
  }
  mx /= n;
  my /= n;
  mz /= n;
  let sxx = 0;
  let sxy = 0;
  let sxz = 0;
  for (let i = 0; i < n; i++) {
    const dx = x[i]! - mx;
    sxx += dx * dx;
    sxy += dx * (y[i]! - my);
    sxz += dx * (z[i]! - mz);
  }
  const by = sxx > 0 ? sxy / sxx : 0;
  const bz = sxx > 0 ? sxz / sxx : 0;
  let syy = 0;
  let szz = 0;
  let syz = 0;
  for (let i = 0; i < n; i++) {
    const dx = x[i]! - mx;
    const ry = y[i]! - my - by * dx;
    const rz = z[i]! - mz - bz * dx;
    syy += ry * ry;
    szz += rz * rz;
    syz += ry * rz;
  }
  return syy > 0 && szz > 0 ? syz / Math.sqrt(syy * szz) : 0;
}

/**
 * Counts syllable nuclei: peaks of the smoothed 300-3000 Hz band level in voiced speech, merging
 * neighbours that are not separated by a dip of at least NUCLEUS_PROMINENCE_DB (de Jong & Wempe).
 */
function countNuclei(bandDb: Float64Array, speech: Uint8Array, f0: Float32Array, gateDb: number): number {
  const n = bandDb.length;
  const smooth = new Float64Array(n);
  const kernel = [1, 2, 3, 2, 1];
  for (let i = 0; i < n; i++) {
    let sum = 0;
    let weight = 0;
    for (let k = -2; k <= 2; k++) {
      const j = i + k;
      if (j < 0 || j >= n) continue;
      sum += kernel[k + 2]! * bandDb[j]!;
      weight += kernel[k + 2]!;
    }
    smooth[i] = sum / weight;
  }
  const voicedNear = (i: number): boolean => {
    for (let j = Math.max(0, i - 2); j <= Math.min(n - 1, i + 2); j++) if (f0[j]! > 0) return true;
    return false;
  };
  const peaks: number[] = [];
  for (let i = 0; i < n; i++) {
    const v = smooth[i]!;
    const left = i > 0 ? smooth[i - 1]! : -Infinity;
    const right = i < n - 1 ? smooth[i + 1]! : -Infinity;
    if (!(v > left && v >= right) || speech[i] === 0 || v < gateDb - 10 || !voicedNear(i)) continue;
    const last = peaks[peaks.length - 1];
    if (last === undefined) {
      peaks.push(i);
      continue;
    }
    let dip = Infinity;
    for (let j = last; j <= i; j++) dip = Math.min(dip, smooth[j]!);
    if (Math.min(v, smooth[last]!) - dip >= NUCLEUS_PROMINENCE_DB) peaks.push(i);
    else if (v > smooth[last]!) peaks[peaks.length - 1] = i;
  }
  return peaks.length;
}

/** Mean of `sum / count` in dB, smoothed by liftering its real cepstrum. */
function cepstralSmoothDb(sum: Float64Array, count: number, fftSize: number, sampleRate: number): Float64Array {
  const bins = fftSize / 2 + 1;
  const re = new Float64Array(fftSize);
  const im = new Float64Array(fftSize);
  let floor = 0;
  for (let k = 0; k < bins; k++) floor = Math.max(floor, sum[k]! / count);
  floor *= 1e-9; // -90 dB below the peak keeps log() finite without letting silence dominate
  for (let k = 0; k < bins; k++) {
    const v = Math.log(sum[k]! / count + floor);
    re[k] = v;
    if (k > 0 && k < bins - 1) re[fftSize - k] = v;
  }
  fft(re, im);
  // re/N is now the (even) real cepstrum. Raised-cosine lifter from 60% to 100% of LIFTER_SEC.
  const cut = LIFTER_SEC * sampleRate;
  const pass = 0.6 * cut;
  for (let q = 0; q <= fftSize / 2; q++) {
    const w = q <= pass ? 1 : q >= cut ? 0 : 0.5 * (1 + Math.cos((Math.PI * (q - pass)) / (cut - pass)));
    re[q]! *= w / fftSize;
    im[q] = 0;
    if (q > 0 && q < fftSize / 2) {
      re[fftSize - q]! *= w / fftSize;
      im[fftSize - q] = 0;
    }
  }
  fft(re, im);
  const out = new Float64Array(bins);
  const toDb = 10 / Math.LN10;
  for (let k = 0; k < bins; k++) out[k] = re[k]! * toDb;
  return out;
}

function slidingMax(x: Float64Array, half: number, out: Float64Array): void {
  const n = x.length;
  for (let k = 0; k < n; k++) {
    let m = 0;
    const a = Math.max(0, k - half);
    const b = Math.min(n - 1, k + half);
    for (let j = a; j <= b; j++) if (x[j]! > m) m = x[j]!;
    out[k] = m;
  }
}

function interpolate(values: Float64Array, position: number): number {
  const i = Math.max(0, Math.min(values.length - 1, Math.floor(position)));
  const j = Math.min(values.length - 1, i + 1);
  const t = Math.max(0, Math.min(1, position - i));
  return values[i]! * (1 - t) + values[j]! * t;
}

function round2(x: number): number {
  return Math.round(x * 100) / 100;
}


function hann(n: number): Float64Array {
  const w = new Float64Array(n);
  for (let i = 0; i < n; i++) w[i] = 0.5 - 0.5 * Math.cos((2 * Math.PI * i) / n);
  return w;
}

