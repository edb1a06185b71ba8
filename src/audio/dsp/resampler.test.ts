import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import { initDsp } from './dsp-modules.js';
import { createPlaybackRateTransform, createResampler } from './resampler.js';
import { db, rms, runChunked, sine, zeroCrossingFrequency } from './test-support.js';

const PAIRS = [
  [22050, 24000],
  [22050, 8000],
  [22050, 48000],
  [24000, 44100],
] as const;

describe('createResampler', () => {
  before(async () => {
    await initDsp();
  });

  for (const [inputRate, outputRate] of PAIRS) {
    it(`${inputRate} -> ${outputRate}: length, frequency, alignment`, () => {
      for (const n of [1, 100, 22050 * 2 + 17]) {
        const out = runChunked(createResampler({ inputRate, outputRate }), sine(1000, n / inputRate, inputRate));
        const expected = Math.round((n * outputRate) / inputRate);
        assert.ok(Math.abs(out.length - expected) <= 1, `n=${n}: got ${out.length}, expected ${expected}`);
      }
      const input = sine(1000, 2, inputRate);
      const out = runChunked(createResampler({ inputRate, outputRate }), input);
      assert.equal(out.length, Math.round((input.length * outputRate) / inputRate));
      const freq = zeroCrossingFrequency(out, outputRate);
      assert.ok(Math.abs(freq / 1000 - 1) < 0.005, `frequency ${freq}`);
      // Latency-compensated: the output lines up sample-for-sample with the ideal resampled sine
      // (the first/last few ms ring because the input starts and stops abruptly).
      const ideal = sine(1000, out.length / outputRate, outputRate);
      let maxErr = 0;
      const edge = Math.round(outputRate * 0.005);
      for (let i = edge; i < out.length - edge; i++) maxErr = Math.max(maxErr, Math.abs(out[i]! - ideal[i]!));
      assert.ok(maxErr < 1e-3, `max deviation from the aligned ideal sine ${maxErr}`);
    });
  }

  it('streaming in uneven chunks equals one-shot', () => {
    const input = sine(1000, 1.5, 22050);
    for (const [inputRate, outputRate] of PAIRS) {
      const oneShot = runChunked(createResampler({ inputRate, outputRate }), input);
      const chunked = runChunked(createResampler({ inputRate, outputRate }), input, [1000, 37, 5000, 1, 0, 4096]);
      assert.equal(chunked.length, oneShot.length);
      for (let i = 0; i < oneShot.length; i++) {
        assert.ok(Math.abs(chunked[i]! - oneShot[i]!) < 1e-5, `${inputRate}->${outputRate} sample ${i}`);
      }
    }
  });

  it('rejects what is above the new Nyquist (10 kHz tone, 24k -> 16k, < -40 dB)', () => {
    const input = sine(10_000, 1, 24_000);
    const out = runChunked(createResampler({ inputRate: 24_000, outputRate: 16_000 }), input);
    const attenuation = db(rms(out, 200, out.length - 200) / rms(input));
    assert.ok(attenuation < -40, `attenuation ${attenuation.toFixed(1)} dB`);
  });

  it('is an identity when the rates match, and validates options', () => {
    const t = createResampler({ inputRate: 24000, outputRate: 24000 });
    const x = sine(440, 0.1, 24000);
    assert.equal(t.process(x), x);
    assert.equal(t.flush().length, 0);
    assert.throws(() => createResampler({ inputRate: 24000, outputRate: 16000, quality: 11 }), RangeError);
    assert.throws(() => createResampler({ inputRate: 0, outputRate: 16000 }), /inputRate/);
  });

  it('process after flush throws; dispose is idempotent', () => {
    const t = createResampler({ inputRate: 22050, outputRate: 24000 });
    t.process(sine(440, 0.1, 22050));
    t.flush();
    assert.throws(() => t.process(new Float32Array(10)));
    t.dispose();
    t.dispose();
  });
});

describe('createPlaybackRateTransform', () => {
  before(async () => {
    await initDsp();
  });

  for (const factor of [0.5, 2 ** (3 / 12), 1.5, 2]) {
    it(`factor ${factor.toFixed(4)} scales frequency by it and duration by its inverse`, () => {
      const input = sine(300, 2, 22050);
      const out = runChunked(createPlaybackRateTransform({ sampleRate: 22050, factor }), input, [1000, 37, 5000]);
      assert.ok(Math.abs(out.length - input.length / factor) <= 1, `length ${out.length}`);
      const freq = zeroCrossingFrequency(out, 22050);
      assert.ok(Math.abs(freq / (300 * factor) - 1) < 0.002, `frequency ${freq}`);
    });
  }
});
