import { ChorusError } from '../errors.js';
import type { SerializedError } from './protocol.js';

/** A failure as it crosses a thread boundary: a ChorusError keeps its code, anything else is `engine_failed`. */
export function serializeError(error: unknown): SerializedError {
  if (ChorusError.isInstance(error)) {
    return {
      code: error.code,
      message: error.message,
      retryable: error.retryable,
      ...(error.param === undefined ? {} : { param: error.param }),
    };
  }
  const message = error instanceof Error ? error.message : String(error);
  return { code: 'engine_failed', message: `Synthesis failed: ${message}`, retryable: false };
}

/** A Float32Array that owns its whole buffer, so the buffer can be transferred without taking others' bytes. */
export function ownedSamples(samples: Float32Array): Float32Array {
  return samples.byteOffset === 0 && samples.byteLength === samples.buffer.byteLength ? samples : samples.slice();
}
