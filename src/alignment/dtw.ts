/**
 * Dynamic time warping between two feature sequences, restricted to a band of cells so memory and
 * time grow with length × band width rather than length². Long inputs are aligned coarse to fine
 * (FastDTW-style): averaged features are aligned over the whole matrix first, and each finer pass
 * only searches a band around the previous pass's path, widened by `radius` frames.
 */

export interface FeatureSequence {
  /** Frame-major, `dims` values per frame. */
  readonly data: Float32Array;
  readonly frames: number;
  readonly dims: number;
}

/** Per row (reference frame) the half-open range [lo, hi) of target frames the path may visit. */
export interface DtwBand {
  readonly lo: Int32Array;
  readonly hi: Int32Array;
}

/** The warping path compacted: for each reference frame, the first and last target frame it was matched with. */
export interface WarpingPath {
  readonly first: Int32Array;
  readonly last: Int32Array;
}

export interface DtwOptions {
  /**
   * Weight of a diagonal step's local distance. 2 (the "symmetric" pattern) makes a diagonal step
   * cost as much as the horizontal + vertical detour around it, so the path follows the features
   * instead of preferring the diagonal; 1 favours the diagonal.
   */
  readonly diagonalWeight?: number;
}

export interface MultiPassOptions extends DtwOptions {
  /** The first pass covers the whole matrix once it has at most this many cells. Default 4,000,000. */
  readonly maxFullCells?: number;
  /** Frames each finer pass may move away from the previous path. Default 64. */
  readonly radius?: number;
  /** Frames averaged per step between passes. Default 4. */
  readonly factorStep?: number;
}

/** The band that covers every cell (the plain full-matrix DTW). */
export function fullBand(rows: number, columns: number): DtwBand {
  return { lo: new Int32Array(rows), hi: new Int32Array(rows).fill(columns) };
}

/** Cells within `radius` columns of the straight line from (0, 0) to (rows - 1, columns - 1). */
export function diagonalBand(rows: number, columns: number, radius: number): DtwBand {
  const lo = new Int32Array(rows);
  const hi = new Int32Array(rows);
  const slope = rows > 1 ? (columns - 1) / (rows - 1) : 0;
  for (let i = 0; i < rows; i++) {
    const centre = i * slope;
    lo[i] = Math.floor(centre - radius);
    hi[i] = Math.ceil(centre + radius) + 1;
  }
  return repairBand(lo, hi, columns);
}

/**
 * The band for a pass `factor` times finer than the one that produced `coarse`: every cell the
 * coarse path touched, projected, plus `radius` fine frames either side.
 */
export function bandAroundPath(coarse: WarpingPath, factor: number, rows: number, columns: number, radius: number): DtwBand {
  const lo = new Int32Array(rows);
  const hi = new Int32Array(rows);
  const coarseRows = coarse.first.length;
  for (let i = 0; i < rows; i++) {
    const c = Math.min(coarseRows - 1, Math.floor(i / factor));
    lo[i] = coarse.first[c]! * factor - radius;
    hi[i] = (coarse.last[c]! + 1) * factor + radius;
  }
  return repairBand(lo, hi, columns);
}

/**
 * Clamps a band to the matrix and makes every row reachable from the one before: both edges
 * non-decreasing, each row starting no later than the previous row ends, (0, 0) and the last cell inside.
 */
function repairBand(lo: Int32Array, hi: Int32Array, columns: number): DtwBand {
  const rows = lo.length;
  for (let i = 0; i < rows; i++) {
    lo[i] = Math.max(0, Math.min(columns - 1, lo[i]!));
    hi[i] = Math.max(lo[i]! + 1, Math.min(columns, hi[i]!));
  }
  if (rows === 0) return { lo, hi };
  lo[0] = 0;
  hi[rows - 1] = columns;
  for (let i = 1; i < rows; i++) hi[i] = Math.max(hi[i]!, hi[i - 1]!);
  for (let i = rows - 2; i >= 0; i--) lo[i] = Math.min(lo[i]!, lo[i + 1]!);
  for (let i = 1; i < rows; i++) lo[i] = Math.min(lo[i]!, hi[i - 1]!);
  return { lo, hi };
}

const DIAGONAL = 0;
const UP = 1;
const LEFT = 2;

/**
 * DTW of `reference` (rows) against `target` (columns) with Euclidean frame distance, searching only
 * the cells of `band`. Memory: one byte per band cell for the back-pointers plus two rows of costs.
 */
export function dtwBanded(reference: FeatureSequence, target: FeatureSequence, band: DtwBand, options: DtwOptions = {}): WarpingPath {
  const rows = reference.frames;
  const columns = target.frames;
  if (rows === 0 || columns === 0) throw new RangeError('DTW needs at least one frame on each side');
  if (reference.dims !== target.dims) throw new RangeError(`feature sizes differ (${reference.dims} vs ${target.dims})`);
  const dims = reference.dims;
  const diagonalWeight = options.diagonalWeight ?? 2;
  const { lo, hi } = band;
  const rowOffsets = new Float64Array(rows + 1);
  let widest = 0;
  for (let i = 0; i < rows; i++) {
    const width = hi[i]! - lo[i]!;
    rowOffsets[i + 1] = rowOffsets[i]! + width;
    if (width > widest) widest = width;
  }
  const directions = new Uint8Array(rowOffsets[rows]!);
  let previous = new Float64Array(widest);
  let current = new Float64Array(widest);
  const ref = reference.data;
  const tgt = target.data;

  for (let i = 0; i < rows; i++) {
    const rowLo = lo[i]!;
    const rowHi = hi[i]!;
    const previousLo = i > 0 ? lo[i - 1]! : 0;
    const previousHi = i > 0 ? hi[i - 1]! : 0;
    const offset = rowOffsets[i]!;
    const refBase = i * dims;
    for (let j = rowLo; j < rowHi; j++) {
      const tgtBase = j * dims;
      let sum = 0;
      for (let d = 0; d < dims; d++) {
        const diff = ref[refBase + d]! - tgt[tgtBase + d]!;
        sum += diff * diff;
      }
      const distance = Math.sqrt(sum);
      let best: number;
      let direction: number;
      if (i === 0 && j === 0) {
        best = distance;
        direction = DIAGONAL;
      } else {
        best = Infinity;
        direction = LEFT;
        if (i > 0 && j > 0 && j - 1 >= previousLo && j - 1 < previousHi) {
          best = previous[j - 1 - previousLo]! + diagonalWeight * distance;
          direction = DIAGONAL;
        }
        if (i > 0 && j >= previousLo && j < previousHi) {
          const up = previous[j - previousLo]! + distance;
          if (up < best) {
            best = up;
            direction = UP;
          }
        }
        if (j > rowLo) {
          const left = current[j - 1 - rowLo]! + distance;
          if (left < best) {
            best = left;
            direction = LEFT;
          }
        }
      }
      current[j - rowLo] = best;
      directions[offset + j - rowLo] = direction;
    }
    const swap = previous;
    previous = current;
    current = swap;
  }

  const first = new Int32Array(rows).fill(columns);
  const last = new Int32Array(rows).fill(-1);
  let i = rows - 1;
  let j = columns - 1;
  for (;;) {
    if (j < first[i]!) first[i] = j;
    if (j > last[i]!) last[i] = j;
    if (i === 0 && j === 0) break;
    const direction = i === 0 ? LEFT : j === 0 ? UP : directions[rowOffsets[i]! + j - lo[i]!]!;
    if (direction === DIAGONAL) {
      i--;
      j--;
    } else if (direction === UP) {
      i--;
    } else {
      j--;
    }
  }
  return { first, last };
}

/**
 * Coarse-to-fine DTW: the first pass averages `factorStep`^k frames so its full matrix has at most
 * `maxFullCells` cells; each following pass is `factorStep` times finer and searches only around the
 * previous path. Short inputs get a single full-matrix pass.
 */
export function alignFeatures(reference: FeatureSequence, target: FeatureSequence, options: MultiPassOptions = {}): WarpingPath {
  const maxFullCells = options.maxFullCells ?? 4_000_000;
  const radius = options.radius ?? 64;
  const step = Math.max(2, Math.round(options.factorStep ?? 4));
  let factor = 1;
  while (Math.ceil(reference.frames / factor) * Math.ceil(target.frames / factor) > maxFullCells) factor *= step;

  let path: WarpingPath | undefined;
  let previousFactor = factor;
  for (; factor >= 1; factor = factor / step) {
    const ref = averageFrames(reference, factor);
    const tgt = averageFrames(target, factor);
    const band =
      path === undefined
        ? fullBand(ref.frames, tgt.frames)
        : bandAroundPath(path, previousFactor / factor, ref.frames, tgt.frames, radius);
    path = dtwBanded(ref, tgt, band, options);
    previousFactor = factor;
    if (factor === 1) break;
  }
  return path!;
}

function averageFrames(features: FeatureSequence, factor: number): FeatureSequence {
  if (factor <= 1) return features;
  const { dims } = features;
  const frames = Math.ceil(features.frames / factor);
  const data = new Float32Array(frames * dims);
  for (let f = 0; f < frames; f++) {
    const start = f * factor;
    const end = Math.min(features.frames, start + factor);
    for (let d = 0; d < dims; d++) {
      let sum = 0;
      for (let g = start; g < end; g++) sum += features.data[g * dims + d]!;
      data[f * dims + d] = sum / (end - start);
    }
  }
  return { data, frames, dims };
}
