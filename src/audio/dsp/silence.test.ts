import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { concatFloat32 } from '../pcm.js';
import { silence, silenceBounds, trimSilence } from './silence.js';
import { sine } from './test-support.js';

describe('silence', () => {
  it('makes round(seconds * rate) zero samples', () => {
    assert.equal(silence(0.25, 24000).length, 6000);
    assert.equal(silence(0, 24000).length, 0);
    assert.equal(silence(1 / 3, 22050).length, 7350);
    assert.ok(silence(0.1, 8000).every((v) => v === 0));
    assert.throws(() => silence(-1, 24000), RangeError);
  });

  it('finds and trims leading and trailing silence with padding', () => {
    const tone = sine(300, 0.5, 24000, 0.3);
    const x = concatFloat32([silence(0.2, 24000), tone, silence(0.3, 24000)]);
    const [start, end] = silenceBounds(x, 24000, { paddingSec: 0.01 });
    assert.ok(Math.abs(start - (4800 - 240)) <= 2, `start ${start}`);
    assert.ok(Math.abs(end - (4800 + 12000 + 240)) <= 30, `end ${end}`);
    assert.equal(trimSilence(x, 24000, { paddingSec: 0 }).length <= tone.length, true);
    assert.deepEqual(silenceBounds(silence(1, 24000), 24000), [0, 0]);
  });
});
