import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import type { SpeechEngine } from '../../engine/speech-engine.js';
import { createEspeakEngine } from '../../engines/espeak/espeak-engine.js';
import { concatFloat32 } from '../pcm.js';
import { pitchAt, trackPitch, voicedPitchStats, type PitchTrack } from './pitch.js';

/**
 * A small formant synthesizer (the "other synthesizer" with known pitch): Rosenberg glottal pulses
 * with the given F0 contour, syllable-like amplitude bumps with a pause every 9th syllable, and a
 * vowel sequence through four cascaded resonators.
 */
const VOWELS = [[730, 1090, 2440], [270, 2290, 3010], [300, 870, 2240], [530, 1840, 2480], [570, 840, 2410], [660, 1720, 2410], [490, 1350, 1690]];
function formantVoice(sampleRate: number, seconds: number, f0: (t: number) => number, formantScale = 1, syllableHz = 4.4): Float32Array {
  const n = Math.round(seconds * sampleRate);
  const y = new Float64Array(n);
  const state = new Float64Array(8);
  let phase = 0;
  let seed = 1;
  const noise = (): number => (seed = (seed * 1103515245 + 12345) >>> 0) / 4294967296 - 0.5;
  for (let i = 0; i < n; i++) {
    const t = i / sampleRate;
    phase = (phase + f0(t) / sampleRate) % 1;
    const pulse = phase < 0.6 ? Math.sin((Math.PI * phase) / 0.6) / 0.6 : phase < 0.85 ? -2 * Math.sin((Math.PI / 2) * ((phase - 0.6) / 0.25)) : 0;
    const syllable = Math.floor(t * syllableHz);
    const within = t * syllableHz - syllable;
    const amplitude = syllable % 9 === 8 ? 0 : Math.sin(Math.PI * within) ** 2;
    let v = amplitude * (0.02 * pulse + 0.003 * noise());
    const from = VOWELS[syllable % VOWELS.length]!;
    const to = VOWELS[(syllable + 1) % VOWELS.length]!;
    const glide = within < 0.7 ? 0 : (within - 0.7) / 0.3;
    for (let f = 0; f < 4; f++) {
      const hz = (f < 3 ? from[f]! * (1 - glide) + to[f]! * glide : 3400) * formantScale;
      const r = Math.exp((-Math.PI * [80, 100, 140, 200][f]!) / sampleRate);
      const c1 = 2 * r * Math.cos((2 * Math.PI * hz) / sampleRate);
      const c2 = -r * r;
      v = (1 - c1 - c2) * v + c1 * state[2 * f]! + c2 * state[2 * f + 1]!;
      state[2 * f + 1] = state[2 * f]!;
      state[2 * f] = v;
    }
    y[i] = v;
  }
  return normalize(y);
}

/** Additive harmonics firstHarmonic..K under a fixed formant envelope (firstHarmonic > 1: missing fundamental). */
function harmonicVoice(sampleRate: number, seconds: number, f0: (t: number) => number, firstHarmonic: number): Float32Array {
  const n = Math.round(seconds * sampleRate);
  const y = new Float64Array(n);
  const phases = new Float64Array(64);
  for (let i = 0; i < n; i++) {
    const hz = f0(i / sampleRate);
    let v = 0;
    for (let k = firstHarmonic; k < 64 && k * hz < Math.min(5000, sampleRate / 2 - 500); k++) {
      phases[k] = (phases[k]! + (2 * Math.PI * k * hz) / sampleRate) % (2 * Math.PI);
      let a = 1 / k;
      for (const [fc, bw] of [[600, 120], [1300, 150], [2500, 200]] as const) a *= 1 / Math.sqrt(((k * hz - fc) / bw) ** 2 + 1) + 0.05;
      v += a * Math.sin(phases[k]!);
    }
    y[i] = v;
  }
  return normalize(y);
}

function normalize(y: Float64Array): Float32Array {
  let peak = 0;
  for (const v of y) peak = Math.max(peak, Math.abs(v));
  return Float32Array.from(y, (v) => (0.5 * v) / peak);
}

/** Two-pole band-pass (RBJ) run twice: a telephone channel that removes the fundamental. */
function bandPass(x: Float32Array, sampleRate: number, lowHz: number, highHz: number): Float32Array {
  const center = Math.sqrt(lowHz * highHz);
  const w = (2 * Math.PI * center) / sampleRate;
  const q = center / (highHz - lowHz);
  const alpha = Math.sin(w) / (2 * q);
  const [b0, b2, a0, a1, a2] = [alpha, -alpha, 1 + alpha, -2 * Math.cos(w), 1 - alpha];
  let y = Float64Array.from(x);
  for (let pass = 0; pass < 2; pass++) {
    const out = new Float64Array(y.length);
    let [x1, x2, y1, y2] = [0, 0, 0, 0];
    for (let i = 0; i < y.length; i++) {
      const v = (b0 * y[i]! + b2 * x2 - a1 * y1 - a2 * y2) / a0;
      x2 = x1;
      x1 = y[i]!;
      y2 = y1;
      y1 = v;
      out[i] = v;
    }
    y = out;
  }
  return normalize(y);
}

/** Frame-by-frame comparison with the true contour over frames where the truth is voiced. */
function compare(track: PitchTrack, truth: (t: number) => number, voicedAt: (t: number) => boolean) {
  let voiced = 0;
  let missed = 0;
  let gross = 0;
  let octave = 0;
  let errorSum = 0;
  for (let i = 0; i < track.f0.length; i++) {
    const t = i * track.hopSec;
    if (!voicedAt(t)) continue;
    const hz = track.f0[i]!;
    if (hz === 0) {
      missed++;
      continue;
    }
    voiced++;
    const ratio = hz / truth(t);
    errorSum += Math.abs(ratio - 1);
    if (Math.abs(ratio - 1) > 0.2) gross++;
    if (Math.abs(Math.log2(ratio)) > 0.75) octave++;
  }
  return { voiced, missed, gross, octave, meanError: errorSum / Math.max(1, voiced) };
}

const maleContour = (t: number): number => 110 * 2 ** (0.2 * Math.sin(2 * Math.PI * 0.35 * t) + 0.06 * Math.sin(2 * Math.PI * 1.7 * t));
const femaleContour = (t: number): number => 210 * 2 ** (0.25 * Math.sin(2 * Math.PI * 0.3 * t + 1) + 0.05 * Math.sin(2 * Math.PI * 2.1 * t));
/** Frames well inside a syllable of formantVoice (amplitude above ~30%). */
const insideSyllable = (t: number): boolean => {
  const syllable = Math.floor(t * 4.4);
  const within = t * 4.4 - syllable;
  return syllable % 9 !== 8 && within > 0.2 && within < 0.8;
};

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
}

describe('trackPitch', () => {
  for (const [name, contour] of [['male ~110 Hz', maleContour], ['female ~210 Hz', femaleContour]] as const) {
    for (const sampleRate of [16000, 22050, 24000, 44100]) {
      it(`follows a formant-synthesized ${name} voice at ${sampleRate} Hz without octave errors`, () => {
        const audio = formantVoice(sampleRate, 6, contour);
        const track = trackPitch(audio, sampleRate);
        assert.equal(track.hopSec, 0.01);
        assert.equal(track.f0.length, Math.floor(audio.length / (0.01 * sampleRate)) + 1);
        const result = compare(track, contour, insideSyllable);
        assert.equal(result.octave, 0, 'no octave errors');
        assert.ok(result.gross <= result.voiced * 0.01, `gross errors ${result.gross}/${result.voiced}`);
        assert.ok(result.missed <= (result.voiced + result.missed) * 0.05, `missed voicing ${result.missed}`);
        assert.ok(result.meanError < 0.01, `mean error ${result.meanError}`);
        // The median over voiced frames against the true median over the same frames.
        const trueMedian = median(Array.from(track.f0.keys()).filter((i) => track.f0[i]! > 0).map((i) => contour(i * 0.01)));
        const stats = voicedPitchStats(track)!;
        assert.ok(Math.abs(stats.medianHz / trueMedian - 1) < 0.03, `median ${stats.medianHz} vs ${trueMedian}`);
        assert.ok(stats.p10Hz < stats.medianHz && stats.medianHz < stats.p90Hz);
        // Pauses (every 9th syllable) are unvoiced.
        const pauseFrame = Math.round(((8 + 0.5) / 4.4) / 0.01);
        assert.equal(track.f0[pauseFrame], 0);
      });
    }
  }

  for (const firstHarmonic of [2, 3]) {
    for (const base of [95, 210, 320]) {
      it(`finds the missing fundamental (harmonics ${firstHarmonic}.. of ${base} Hz)`, () => {
        const contour = (t: number): number => base * 2 ** (0.25 * Math.sin(2 * Math.PI * 0.4 * t));
        const track = trackPitch(harmonicVoice(16000, 3, contour, firstHarmonic), 16000);
        const result = compare(track, contour, () => true);
        assert.equal(result.octave, 0);
        assert.equal(result.gross, 0);
        assert.ok(result.missed <= 2, `missed ${result.missed}`);
        assert.ok(result.meanError < 0.005, `mean error ${result.meanError}`);
      });
    }
  }

  it('tracks a telephone-band (300-3400 Hz) male voice whose fundamental is filtered out', () => {
    const audio = bandPass(formantVoice(16000, 6, maleContour), 16000, 300, 3400);
    const result = compare(trackPitch(audio, 16000), maleContour, insideSyllable);
    assert.equal(result.octave, 0);
    assert.ok(result.gross <= result.voiced * 0.01, `gross ${result.gross}/${result.voiced}`);
    assert.ok(result.missed <= (result.voiced + result.missed) * 0.1, `missed ${result.missed}`);
  });

  it('reports noise and silence as unvoiced', () => {
    let seed = 7;
    const white = Float32Array.from({ length: 5 * 22050 }, () => 0.6 * ((seed = (seed * 1103515245 + 12345) >>> 0) / 4294967296 - 0.5));
    let low = 0;
    const brown = white.map((v) => (low = 0.98 * low + 0.1 * v));
    assert.equal(voicedPitchStats(trackPitch(white, 22050)), undefined);
    assert.equal(voicedPitchStats(trackPitch(brown, 22050)), undefined);
    assert.equal(voicedPitchStats(trackPitch(new Float32Array(22050), 22050)), undefined);
    assert.equal(trackPitch(new Float32Array(0), 22050).f0.length, 0);
  });

  it('honours the pitch range and hop options and rejects bad ones', () => {
    const audio = harmonicVoice(16000, 2, () => 150, 1);
    const fine = trackPitch(audio, 16000, { hopSec: 0.005 });
    assert.equal(fine.f0.length, Math.floor(audio.length / 80) + 1);
    assert.ok(Math.abs(voicedPitchStats(fine)!.medianHz - 150) < 1);
    // 150 Hz is outside 200..500 Hz: nothing voiced (or at worst an octave above, never 150).
    const high = trackPitch(audio, 16000, { minHz: 200, maxHz: 500 });
    for (const hz of high.f0) assert.ok(hz === 0 || hz >= 194);
    assert.throws(() => trackPitch(audio, 16000, { minHz: 300, maxHz: 200 }), RangeError);
    assert.throws(() => trackPitch(audio, 16000, { hopSec: 0 }), RangeError);
    assert.throws(() => trackPitch(audio, 0), RangeError);
  });

  it('interpolates the track with pitchAt', () => {
    const track: PitchTrack = { hopSec: 0.01, f0: Float32Array.from([0, 100, 200, 0]) };
    assert.equal(pitchAt(track, 0.015), 150);
    assert.ok(Math.abs(pitchAt(track, 0.012) - 120) < 1e-9);
    // Next to an unvoiced frame the nearer frame wins.
    assert.equal(pitchAt(track, 0.003), 0);
    assert.equal(pitchAt(track, 0.008), 100);
    assert.equal(pitchAt(track, 0.028), 0);
  });

  it('tracks 60 s of 24 kHz audio in well under a second', (t) => {
    const audio = formantVoice(24000, 60, maleContour);
    trackPitch(audio.subarray(0, 24000), 24000); // warm up the JIT
    const started = performance.now();
    const track = trackPitch(audio, 24000);
    const elapsed = performance.now() - started;
    assert.equal(track.f0.length, 6001);
    // Typically 0.25-0.3 s on a 2-core machine; the bound leaves room for a loaded CI runner.
    assert.ok(elapsed < 2000, `took ${elapsed.toFixed(0)} ms`);
    t.diagnostic(`trackPitch: 60 s of 24 kHz voiced audio in ${elapsed.toFixed(0)} ms`);
  });
});

describe('trackPitch on eSpeak speech', () => {
  let engine: SpeechEngine;
  before(async () => {
    engine = await createEspeakEngine();
  });

  async function speak(voiceId: string): Promise<Float32Array> {
    const parts: Float32Array[] = [];
    const text = 'The quick brown fox jumps over the lazy dog. She sells sea shells by the sea shore.';
    for await (const part of engine.synthesize({ text, voiceId }, new AbortController().signal)) if (part.type === 'audio') parts.push(part.samples);
    return concatFloat32(parts);
  }

  it('separates male and female voices and never jumps an octave between frames', async () => {
    const medians: Record<string, number> = {};
    for (const voiceId of ['Albert', 'default', 'Amy', 'Brittany']) {
      const track = trackPitch(await speak(voiceId), engine.capabilities.sampleRate);
      const stats = voicedPitchStats(track)!;
      medians[voiceId] = stats.medianHz;
      assert.ok(stats.voicedFraction > 0.4 && stats.voicedFraction < 0.9, `${voiceId} voiced ${stats.voicedFraction}`);
      for (let i = 1; i < track.f0.length; i++) {
        const a = track.f0[i - 1]!;
        const b = track.f0[i]!;
        if (a > 0 && b > 0) assert.ok(Math.abs(Math.log2(b / a)) < 0.3, `${voiceId} jump ${a} -> ${b} at frame ${i}`);
      }
    }
    assert.ok(medians.Albert! > 70 && medians.Albert! < 110, `Albert ${medians.Albert}`);
    assert.ok(medians.default! > 80 && medians.default! < 130, `default ${medians.default}`);
    assert.ok(medians.Amy! > 180 && medians.Amy! < 300, `Amy ${medians.Amy}`);
    assert.ok(medians.Brittany! > 200 && medians.Brittany! < 330, `Brittany ${medians.Brittany}`);
  });
});
