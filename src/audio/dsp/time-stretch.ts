/**
 * Tempo (speed) and pitch changes on Sonic (wasm), streaming.
 *
 * - `speed` changes duration by 1/speed and keeps pitch (PICOLA-style pitch-synchronous overlap-add,
 *   which suits speech; Sonic was written for speeding up speech).
 * - `pitchSemitones` shifts pitch by a factor p = 2^(s/12) and keeps duration: Sonic time-stretches
 *   at speed/p (pitch kept), then a Speex "varispeed" resample plays that back p times faster, which
 *   restores the duration and multiplies every frequency by p.
 *
 * Why not Sonic's own pitch/rate setting: in this wasm build (@echogarden/sonic-wasm 0.2.0) a
 * stream with a pitch other than 1 (speed and rate combined) corrupts the wasm heap for many
 * factors (e.g. 2^(3/12): "memory access out of bounds" in sonicDestroyStream), while speed-only
 * streams were clean over 0.25..4 in a sweep. Speex also has a proper anti-aliasing filter, which
 * Sonic's rate interpolation lacks.
 *
 * Sonic needs a few pitch periods of look-behind before it emits output, so `process` may return
 * little or nothing for small chunks; `flush` drains everything. Output length ≈ input / speed.
 */
import type { PcmTransform } from '../pcm.js';
import { getSonic, type SonicModule } from './dsp-modules.js';
import { chainTransforms } from './chain.js';
import { createPlaybackRateTransform, identityTransform } from './resampler.js';

export interface TempoPitchOptions {
  sampleRate: number;
  /** 0.25 .. 4.0; 2 halves the duration. Default 1. */
  speed?: number;
  /** -12 .. +12 semitones; 12 doubles the frequency. Default 0. */
  pitchSemitones?: number;
  /**
   * Sonic's quality flag. false (default) lets Sonic downsample during pitch-period search, which is
   * about twice as fast and indistinguishable on speech; true searches at full rate.
   */
  highQuality?: boolean;
}

export const SPEED_RANGE = { min: 0.25, max: 4 } as const;
export const PITCH_SEMITONES_RANGE = { min: -12, max: 12 } as const;

/** Input is written to Sonic in blocks of at most this many samples (bounds the wasm buffers). */
const MAX_BLOCK = 8192;
const EMPTY = new Float32Array(0);

export function semitonesToFactor(semitones: number): number {
  return Math.pow(2, semitones / 12);
}

export function createTempoPitchTransform(options: TempoPitchOptions): PcmTransform {
  const { sampleRate } = options;
  const speed = options.speed ?? 1;
  const pitchSemitones = options.pitchSemitones ?? 0;
  if (!Number.isInteger(sampleRate) || sampleRate < 1000 || sampleRate > 384_000) {
    throw new RangeError(`sampleRate must be an integer between 1000 and 384000 Hz (got ${sampleRate})`);
  }
  if (!Number.isFinite(speed) || speed < SPEED_RANGE.min || speed > SPEED_RANGE.max) {
    throw new RangeError(`speed must be between ${SPEED_RANGE.min} and ${SPEED_RANGE.max} (got ${speed})`);
  }
  if (!Number.isFinite(pitchSemitones) || pitchSemitones < PITCH_SEMITONES_RANGE.min || pitchSemitones > PITCH_SEMITONES_RANGE.max) {
    throw new RangeError(
      `pitchSemitones must be between ${PITCH_SEMITONES_RANGE.min} and ${PITCH_SEMITONES_RANGE.max} (got ${pitchSemitones})`,
    );
  }
  if (speed === 1 && pitchSemitones === 0) return identityTransform(sampleRate);
  const highQuality = options.highQuality ?? false;
  if (pitchSemitones === 0) return new SonicTransform(getSonic(), sampleRate, speed, highQuality);
  const pitch = semitonesToFactor(pitchSemitones);
  // Stretch to (1/speed) * pitch of the original duration, then play back `pitch` times faster.
  const stretchSpeed = speed / pitch;
  const varispeed = createPlaybackRateTransform({ sampleRate, factor: pitch });
  if (Math.abs(stretchSpeed - 1) < 1e-6) return varispeed;
  // stretchSpeed spans 0.125..8 when extreme speeds meet extreme pitches. Outside 0.25..4 Sonic's
  // output length drifts (+3.8% at 0.125), so split such a stretch into two milder Sonic stages.
  const sonic = getSonic();
  const stages: PcmTransform[] =
    stretchSpeed < SPEED_RANGE.min || stretchSpeed > SPEED_RANGE.max
      ? [
          new SonicTransform(sonic, sampleRate, Math.sqrt(stretchSpeed), highQuality),
          new SonicTransform(sonic, sampleRate, Math.sqrt(stretchSpeed), highQuality),
        ]
      : [new SonicTransform(sonic, sampleRate, stretchSpeed, highQuality)];
  return chainTransforms(...stages, varispeed);
}

class SonicTransform implements PcmTransform {
  readonly outputSampleRate: number;
  private stream: number;
  private inPtr = 0;
  private inCapacity = 0;
  private outPtr = 0;
  private outCapacity = 0;
  private done = false;

  constructor(
    private readonly wasm: SonicModule,
    sampleRate: number,
    speed: number,
    highQuality: boolean,
  ) {
    this.outputSampleRate = sampleRate;
    this.stream = wasm._sonicCreateStream(sampleRate, 1);
    if (this.stream === 0) throw new Error('sonicCreateStream failed (out of wasm memory?)');
    wasm._sonicSetSpeed(this.stream, speed);
    wasm._sonicSetPitch(this.stream, 1);
    wasm._sonicSetRate(this.stream, 1);
    wasm._sonicSetQuality(this.stream, highQuality ? 1 : 0);
  }

  process(samples: Float32Array): Float32Array {
    if (this.done) throw new Error('tempo/pitch transform already flushed or disposed');
    if (samples.length === 0) return EMPTY;
    const wasm = this.wasm;
    this.ensureInput(Math.min(samples.length, MAX_BLOCK));
    const parts: Float32Array[] = [];
    for (let offset = 0; offset < samples.length; ) {
      const n = Math.min(samples.length - offset, this.inCapacity);
      wasm.HEAPF32.set(samples.subarray(offset, offset + n), this.inPtr >> 2);
      if (wasm._sonicWriteFloatToStream(this.stream, this.inPtr, n) === 0) {
        throw new Error('sonicWriteFloatToStream failed (out of wasm memory?)');
      }
      offset += n;
      const out = this.drain();
      if (out.length > 0) parts.push(out);
    }
    return join(parts);
  }

  flush(): Float32Array {
    if (this.done) throw new Error('tempo/pitch transform already flushed or disposed');
    this.wasm._sonicFlushStream(this.stream);
    const out = this.drain();
    this.dispose();
    return out;
  }

  dispose(): void {
    if (this.stream !== 0) {
      this.wasm._sonicDestroyStream(this.stream);
      this.stream = 0;
    }
    if (this.inPtr !== 0) this.wasm._free(this.inPtr);
    if (this.outPtr !== 0) this.wasm._free(this.outPtr);
    this.inPtr = this.outPtr = 0;
    this.inCapacity = this.outCapacity = 0;
    this.done = true;
  }

  /** Reads everything Sonic has ready. */
  private drain(): Float32Array {
    const wasm = this.wasm;
    const available = wasm._sonicSamplesAvailable(this.stream);
    if (available <= 0) return EMPTY;
    this.ensureOutput(available);
    const read = wasm._sonicReadFloatFromStream(this.stream, this.outPtr, available);
    if (read <= 0) return EMPTY;
    // slice() copies out of the wasm heap (which may be reallocated by the next call).
    return wasm.HEAPF32.slice(this.outPtr >> 2, (this.outPtr >> 2) + read);
  }

  private ensureInput(samples: number): void {
    if (samples <= this.inCapacity) return;
    if (this.inPtr !== 0) this.wasm._free(this.inPtr);
    this.inCapacity = Math.max(samples, 1024);
    this.inPtr = this.wasm._malloc(this.inCapacity * 4);
    if (this.inPtr === 0) throw new Error('wasm malloc failed in tempo/pitch transform');
  }

  private ensureOutput(samples: number): void {
    if (samples <= this.outCapacity) return;
    if (this.outPtr !== 0) this.wasm._free(this.outPtr);
    // Grow geometrically: at speed 0.25 a block yields 4x its length.
    this.outCapacity = Math.max(samples, this.outCapacity * 2, 4096);
    this.outPtr = this.wasm._malloc(this.outCapacity * 4);
    if (this.outPtr === 0) throw new Error('wasm malloc failed in tempo/pitch transform');
  }
}

function join(parts: readonly Float32Array[]): Float32Array {
  if (parts.length === 0) return EMPTY;
  if (parts.length === 1) return parts[0]!;
  let length = 0;
  for (const p of parts) length += p.length;
  const out = new Float32Array(length);
  let offset = 0;
  for (const p of parts) {
    out.set(p, offset);
    offset += p.length;
  }
  return out;
}
