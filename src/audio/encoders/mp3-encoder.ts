import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { createEncoder as createWasmEncoder, createMp3Encoder } from 'wasm-media-encoders';
import type { WasmMediaEncoder } from 'wasm-media-encoders';
import { concatBytes } from '../pcm.js';
import type { AudioEncoder, AudioFormatInfo, EncoderOptions } from './audio-encoder.js';
import { nearestRate } from './opus-encoder.js';

export const MP3_SAMPLE_RATES = [8000, 11025, 12000, 16000, 22050, 24000, 32000, 44100, 48000] as const;
/** Bitrates the wasm LAME build accepts for CBR, kbit/s. */
const LIB_BITRATES = [8, 16, 24, 32, 40, 48, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320] as const;
type LibBitrate = (typeof LIB_BITRATES)[number];
type Mp3Rate = (typeof MP3_SAMPLE_RATES)[number];

/** Layer III bitrate tables by header index (index 0 = free format, 15 = invalid). */
const BITRATES_MPEG1 = [0, 32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320];
const BITRATES_MPEG2 = [0, 8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160];
/** LAME's encoder delay (ENCDELAY) in samples; the decoder adds its own 528 + 1 on top. */
export const LAME_ENCODER_DELAY = 576;

export const mp3FormatInfo: AudioFormatInfo = {
  format: 'mp3',
  mimeType: 'audio/mpeg',
  fileExtension: 'mp3',
  resolveSampleRate: (requested) => nearestRate(requested, MP3_SAMPLE_RATES, true),
  decodedSampleRate: (rate) => rate,
};

/** MPEG-1 (>= 32 kHz) uses 1152 samples per frame, MPEG-2/2.5 576. */
export function mp3SamplesPerFrame(rate: number): number {
  return rate >= 32000 ? 1152 : 576;
}

/** CBR bitrate actually used: the request (or default) snapped to one both LAME and the MPEG version allow. */
export function mp3Bitrate(rate: number, requestedKbps: number | undefined): LibBitrate {
  const mpeg1 = rate >= 32000;
  const wanted = requestedKbps ?? (rate <= 24000 ? 64 : 128);
  const table = mpeg1 ? BITRATES_MPEG1 : BITRATES_MPEG2;
  const allowed = LIB_BITRATES.filter((b) => table.includes(b));
  return nearestRate(wanted, allowed, false) as LibBitrate;
}

/**
 * Frames and end padding LAME produces for `n` input samples (lame_encode_flush): the stream is
 * ENCDELAY + n samples, padded so at least 576 samples of the last granule are flushed.
 */
export function lameFrameLayout(n: number, spf: number): { frames: number; padding: number } {
  const toEncode = LAME_ENCODER_DELAY + n;
  let padding = spf - (toEncode % spf);
  if (padding < 576) padding += spf;
  return { frames: (toEncode + padding) / spf, padding };
}

// ---- wasm module cache ----------------------------------------------------------------------

/** What `createEncoder` accepts as wasm: the file bytes first, then the compiled module it hands back. */
type WasmSource = Parameters<typeof createWasmEncoder>[1];
let wasmSource: Promise<WasmSource | undefined> | undefined;

function loadWasm(): Promise<WasmSource | undefined> {
  wasmSource ??= (async () => {
    try {
      const require = createRequire(import.meta.url);
      return await readFile(require.resolve('wasm-media-encoders/wasm/mp3'));
    } catch {
      return undefined; // fall back to the package's inlined copy
    }
  })();
  return wasmSource;
}

async function newLame(): Promise<WasmMediaEncoder<'audio/mpeg'>> {
  const source = await loadWasm();
  if (source !== undefined) {
    try {
      // Keep the compiled module so later encoders skip compilation.
      return await createWasmEncoder('audio/mpeg', source, (module: WasmSource) => {
        wasmSource = Promise.resolve(module);
      });
    } catch {
      // version mismatch or similar: use the bundled loader
    }
  }
  return createMp3Encoder();
}

// ---- Xing "Info" frame with a LAME tag -----------------------------------------------------------

const CRC16_TABLE = (() => {
  const table = new Uint16Array(256);
  for (let i = 0; i < 256; i++) {
    let c = i;
    for (let j = 0; j < 8; j++) c = c & 1 ? (c >>> 1) ^ 0xa001 : c >>> 1;
    table[i] = c;
  }
  return table;
})();

/** CRC-16/ARC (reflected 0x8005, init 0): what LAME puts in the tag's last two bytes. */
function crc16Arc(bytes: Uint8Array, length: number): number {
  let crc = 0;
  for (let i = 0; i < length; i++) crc = (crc >>> 8) ^ CRC16_TABLE[(crc ^ bytes[i]!) & 0xff]!;
  return crc & 0xffff;
}

interface FrameHeader {
  readonly versionBits: number; // 3 = MPEG1, 2 = MPEG2, 0 = MPEG2.5
  readonly srIndex: number;
  readonly bitrateIndex: number;
}

const SAMPLE_RATE_TABLE: Record<number, { versionBits: number; srIndex: number }> = {
  44100: { versionBits: 3, srIndex: 0 },
  48000: { versionBits: 3, srIndex: 1 },
  32000: { versionBits: 3, srIndex: 2 },
  22050: { versionBits: 2, srIndex: 0 },
  24000: { versionBits: 2, srIndex: 1 },
  16000: { versionBits: 2, srIndex: 2 },
  11025: { versionBits: 0, srIndex: 0 },
  12000: { versionBits: 0, srIndex: 1 },
  8000: { versionBits: 0, srIndex: 2 },
};

function frameBytes(rate: number, kbps: number): number {
  return Math.floor(((rate >= 32000 ? 144 : 72) * kbps * 1000) / rate);
}

/**
 * A LAME-style Info frame: a silent-looking Layer III frame whose payload is the Xing header
 * (frame count, byte count) followed by the LAME extension with encoder delay and end padding.
 * Decoders that understand it (ffmpeg, LAME, foobar, browsers) trim the stream to the exact length.
 */
export function buildInfoFrame(options: {
  rate: number;
  kbps: number;
  frames: number;
  audioBytes: number;
  delay: number;
  padding: number;
}): Uint8Array {
  const { rate } = options;
  const sr = SAMPLE_RATE_TABLE[rate];
  if (sr === undefined) throw new RangeError(`mp3: unsupported rate ${rate}`);
  const mpeg1 = sr.versionBits === 3;
  const table = mpeg1 ? BITRATES_MPEG1 : BITRATES_MPEG2;
  const sideInfo = mpeg1 ? 17 : 9; // mono
  const tagOffset = 4 + sideInfo;
  const needed = tagOffset + 120 + 36; // Xing (4+4+4+4+100 TOC+4 quality) + LAME extension
  // Same bitrate as the stream when the frame is big enough, else the smallest that fits.
  let bitrateIndex = table.indexOf(options.kbps);
  if (bitrateIndex <= 0 || frameBytes(rate, options.kbps) < needed) {
    bitrateIndex = table.findIndex((b, i) => i > 0 && frameBytes(rate, b) >= needed);
  }
  if (bitrateIndex <= 0) throw new RangeError('mp3: no bitrate fits the Info frame');
  const header: FrameHeader = { versionBits: sr.versionBits, srIndex: sr.srIndex, bitrateIndex };
  const size = frameBytes(rate, table[bitrateIndex]!);
  const frame = new Uint8Array(size);
  const view = new DataView(frame.buffer);
  // 11 sync bits, version, layer III (01), no CRC (1); bitrate, rate, no padding; mono (11).
  frame[0] = 0xff;
  frame[1] = 0xe0 | (header.versionBits << 3) | (0b01 << 1) | 1;
  frame[2] = (header.bitrateIndex << 4) | (header.srIndex << 2);
  frame[3] = 0b11 << 6;
  let o = tagOffset;
  frame.set([0x49, 0x6e, 0x66, 0x6f], o); // "Info": CBR flavour of the Xing header
  o += 4;
  view.setUint32(o, 0x0001 | 0x0002 | 0x0004 | 0x0008, false); // frames, bytes, TOC, quality
  o += 4;
  view.setUint32(o, options.frames, false);
  o += 4;
  const totalBytes = size + options.audioBytes;
  view.setUint32(o, totalBytes, false);
  o += 4;
  // TOC: for CBR, position is proportional to time.
  for (let i = 0; i < 100; i++) frame[o + i] = Math.min(255, Math.floor((i * 256) / 100));
  o += 100;
  view.setUint32(o, 0, false); // quality indicator
  o += 4;
  // LAME extension (36 bytes incl. CRC).
  const lameStart = o;
  frame.set(new TextEncoder().encode('LAME3.100'), o); // 9-byte encoder version
  o += 9;
  frame[o++] = 0x01; // tag revision 0, VBR method 1 = CBR
  frame[o++] = 0; // lowpass / 100 Hz (unknown)
  view.setUint32(o, 0, false); // peak signal (unknown)
  o += 4;
  view.setUint16(o, 0, false); // radio replay gain
  o += 2;
  view.setUint16(o, 0, false); // audiophile replay gain
  o += 2;
  frame[o++] = 0; // encoding flags + ATH type
  frame[o++] = Math.min(255, options.kbps); // CBR bitrate
  // 12 bits delay, 12 bits padding.
  const delay = Math.min(4095, options.delay);
  const padding = Math.min(4095, options.padding);
  frame[o++] = delay >> 4;
  frame[o++] = ((delay & 0x0f) << 4) | (padding >> 8);
  frame[o++] = padding & 0xff;
  frame[o++] = 0; // misc
  frame[o++] = 0; // mp3 gain
  view.setUint16(o, 0, false); // preset + surround
  o += 2;
  view.setUint32(o, totalBytes, false); // music length (whole file, as LAME writes it)
  o += 4;
  view.setUint16(o, 0, false); // music CRC (not computed)
  o += 2;
  if (o - lameStart !== 34) throw new Error('mp3: LAME tag layout error');
  view.setUint16(o, crc16Arc(frame, o), false); // CRC of the first 190 bytes of the frame
  return frame;
}

// ---- encoder -------------------------------------------------------------------------------------

/**
 * Streaming CBR MP3 through LAME (wasm). With `totalSamples` the output starts with an Info frame
 * so decoders drop LAME's delay and padding and report the exact length; streamed output has none.
 */
export class Mp3Encoder implements AudioEncoder {
  /** LAME is instantiated asynchronously (wasm); `write` and `end` wait for it. */
  private readonly ready: Promise<WasmMediaEncoder<'audio/mpeg'>>;
  private lame: WasmMediaEncoder<'audio/mpeg'> | undefined;
  private readonly rate: number;
  private readonly kbps: LibBitrate;
  private readonly totalSamples: number | undefined;
  private infoPending: boolean;
  private ended = false;
  private disposed = false;

  constructor(options: EncoderOptions) {
    if (!(MP3_SAMPLE_RATES as readonly number[]).includes(options.sampleRate)) {
      throw new RangeError(`mp3: unsupported sample rate ${options.sampleRate}`);
    }
    this.rate = options.sampleRate;
    this.kbps = mp3Bitrate(this.rate, options.bitrateKbps);
    this.totalSamples = options.totalSamples;
    this.infoPending = options.totalSamples !== undefined;
    this.ready = newLame().then((lame) => {
      lame.configure({
        sampleRate: this.rate,
        channels: 1,
        bitrate: this.kbps,
        outputSampleRate: this.rate as Mp3Rate,
      });
      this.lame = lame;
      return lame;
    });
    this.ready.catch(() => undefined); // surfaced by write/end; never an unhandled rejection
  }

  /** Same as the constructor, for callers that want instantiation errors up front. */
  static async create(options: EncoderOptions): Promise<Mp3Encoder> {
    const encoder = new Mp3Encoder(options);
    await encoder.ready;
    return encoder;
  }

  /** Bitrate in use, kbit/s. */
  get bitrateKbps(): number {
    return this.kbps;
  }

  async write(samples: Float32Array): Promise<Uint8Array> {
    if (this.ended || this.disposed) throw new Error('mp3 encoder: write after end');
    const lame = this.lame ?? (await this.ready);
    if (this.disposed) throw new Error('mp3 encoder disposed');
    const out = lame.encode([samples]);
    return this.withInfo(out.slice()); // copy out of wasm memory before LAME is called again
  }

  async end(): Promise<Uint8Array> {
    if (this.ended || this.disposed) return new Uint8Array(0);
    this.ended = true;
    const lame = this.lame ?? (await this.ready);
    const out = this.withInfo(lame.finalize().slice());
    this.dispose();
    return out;
  }

  dispose(): void {
    // The wasm encoder has no explicit free; dropping the reference lets GC reclaim its memory.
    this.disposed = true;
    this.lame = undefined;
  }

  private withInfo(bytes: Uint8Array): Uint8Array {
    if (!this.infoPending || this.totalSamples === undefined) return bytes;
    this.infoPending = false;
    const spf = mp3SamplesPerFrame(this.rate);
    const { frames, padding } = lameFrameLayout(this.totalSamples, spf);
    // CBR: the byte count follows from the frame count (44.1 kHz-family padding slots average out).
    const audioBytes = Math.round((frames * spf * this.kbps * 1000) / 8 / this.rate);
    const info = buildInfoFrame({
      rate: this.rate,
      kbps: this.kbps,
      frames,
      audioBytes,
      delay: LAME_ENCODER_DELAY,
      padding,
    });
    return concatBytes([info, bytes]);
  }
}
