import { concatBytes } from '../../audio/pcm.js';
import { floatToS16leBytes, wavHeader } from '../../audio/encoders/wav-encoder.js';
import type { EnginePart, VoiceReference } from '../../engine/speech-engine.js';
import { ChorusError } from '../../errors.js';

/**
 * Audio as model servers send it, turned into engine parts as it arrives: a WAV stream (header,
 * then PCM whose length fields streaming servers leave wrong, so they are ignored) or headerless
 * 16-bit PCM at a rate the protocol fixes. Pieces are cut anywhere by the network.
 */
export async function* pcmParts(body: AsyncIterable<Uint8Array>, fallbackRate: number, engineId: string): AsyncGenerator<EnginePart> {
  let buffered: Uint8Array = new Uint8Array(0);
  let format: WavFormat | undefined;
  let sniffed = false;
  for await (const piece of body) {
    buffered = buffered.length === 0 ? piece : concat(buffered, piece);
    if (!sniffed) {
      if (buffered.length < 4) continue;
      sniffed = true;
      if (ascii(buffered, 0, 4) !== 'RIFF') format = { encoding: 'pcm16', channels: 1, sampleRate: fallbackRate, dataOffset: 0 };
    }
    if (format === undefined) {
      format = parseWavHeader(buffered, engineId);
      if (format === undefined) continue;
    }
    if (format.dataOffset > 0) {
      buffered = buffered.subarray(format.dataOffset);
      format = { ...format, dataOffset: 0 };
    }
    const frameBytes = (format.encoding === 'pcm16' ? 2 : 4) * format.channels;
    const usable = buffered.length - (buffered.length % frameBytes);
    if (usable === 0) continue;
    yield { type: 'audio', samples: toMono(buffered.subarray(0, usable), format), sampleRate: format.sampleRate };
    buffered = buffered.subarray(usable);
  }
  if (!sniffed && buffered.length >= 2) {
    // Fewer than four bytes in all: headerless PCM.
    const usable = buffered.length - (buffered.length % 2);
    yield { type: 'audio', samples: toMono(buffered.subarray(0, usable), { encoding: 'pcm16', channels: 1, sampleRate: fallbackRate }), sampleRate: fallbackRate };
  }
}

interface WavFormat {
  readonly encoding: 'pcm16' | 'float32';
  readonly channels: number;
  readonly sampleRate: number;
  /** Where the samples start in the bytes parsed; 0 once they have been cut off. */
  readonly dataOffset: number;
}

/** The format and the offset of the `data` chunk's samples, or undefined until enough bytes have come. */
function parseWavHeader(bytes: Uint8Array, engineId: string): WavFormat | undefined {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (bytes.length < 12) return undefined;
  if (ascii(bytes, 8, 12) !== 'WAVE') throw badAudio(engineId, 'a RIFF file that is not WAVE');
  let offset = 12;
  let fmt: Omit<WavFormat, 'dataOffset'> | undefined;
  while (offset + 8 <= bytes.length) {
    const id = ascii(bytes, offset, offset + 4);
    const size = view.getUint32(offset + 4, true);
    if (id === 'data') {
      if (fmt === undefined) throw badAudio(engineId, 'WAV data before its fmt chunk');
      return { ...fmt, dataOffset: offset + 8 };
    }
    if (offset + 8 + size > bytes.length) return undefined;
    if (id === 'fmt ') {
      const audioFormat = view.getUint16(offset + 8, true);
      const channels = view.getUint16(offset + 10, true);
      const sampleRate = view.getUint32(offset + 12, true);
      const bits = view.getUint16(offset + 22, true);
      // WAVE_FORMAT_EXTENSIBLE carries the real format in its sub-format GUID's first two bytes.
      const tag = audioFormat === 0xfffe && size >= 26 ? view.getUint16(offset + 32, true) : audioFormat;
      if (tag === 1 && bits === 16) fmt = { encoding: 'pcm16', channels, sampleRate };
      else if (tag === 3 && bits === 32) fmt = { encoding: 'float32', channels, sampleRate };
      else throw badAudio(engineId, `WAV of format ${tag} with ${bits}-bit samples (16-bit PCM or 32-bit float expected)`);
      if (channels < 1 || sampleRate < 1000) throw badAudio(engineId, `WAV with ${channels} channels at ${sampleRate} Hz`);
    }
    offset += 8 + size + (size % 2);
  }
  return undefined;
}

function toMono(bytes: Uint8Array, format: Omit<WavFormat, 'dataOffset'>): Float32Array {
  const copy = bytes.slice();
  const view = new DataView(copy.buffer);
  const step = format.encoding === 'pcm16' ? 2 : 4;
  const frames = copy.length / step / format.channels;
  const samples = new Float32Array(frames);
  for (let frame = 0; frame < frames; frame++) {
    let sum = 0;
    for (let channel = 0; channel < format.channels; channel++) {
      const at = (frame * format.channels + channel) * step;
      sum += format.encoding === 'pcm16' ? view.getInt16(at, true) / 32768 : view.getFloat32(at, true);
    }
    samples[frame] = sum / format.channels;
  }
  return samples;
}

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  const joined = new Uint8Array(a.length + b.length);
  joined.set(a, 0);
  joined.set(b, a.length);
  return joined;
}

function ascii(bytes: Uint8Array, start: number, end: number): string {
  return String.fromCharCode(...bytes.subarray(start, end));
}

function badAudio(engineId: string, what: string): ChorusError {
  return new ChorusError({ code: 'engine_failed', message: `The remote engine '${engineId}' sent ${what}.` });
}

/** A reference voice as the 16-bit mono WAV file model servers take, at its own rate; at most `maxSeconds` of it. */
export function referenceWav(reference: VoiceReference, maxSeconds = Number.POSITIVE_INFINITY): Uint8Array {
  const keep = Math.min(reference.samples.length, Math.round(reference.sampleRate * maxSeconds));
  const pcm = floatToS16leBytes(reference.samples.subarray(0, keep));
  return concatBytes([wavHeader(reference.sampleRate, pcm.length), pcm]);
}
