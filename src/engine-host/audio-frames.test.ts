import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { AudioFrameReader, encodeAudioFrame, type AudioFrame } from './audio-frames.js';

describe('engine host audio frames', () => {
  const frames: AudioFrame[] = [
    { kind: 'chunk', requestId: 7, samples: Float32Array.from({ length: 1000 }, (_, i) => Math.sin(i / 10)) },
    { kind: 'chunk', requestId: 8, samples: new Float32Array(0) },
    { kind: 'failed', requestId: 8, message: 'the engine said “no”' },
    { kind: 'chunk', requestId: 7, samples: Float32Array.from([0.5, -0.25]) },
    { kind: 'done', requestId: 7 },
  ];
  const bytes = Buffer.concat(frames.map(encodeAudioFrame));

  it('reads back every frame, in order, however the stream is cut', () => {
    for (const cut of [1, 3, 8, 9, 10, 4001, 4009, bytes.length]) {
      const reader = new AudioFrameReader();
      const read: AudioFrame[] = [];
      for (let offset = 0; offset < bytes.length; offset += cut) read.push(...reader.push(bytes.subarray(offset, offset + cut)));
      assert.deepEqual(read, frames, `cut every ${cut} bytes`);
    }
  });

  it('sends a view into a larger buffer as just its samples', () => {
    const whole = Float32Array.from([1, 2, 3, 4, 5]);
    const [frame] = new AudioFrameReader().push(encodeAudioFrame({ kind: 'chunk', requestId: 1, samples: whole.subarray(1, 3) }));
    assert.deepEqual(frame, { kind: 'chunk', requestId: 1, samples: Float32Array.from([2, 3]) });
  });
});
