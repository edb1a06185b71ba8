/**
 * Fundamental-frequency tracking: YIN's cumulative mean normalized difference (de Cheveigné &
 * Kawahara 2002) with a Viterbi search over per-frame candidates (a light pYIN).
 *
 * Speed: the difference function is computed on a copy decimated to ~8 kHz, where lags up to 1/60 s
 * are ~135 samples, so the direct O(window x lags) sum stays cheap (60 s of audio in ~0.2 s). The
 * winning lag is then refined on the full-rate signal so the decimation costs no precision.
 *
 * Octave errors: a frame-by-frame "first dip below threshold" rule picks half or double the period
 * whenever one frame is ambiguous. Keeping every CMND dip as a candidate and charging a cost for
 * pitch jumps between frames lets the surrounding clear frames decide the ambiguous ones.
 */

export interface PitchTrack {
  /** Frame spacing; frame i describes the audio around t = i * hopSec. */
  readonly hopSec: number;
  /** Hz per frame, 0 = unvoiced. */
  readonly f0: Float32Array;
}

export interface PitchOptions {
  minHz?: number;
  maxHz?: number;
  hopSec?: number;
}

export const DEFAULT_PITCH_RANGE = { minHz: 60, maxHz: 500 } as const;

/** Target rate of the decimated analysis copy: keeps harmonics up to ~3.6 kHz, enough for YIN. */
const ANALYSIS_RATE = 8000;
/** Minimum YIN integration window. */
const WINDOW_SEC = 0.025;
/** CMND dips above this are not worth keeping as candidates. */
const CANDIDATE_CEILING = 0.6;
const MAX_CANDIDATES = 6;
/** Local cost of declaring a frame unvoiced: voiced candidates with CMND below it are preferred. */
const UNVOICED_COST = 0.42;
/** Cost of switching between voiced and unvoiced, which suppresses one-frame voicing flicker. */
const VOICING_SWITCH_COST = 0.15;
/** Cost per octave of pitch change between neighbouring voiced frames. */
const JUMP_COST_PER_OCTAVE = 2.5;
/** Frames quieter than this (dBFS) or this far below the loud (95th percentile) frames are unvoiced. */
const ABSOLUTE_GATE_DB = -60;
const RELATIVE_GATE_DB = 40;

export function trackPitch(samples: Float32Array, sampleRate: number, options: PitchOptions = {}): PitchTrack {
  const minHz = options.minHz ?? DEFAULT_PITCH_RANGE.minHz;
  const maxHz = options.maxHz ?? DEFAULT_PITCH_RANGE.maxHz;
  const hopSec = options.hopSec ?? 0.01;
  if (!(sampleRate >= 1000) || !Number.isFinite(sampleRate)) throw new RangeError(`invalid sample rate ${sampleRate}`);
  if (!(minHz > 0 && maxHz > minHz && maxHz < sampleRate / 4)) throw new RangeError(`invalid pitch range ${minHz}..${maxHz} Hz`);
  if (!(hopSec > 0 && hopSec <= 0.1)) throw new RangeError(`hopSec must be in (0, 0.1] (got ${hopSec})`);
  const frameCount = samples.length === 0 ? 0 : Math.floor(samples.length / (hopSec * sampleRate)) + 1;
  const f0 = new Float32Array(frameCount);
  if (frameCount === 0) return { hopSec, f0 };

  const factor = Math.max(1, Math.round(sampleRate / ANALYSIS_RATE));
  const rate = sampleRate / factor;
  const maxLag = Math.min(Math.ceil(rate / minHz) + 1, Math.floor(rate / 2));
  const minLag = Math.max(2, Math.floor(rate / maxHz));
  // The integration window is a whole number of hop-long blocks (odd, so it is centred on the
  // frame). Each block's lagged products are computed once and shared by the frames whose windows
  // contain it, which divides the cost of the difference function by the number of blocks.
  const hopRate = hopSec * rate;
  let blocksPerWindow = Math.max(1, Math.ceil(Math.max(maxLag, WINDOW_SEC * rate) / hopRate));
  if (blocksPerWindow % 2 === 0) blocksPerWindow++;
  const halfBlocks = (blocksPerWindow - 1) / 2;
  const pad = Math.ceil((halfBlocks + 1) * hopRate) + maxLag + 4;
  const low = decimate(samples, factor, pad);
  const energyPrefix = prefixSquares(low);
  const boundary = (k: number): number => pad + Math.round((k - 0.5) * hopRate);

  // Energy gate on the decimated (low-passed) signal: fricative hiss should not count as voicing.
  const frameDb = new Float32Array(frameCount);
  for (let i = 0; i < frameCount; i++) {
    const a = boundary(i - halfBlocks);
    const b = boundary(i + halfBlocks + 1);
    frameDb[i] = 10 * Math.log10((energyPrefix[b]! - energyPrefix[a]!) / Math.max(1, b - a) + 1e-12);
  }
  const gateDb = Math.max(ABSOLUTE_GATE_DB, percentile(frameDb, 0.95) - RELATIVE_GATE_DB);

  const lagCount = maxLag + 2;
  const blocks = new Map<number, Float64Array>();
  const blockProducts = (k: number): Float64Array => {
    let products = blocks.get(k);
    if (products !== undefined) return products;
    products = new Float64Array(lagCount);
    const a = boundary(k);
    const b = boundary(k + 1);
    for (let lag = 1; lag < lagCount; lag++) {
      let sum = 0;
      for (let j = a, m = a + lag; j < b; j++, m++) sum += low[j]! * low[m]!;
      products[lag] = sum;
    }
    blocks.set(k, products);
    return products;
  };

  const d = new Float64Array(lagCount);
  const cmnd = new Float64Array(lagCount);
  const candLag: Float64Array[] = new Array(frameCount);
  const candCost: Float64Array[] = new Array(frameCount);
  const empty = new Float64Array(0);
  for (let i = 0; i < frameCount; i++) {
    blocks.delete(i - halfBlocks - 1);
    candLag[i] = empty;
    candCost[i] = empty;
    if (frameDb[i]! < gateDb) continue;
    const start = boundary(i - halfBlocks);
    const end = boundary(i + halfBlocks + 1);
    const e0 = energyPrefix[end]! - energyPrefix[start]!;
    if (e0 <= 0) continue;
    d.fill(0);
    for (let k = i - halfBlocks; k <= i + halfBlocks; k++) {
      const products = blockProducts(k);
      for (let lag = 1; lag < lagCount; lag++) d[lag]! += products[lag]!;
    }
    for (let lag = 1; lag < lagCount; lag++) {
      const eLag = energyPrefix[end + lag]! - energyPrefix[start + lag]!;
      d[lag] = Math.max(0, e0 + eLag - 2 * d[lag]!);
    }
    cmnd[0] = 1;
    let running = 0;
    for (let lag = 1; lag < lagCount; lag++) {
      running += d[lag]!;
      cmnd[lag] = running > 0 ? (d[lag]! * lag) / running : 1;
    }
    const found = findCandidates(cmnd, minLag, maxLag);
    candLag[i] = found.lags;
    candCost[i] = found.costs;
  }

  const path = viterbi(candLag, candCost, rate);
  for (let i = 0; i < frameCount; i++) {
    const choice = path[i]!;
    if (choice < 0) continue;
    const lag = candLag[i]![choice]! * factor;
    const refined = factor > 1 ? refineLag(samples, Math.round(i * hopSec * sampleRate), lag, factor) : lag;
    const hz = sampleRate / refined;
    f0[i] = hz >= minHz * 0.97 && hz <= maxHz * 1.03 ? hz : 0;
  }
  return { hopSec, f0 };
}

export interface VoicedPitchStats {
  medianHz: number;
  p10Hz: number;
  p90Hz: number;
  /** Voiced frames / all frames. */
  voicedFraction: number;
}

export function voicedPitchStats(track: PitchTrack): VoicedPitchStats | undefined {
  const voiced: number[] = [];
  for (const hz of track.f0) if (hz > 0) voiced.push(hz);
  if (voiced.length === 0) return undefined;
  voiced.sort((a, b) => a - b);
  return {
    medianHz: quantileSorted(voiced, 0.5),
    p10Hz: quantileSorted(voiced, 0.1),
    p90Hz: quantileSorted(voiced, 0.9),
    voicedFraction: voiced.length / track.f0.length,
  };
}

/** Linear interpolation of a pitch track at time t (0 when either neighbouring frame is unvoiced). */
export function pitchAt(track: PitchTrack, timeSec: number): number {
  const x = timeSec / track.hopSec;
  const i = Math.floor(x);
  const a = track.f0[Math.max(0, Math.min(track.f0.length - 1, i))] ?? 0;
  const b = track.f0[Math.max(0, Math.min(track.f0.length - 1, i + 1))] ?? 0;
  if (a <= 0 || b <= 0) return x - i < 0.5 ? a : b;
  return a + (b - a) * (x - i);
}

export function quantileSorted(sorted: readonly number[], q: number): number {
  if (sorted.length === 0) return NaN;
  const pos = q * (sorted.length - 1);
  const i = Math.floor(pos);
  const lo = sorted[i]!;
  const hi = sorted[Math.min(sorted.length - 1, i + 1)]!;
  return lo + (hi - lo) * (pos - i);
}

function percentile(values: Float32Array, q: number): number {
  const sorted = Array.from(values).sort((a, b) => a - b);
  return quantileSorted(sorted, q);
}

function prefixSquares(x: Float32Array): Float64Array {
  const out = new Float64Array(x.length + 1);
  let sum = 0;
  for (let i = 0; i < x.length; i++) {
    sum += x[i]! * x[i]!;
    out[i + 1] = sum;
  }
  return out;
}

/**
 * Low-pass (windowed sinc, cutoff 0.9 x the new Nyquist) and keep every factor-th sample, with
 * `pad` zeros on both sides of the result.
 */
function decimate(x: Float32Array, factor: number, pad: number): Float32Array {
  const outLength = Math.ceil(x.length / factor);
  const out = new Float32Array(outLength + 2 * pad);
  if (factor === 1) {
    out.set(x, pad);
    return out;
  }
  const half = 4 * factor;
  const cutoff = 0.45 / factor;
  const taps = new Float32Array(2 * half + 1);
  let sum = 0;
  for (let k = -half; k <= half; k++) {
    const t = 2 * cutoff * k;
    const sinc = k === 0 ? 1 : Math.sin(Math.PI * t) / (Math.PI * t);
    const w = 0.42 + 0.5 * Math.cos((Math.PI * k) / (half + 1)) + 0.08 * Math.cos((2 * Math.PI * k) / (half + 1));
    taps[k + half] = sinc * w;
    sum += sinc * w;
  }
  for (let k = 0; k < taps.length; k++) taps[k]! /= sum;
  for (let o = 0; o < outLength; o++) {
    const c = o * factor;
    let acc = 0;
    if (c - half >= 0 && c + half < x.length) {
      for (let k = 0, j = c - half; k < taps.length; k++, j++) acc += taps[k]! * x[j]!;
    } else {
      for (let k = -half; k <= half; k++) {
        const j = c + k;
        if (j >= 0 && j < x.length) acc += taps[k + half]! * x[j]!;
      }
    }
    out[pad + o] = acc;
  }
  return out;
}

/** Local minima of the CMND between minLag and maxLag, parabolically refined; cost = CMND value. */
function findCandidates(cmnd: Float64Array, minLag: number, maxLag: number): { lags: Float64Array; costs: Float64Array } {
  const lags: number[] = [];
  const costs: number[] = [];
  for (let lag = Math.max(minLag, 1); lag <= maxLag; lag++) {
    const c = cmnd[lag]!;
    if (c >= CANDIDATE_CEILING || c > cmnd[lag - 1]! || c >= cmnd[lag + 1]!) continue;
    const a = cmnd[lag - 1]!;
    const b = cmnd[lag + 1]!;
    const denom = a - 2 * c + b;
    const shift = denom > 0 ? Math.max(-0.5, Math.min(0.5, (0.5 * (a - b)) / denom)) : 0;
    lags.push(lag + shift);
    costs.push(Math.max(0, c - 0.25 * (a - b) * shift));
  }
  if (lags.length > MAX_CANDIDATES) {
    const order = costs.map((_, i) => i).sort((i, j) => costs[i]! - costs[j]!).slice(0, MAX_CANDIDATES).sort((i, j) => i - j);
    return { lags: Float64Array.from(order, (i) => lags[i]!), costs: Float64Array.from(order, (i) => costs[i]!) };
  }
  return { lags: Float64Array.from(lags), costs: Float64Array.from(costs) };
}

/**
 * Minimum-cost path through the candidates. Returns the chosen candidate index per frame, -1 for
 * unvoiced. State 0 is "unvoiced", state k+1 is candidate k.
 */
function viterbi(candLag: readonly Float64Array[], candCost: readonly Float64Array[], rate: number): Int32Array {
  const frames = candLag.length;
  const path = new Int32Array(frames).fill(-1);
  if (frames === 0) return path;
  const back: Int32Array[] = new Array(frames);
  let prevCost = new Float64Array(1 + candLag[0]!.length);
  prevCost[0] = UNVOICED_COST;
  for (let k = 0; k < candLag[0]!.length; k++) prevCost[k + 1] = candCost[0]![k]!;
  back[0] = new Int32Array(prevCost.length);
  let prevLogF = logFreqs(candLag[0]!, rate);
  for (let i = 1; i < frames; i++) {
    const lags = candLag[i]!;
    const costs = candCost[i]!;
    const logF = logFreqs(lags, rate);
    const cur = new Float64Array(1 + lags.length);
    const from = new Int32Array(1 + lags.length);
    // Unvoiced: from unvoiced for free, from any voiced state at the switch cost.
    let best = prevCost[0]!;
    let arg = 0;
    for (let p = 1; p < prevCost.length; p++) {
      const c = prevCost[p]! + VOICING_SWITCH_COST;
      if (c < best) {
        best = c;
        arg = p;
      }
    }
    cur[0] = best + UNVOICED_COST;
    from[0] = arg;
    for (let k = 0; k < lags.length; k++) {
      let bestV = prevCost[0]! + VOICING_SWITCH_COST;
      let argV = 0;
      for (let p = 1; p < prevCost.length; p++) {
        const c = prevCost[p]! + JUMP_COST_PER_OCTAVE * Math.abs(logF[k]! - prevLogF[p - 1]!);
        if (c < bestV) {
          bestV = c;
          argV = p;
        }
      }
      cur[k + 1] = bestV + costs[k]!;
      from[k + 1] = argV;
    }
    back[i] = from;
    prevCost = cur;
    prevLogF = logF;
  }
  let state = 0;
  for (let s = 1; s < prevCost.length; s++) if (prevCost[s]! < prevCost[state]!) state = s;
  for (let i = frames - 1; i >= 0; i--) {
    path[i] = state - 1;
    state = back[i]![state]!;
  }
  return path;
}

function logFreqs(lags: Float64Array, rate: number): Float64Array {
  const out = new Float64Array(lags.length);
  for (let k = 0; k < lags.length; k++) out[k] = Math.log2(rate / lags[k]!);
  return out;
}

/**
 * Sharpens a lag found on the decimated copy: the plain difference function on the original signal
 * at integer lags around it, then a parabola through the minimum.
 */
function refineLag(x: Float32Array, center: number, lag: number, factor: number): number {
  // Two periods are enough to locate the dip and keep the estimate local to the frame; the coarse
  // lag is already within about one full-rate sample, so five lags around it suffice.
  const window = Math.ceil(2 * lag);
  const mid = Math.round(lag);
  const lo = Math.max(2, mid - 2);
  const hi = mid + 2;
  const start = Math.min(x.length - window - hi - 1, center - ((window + hi) >> 1));
  if (start < 0) return lag;
  const values = new Float64Array(hi - lo + 1);
  for (let t = lo; t <= hi; t++) {
    let sum = 0;
    for (let j = 0, a = start, b = start + t; j < window; j++, a++, b++) {
      const diff = x[a]! - x[b]!;
      sum += diff * diff;
    }
    values[t - lo] = sum;
  }
  let best = 1;
  for (let k = 2; k < values.length - 1; k++) if (values[k]! < values[best]!) best = k;
  const a = values[best - 1]!;
  const b = values[best]!;
  const c = values[best + 1]!;
  const denom = a - 2 * b + c;
  const shift = denom > 0 ? Math.max(-0.5, Math.min(0.5, (0.5 * (a - c)) / denom)) : 0;
  const refined = lo + best + shift;
  // A refinement that wanders off the coarse estimate found a different dip; keep the coarse one.
  return Math.abs(refined - lag) <= factor ? refined : lag;
}
