import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { dspInfo, initDsp, isDspReady } from './dsp-modules.js';
import { createResampler } from './resampler.js';
import { createTempoPitchTransform } from './time-stretch.js';

// Runs in its own process (node --test isolates files), so nothing has loaded the wasm yet.
describe('initDsp', () => {
  it('factories throw a clear error before initDsp, identities work without it', () => {
    assert.equal(isDspReady(), false);
    assert.throws(() => createResampler({ inputRate: 22050, outputRate: 24000 }), /initDsp/);
    assert.throws(() => createTempoPitchTransform({ sampleRate: 22050, speed: 2 }), /initDsp/);
    const x = new Float32Array(10);
    assert.equal(createResampler({ inputRate: 24000, outputRate: 24000 }).process(x), x);
    assert.equal(createTempoPitchTransform({ sampleRate: 24000 }).process(x), x);
  });

  it('loads once (memoised) and then the factories work', async () => {
    const a = initDsp();
    const b = initDsp();
    assert.equal(a, b);
    await a;
    assert.equal(isDspReady(), true);
    assert.equal(typeof dspInfo().speexSimd, 'boolean');
    createResampler({ inputRate: 22050, outputRate: 24000 }).dispose();
    createTempoPitchTransform({ sampleRate: 22050, speed: 2 }).dispose();
  });
});
