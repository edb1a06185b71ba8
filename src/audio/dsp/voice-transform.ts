/**
 * Pitch and formant transform ("change gender"): moves speech toward a target voice profile while
 * keeping its timing and words. It is a DSP approximation of a voice, not voice cloning.
 *
 * Method (Praat's "Change gender", done in one pass): pitch-synchronous overlap-add (TD-PSOLA).
 * Each grain is two input periods around a pitch mark, Hann-windowed, read from the input at
 * `formantRatio` times the normal speed (so its spectral envelope, i.e. the formants, scales by
 * alpha), and laid down at the target pitch period. Output time equals input time everywhere,
 * which fixes the duration exactly. Grains are read with a windowed-sinc interpolator (cut-off
 * lowered when reading faster), so fractional positions and the speed change add little aliasing.
 * Unvoiced stretches are overlap-added the same way with fixed 10 ms pseudo-periods and
 * complementary windows. Voiced grains are gain-compensated for the change in grain rate, and the
 * result is scaled to the input's RMS, then down if needed to keep the peak below 0.99.
 *
 * Limits: a pitch/formant transform, not timbre transfer; breathiness, accent and articulation stay
 * the source's. Large pitch shifts (beyond about an octave) sound increasingly buzzy or hollow.
 */
import { pitchAt, trackPitch, type PitchTrack } from '../analysis/pitch.js';
import { estimateFormantRatio, FORMANT_RATIO_RANGE, type VoiceProfile } from '../analysis/voice-profile.js';

export interface VoiceTransform {
  /** Output median pitch / input median pitch. */
  readonly pitchRatio: number;
  /** The input's median pitch: the fixed point of the range scaling. */
  readonly pitchCenterHz: number;
  /** Scales pitch excursions around the centre in the log domain (target range / source range), 0.5..2. */
  readonly rangeRatio: number;
  /** Spectral-envelope (formant) frequency scale, 0.8..1.25. */
  readonly formantRatio: number;
}

export const PITCH_RATIO_RANGE = { min: 0.25, max: 4 } as const;
export const RANGE_RATIO_RANGE = { min: 0.5, max: 2 } as const;

export function planVoiceTransform(source: VoiceProfile, target: VoiceProfile): VoiceTransform {
  const pitchRatio = clamp(target.medianPitchHz / source.medianPitchHz, PITCH_RATIO_RANGE.min, PITCH_RATIO_RANGE.max);
  // A monotone source (range near 0) would ask for an enormous stretch; 0.5 st is a sane floor.
  const rangeRatio = clamp(target.pitchRangeSemitones / Math.max(0.5, source.pitchRangeSemitones), RANGE_RATIO_RANGE.min, RANGE_RATIO_RANGE.max);
  return {
    pitchRatio,
    pitchCenterHz: source.medianPitchHz,
    rangeRatio,
    formantRatio: estimateFormantRatio(source, target),
  };
}

/** Pseudo-period of the unvoiced overlap-add. */
const UNVOICED_PERIOD_SEC = 0.01;
/** Voiced runs shorter than this are treated as unvoiced: too short to place stable pitch marks. */
const MIN_VOICED_FRAMES = 3;
/** Output pitch limits: far beyond any voice, they only guard against nonsense transforms. */
const MIN_OUTPUT_HZ = 40;
const MAX_OUTPUT_HZ = 1100;
/** Largest output peak; the whole output is scaled down if it would exceed it. */
const PEAK_LIMIT = 0.99;
/** Grains rendered between abort checks (about a second of speech). */
const GRAINS_PER_BLOCK = 256;

interface Grain {
  /** Output position of the grain centre (samples, fractional). */
  readonly center: number;
  /** Input position the grain is read around. */
  readonly source: number;
  /** Window half-lengths before and after the centre, in output samples. */
  readonly left: number;
  readonly right: number;
  readonly gain: number;
}

interface VoicedRegion {
  readonly marks: Float64Array;
  /** Local period (samples) at each mark. */
  readonly periods: Float64Array;
}

export function transformVoice(samples: Float32Array, sampleRate: number, transform: VoiceTransform, signal?: AbortSignal): Float32Array {
  validate(transform);
  if (!(sampleRate >= 8000 && Number.isFinite(sampleRate))) throw new RangeError(`invalid sample rate ${sampleRate}`);
  const n = samples.length;
  if (n === 0 || signal?.aborted) return new Float32Array(0);
  const alpha = transform.formantRatio;

  const track = trackPitch(samples, sampleRate);
  if (signal?.aborted) return new Float32Array(0);
  const regions = findVoicedRegions(samples, sampleRate, track, signal);
  if (signal?.aborted) return new Float32Array(0);

  const grains = planGrains(regions, n, sampleRate, transform);
  const reader = new SincReader(samples, alpha);
  const out = new Float64Array(n);
  let complete = n;
  for (let g = 0; g < grains.length; g++) {
    if (g % GRAINS_PER_BLOCK === 0 && g > 0 && signal?.aborted) {
      // Samples before the earliest reach of the grains not yet rendered are final.
      let reach = n;
      for (let r = g; r < grains.length; r++) reach = Math.min(reach, grains[r]!.center - grains[r]!.left);
      complete = Math.max(0, Math.floor(reach));
      break;
    }
    renderGrain(grains[g]!, alpha, reader, out);
  }
  return finish(samples, out, complete);
}

function validate(t: VoiceTransform): void {
  const check = (name: string, value: number, min: number, max: number): void => {
    if (!Number.isFinite(value) || value < min * 0.999 || value > max * 1.001) {
      throw new RangeError(`${name} must be between ${min} and ${max} (got ${value})`);
    }
  };
  check('pitchRatio', t.pitchRatio, PITCH_RATIO_RANGE.min, PITCH_RATIO_RANGE.max);
  check('rangeRatio', t.rangeRatio, RANGE_RATIO_RANGE.min, RANGE_RATIO_RANGE.max);
  check('formantRatio', t.formantRatio, FORMANT_RATIO_RANGE.min, FORMANT_RATIO_RANGE.max);
  check('pitchCenterHz', t.pitchCenterHz, 20, 2000);
}

/**
 * Runs of voiced frames with pitch marks: one mark per period, each placed where the waveform best
 * matches the waveform at the previous mark. Matching neighbours (rather than picking peaks) keeps
 * every mark on the same point of the cycle, which is what PSOLA needs to avoid phase jumps.
 */
function findVoicedRegions(x: Float32Array, sampleRate: number, track: PitchTrack, signal: AbortSignal | undefined): VoicedRegion[] {
  const hop = track.hopSec * sampleRate;
  const f0 = track.f0;
  const regions: VoicedRegion[] = [];
  for (let i = 0; i < f0.length; ) {
    if (!(f0[i]! > 0)) {
      i++;
      continue;
    }
    let j = i;
    while (j + 1 < f0.length && f0[j + 1]! > 0) j++;
    if (j - i + 1 >= MIN_VOICED_FRAMES) {
      const start = Math.max(0, (i - 0.5) * hop);
      const end = Math.min(x.length - 1, (j + 0.5) * hop);
      const region = placeMarks(x, sampleRate, track, i, j, start, end);
      if (region !== undefined) regions.push(region);
      if (signal?.aborted) return regions;
    }
    i = j + 1;
  }
  return regions;
}

function placeMarks(x: Float32Array, sampleRate: number, track: PitchTrack, first: number, last: number, start: number, end: number): VoicedRegion | undefined {
  const hop = track.hopSec * sampleRate;
  const periodAt = (pos: number): number => {
    const frame = Math.max(first, Math.min(last, pos / hop));
    const hz = pitchAt(track, frame * track.hopSec) || track.f0[Math.round(frame)]!;
    return sampleRate / hz;
  };
  // Anchor on the strongest cycle of the loudest frame, where the waveform is least ambiguous.
  let loudest = first;
  let loudestEnergy = -1;
  for (let f = first; f <= last; f++) {
    const c = Math.round(f * hop);
    const half = Math.round(periodAt(c) / 2);
    let e = 0;
    for (let k = Math.max(0, c - half); k < Math.min(x.length, c + half); k++) e += x[k]! * x[k]!;
    if (e > loudestEnergy) {
      loudestEnergy = e;
      loudest = f;
    }
  }
  const center = Math.round(loudest * hop);
  const t0 = periodAt(center);
  let anchor = center;
  for (let k = Math.max(0, Math.round(center - t0 / 2)); k <= Math.min(x.length - 1, Math.round(center + t0 / 2)); k++) {
    if (Math.abs(x[k]!) > Math.abs(x[anchor]!)) anchor = k;
  }
  const marks: number[] = [anchor];
  for (let m = anchor; ; ) {
    const next = nextMark(x, m, periodAt(m), 1);
    if (next > end) break;
    marks.push(next);
    m = next;
  }
  for (let m = anchor; ; ) {
    const previous = nextMark(x, m, periodAt(m), -1);
    if (previous < start) break;
    marks.unshift(previous);
    m = previous;
  }
  if (marks.length < 2) return undefined;
  const count = marks.length;
  const periods = new Float64Array(count);
  for (let k = 0; k < count; k++) {
    const before = k > 0 ? marks[k]! - marks[k - 1]! : marks[k + 1]! - marks[k]!;
    const after = k < count - 1 ? marks[k + 1]! - marks[k]! : before;
    periods[k] = (before + after) / 2;
  }
  return { marks: Float64Array.from(marks), periods };
}

/**
 * The mark one period after (direction 1) or before (-1) `mark`: the offset within +-12% of the
 * expected period whose one-period waveform correlates best with the one at `mark`, refined to a
 * fraction of a sample.
 */
function nextMark(x: Float32Array, mark: number, period: number, direction: 1 | -1): number {
  const expected = mark + direction * period;
  const length = Math.max(8, Math.round(period));
  const half = length >> 1;
  const ref = Math.round(mark) - half;
  const search = Math.max(1, Math.round(0.12 * period));
  const base = Math.round(expected);
  if (ref < 0 || ref + length > x.length || base - search - half < 0 || base + search - half + length > x.length) return expected;
  let refEnergy = 0;
  for (let k = 0; k < length; k++) refEnergy += x[ref + k]! * x[ref + k]!;
  const scores = new Float64Array(2 * search + 1);
  for (let d = -search; d <= search; d++) {
    const start = base + d - half;
    let cross = 0;
    let energy = 0;
    for (let k = 0; k < length; k++) {
      const v = x[start + k]!;
      cross += x[ref + k]! * v;
      energy += v * v;
    }
    scores[d + search] = energy > 0 && refEnergy > 0 ? cross / Math.sqrt(energy * refEnergy) : 0;
  }
  let best = search;
  for (let k = 0; k < scores.length; k++) if (scores[k]! > scores[best]!) best = k;
  if (scores[best]! <= 0.3) return expected; // no similar cycle: keep the pitch track's spacing
  let shift = 0;
  if (best > 0 && best < scores.length - 1) {
    const a = scores[best - 1]!;
    const b = scores[best]!;
    const c = scores[best + 1]!;
    const denom = a - 2 * b + c;
    if (denom < 0) shift = Math.max(-0.5, Math.min(0.5, (0.5 * (a - c)) / denom));
  }
  return base + best - search + shift + (mark - Math.round(mark));
}

/** Synthesis grains in output order: PSOLA grains over voiced regions, fixed-period OLA elsewhere. */
function planGrains(regions: readonly VoicedRegion[], n: number, sampleRate: number, t: VoiceTransform): Grain[] {
  const alpha = t.formantRatio;
  const unvoicedPeriod = UNVOICED_PERIOD_SEC * sampleRate;
  const voiced: Grain[][] = [];
  for (const region of regions) {
    const { marks, periods } = region;
    const list: Grain[] = [];
    let k = 0;
    for (let s = marks[0]!; s <= marks[marks.length - 1]! + 1e-6; ) {
      while (k + 1 < marks.length && Math.abs(marks[k + 1]! - s) <= Math.abs(marks[k]! - s)) k++;
      const inPeriod = periods[k]!;
      const inHz = sampleRate / inPeriod;
      const outHz = clamp(t.pitchRatio * t.pitchCenterHz * (inHz / t.pitchCenterHz) ** t.rangeRatio, MIN_OUTPUT_HZ, MAX_OUTPUT_HZ);
      const outPeriod = sampleRate / outHz;
      const half = inPeriod / alpha;
      // Grains carry one cycle's energy each; re-spacing them changes power by
      // inPeriod / (alpha * outPeriod), which this undoes so voiced and unvoiced stay balanced.
      const gain = clamp(Math.sqrt((alpha * outPeriod) / inPeriod), 0.5, 2);
      list.push({ center: s, source: marks[k]!, left: half, right: half, gain });
      s += outPeriod;
    }
    voiced.push(list);
  }

  const grains: Grain[] = [];
  const addUnvoiced = (from: number, to: number): void => {
    // Centres from `from` to `to` inclusive at about one pseudo-period; windows reach the
    // neighbouring centres so consecutive windows are complementary.
    const length = to - from;
    const centers: number[] = [];
    if (length < 1) centers.push((from + to) / 2);
    else {
      const steps = Math.max(1, Math.round(length / unvoicedPeriod));
      for (let s = 0; s <= steps; s++) centers.push(from + (length * s) / steps);
    }
    for (const c of centers) grains.push({ center: c, source: c, left: 0, right: 0, gain: 1 });
  };
  let cursor = 0;
  for (const list of voiced) {
    if (list.length === 0) continue;
    const first = list[0]!;
    const entry = first.center - first.left;
    if (entry > cursor - 1 || grains.length === 0) addUnvoiced(Math.min(cursor, Math.max(0, entry)), Math.max(0, entry));
    grains.push(...list);
    const last = list[list.length - 1]!;
    cursor = last.center + last.right;
  }
  if (cursor <= n - 1) addUnvoiced(cursor, n - 1);

  // Unvoiced windows (left/right 0 so far) extend to their neighbours' centres.
  const out: Grain[] = [];
  for (let g = 0; g < grains.length; g++) {
    const grain = grains[g]!;
    if (grain.left > 0) {
      out.push(grain);
      continue;
    }
    const prev = grains[g - 1];
    const next = grains[g + 1];
    let left = prev !== undefined ? grain.center - prev.center : 0;
    let right = next !== undefined ? next.center - grain.center : 0;
    if (left <= 0) left = right > 0 ? right : unvoicedPeriod;
    if (right <= 0) right = left;
    out.push({ ...grain, left, right });
  }
  return out;
}

/** Half of a Hann window, 1 at index 0 falling to 0 at index HANN_STEPS. */
const HANN_STEPS = 4096;
const HALF_HANN = Float32Array.from({ length: HANN_STEPS + 2 }, (_, i) => (i >= HANN_STEPS ? 0 : 0.5 + 0.5 * Math.cos((Math.PI * i) / HANN_STEPS)));

function renderGrain(grain: Grain, alpha: number, reader: SincReader, out: Float64Array): void {
  const { center, source, left, right, gain } = grain;
  const from = Math.max(0, Math.ceil(center - left));
  const to = Math.min(out.length - 1, Math.floor(center + right));
  const leftScale = HANN_STEPS / left;
  const rightScale = HANN_STEPS / right;
  for (let j = from; j <= to; j++) {
    const offset = j - center;
    const w = HALF_HANN[Math.round(offset < 0 ? -offset * leftScale : offset * rightScale)]!;
    if (w <= 0) continue;
    out[j]! += gain * w * reader.at(source + alpha * offset);
  }
}

/** Restores the input's overall RMS, then keeps the peak below PEAK_LIMIT. */
function finish(input: Float32Array, out: Float64Array, length: number): Float32Array {
  let inEnergy = 0;
  for (let i = 0; i < length; i++) inEnergy += input[i]! * input[i]!;
  let outEnergy = 0;
  let peak = 0;
  for (let i = 0; i < length; i++) outEnergy += out[i]! * out[i]!;
  let gain = outEnergy > 0 ? Math.sqrt(inEnergy / outEnergy) : 1;
  for (let i = 0; i < length; i++) peak = Math.max(peak, Math.abs(out[i]!));
  if (peak * gain > PEAK_LIMIT) gain = PEAK_LIMIT / peak;
  const result = new Float32Array(length);
  for (let i = 0; i < length; i++) result[i] = out[i]! * gain;
  return result;
}

function clamp(value: number, min: number, max: number): number {
  return Math.min(max, Math.max(min, value));
}

const PHASES = 512;

/**
 * Band-limited reading of a signal at fractional positions: Blackman-windowed sinc from a table.
 * When reading faster than real time (speed > 1) the cut-off drops to 1/speed so the reading does
 * not alias.
 */
class SincReader {
  private readonly half: number;
  private readonly table: Float32Array;

  constructor(private readonly x: Float32Array, speed: number) {
    const cutoff = Math.min(1, 1 / speed) * 0.95;
    this.half = Math.ceil(8 / cutoff);
    const half = this.half;
    this.table = new Float32Array(2 * half * PHASES + 1);
    for (let i = 0; i < this.table.length; i++) {
      const t = i / PHASES - half;
      const arg = Math.PI * cutoff * t;
      const sinc = t === 0 ? 1 : Math.sin(arg) / arg;
      const u = (t + half) / (2 * half); // 0..1 across the kernel
      const window = 0.42 - 0.5 * Math.cos(2 * Math.PI * u) + 0.08 * Math.cos(4 * Math.PI * u);
      this.table[i] = cutoff * sinc * window;
    }
  }

  at(position: number): number {
    const x = this.x;
    const half = this.half;
    const base = Math.floor(position);
    const phase = Math.round((position - base) * PHASES);
    const first = base - half + 1;
    // tap k reads x[first + k] at kernel time (first + k - position) = k - half + 1 - frac
    let index = (2 * half - 1) * PHASES + phase;
    let sum = 0;
    if (first >= 0 && first + 2 * half <= x.length) {
      for (let k = 0, i = first; k < 2 * half; k++, i++, index -= PHASES) sum += x[i]! * this.table[index]!;
    } else {
      for (let k = 0, i = first; k < 2 * half; k++, i++, index -= PHASES) {
        if (i >= 0 && i < x.length) sum += x[i]! * this.table[index]!;
      }
    }
    return sum;
  }
}
