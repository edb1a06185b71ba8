import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { concatFloat32 } from '../pcm.js';
import {
  createLoudnessNormalizer,
  dbToGain,
  measurePeak,
  measureRmsDbfs,
  normalizePeak,
  normalizeRms,
} from './loudness.js';
import { db, rms, runChunked, sine } from './test-support.js';

const SR = 24000;

describe('normalizePeak', () => {
  it('scales in place to the target peak', () => {
    const x = sine(440, 0.5, SR, 0.2);
    const out = normalizePeak(x, -1);
    assert.equal(out, x);
    assert.ok(Math.abs(db(measurePeak(x)) - -1) < 0.5);
    normalizePeak(x, -6);
    assert.ok(Math.abs(db(measurePeak(x)) - -6) < 0.01);
  });

  it('leaves silence alone', () => {
    const x = new Float32Array(1000);
    normalizePeak(x);
    assert.equal(measurePeak(x), 0);
  });
});

describe('normalizeRms', () => {
  it('hits the target RMS over non-silent frames (pauses do not count)', () => {
    const speech = sine(300, 0.8, SR, 0.05);
    const x = concatFloat32([speech, new Float32Array(SR / 2), speech, new Float32Array(SR)]);
    normalizeRms(x, -20, -1, SR);
    assert.ok(Math.abs(measureRmsDbfs(x, SR) - -20) < 0.5);
    // Directly: the RMS of the tone segment.
    assert.ok(Math.abs(db(rms(x, 0, speech.length)) - -20) < 0.5, `${db(rms(x, 0, speech.length))}`);
  });

  it('never lets peaks exceed the ceiling, and keeps the level on target', () => {
    // A quiet tone with sparse loud clicks: -20 dBFS RMS would need the clicks far above full scale.
    const x = sine(300, 2, SR, 0.02);
    for (let i = 1000; i < x.length; i += 4800) x[i] = 0.9;
    normalizeRms(x, -20, -1, SR);
    assert.ok(measurePeak(x) <= dbToGain(-1) + 1e-6, `peak ${db(measurePeak(x))}`);
    assert.ok(Math.abs(measureRmsDbfs(x, SR) - -20) < 0.5, `rms ${measureRmsDbfs(x, SR)}`);
  });

  it('returns silence unchanged', () => {
    const x = new Float32Array(4800);
    normalizeRms(x);
    assert.equal(measurePeak(x), 0);
  });
});

describe('createLoudnessNormalizer', () => {
  it('rms: converges to the target on a steady signal, from either side', () => {
    for (const amplitude of [0.0447, 0.6]) {
      // RMS of a sine = amplitude / sqrt(2): -30 dBFS and about -7 dBFS.
      const input = sine(300, 8, SR, amplitude);
      const out = runChunked(createLoudnessNormalizer({ mode: 'rms', sampleRate: SR, targetDbfs: -20 }), input, [480, 7, 3000]);
      assert.equal(out.length, input.length);
      const last = db(rms(out, out.length - SR, out.length));
      assert.ok(Math.abs(last - -20) < 0.5, `amplitude ${amplitude}: last second at ${last.toFixed(2)} dBFS`);
      assert.ok(measurePeak(out) <= dbToGain(-1) + 1e-6);
    }
  });

  it('peak: converges to the target and never exceeds the ceiling', () => {
    for (const [amplitude, initialGainDb] of [
      [0.1, 10], // quieter than expected: gain rises
      [0.3, 20], // much louder than expected: instant attack + limiter
    ] as const) {
      const input = sine(300, 6, SR, amplitude);
      const out = runChunked(createLoudnessNormalizer({ mode: 'peak', sampleRate: SR, targetDbfs: -1, initialGainDb }), input, [480]);
      const lastPeak = db(measurePeak(out.subarray(out.length - SR)));
      assert.ok(Math.abs(lastPeak - -1) < 0.5, `amplitude ${amplitude}: last second peak ${lastPeak.toFixed(2)} dBFS`);
      assert.ok(measurePeak(out) <= dbToGain(-1) + 1e-6, `overall peak ${db(measurePeak(out))}`);
    }
  });

  it('limits a sudden loud onset without lookahead', () => {
    const input = concatFloat32([sine(300, 2, SR, 0.01), sine(300, 1, SR, 1), sine(300, 1, SR, 0.01)]);
    for (const mode of ['rms', 'peak'] as const) {
      const out = runChunked(createLoudnessNormalizer({ mode, sampleRate: SR, initialGainDb: 6 }), input, [512]);
      assert.ok(measurePeak(out) <= dbToGain(-1) + 1e-6, `${mode}: peak ${db(measurePeak(out))}`);
    }
  });

  it('changes gain smoothly (no clicks) and does not boost pauses', () => {
    const tone = (seconds: number, amplitude: number) => sine(200, seconds, SR, amplitude);
    const input = concatFloat32([tone(3, 0.05), tone(3, 0.1), new Float32Array(2 * SR), tone(1, 0.1)]);
    const out = runChunked(createLoudnessNormalizer({ mode: 'rms', sampleRate: SR }), input, [480]);
    // A 200 Hz sine at amplitude A moves at most 2*pi*200/SR*A per sample; allow 1.5x that.
    const maxStep = (2 * Math.PI * 200) / SR;
    for (let i = 1; i < out.length; i++) {
      const bound = 1.5 * maxStep * Math.max(Math.abs(out[i]!), Math.abs(out[i - 1]!), 0.2) + 1e-6;
      if (Math.abs(out[i]! - out[i - 1]!) > bound) assert.fail(`step of ${Math.abs(out[i]! - out[i - 1]!)} at sample ${i}`);
    }
    // Silence stays silent, and the level after the pause matches the level before it.
    const pauseStart = 6 * SR;
    assert.equal(measurePeak(out.subarray(pauseStart, pauseStart + 2 * SR)), 0);
    const before = db(rms(out, pauseStart - SR / 10, pauseStart));
    const after = db(rms(out, pauseStart + 2 * SR, pauseStart + 2 * SR + SR / 10));
    assert.ok(Math.abs(before - after) < 0.5, `before ${before.toFixed(2)}, after ${after.toFixed(2)}`);
  });

  it('gives the same output however the stream is chunked', () => {
    const input = concatFloat32([sine(250, 1, SR, 0.05), sine(250, 1, SR, 0.5)]);
    const a = runChunked(createLoudnessNormalizer({ mode: 'rms', sampleRate: SR }), input);
    const b = runChunked(createLoudnessNormalizer({ mode: 'rms', sampleRate: SR }), input, [1, 33, 480, 5000]);
    assert.deepEqual(a, b);
  });

  it('validates its options', () => {
    assert.throws(() => createLoudnessNormalizer({ mode: 'lufs' as 'rms', sampleRate: SR }), RangeError);
    assert.throws(() => createLoudnessNormalizer({ mode: 'rms', sampleRate: 0 }), RangeError);
  });
});
