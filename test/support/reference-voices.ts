// Reference voices that do not come from the project's own engines: Debian's flite (other speakers
// for conversion and intelligibility tests) and a tiny source-filter synthesizer whose pitch is
// known by construction (ground truth for pitch trackers and pitch-shifting conversions).
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

const execFileAsync = promisify(execFile);

export type FliteVoice = 'kal16' | 'slt' | 'awb' | 'rms' | 'kal';

/** 16-bit PCM mono WAV bytes; samples are clipped to [-1, 1]. */
export function wavBytes(samples: Float32Array, sampleRate: number): Buffer {
  const data = samples.length * 2;
  const out = Buffer.alloc(44 + data);
  out.write('RIFF', 0, 'ascii');
  out.writeUInt32LE(36 + data, 4);
  out.write('WAVE', 8, 'ascii');
  out.write('fmt ', 12, 'ascii');
  out.writeUInt32LE(16, 16);
  out.writeUInt16LE(1, 20); // PCM
  out.writeUInt16LE(1, 22); // mono
  out.writeUInt32LE(sampleRate, 24);
  out.writeUInt32LE(sampleRate * 2, 28);
  out.writeUInt16LE(2, 32);
  out.writeUInt16LE(16, 34);
  out.write('data', 36, 'ascii');
  out.writeUInt32LE(data, 40);
  for (let i = 0; i < samples.length; i++) {
    const s = Math.max(-1, Math.min(1, samples[i] ?? 0));
    out.writeInt16LE(Math.round(s < 0 ? s * 0x8000 : s * 0x7fff), 44 + i * 2);
  }
  return out;
}

/** Reads a 16-bit PCM WAV (any channel count; the first channel is returned). */
export function readWav16(wav: Buffer): { samples: Float32Array; sampleRate: number } {
  if (wav.toString('ascii', 0, 4) !== 'RIFF' || wav.toString('ascii', 8, 12) !== 'WAVE') throw new Error('not a RIFF/WAVE file');
  let offset = 12;
  let sampleRate = 0;
  let channels = 0;
  while (offset + 8 <= wav.length) {
    const id = wav.toString('ascii', offset, offset + 4);
    const size = wav.readUInt32LE(offset + 4);
    const body = offset + 8;
    if (id === 'fmt ') {
      const format = wav.readUInt16LE(body);
      channels = wav.readUInt16LE(body + 2);
      sampleRate = wav.readUInt32LE(body + 4);
      const bits = wav.readUInt16LE(body + 14);
      if (format !== 1 || bits !== 16) throw new Error(`unsupported WAV format ${format}/${bits}-bit (want 16-bit PCM)`);
    } else if (id === 'data') {
      if (sampleRate === 0 || channels === 0) throw new Error('WAV data chunk before fmt chunk');
      // Some writers (flite to a pipe, ffmpeg streaming) leave the size at 0 or 0xffffffff.
      const end = size === 0 || size === 0xffffffff ? wav.length : Math.min(wav.length, body + size);
      const frames = Math.floor((end - body) / (2 * channels));
      const samples = new Float32Array(frames);
      for (let i = 0; i < frames; i++) samples[i] = wav.readInt16LE(body + i * 2 * channels) / 0x8000;
      return { samples, sampleRate };
    }
    offset = body + size + (size % 2);
  }
  throw new Error('WAV file has no data chunk');
}

/** Speaks `text` with one of flite's built-in voices (kal is 8 kHz, the others 16 kHz). */
export async function fliteReference(text: string, voice: FliteVoice): Promise<{ wav: Buffer; samples: Float32Array; sampleRate: number }> {
  const dir = await mkdtemp(join(tmpdir(), 'chorus-flite-'));
  try {
    const file = join(dir, 'speech.wav');
    await execFileAsync('flite', ['-voice', voice, '-t', text, '-o', file]);
    const wav = await readFile(file);
    return { wav, ...readWav16(wav) };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

export interface FormantSynthOptions {
  /** Median F0 of the output, Hz (exact by construction, see below). */
  readonly f0Hz: number;
  readonly seconds: number;
  readonly sampleRate: number;
  /** Formant centre frequencies, Hz; default an /a/-like vowel [730, 1090, 2440, 3400]. Ones at or above Nyquist are skipped. */
  readonly formantsHz?: number[];
  /** Peak deviation of the slow F0 contour, semitones (default 2; 0 gives a flat monotone). */
  readonly vibratoSemitones?: number;
}

/**
 * A small source-filter synthesizer: a Rosenberg glottal-flow-derivative pulse train, a cascade of
 * Klatt two-pole formant resonators, and a syllable-like raised-cosine amplitude envelope at ~4 Hz
 * (each "syllable" fades to silence at its edges, like unvoiced gaps between syllables).
 *
 * The F0 contour is f0Hz · 2^(d(t)/12) with d(t) = vibratoSemitones · sin(2π t / P), where P ≈ 2 s is
 * chosen so the clip holds a whole number of contour periods and each period a whole number of
 * syllables. Reflecting time within a period (t → P − t) negates d and maps the syllable envelope
 * onto itself, so however a pitch tracker weights frames by loudness or voicing, the distribution of
 * F0 it sees is symmetric in semitones around f0Hz: the median pitch is f0Hz (up to frame sampling).
 * Fully deterministic (no noise).
 */
export function formantSynthReference(options: FormantSynthOptions): { samples: Float32Array; sampleRate: number } {
  const { f0Hz, seconds, sampleRate } = options;
  if (!(f0Hz > 0 && f0Hz < sampleRate / 4)) throw new Error(`f0Hz must be in (0, sampleRate/4), got ${f0Hz}`);
  if (!(seconds > 0)) throw new Error(`seconds must be positive, got ${seconds}`);
  const formants = (options.formantsHz ?? [730, 1090, 2440, 3400]).filter((f) => f > 0 && f < sampleRate / 2 - 100);
  const depth = options.vibratoSemitones ?? 2;
  const length = Math.round(seconds * sampleRate);
  const duration = length / sampleRate;
  const periods = Math.max(1, Math.round(duration / 2));
  const period = duration / periods;
  const syllablesPerPeriod = Math.max(1, Math.round(period * 4));
  const syllable = period / syllablesPerPeriod;

  // Glottal source: derivative of a Rosenberg pulse (opening 40 % of the period, closing 16 %).
  const flow = (phase: number): number => {
    const open = 0.4;
    const close = 0.16;
    if (phase < open) return 0.5 * (1 - Math.cos((Math.PI * phase) / open));
    if (phase < open + close) return Math.cos((Math.PI * (phase - open)) / (2 * close));
    return 0;
  };
  const source = new Float32Array(length);
  let phase = 0;
  let previousFlow = 0;
  for (let n = 0; n < length; n++) {
    const t = n / sampleRate;
    const f0 = f0Hz * 2 ** ((depth * Math.sin((2 * Math.PI * t) / period)) / 12);
    const g = flow(phase);
    source[n] = g - previousFlow;
    previousFlow = g;
    phase += f0 / sampleRate;
    if (phase >= 1) phase -= 1;
  }

  // Klatt resonators in cascade (unity gain at DC each); bandwidths widen with frequency.
  let signal = source;
  for (const frequency of formants) {
    const bandwidth = 50 + frequency * 0.04;
    const c = -Math.exp((-2 * Math.PI * bandwidth) / sampleRate);
    const b = 2 * Math.exp((-Math.PI * bandwidth) / sampleRate) * Math.cos((2 * Math.PI * frequency) / sampleRate);
    const a = 1 - b - c;
    const out = new Float32Array(length);
    let y1 = 0;
    let y2 = 0;
    for (let n = 0; n < length; n++) {
      const y = a * (signal[n] ?? 0) + b * y1 + c * y2;
      out[n] = y;
      y2 = y1;
      y1 = y;
    }
    signal = out;
  }

  // The syllable envelope goes on after the (causal) filters so its time symmetry is exact.
  for (let n = 0; n < length; n++) {
    const t = n / sampleRate;
    signal[n] = (signal[n] ?? 0) * Math.sin((Math.PI * (t % syllable)) / syllable) ** 2;
  }
  let peak = 0;
  for (const s of signal) peak = Math.max(peak, Math.abs(s));
  if (peak > 0) for (let n = 0; n < length; n++) signal[n] = ((signal[n] ?? 0) / peak) * 0.7;
  return { samples: signal, sampleRate };
}

/**
 * flite speech with each word's start time, from flite's own phone durations (`-psdur`): ground
 * truth from a synthesizer unrelated to eSpeak. Words are found by walking the phone list with
 * each word's phone count (flite pronounces words alone the same as in a sentence for plain
 * alphabetic text, which is all this accepts).
 */
export async function fliteTimedReference(
  words: readonly string[],
  voice: FliteVoice,
): Promise<{ text: string; samples: Float32Array; sampleRate: number; wordStarts: number[] }> {
  if (words.some((word) => !/^[A-Za-z]+$/.test(word))) throw new Error('fliteTimedReference takes plain alphabetic words');
  const text = `${words.join(' ')}.`;
  const dir = await mkdtemp(join(tmpdir(), 'chorus-flite-'));
  try {
    const file = join(dir, 'speech.wav');
    const { stdout } = await execFileAsync('flite', ['-voice', voice, '-psdur', '-t', text, '-o', file]);
    const phones = stdout
      .trim()
      .split(/\s+/)
      .map((entry) => {
        const [phone, end] = entry.split(':');
        return { phone: phone!, end: Number(end) };
      });
    const wordStarts: number[] = [];
    let k = 0;
    for (const word of words) {
      const { stdout: alone } = await execFileAsync('flite', ['-voice', voice, '-ps', '-t', word, '-o', 'none']);
      const count = alone.trim().split(/\s+/).filter((phone) => phone !== 'pau').length;
      while (phones[k]?.phone === 'pau') k++;
      wordStarts.push(k > 0 ? phones[k - 1]!.end : 0);
      k += count;
    }
    while (phones[k]?.phone === 'pau') k++;
    if (k !== phones.length) throw new Error(`flite's phones for "${text}" do not split into its words`);
    return { text, wordStarts, ...readWav16(await readFile(file)) };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
