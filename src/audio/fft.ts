/**
 * A small in-place radix-2 FFT (watermark filter and detector, voice analysis). Tables are built once per
 * size and kept, because both callers use only a handful of sizes over and over.
 */

interface FftTables {
  readonly cos: Float64Array;
  readonly sin: Float64Array;
  readonly bitReverse: Uint32Array;
}

const tables = new Map<number, FftTables>();

export function isPowerOfTwo(n: number): boolean {
  return Number.isInteger(n) && n >= 1 && (n & (n - 1)) === 0;
}

export function nextPowerOfTwo(n: number): number {
  let p = 1;
  while (p < n) p *= 2;
  return p;
}

function tablesFor(n: number): FftTables {
  let t = tables.get(n);
  if (t === undefined) {
    if (!isPowerOfTwo(n)) throw new RangeError(`FFT size must be a power of two (got ${n})`);
    const cos = new Float64Array(n / 2);
    const sin = new Float64Array(n / 2);
    for (let k = 0; k < n / 2; k++) {
      cos[k] = Math.cos((2 * Math.PI * k) / n);
      sin[k] = Math.sin((2 * Math.PI * k) / n);
    }
    const bits = Math.round(Math.log2(n));
    const bitReverse = new Uint32Array(n);
    for (let i = 0; i < n; i++) {
      let r = 0;
      for (let b = 0; b < bits; b++) r |= ((i >>> b) & 1) << (bits - 1 - b);
      bitReverse[i] = r;
    }
    t = { cos, sin, bitReverse };
    tables.set(n, t);
  }
  return t;
}

/**
 * Complex FFT in place over `re`/`im` (length a power of two). `inverse` computes the unscaled
 * inverse transform; divide by n yourself.
 */
export function fft(re: Float64Array, im: Float64Array, inverse = false): void {
  const n = re.length;
  if (im.length !== n) throw new RangeError('re and im must have the same length');
  if (n <= 1) return;
  const { cos, sin, bitReverse } = tablesFor(n);
  for (let i = 0; i < n; i++) {
    const j = bitReverse[i]!;
    if (j > i) {
      const tr = re[i]!;
      re[i] = re[j]!;
      re[j] = tr;
      const ti = im[i]!;
      im[i] = im[j]!;
      im[j] = ti;
    }
  }
  // The first stage needs no twiddles.
  for (let a = 0; a < n; a += 2) {
    const xr = re[a + 1]!;
    const xi = im[a + 1]!;
    re[a + 1] = re[a]! - xr;
    im[a + 1] = im[a]! - xi;
    re[a] = re[a]! + xr;
    im[a] = im[a]! + xi;
  }
  const sign = inverse ? 1 : -1;
  for (let size = 4; size <= n; size *= 2) {
    const half = size / 2;
    const step = n / size;
    // Twiddle outside, butterflies inside: each twiddle is read once per stage.
    for (let k = 0; k < half; k++) {
      const wr = cos[k * step]!;
      const wi = sign * sin[k * step]!;
      for (let a = k; a < n; a += size) {
        const b = a + half;
        const br = re[b]!;
        const bi = im[b]!;
        const xr = br * wr - bi * wi;
        const xi = br * wi + bi * wr;
        const ar = re[a]!;
        const ai = im[a]!;
        re[b] = ar - xr;
        im[b] = ai - xi;
        re[a] = ar + xr;
        im[a] = ai + xi;
      }
    }
  }
}

interface RealTables {
  readonly cos: Float64Array;
  readonly sin: Float64Array;
  readonly re: Float64Array;
  readonly im: Float64Array;
}

const realTables = new Map<number, RealTables>();

function realTablesFor(n: number): RealTables {
  let t = realTables.get(n);
  if (t === undefined) {
    if (!isPowerOfTwo(n) || n < 2) throw new RangeError(`real FFT size must be a power of two ≥ 2 (got ${n})`);
    const half = n / 2;
    const cos = new Float64Array(half + 1);
    const sin = new Float64Array(half + 1);
    for (let k = 0; k <= half; k++) {
      cos[k] = Math.cos((2 * Math.PI * k) / n);
      sin[k] = Math.sin((2 * Math.PI * k) / n);
    }
    t = { cos, sin, re: new Float64Array(half), im: new Float64Array(half) };
    realTables.set(n, t);
  }
  return t;
}

/**
 * Spectrum X[0..n/2] of the real sequence `input` (length n, a power of two), through one complex
 * FFT of half the size: even samples as the real part, odd samples as the imaginary part.
 */
export function realFft(input: Float64Array, outRe: Float64Array, outIm: Float64Array): void {
  const n = input.length;
  const half = n / 2;
  const { cos, sin, re, im } = realTablesFor(n);
  for (let i = 0; i < half; i++) {
    re[i] = input[2 * i]!;
    im[i] = input[2 * i + 1]!;
  }
  fft(re, im);
  for (let k = 0; k <= half; k++) {
    const a = k % half;
    const b = (half - k) % half;
    // E = (Z[k] + conj Z[half-k]) / 2, O = (Z[k] - conj Z[half-k]) / 2i, X = E + W^k O with W = e^(-2πi/n).
    const er = (re[a]! + re[b]!) / 2;
    const ei = (im[a]! - im[b]!) / 2;
    const or = (im[a]! + im[b]!) / 2;
    const oi = (re[b]! - re[a]!) / 2;
    const wr = cos[k]!;
    const wi = -sin[k]!;
    outRe[k] = er + wr * or - wi * oi;
    outIm[k] = ei + wr * oi + wi * or;
  }
}

/** Inverse of `realFft`, scaled: `output` (length n) receives the real sequence whose spectrum is X[0..n/2]. */
export function inverseRealFft(inRe: Float64Array, inIm: Float64Array, output: Float64Array): void {
  const n = output.length;
  const half = n / 2;
  const { cos, sin, re, im } = realTablesFor(n);
  for (let k = 0; k < half; k++) {
    const b = half - k;
    // E = (X[k] + conj X[half-k]) / 2, O = (X[k] - conj X[half-k]) W^-k / 2, Z = E + iO.
    const er = (inRe[k]! + inRe[b]!) / 2;
    const ei = (inIm[k]! - inIm[b]!) / 2;
    const dr = (inRe[k]! - inRe[b]!) / 2;
    const di = (inIm[k]! + inIm[b]!) / 2;
    const wr = cos[k]!;
    const wi = sin[k]!;
    const or = dr * wr - di * wi;
    const oi = dr * wi + di * wr;
    re[k] = er - oi;
    im[k] = ei + or;
  }
  fft(re, im, true);
  for (let i = 0; i < half; i++) {
    output[2 * i] = re[i]! / half;
    output[2 * i + 1] = im[i]! / half;
  }
}
