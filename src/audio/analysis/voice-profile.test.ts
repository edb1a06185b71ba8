import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import type { SpeechEngine } from '../../engine/speech-engine.js';
import { createEspeakEngine } from '../../engines/espeak/espeak-engine.js';
import { concatFloat32 } from '../pcm.js';
import { ENVELOPE_GRID, analyzeVoice, envelopeFrequencies, estimateFormantRatio, voiceDistance, type VoiceProfile } from './voice-profile.js';

/**
 * A small formant synthesizer (the "other synthesizer", with known pitch, syllable rate and
 * formant scale): Rosenberg glottal pulses, syllable-like amplitude bumps with a pause every 9th
 * syllable, and a vowel sequence (Peterson & Barney male averages, times formantScale) through four
 * cascaded resonators.
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

function assertPlausible(profile: VoiceProfile, label: string): void {
  assert.equal(profile.version, 1);
  for (const [key, value] of Object.entries(profile)) {
    if (key === 'envelope') continue;
    assert.ok(typeof value === 'number' && Number.isFinite(value), `${label}: ${key} = ${value}`);
  }
  assert.equal(profile.envelope.length, envelopeFrequencies().length);
  for (const value of profile.envelope) assert.ok(Number.isFinite(value) && value < 0 && value > -150, `${label}: envelope ${value}`);
  assert.ok(profile.speechSec > 0 && profile.speechSec <= profile.durationSec + 0.011, label);
  assert.ok(profile.pitchP10Hz <= profile.medianPitchHz && profile.medianPitchHz <= profile.pitchP90Hz, label);
  assert.ok(Math.abs(profile.pitchRangeSemitones - 12 * Math.log2(profile.pitchP90Hz / profile.pitchP10Hz)) < 1e-9, label);
  assert.ok(profile.voicedFraction > 0.2 && profile.voicedFraction <= 1, `${label}: voiced ${profile.voicedFraction}`);
  assert.ok(profile.syllablesPerSec >= 2 && profile.syllablesPerSec <= 8, `${label}: ${profile.syllablesPerSec} syllables/s`);
  assert.ok(profile.loudnessDbfs < -3 && profile.loudnessDbfs > -45, `${label}: ${profile.loudnessDbfs} dBFS`);
  assert.ok(profile.spectralCentroidHz > 200 && profile.spectralCentroidHz < 4000, `${label}: centroid ${profile.spectralCentroidHz}`);
  // Stored as JSON in the database: must survive the round trip unchanged.
  assert.deepEqual(JSON.parse(JSON.stringify(profile)), profile);
}

describe('analyzeVoice on a formant synthesizer with known parameters', () => {
  const sampleRate = 22050;
  const male = analyzeVoice(formantVoice(sampleRate, 8, contour(110)), sampleRate);
  const female = analyzeVoice(formantVoice(sampleRate, 8, contour(210), 1.17, 4.6), sampleRate);

  it('measures pitch within 3% and the syllable rate within 15%', () => {
    assertPlausible(male, 'male');
    assertPlausible(female, 'female');
    assert.ok(Math.abs(male.medianPitchHz / 110 - 1) < 0.03, `male median ${male.medianPitchHz}`);
    assert.ok(Math.abs(female.medianPitchHz / 210 - 1) < 0.03, `female median ${female.medianPitchHz}`);
    // The contour spans +-0.19 octave; p10..p90 covers most of it.
    assert.ok(male.pitchRangeSemitones > 2.5 && male.pitchRangeSemitones < 4.6, `range ${male.pitchRangeSemitones}`);
    assert.ok(Math.abs(male.syllablesPerSec / 4.4 - 1) < 0.15, `male rate ${male.syllablesPerSec}`);
    assert.ok(Math.abs(female.syllablesPerSec / 4.6 - 1) < 0.15, `female rate ${female.syllablesPerSec}`);
    // Eight of every nine syllable slots are spoken.
    assert.ok(male.speechSec > 0.7 * male.durationSec && male.speechSec < 0.95 * male.durationSec, `speech ${male.speechSec}`);
  });

  it('recovers a known formant scale', () => {
    assert.equal(estimateFormantRatio(male, male), 1);
    const up = estimateFormantRatio(male, female);
    const down = estimateFormantRatio(female, male);
    assert.ok(Math.abs(up / 1.17 - 1) < 0.03, `male -> female ${up}`);
    assert.ok(Math.abs(down * 1.17 - 1) < 0.03, `female -> male ${down}`);
    const slight = analyzeVoice(formantVoice(sampleRate, 8, contour(150), 1.08, 4.2), sampleRate);
    assert.ok(Math.abs(estimateFormantRatio(male, slight) / 1.08 - 1) < 0.03);
  });

  it('falls back to the pitch-implied ratio when the envelopes share no structure', () => {
    const flat = (medianPitchHz: number): VoiceProfile => ({ ...male, medianPitchHz, envelope: male.envelope.map(() => -40) });
    assert.ok(Math.abs(estimateFormantRatio(flat(100), flat(200)) - 2 ** 0.25) < 1e-9);
    assert.ok(Math.abs(estimateFormantRatio(flat(200), flat(100)) - 2 ** -0.25) < 1e-9);
    assert.equal(estimateFormantRatio(flat(100), flat(1000)), 1.25);
    // The distance does not count that pitch difference twice.
    assert.ok(Math.abs(voiceDistance(flat(100), flat(200)) - 12) < 1e-9);
  });

  it('gives the same profile at other sample rates', () => {
    for (const rate of [16000, 44100]) {
      const other = analyzeVoice(formantVoice(rate, 8, contour(110)), rate);
      assert.ok(Math.abs(other.medianPitchHz / male.medianPitchHz - 1) < 0.01, `${rate}: ${other.medianPitchHz}`);
      assert.ok(Math.abs(estimateFormantRatio(other, male) - 1) < 0.02, `${rate}: formant ratio ${estimateFormantRatio(other, male)}`);
      assert.ok(Math.abs(other.syllablesPerSec / male.syllablesPerSec - 1) < 0.1);
    }
  });

  it('throws a plain Error when there is no speech', () => {
    let seed = 3;
    const noise = Float32Array.from({ length: 3 * sampleRate }, () => 0.5 * ((seed = (seed * 1103515245 + 12345) >>> 0) / 4294967296 - 0.5));
    for (const audio of [new Float32Array(2 * sampleRate), noise, new Float32Array(0)]) {
      assert.throws(() => analyzeVoice(audio, sampleRate), (error) => error instanceof Error && !(error instanceof RangeError) && /speech/.test(error.message));
    }
  });

  it('exposes the envelope grid', () => {
    const grid = envelopeFrequencies();
    assert.equal(grid[0], ENVELOPE_GRID.minHz);
    assert.ok(grid[grid.length - 1]! <= ENVELOPE_GRID.maxHz && grid[grid.length - 1]! * 2 ** (1 / ENVELOPE_GRID.pointsPerOctave) > ENVELOPE_GRID.maxHz);
    assert.ok(Math.abs(grid[ENVELOPE_GRID.pointsPerOctave]! - 2 * ENVELOPE_GRID.minHz) < 1e-9);
  });
});

describe('analyzeVoice on eSpeak voices', () => {
  const TEXTS = [
    'The quick brown fox jumps over the lazy dog. She sells sea shells by the sea shore, and I would like a cup of tea.',
    'When the sunlight strikes raindrops in the air, they act as a prism and form a rainbow. Many people have looked for the pot of gold at its end.',
  ];
  const VOICES = ['Albert', 'default', 'Adam', 'Amy', 'Abigail', 'Brittany'];
  const profiles = new Map<string, VoiceProfile[]>();
  let engine: SpeechEngine;

  before(async () => {
    engine = await createEspeakEngine();
    for (const voiceId of VOICES) {
      const list: VoiceProfile[] = [];
      for (const text of TEXTS) {
        const parts: Float32Array[] = [];
        for await (const part of engine.synthesize({ text, voiceId }, new AbortController().signal)) if (part.type === 'audio') parts.push(part.samples);
        list.push(analyzeVoice(concatFloat32(parts), engine.capabilities.sampleRate));
      }
      profiles.set(voiceId, list);
    }
  });

  const get = (voiceId: string, text = 0): VoiceProfile => profiles.get(voiceId)![text]!;

  it('gives plausible measurements with speech rates of 2-8 syllables/s', () => {
    for (const [voiceId, list] of profiles) list.forEach((profile, i) => assertPlausible(profile, `${voiceId}/${i}`));
  });

  it('tells male from female voices by pitch', () => {
    for (const male of ['Albert', 'default', 'Adam']) {
      for (const female of ['Amy', 'Abigail', 'Brittany']) {
        for (const text of [0, 1]) {
          assert.ok(get(female, text).medianPitchHz / get(male, text).medianPitchHz > 1.6, `${male} vs ${female}`);
        }
      }
      assert.ok(get(male).medianPitchHz < 130);
    }
    for (const female of ['Amy', 'Abigail', 'Brittany']) assert.ok(get(female).medianPitchHz > 170);
  });

  it('estimates formant ratios that follow the eSpeak voice variants', () => {
    // Amy (variant f3) scales formants by 1.2-1.35, Abigail (f1) by 1.1-1.2, Adam (m3) by 0.96.
    assert.ok(estimateFormantRatio(get('Albert'), get('Amy', 1)) > 1.15);
    assert.ok(estimateFormantRatio(get('Amy'), get('Albert', 1)) < 0.87);
    const abigail = estimateFormantRatio(get('Albert'), get('Abigail', 1));
    assert.ok(abigail > 1.08 && abigail < 1.22, `Albert -> Abigail ${abigail}`);
    const adam = estimateFormantRatio(get('Albert'), get('Adam', 1));
    assert.ok(adam > 0.92 && adam < 1.0, `Albert -> Adam ${adam}`);
    for (const voiceId of VOICES) {
      const same = estimateFormantRatio(get(voiceId, 0), get(voiceId, 1));
      assert.ok(Math.abs(same - 1) < 0.03, `${voiceId} across texts: ${same}`);
    }
  });

  it('picks the same built-in voice as the nearest for a recording of it', () => {
    for (const voiceId of VOICES) {
      const reference = get(voiceId, 1);
      assert.equal(voiceDistance(reference, reference), 0);
      const ranked = VOICES.map((candidate) => ({ candidate, distance: voiceDistance(reference, get(candidate, 0)) })).sort((a, b) => a.distance - b.distance);
      assert.equal(ranked[0]!.candidate, voiceId, JSON.stringify(ranked));
      for (const { distance } of ranked) assert.ok(distance >= 0);
    }
    assert.ok(Math.abs(voiceDistance(get('Albert'), get('Amy')) - voiceDistance(get('Amy'), get('Albert'))) < 1e-9);
    assert.ok(voiceDistance(get('Albert'), get('Amy')) > 3 * voiceDistance(get('Albert'), get('default')));
  });
});
