/** Composition of PCM transforms into one (e.g. time-stretch then varispeed, or DSP then resample). */
import type { PcmTransform } from '../pcm.js';
import { concatFloat32 } from '../pcm.js';

/**
 * Runs `stages` in order as one transform. `flush` flushes each stage in turn, feeding its tail
 * through the later stages. `dispose` releases every stage. The output rate is the last stage's.
 */
export function chainTransforms(...stages: PcmTransform[]): PcmTransform {
  if (stages.length === 0) throw new Error('chainTransforms needs at least one stage');
  if (stages.length === 1) return stages[0]!;
  const last = stages[stages.length - 1]!;
  return {
    outputSampleRate: last.outputSampleRate,
    process(samples) {
      let data = samples;
      for (const stage of stages) data = stage.process(data);
      return data;
    },
    flush() {
      try {
        let carried: Float32Array = new Float32Array(0);
        for (const stage of stages) {
          const head = carried.length > 0 ? stage.process(carried) : carried;
          const tail = stage.flush();
          carried = head.length === 0 ? tail : tail.length === 0 ? head : concatFloat32([head, tail]);
        }
        return carried;
      } finally {
        for (const stage of stages) stage.dispose();
      }
    },
    dispose() {
      for (const stage of stages) stage.dispose();
    },
  };
}
