import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import type { SpeechEngine } from '../../engine/speech-engine.js';
import { createEspeakEngine } from '../../engines/espeak/espeak-engine.js';
import { trackPitch, voicedPitchStats } from '../analysis/pitch.js';
import { analyzeVoice, estimateFormantRatio, type VoiceProfile } from '../analysis/voice-profile.js';
import { concatFloat32 } from '../pcm.js';
import { planVoiceTransform, transformVoice, type VoiceTransform } from './voice-transform.js';

/**
 * A small formant synthesizer (the "other synthesizer", with known pitch and formant scale):
 * Rosenberg glottal pulses, syllable-like amplitude bumps with a pause every 9th syllable, and a
 * vowel sequence (Peterson & Barney male averages, times formantScale) through four resonators.
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
  let peak = 0;
  for (const v of y) peak = Math.max(peak, Math.abs(v));
  return Float32Array.from(y, (v) => (0.5 * v) / peak);
}

const contour = (base: number) => (t: number): number => base * 2 ** (0.15 * Math.sin(2 * Math.PI * 0.8 * t) + 0.04 * Math.sin(2 * Math.PI * 2.3 * t));

function peakOf(x: Float32Array): number {
  let peak = 0;
  for (const v of x) {
    assert.ok(Number.isFinite(v));
    peak = Math.max(peak, Math.abs(v));
  }
  return peak;
}

function rmsDb(x: Float32Array): number {
  let sum = 0;
  for (const v of x) sum += v * v;
  return 10 * Math.log10(sum / Math.max(1, x.length) + 1e-20);
}

/** Largest |second difference|: a click (discontinuity) shows up as a spike here. */
function maxCurvature(x: Float32Array): number {
  let max = 0;
  for (let i = 2; i < x.length; i++) max = Math.max(max, Math.abs(x[i]! - 2 * x[i - 1]! + x[i - 2]!));
  return max;
}

const formantDistance = (from: VoiceProfile, to: VoiceProfile): number => Math.abs(Math.log(estimateFormantRatio(from, to)));

describe('transformVoice', () => {
  const TEXT_A = 'The quick brown fox jumps over the lazy dog. She sells sea shells by the sea shore, and I would like a cup of tea.';
  const TEXT_B = 'When the sunlight strikes raindrops in the air, they act as a prism and form a rainbow. Many people have looked for the pot of gold at its end.';
  let engine: SpeechEngine;
  let sampleRate: number;
  const speech = new Map<string, Float32Array>();

  before(async () => {
    engine = await createEspeakEngine();
    sampleRate = engine.capabilities.sampleRate;
    for (const voiceId of ['Albert', 'Amy']) {
      for (const [key, text] of [['A', TEXT_A], ['B', TEXT_B]] as const) {
        const parts: Float32Array[] = [];
        for await (const part of engine.synthesize({ text, voiceId }, new AbortController().signal)) if (part.type === 'audio') parts.push(part.samples);
        speech.set(voiceId + key, concatFloat32(parts));
      }
    }
  });

  for (const [from, to] of [['Albert', 'Amy'], ['Amy', 'Albert']] as const) {
    it(`converts eSpeak ${from} toward a ${to} reference profile`, () => {
      const input = speech.get(`${from}A`)!;
      const source = analyzeVoice(input, sampleRate);
      const target = analyzeVoice(speech.get(`${to}B`)!, sampleRate); // different words than the input
      const plan = planVoiceTransform(source, target);
      const output = transformVoice(input, sampleRate, plan);

      assert.equal(output.length, input.length, 'timing kept exactly');
      assert.ok(peakOf(output) <= 1);
      const outPitch = voicedPitchStats(trackPitch(output, sampleRate))!;
      assert.ok(Math.abs(outPitch.medianHz / target.medianPitchHz - 1) < 0.1, `median ${outPitch.medianHz} vs target ${target.medianPitchHz}`);
      assert.ok(Math.abs(outPitch.medianHz / target.medianPitchHz - 1) < 0.03, 'in practice within 3%');
      const result = analyzeVoice(output, sampleRate);
      assert.ok(formantDistance(result, target) < formantDistance(source, target), `formant ratio to target: input ${estimateFormantRatio(source, target)}, output ${estimateFormantRatio(result, target)}`);
      assert.ok(formantDistance(result, target) < 0.05, `output -> target ${estimateFormantRatio(result, target)}`);
      // Same words at the same pace.
      assert.ok(Math.abs(result.syllablesPerSec / source.syllablesPerSec - 1) < 0.15, `rate ${source.syllablesPerSec} -> ${result.syllablesPerSec}`);
      assert.ok(Math.abs(result.speechSec / source.speechSec - 1) < 0.05);
      assert.ok(Math.abs(result.loudnessDbfs - source.loudnessDbfs) < 3, `loudness ${source.loudnessDbfs} -> ${result.loudnessDbfs}`);
      assert.ok(maxCurvature(output) < 2 * maxCurvature(input), 'no clicks');
    });
  }

  it('maps the pitch contour frame by frame, range scaling included', () => {
    const input = speech.get('AlbertA')!;
    const center = voicedPitchStats(trackPitch(input, sampleRate))!.medianHz;
    const transform: VoiceTransform = { pitchRatio: 2.2, pitchCenterHz: center, rangeRatio: 1.6, formantRatio: 1.15 };
    const output = transformVoice(input, sampleRate, transform);
    const before = trackPitch(input, sampleRate).f0;
    const after = trackPitch(output, sampleRate).f0;
    let both = 0;
    let close = 0;
    for (let i = 0; i < before.length; i++) {
      if (!(before[i]! > 0 && after[i]! > 0)) continue;
      both++;
      const expected = transform.pitchRatio * center * (before[i]! / center) ** transform.rangeRatio;
      if (Math.abs(after[i]! / expected - 1) < 0.03) close++;
    }
    assert.ok(both > 0.8 * before.filter((hz) => hz > 0).length, `voiced frames kept: ${both}`);
    assert.ok(close > 0.9 * both, `${close}/${both} frames within 3% of the mapped contour`);
  });

  it('converts toward a formant-synthesizer reference with known pitch', () => {
    const input = speech.get('AlbertA')!;
    const referenceAudio = formantVoice(sampleRate, 8, contour(210), 1.17, 4.6);
    const reference = analyzeVoice(referenceAudio, sampleRate);
    assert.ok(Math.abs(reference.medianPitchHz / 210 - 1) < 0.03);
    const source = analyzeVoice(input, sampleRate);
    const output = transformVoice(input, sampleRate, planVoiceTransform(source, reference));
    assert.equal(output.length, input.length);
    const outMedian = voicedPitchStats(trackPitch(output, sampleRate))!.medianHz;
    assert.ok(Math.abs(outMedian / 210 - 1) < 0.1, `median ${outMedian}`);
    const result = analyzeVoice(output, sampleRate);
    assert.ok(formantDistance(result, reference) < formantDistance(source, reference));
  });

  it('moves formants without moving pitch, and pitch without moving formants', () => {
    const input = formantVoice(sampleRate, 6, contour(120));
    const source = analyzeVoice(input, sampleRate);
    const base = { pitchRatio: 1, pitchCenterHz: source.medianPitchHz, rangeRatio: 1, formantRatio: 1 };

    const formantsUp = analyzeVoice(transformVoice(input, sampleRate, { ...base, formantRatio: 1.15 }), sampleRate);
    assert.ok(Math.abs(formantsUp.medianPitchHz / source.medianPitchHz - 1) < 0.02, `pitch ${formantsUp.medianPitchHz}`);
    assert.ok(Math.abs(estimateFormantRatio(source, formantsUp) / 1.15 - 1) < 0.03, `formants ${estimateFormantRatio(source, formantsUp)}`);

    const formantsDown = analyzeVoice(transformVoice(input, sampleRate, { ...base, formantRatio: 0.85 }), sampleRate);
    assert.ok(Math.abs(estimateFormantRatio(source, formantsDown) / 0.85 - 1) < 0.03, `formants ${estimateFormantRatio(source, formantsDown)}`);

    const pitchUp = analyzeVoice(transformVoice(input, sampleRate, { ...base, pitchRatio: 1.6 }), sampleRate);
    assert.ok(Math.abs(pitchUp.medianPitchHz / (1.6 * source.medianPitchHz) - 1) < 0.02, `pitch ${pitchUp.medianPitchHz}`);
    assert.ok(Math.abs(estimateFormantRatio(source, pitchUp) - 1) < 0.03, `formants ${estimateFormantRatio(source, pitchUp)}`);

    const wider = analyzeVoice(transformVoice(input, sampleRate, { ...base, rangeRatio: 2 }), sampleRate);
    assert.ok(Math.abs(wider.pitchRangeSemitones / (2 * source.pitchRangeSemitones) - 1) < 0.15, `range ${source.pitchRangeSemitones} -> ${wider.pitchRangeSemitones}`);
    assert.ok(Math.abs(wider.medianPitchHz / source.medianPitchHz - 1) < 0.03);
  });

  it('is close to transparent with neutral settings', () => {
    const input = speech.get('AmyB')!;
    const source = analyzeVoice(input, sampleRate);
    const output = transformVoice(input, sampleRate, { pitchRatio: 1, pitchCenterHz: source.medianPitchHz, rangeRatio: 1, formantRatio: 1 });
    const result = analyzeVoice(output, sampleRate);
    assert.ok(Math.abs(result.medianPitchHz / source.medianPitchHz - 1) < 0.01);
    assert.ok(Math.abs(estimateFormantRatio(source, result) - 1) < 0.01);
    assert.ok(Math.abs(result.loudnessDbfs - source.loudnessDbfs) < 0.5);
    const worst = source.envelope.reduce((max, value, i) => Math.max(max, Math.abs(value - result.envelope[i]!)), 0);
    assert.ok(worst < 3, `envelope differs by up to ${worst} dB`);
  });

  it('keeps silence silent and noise at its level', () => {
    const silent = transformVoice(new Float32Array(12345), sampleRate, { pitchRatio: 2, pitchCenterHz: 100, rangeRatio: 1, formantRatio: 1.2 });
    assert.equal(silent.length, 12345);
    assert.equal(peakOf(silent), 0);
    let seed = 9;
    const noise = Float32Array.from({ length: 2 * sampleRate }, () => 0.4 * ((seed = (seed * 1103515245 + 12345) >>> 0) / 4294967296 - 0.5));
    const out = transformVoice(noise, sampleRate, { pitchRatio: 2, pitchCenterHz: 100, rangeRatio: 1, formantRatio: 0.8 });
    assert.equal(out.length, noise.length);
    assert.ok(Math.abs(rmsDb(out) - rmsDb(noise)) < 1.5);
    assert.ok(peakOf(out) <= 1);
    assert.equal(transformVoice(new Float32Array(0), sampleRate, { pitchRatio: 1, pitchCenterHz: 100, rangeRatio: 1, formantRatio: 1 }).length, 0);
  });

  it('never clips, even from a full-scale input', () => {
    const input = speech.get('AmyA')!;
    const peak = peakOf(input);
    const loud = input.map((v) => v / peak);
    const source = analyzeVoice(loud, sampleRate);
    const output = transformVoice(loud, sampleRate, planVoiceTransform(source, analyzeVoice(speech.get('AlbertB')!, sampleRate)));
    assert.ok(peakOf(output) <= 1);
  });

  it('stops early when aborted', () => {
    const input = speech.get('AlbertA')!;
    const transform: VoiceTransform = { pitchRatio: 2, pitchCenterHz: 85, rangeRatio: 1, formantRatio: 1.2 };
    const aborted = new AbortController();
    aborted.abort();
    assert.equal(transformVoice(input, sampleRate, transform, aborted.signal).length, 0);
    // Synchronous code only sees an abort between blocks: fake signals that count the checks,
    // then trip a few checks before the end (in the middle of rendering).
    const countingSignal = (tripAfter: number) => {
      const state = { checks: 0 };
      const signal = { get aborted() {
        return ++state.checks > tripAfter;
      } } as unknown as AbortSignal;
      return { state, signal };
    };
    const full = countingSignal(Infinity);
    assert.equal(transformVoice(input, sampleRate, transform, full.signal).length, input.length);
    assert.ok(full.state.checks > 5, `checks ${full.state.checks}`);
    const partial = transformVoice(input, sampleRate, transform, countingSignal(full.state.checks - 2).signal);
    assert.ok(partial.length > 0 && partial.length < input.length, `partial length ${partial.length}`);
    assert.ok(peakOf(partial) <= 1);
  });

  it('rejects transforms outside the documented ranges', () => {
    const input = speech.get('AlbertA')!;
    const ok: VoiceTransform = { pitchRatio: 1, pitchCenterHz: 100, rangeRatio: 1, formantRatio: 1 };
    for (const bad of [{ formantRatio: 1.5 }, { formantRatio: 0.5 }, { pitchRatio: Number.NaN }, { pitchRatio: 8 }, { rangeRatio: 3 }, { pitchCenterHz: 0 }]) {
      assert.throws(() => transformVoice(input, sampleRate, { ...ok, ...bad }), RangeError, JSON.stringify(bad));
    }
  });

  it('plans from two profiles with clamped ratios', () => {
    const male = analyzeVoice(speech.get('AlbertA')!, sampleRate);
    const female = analyzeVoice(speech.get('AmyB')!, sampleRate);
    const plan = planVoiceTransform(male, female);
    assert.ok(Math.abs(plan.pitchRatio - female.medianPitchHz / male.medianPitchHz) < 1e-9);
    assert.equal(plan.pitchCenterHz, male.medianPitchHz);
    assert.ok(Math.abs(plan.rangeRatio - female.pitchRangeSemitones / male.pitchRangeSemitones) < 1e-9);
    assert.equal(plan.formantRatio, estimateFormantRatio(male, female));
    assert.ok(plan.formantRatio > 1.1);
    assert.equal(planVoiceTransform({ ...male, pitchRangeSemitones: 0.1 }, female).rangeRatio, 2);
    assert.equal(planVoiceTransform(male, { ...female, pitchRangeSemitones: 0.2 }).rangeRatio, 0.5);
    const self = planVoiceTransform(male, male);
    assert.deepEqual(self, { pitchRatio: 1, pitchCenterHz: male.medianPitchHz, rangeRatio: 1, formantRatio: 1 });
  });

  it('converts 60 s of 24 kHz speech in well under 6 s', (t) => {
    // 60 s at 24 kHz from the eSpeak clips (linear interpolation is fine for a speed test).
    const clip = concatFloat32([speech.get('AlbertA')!, speech.get('AlbertB')!]);
    const rate = 24000;
    const input = new Float32Array(60 * rate);
    const step = sampleRate / rate;
    for (let i = 0; i < input.length; i++) {
      const position = (i * step) % (clip.length - 1);
      const k = Math.floor(position);
      input[i] = clip[k]! + (clip[k + 1]! - clip[k]!) * (position - k);
    }
    const plan = planVoiceTransform(analyzeVoice(clip, sampleRate), analyzeVoice(speech.get('AmyB')!, sampleRate));
    const started = performance.now();
    const output = transformVoice(input, rate, plan);
    const elapsed = performance.now() - started;
    assert.equal(output.length, input.length);
    assert.ok(elapsed < 6000, `took ${elapsed.toFixed(0)} ms`);
    t.diagnostic(`transformVoice: 60 s of 24 kHz speech (male -> female) in ${elapsed.toFixed(0)} ms, RTF ${(elapsed / 60000).toFixed(3)}`);
  });
});
