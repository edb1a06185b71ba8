import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { alignFeatures, diagonalBand, dtwBanded, fullBand, type FeatureSequence } from './dtw.js';

/** A 2-D feature sequence tracing a non-repeating curve, so every frame has one best match. */
function curve(frames: number, stretch = 1): FeatureSequence {
  const data = new Float32Array(frames * 2);
  for (let f = 0; f < frames; f++) {
    const t = f / stretch;
    data[f * 2] = Math.sin(t * 0.37) + t * 0.05;
    data[f * 2 + 1] = Math.cos(t * 0.23);
  }
  return { data, frames, dims: 2 };
}

describe('dtw', () => {
  it('matches identical sequences frame for frame', () => {
    const a = curve(50);
    const path = dtwBanded(a, a, fullBand(50, 50));
    for (let i = 0; i < 50; i++) {
      assert.equal(path.first[i], i);
      assert.equal(path.last[i], i);
    }
  });

  it('finds where a time-stretched copy puts each frame', () => {
    const reference = curve(60);
    const target = curve(120, 2);
    const path = dtwBanded(reference, target, fullBand(60, 120));
    for (let i = 1; i < 59; i++) assert.ok(Math.abs(path.first[i]! - 2 * i) <= 1, `frame ${i} → ${path.first[i]}`);
    assert.equal(path.first[0], 0);
    assert.equal(path.last[59], 119);
  });

  it('paths are monotonic and cover both sequences', () => {
    const path = dtwBanded(curve(80), curve(45, 0.6), diagonalBand(80, 45, 10));
    for (let i = 1; i < 80; i++) {
      assert.ok(path.first[i]! >= path.last[i - 1]! && path.first[i]! <= path.last[i - 1]! + 1);
      assert.ok(path.last[i]! >= path.first[i]!);
    }
    assert.equal(path.first[0], 0);
    assert.equal(path.last[79], 44);
  });

  it('the coarse-to-fine search finds the full-matrix path on a long input', () => {
    const reference = curve(900);
    const target = curve(1300, 1.45);
    const exact = dtwBanded(reference, target, fullBand(900, 1300));
    const multiPass = alignFeatures(reference, target, { maxFullCells: 20_000, radius: 16 });
    let differing = 0;
    for (let i = 0; i < 900; i++) if (Math.abs(exact.first[i]! - multiPass.first[i]!) > 1) differing++;
    assert.equal(differing, 0);
  });

  it('refuses empty or mismatched sequences', () => {
    assert.throws(() => dtwBanded({ data: new Float32Array(0), frames: 0, dims: 2 }, curve(3), fullBand(0, 3)), RangeError);
    assert.throws(() => dtwBanded(curve(3), { data: new Float32Array(3), frames: 3, dims: 1 }, fullBand(3, 3)), RangeError);
  });
});
