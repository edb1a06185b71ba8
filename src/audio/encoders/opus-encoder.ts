import { createRequire } from 'node:module';
import type OpusScriptType from 'opusscript';
import { concatBytes, floatToInt16 } from '../pcm.js';
import type { AudioEncoder, AudioFormatInfo, EncoderOptions } from './audio-encoder.js';
import { OggWriter } from './ogg-writer.js';

const require = createRequire(import.meta.url);

/** Rates libopus accepts as input; the decoder always reports 48 kHz. */
export const OPUS_INPUT_RATES = [8000, 12000, 16000, 24000, 48000] as const;
export const OPUS_DEFAULT_BITRATE_KBPS = 32;
const FRAME_MS = 20;
/** Packets per Ogg page: 5 × 20 ms = one page per 100 ms keeps streaming latency low. */
const PACKETS_PER_PAGE = 5;
const OPUS_APPLICATION_AUDIO = 2049;
const OPUS_SET_BITRATE = 4002;
const OPUS_SET_COMPLEXITY = 4010;
const OPUS_GET_LOOKAHEAD = 4027;
const COMPLEXITY = 5;
const VENDOR = 'Chorus (libopus via opusscript)';

/** Nearest allowed rate; on a tie the higher one (more bandwidth). */
export function nearestRate(requested: number, allowed: readonly number[], preferHigher: boolean): number {
  let best = allowed[0]!;
  let bestDistance = Infinity;
  for (const rate of allowed) {
    const d = Math.abs(rate - requested);
    if (d < bestDistance || (d === bestDistance && preferHigher && rate > best)) {
      best = rate;
      bestDistance = d;
    }
  }
  return best;
}

export const opusFormatInfo: AudioFormatInfo = {
  format: 'opus',
  mimeType: 'audio/ogg; codecs=opus',
  fileExtension: 'opus',
  resolveSampleRate: (requested) => nearestRate(requested, OPUS_INPUT_RATES, true),
  decodedSampleRate: () => 48000,
};

type OpusScriptCtor = typeof OpusScriptType;
let opusScriptCtor: OpusScriptCtor | undefined;
function loadOpusScript(): OpusScriptCtor {
  opusScriptCtor ??= require('opusscript') as OpusScriptCtor;
  return opusScriptCtor;
}

/** Internals of opusscript used to read a CTL result (it only exposes setters). */
interface OpusScriptInternals {
  inPCM?: Uint16Array;
  inPCMPointer?: number;
}

/**
 * The encoder lookahead in input samples (OPUS_GET_LOOKAHEAD). opusscript's encoderCTL passes the
 * argument straight through as the pointer libopus writes to, so point it at the encoder's own
 * input buffer and read the int back. Falls back to libopus' known value (2.5 ms + 4 ms).
 */
function readLookahead(encoder: OpusScriptType, rate: number): number {
  const fallback = Math.round((rate * 6.5) / 1000);
  try {
    const internals = encoder as unknown as OpusScriptInternals;
    if (internals.inPCM === undefined || internals.inPCMPointer === undefined) return fallback;
    const memory = internals.inPCM.buffer;
    const cell = new Int32Array(memory, internals.inPCMPointer, 1);
    cell[0] = -1;
    encoder.encoderCTL(OPUS_GET_LOOKAHEAD, internals.inPCMPointer);
    const value = new Int32Array(internals.inPCM.buffer, internals.inPCMPointer, 1)[0]!;
    return value > 0 && value < rate / 10 ? value : fallback;
  } catch {
    return fallback;
  }
}

function opusHead(preSkip: number, inputRate: number): Uint8Array {
  const head = new Uint8Array(19);
  const view = new DataView(head.buffer);
  head.set([0x4f, 0x70, 0x75, 0x73, 0x48, 0x65, 0x61, 0x64], 0); // OpusHead
  head[8] = 1; // version
  head[9] = 1; // channels
  view.setUint16(10, preSkip, true);
  view.setUint32(12, inputRate, true);
  view.setInt16(16, 0, true); // output gain
  head[18] = 0; // mapping family 0: mono/stereo
  return head;
}

function opusTags(): Uint8Array {
  const vendor = new TextEncoder().encode(VENDOR);
  const tags = new Uint8Array(8 + 4 + vendor.length + 4);
  const view = new DataView(tags.buffer);
  tags.set([0x4f, 0x70, 0x75, 0x73, 0x54, 0x61, 0x67, 0x73], 0); // OpusTags
  view.setUint32(8, vendor.length, true);
  tags.set(vendor, 12);
  view.setUint32(12 + vendor.length, 0, true); // no user comments
  return tags;
}

/** Ogg Opus (RFC 7845), mono, 20 ms frames, streamed as one page per ~100 ms. */
export class OpusEncoder implements AudioEncoder {
  private readonly rate: number;
  private readonly frameSize: number;
  /** 48 kHz samples per input sample. */
  private readonly scale: number;
  private readonly preSkip: number;
  private encoder: OpusScriptType | undefined;
  private readonly ogg: OggWriter;
  private readonly frame: Int16Array;
  private frameFill = 0;
  private inputSamples = 0;
  private granule = 0n;
  private headersSent = false;
  private output: Uint8Array[] = [];
  private ended = false;

  constructor(options: EncoderOptions) {
    const rate = options.sampleRate;
    if (!(OPUS_INPUT_RATES as readonly number[]).includes(rate)) {
      throw new RangeError(`opus: unsupported input rate ${rate}`);
    }
    const OpusScript = loadOpusScript();
    this.rate = rate;
    this.scale = 48000 / rate;
    this.frameSize = (rate * FRAME_MS) / 1000;
    this.frame = new Int16Array(this.frameSize);
    const encoder = new OpusScript(rate as 8000 | 12000 | 16000 | 24000 | 48000, 1, OPUS_APPLICATION_AUDIO);
    this.encoder = encoder;
    try {
      encoder.encoderCTL(OPUS_SET_COMPLEXITY, COMPLEXITY);
      const kbps = options.bitrateKbps ?? OPUS_DEFAULT_BITRATE_KBPS;
      encoder.encoderCTL(OPUS_SET_BITRATE, Math.round(Math.min(510, Math.max(6, kbps)) * 1000));
      this.preSkip = readLookahead(encoder, rate) * this.scale;
    } catch (error) {
      this.dispose();
      throw error;
    }
    this.ogg = new OggWriter((Math.random() * 0x100000000) >>> 0);
  }

  write(samples: Float32Array): Promise<Uint8Array> {
    if (this.ended) return Promise.reject(new Error('opus encoder: write after end'));
    try {
      this.sendHeaders();
      const ints = floatToInt16(samples);
      this.inputSamples += ints.length;
      let offset = 0;
      while (offset < ints.length) {
        const take = Math.min(this.frameSize - this.frameFill, ints.length - offset);
        this.frame.set(ints.subarray(offset, offset + take), this.frameFill);
        this.frameFill += take;
        offset += take;
        if (this.frameFill === this.frameSize) this.encodeFrame();
      }
      if (this.ogg.pendingPackets >= PACKETS_PER_PAGE) this.output.push(this.ogg.flush());
      return Promise.resolve(this.takeOutput());
    } catch (error) {
      return Promise.reject(error instanceof Error ? error : new Error(String(error)));
    }
  }

  end(): Promise<Uint8Array> {
    if (this.ended) return Promise.resolve(new Uint8Array(0));
    try {
      this.sendHeaders();
      // Decoded length must cover pre-skip + all input; pad with silence to whole frames.
      const needed = BigInt(this.preSkip + this.inputSamples * this.scale);
      const frame48 = BigInt(this.frameSize * this.scale);
      if (this.frameFill > 0 || this.granule < needed) {
        while (this.granule < needed) {
          this.frame.fill(0, this.frameFill);
          this.frameFill = this.frameSize;
          this.encodeFrame(this.granule + frame48 >= needed ? needed : undefined);
        }
      }
      this.ended = true;
      this.output.push(this.ogg.flush(true));
      this.dispose();
      return Promise.resolve(this.takeOutput());
    } catch (error) {
      this.ended = true;
      this.dispose();
      return Promise.reject(error instanceof Error ? error : new Error(String(error)));
    }
  }

  dispose(): void {
    const encoder = this.encoder;
    this.encoder = undefined;
    if (encoder !== undefined) encoder.delete();
  }

  private sendHeaders(): void {
    if (this.headersSent) return;
    this.headersSent = true;
    // OpusHead alone on the first page, OpusTags on its own page(s); both with granule 0.
    this.ogg.addPacket(opusHead(this.preSkip, this.rate), 0n);
    this.output.push(this.ogg.flush());
    this.ogg.addPacket(opusTags(), 0n);
    this.output.push(this.ogg.flush());
  }

  private takeOutput(): Uint8Array {
    const out = this.output.length === 1 ? this.output[0]! : concatBytes(this.output);
    this.output = [];
    return out;
  }

  /** Encodes the full frame buffer; `finalGranule` trims the last packet's padding. */
  private encodeFrame(finalGranule?: bigint): void {
    const encoder = this.encoder;
    if (encoder === undefined) throw new Error('opus encoder disposed');
    const packet = encoder.encode(this.frame as unknown as Buffer, this.frameSize);
    this.frameFill = 0;
    this.granule += BigInt(this.frameSize * this.scale);
    this.ogg.addPacket(Uint8Array.from(packet), finalGranule ?? this.granule);
  }
}
