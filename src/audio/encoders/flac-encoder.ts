import { floatToInt16 } from '../pcm.js';
import type { AudioEncoder, AudioFormatInfo, EncoderOptions } from './audio-encoder.js';
import { clampRate } from './wav-encoder.js';

/**
 * A small streaming FLAC encoder: 16-bit mono, fixed block size 4096, per-block fixed predictor
 * (order 0..4) and partitioned Rice coding. Frames are emitted as soon as a block is full.
 */

export const FLAC_MIN_RATE = 8000;
export const FLAC_MAX_RATE = 48000;
export const FLAC_BLOCK_SIZE = 4096;
const MAX_PARTITION_ORDER = 8;
const MAX_FIXED_ORDER = 4;

export const flacFormatInfo: AudioFormatInfo = {
  format: 'flac',
  mimeType: 'audio/flac',
  fileExtension: 'flac',
  resolveSampleRate: (requested) => clampRate(requested, FLAC_MIN_RATE, FLAC_MAX_RATE),
  decodedSampleRate: (rate) => rate,
};

// ---- CRCs ------------------------------------------------------------------------------------------

const CRC8_TABLE = new Uint8Array(256);
const CRC16_TABLE = new Uint16Array(256);
for (let i = 0; i < 256; i++) {
  let c8 = i;
  for (let j = 0; j < 8; j++) c8 = c8 & 0x80 ? ((c8 << 1) ^ 0x07) & 0xff : (c8 << 1) & 0xff;
  CRC8_TABLE[i] = c8;
  let c16 = i << 8;
  for (let j = 0; j < 8; j++) c16 = c16 & 0x8000 ? ((c16 << 1) ^ 0x8005) & 0xffff : (c16 << 1) & 0xffff;
  CRC16_TABLE[i] = c16;
}

export function crc8(bytes: Uint8Array, start: number, end: number): number {
  let crc = 0;
  for (let i = start; i < end; i++) crc = CRC8_TABLE[crc ^ bytes[i]!]!;
  return crc;
}

export function crc16(bytes: Uint8Array, start: number, end: number): number {
  let crc = 0;
  for (let i = start; i < end; i++) crc = ((crc << 8) & 0xffff) ^ CRC16_TABLE[(crc >>> 8) ^ bytes[i]!]!;
  return crc;
}

// ---- bit writer --------------------------------------------------------------------------------

/** MSB-first bit writer over a growing byte buffer. Writes at most 24 bits per call. */
export class BitWriter {
  bytes: Uint8Array;
  length = 0;
  private acc = 0;
  private bits = 0;

  constructor(initialSize = 16384) {
    this.bytes = new Uint8Array(initialSize);
  }

  reset(): void {
    this.length = 0;
    this.acc = 0;
    this.bits = 0;
  }

  private ensure(extra: number): void {
    if (this.length + extra <= this.bytes.length) return;
    const next = new Uint8Array(Math.max(this.bytes.length * 2, this.length + extra));
    next.set(this.bytes.subarray(0, this.length));
    this.bytes = next;
  }

  /** Writes the low `n` bits of `value` (n <= 24). */
  write(value: number, n: number): void {
    if (n === 0) return;
    this.acc = (this.acc << n) | (value & ((1 << n) - 1));
    this.bits += n;
    if (this.bits >= 8) {
      this.ensure(4);
      const bytes = this.bytes;
      while (this.bits >= 8) {
        this.bits -= 8;
        bytes[this.length++] = (this.acc >>> this.bits) & 0xff;
      }
    }
  }

  /** Writes up to 32 bits. */
  writeLong(value: number, n: number): void {
    if (n > 24) {
      this.write(Math.floor(value / 0x10000) & ((1 << (n - 16)) - 1), n - 16);
      this.write(value & 0xffff, 16);
    } else {
      this.write(value, n);
    }
  }

  writeZeros(n: number): void {
    while (n > 24) {
      this.write(0, 24);
      n -= 24;
    }
    this.write(0, n);
  }

  /** Pads with zero bits to the next byte boundary. */
  align(): void {
    if (this.bits > 0) this.write(0, 8 - this.bits);
  }

  get byteAligned(): boolean {
    return this.bits === 0;
  }

  /** Whole-byte content so far (call after `align`). */
  view(): Uint8Array {
    return this.bytes.subarray(0, this.length);
  }
}

// ---- STREAMINFO --------------------------------------------------------------------------------

export function flacStreamHeader(
  sampleRate: number,
  totalSamples: number | undefined,
  minBlock: number,
  maxBlock: number,
): Uint8Array {
  const w = new BitWriter(64);
  for (const c of 'fLaC') w.write(c.charCodeAt(0), 8);
  w.write(1, 1); // last metadata block
  w.write(0, 7); // STREAMINFO
  w.write(34, 24);
  w.write(minBlock, 16);
  w.write(maxBlock, 16);
  w.write(0, 24); // min frame size: unknown
  w.write(0, 24); // max frame size: unknown
  w.write(sampleRate, 20);
  w.write(0, 3); // channels - 1
  w.write(15, 5); // bits per sample - 1
  const total = totalSamples ?? 0;
  w.write(Math.floor(total / 2 ** 32) & 0xf, 4); // 36-bit total samples: high 4 bits
  w.writeLong(total >>> 0, 32);
  for (let i = 0; i < 16; i++) w.write(0, 8); // MD5: not computed
  return w.view().slice();
}

// ---- frame encoding ----------------------------------------------------------------------------

const STANDARD_RATE_CODES: Record<number, number> = {
  8000: 4,
  16000: 5,
  22050: 6,
  24000: 7,
  32000: 8,
  44100: 9,
  48000: 10,
};

/** FLAC's UTF-8-like coding of the frame number. */
function writeUtf8Number(w: BitWriter, value: number): void {
  if (value < 0x80) {
    w.write(value, 8);
    return;
  }
  let bytesNeeded = 2;
  while (bytesNeeded < 7 && value >= 2 ** (5 * bytesNeeded + 1)) bytesNeeded++;
  const first = (0xff00 >> bytesNeeded) & 0xff;
  const shift = 6 * (bytesNeeded - 1);
  w.write(first | Math.floor(value / 2 ** shift), 8);
  for (let i = bytesNeeded - 2; i >= 0; i--) w.write(0x80 | (Math.floor(value / 2 ** (6 * i)) & 0x3f), 8);
}

/** Fixed-predictor residuals of the given order into `out` (positions >= order). */
function fixedResiduals(x: Int32Array, n: number, order: number, out: Int32Array): void {
  switch (order) {
    case 0:
      for (let i = 0; i < n; i++) out[i] = x[i]!;
      break;
    case 1:
      for (let i = 1; i < n; i++) out[i] = x[i]! - x[i - 1]!;
      break;
    case 2:
      for (let i = 2; i < n; i++) out[i] = x[i]! - 2 * x[i - 1]! + x[i - 2]!;
      break;
    case 3:
      for (let i = 3; i < n; i++) out[i] = x[i]! - 3 * x[i - 1]! + 3 * x[i - 2]! - x[i - 3]!;
      break;
    default:
      for (let i = 4; i < n; i++) out[i] = x[i]! - 4 * x[i - 1]! + 6 * x[i - 2]! - 4 * x[i - 3]! + x[i - 4]!;
  }
}

/** Sum of |residual| for each fixed order in one pass, to pick the order. */
function bestFixedOrder(x: Int32Array, n: number): number {
  if (n <= MAX_FIXED_ORDER) return 0;
  let s0 = 0;
  let s1 = 0;
  let s2 = 0;
  let s3 = 0;
  let s4 = 0;
  let p1 = x[3]! - x[2]!;
  let p2 = p1 - (x[2]! - x[1]!);
  let p3 = p2 - (x[2]! - x[1]! - (x[1]! - x[0]!));
  for (let i = 4; i < n; i++) {
    const e0 = x[i]!;
    const e1 = e0 - x[i - 1]!;
    const e2 = e1 - p1;
    const e3 = e2 - p2;
    const e4 = e3 - p3;
    s0 += e0 < 0 ? -e0 : e0;
    s1 += e1 < 0 ? -e1 : e1;
    s2 += e2 < 0 ? -e2 : e2;
    s3 += e3 < 0 ? -e3 : e3;
    s4 += e4 < 0 ? -e4 : e4;
    p1 = e1;
    p2 = e2;
    p3 = e3;
  }
  let best = 0;
  let bestSum = s0;
  const sums = [s0, s1, s2, s3, s4];
  for (let o = 1; o <= MAX_FIXED_ORDER; o++) {
    if (sums[o]! < bestSum) {
      bestSum = sums[o]!;
      best = o;
    }
  }
  return best;
}

/** Estimated bits for a partition of `count` residuals with zigzag sum `sum` at parameter k. */
function riceBits(sum: number, count: number, k: number): number {
  return count * (k + 1) + Math.floor(sum / 2 ** k);
}

function bestRiceParameter(sum: number, count: number, maxK: number): { k: number; bits: number } {
  if (count === 0) return { k: 0, bits: 0 };
  // Start near log2(mean) and search the neighbourhood.
  const mean = sum / count;
  let k0 = mean > 1 ? Math.floor(Math.log2(mean)) : 0;
  if (k0 > maxK) k0 = maxK;
  let bestK = k0;
  let bestBits = riceBits(sum, count, k0);
  for (let k = Math.max(0, k0 - 1); k <= Math.min(maxK, k0 + 2); k++) {
    const b = riceBits(sum, count, k);
    if (b < bestBits) {
      bestBits = b;
      bestK = k;
    }
  }
  return { k: bestK, bits: bestBits };
}

interface RicePlan {
  order: number;
  params: Int32Array;
  bits: number;
  /** 0: 4-bit parameters (max 14), 1: 5-bit parameters (max 30). */
  method: number;
}

/** The FLAC frame encoder; reusable buffers, one instance per stream. */
class FlacFrameEncoder {
  private readonly writer = new BitWriter(4096 * 3);
  private readonly residual = new Int32Array(FLAC_BLOCK_SIZE);
  private readonly zigzag = new Float64Array(FLAC_BLOCK_SIZE);
  private readonly sums = new Float64Array(1 << (MAX_PARTITION_ORDER + 1));
  private readonly params = new Int32Array(1 << MAX_PARTITION_ORDER);
  private readonly bestParams = new Int32Array(1 << MAX_PARTITION_ORDER);

  constructor(private readonly sampleRate: number) {}

  encode(x: Int32Array, n: number, frameNumber: number): Uint8Array {
    const w = this.writer;
    w.reset();
    // -- header
    w.write(0b11111111111110, 14);
    w.write(0, 1); // reserved
    w.write(0, 1); // fixed block size stream
    let blockCode: number;
    if (n === FLAC_BLOCK_SIZE) blockCode = 12; // 256 * 2^(12-8)
    else if (n <= 256) blockCode = 6; // 8-bit (n-1) follows
    else blockCode = 7; // 16-bit (n-1) follows
    const standard = STANDARD_RATE_CODES[this.sampleRate];
    let rateCode: number;
    if (standard !== undefined) rateCode = standard;
    else if (this.sampleRate % 1000 === 0 && this.sampleRate / 1000 <= 255) rateCode = 12; // kHz
    else if (this.sampleRate <= 65535) rateCode = 13; // Hz
    else if (this.sampleRate % 10 === 0 && this.sampleRate / 10 <= 65535) rateCode = 14; // tens of Hz
    else rateCode = 0; // from STREAMINFO
    w.write(blockCode, 4);
    w.write(rateCode, 4);
    w.write(0, 4); // mono
    w.write(0b100, 3); // 16 bits per sample
    w.write(0, 1); // reserved
    writeUtf8Number(w, frameNumber);
    if (blockCode === 6) w.write(n - 1, 8);
    else if (blockCode === 7) w.write(n - 1, 16);
    if (rateCode === 12) w.write(this.sampleRate / 1000, 8);
    else if (rateCode === 13) w.write(this.sampleRate, 16);
    else if (rateCode === 14) w.write(this.sampleRate / 10, 16);
    w.write(crc8(w.bytes, 0, w.length), 8);
    // -- subframe
    this.writeSubframe(x, n);
    // -- footer
    w.align();
    w.write(crc16(w.bytes, 0, w.length), 16);
    return w.view().slice();
  }

  private writeSubframe(x: Int32Array, n: number): void {
    const w = this.writer;
    let constant = true;
    const first = x[0]!;
    for (let i = 1; i < n; i++) {
      if (x[i] !== first) {
        constant = false;
        break;
      }
    }
    if (constant) {
      w.write(0, 1);
      w.write(0b000000, 6);
      w.write(0, 1);
      w.write(first, 16);
      return;
    }
    const order = bestFixedOrder(x, n);
    fixedResiduals(x, n, order, this.residual);
    const plan = this.planRice(n, order);
    const fixedBits = 8 + 16 * order + 2 + 4 + plan.bits;
    const verbatimBits = 8 + 16 * n;
    if (fixedBits >= verbatimBits) {
      w.write(0, 1);
      w.write(0b000001, 6);
      w.write(0, 1);
      for (let i = 0; i < n; i++) w.write(x[i]!, 16);
      return;
    }
    w.write(0, 1);
    w.write(0b001000 | order, 6);
    w.write(0, 1);
    for (let i = 0; i < order; i++) w.write(x[i]!, 16);
    this.writeResidual(n, order, plan);
  }

  /** Chooses partition order and Rice parameters from zigzag sums (estimated cost). */
  private planRice(n: number, order: number): RicePlan {
    const zz = this.zigzag;
    const res = this.residual;
    for (let i = order; i < n; i++) {
      const r = res[i]!;
      zz[i] = r >= 0 ? 2 * r : -2 * r - 1;
    }
    // Highest usable partition order: n divisible by 2^p and the first partition holds > order samples.
    let maxP = 0;
    while (maxP < MAX_PARTITION_ORDER && n % (1 << (maxP + 1)) === 0 && n >> (maxP + 1) > order) maxP++;
    // Sums at the finest level, then merge upwards.
    const sums = this.sums;
    const finest = 1 << maxP;
    const size = n >> maxP;
    for (let p = 0; p < finest; p++) {
      const start = p === 0 ? order : p * size;
      const end = (p + 1) * size;
      let s = 0;
      for (let i = start; i < end; i++) s += zz[i]!;
      sums[p] = s;
    }
    let bestBits = Infinity;
    let bestOrder = 0;
    let bestMethod = 0;
    let level = maxP;
    // `sums` holds the current level's partition sums in [0, 2^level).
    for (;;) {
      const parts = 1 << level;
      const partSize = n >> level;
      let bits = 0;
      let maxK = 0;
      for (let p = 0; p < parts; p++) {
        const count = p === 0 ? partSize - order : partSize;
        const { k, bits: b } = bestRiceParameter(sums[p]!, count, 30);
        this.params[p] = k;
        if (k > maxK) maxK = k;
        bits += b;
      }
      const method = maxK > 14 ? 1 : 0;
      bits += parts * (method === 1 ? 5 : 4);
      if (bits < bestBits) {
        bestBits = bits;
        bestOrder = level;
        bestMethod = method;
        this.bestParams.set(this.params.subarray(0, parts));
      }
      if (level === 0) break;
      for (let p = 0; p < parts / 2; p++) sums[p] = sums[2 * p]! + sums[2 * p + 1]!;
      level--;
    }
    return { order: bestOrder, params: this.bestParams, bits: bestBits, method: bestMethod };
  }

  private writeResidual(n: number, order: number, plan: RicePlan): void {
    const w = this.writer;
    const zz = this.zigzag;
    w.write(plan.method, 2);
    w.write(plan.order, 4);
    const parts = 1 << plan.order;
    const partSize = n >> plan.order;
    const paramBits = plan.method === 1 ? 5 : 4;
    let i = order;
    for (let p = 0; p < parts; p++) {
      const k = plan.params[p]!;
      w.write(k, paramBits);
      const end = (p + 1) * partSize;
      const mask = 2 ** k;
      for (; i < end; i++) {
        const u = zz[i]!;
        const q = Math.floor(u / mask);
        const low = u - q * mask;
        if (q + k + 1 <= 24) {
          // q zeros, a one, then k low bits, in one write.
          w.write(mask + low, q + k + 1);
        } else {
          w.writeZeros(q);
          w.write(1, 1);
          if (k > 0) w.writeLong(low, k);
        }
      }
    }
  }
}

// ---- encoder -----------------------------------------------------------------------------------

export class FlacEncoder implements AudioEncoder {
  private readonly rate: number;
  private readonly totalSamples: number | undefined;
  private readonly frames: FlacFrameEncoder;
  private readonly block = new Int32Array(FLAC_BLOCK_SIZE);
  private fill = 0;
  private frameNumber = 0;
  private headerSent = false;
  private ended = false;

  constructor(options: EncoderOptions) {
    const rate = options.sampleRate;
    if (!Number.isInteger(rate) || rate < FLAC_MIN_RATE || rate > FLAC_MAX_RATE) {
      throw new RangeError(`flac: unsupported sample rate ${rate}`);
    }
    this.rate = rate;
    this.totalSamples = options.totalSamples;
    this.frames = new FlacFrameEncoder(rate);
  }

  write(samples: Float32Array): Promise<Uint8Array> {
    if (this.ended) return Promise.reject(new Error('flac encoder: write after end'));
    const out: Uint8Array[] = [];
    this.header(out);
    const ints = floatToInt16(samples);
    let offset = 0;
    while (offset < ints.length) {
      const take = Math.min(FLAC_BLOCK_SIZE - this.fill, ints.length - offset);
      this.block.set(ints.subarray(offset, offset + take), this.fill);
      this.fill += take;
      offset += take;
      if (this.fill === FLAC_BLOCK_SIZE) this.flushBlock(out);
    }
    return Promise.resolve(join(out));
  }

  end(): Promise<Uint8Array> {
    if (this.ended) return Promise.resolve(new Uint8Array(0));
    this.ended = true;
    const out: Uint8Array[] = [];
    this.header(out);
    if (this.fill > 0) this.flushBlock(out);
    return Promise.resolve(join(out));
  }

  dispose(): void {
    this.ended = true;
  }

  private header(out: Uint8Array[]): void {
    if (this.headerSent) return;
    this.headerSent = true;
    let minBlock = FLAC_BLOCK_SIZE;
    let maxBlock = FLAC_BLOCK_SIZE;
    const total = this.totalSamples;
    if (total !== undefined && total < FLAC_BLOCK_SIZE && total >= 16) minBlock = maxBlock = total;
    out.push(flacStreamHeader(this.rate, total, minBlock, maxBlock));
  }

  private flushBlock(out: Uint8Array[]): void {
    out.push(this.frames.encode(this.block, this.fill, this.frameNumber++));
    this.fill = 0;
  }
}

function join(parts: Uint8Array[]): Uint8Array {
  if (parts.length === 1) return parts[0]!;
  let total = 0;
  for (const p of parts) total += p.length;
  const out = new Uint8Array(total);
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}
