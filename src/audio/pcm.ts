/** Mono float PCM in [-1, 1]. Every stage inside Chorus speaks this; bytes appear only at the encoder. */
export interface PcmFormat {
  readonly sampleRate: number;
  readonly channels: 1;
}

/** A synchronous, stateful PCM transform. Streaming: call `process` per chunk, then `flush` once. */
export interface PcmTransform {
  readonly outputSampleRate: number;
  process(samples: Float32Array): Float32Array;
  /** Emits whatever the transform still holds; the transform is unusable afterwards. */
  flush(): Float32Array;
  /** Releases native (wasm) memory. Safe to call more than once. */
  dispose(): void;
}

export function concatFloat32(chunks: readonly Float32Array[]): Float32Array {
  let length = 0;
  for (const chunk of chunks) length += chunk.length;
  const out = new Float32Array(length);
  let offset = 0;
  for (const chunk of chunks) {
    out.set(chunk, offset);
    offset += chunk.length;
  }
  return out;
}

export function concatBytes(chunks: readonly Uint8Array[]): Uint8Array {
  let length = 0;
  for (const chunk of chunks) length += chunk.length;
  const out = new Uint8Array(length);
  let offset = 0;
  for (const chunk of chunks) {
    out.set(chunk, offset);
    offset += chunk.length;
  }
  return out;
}

export function floatToInt16(samples: Float32Array): Int16Array {
  const out = new Int16Array(samples.length);
  for (let i = 0; i < samples.length; i++) {
    const s = samples[i]!;
    out[i] = s >= 1 ? 32767 : s <= -1 ? -32768 : Math.round(s * 32767);
  }
  return out;
}

export function int16ToFloat(samples: Int16Array): Float32Array {
  const out = new Float32Array(samples.length);
  for (let i = 0; i < samples.length; i++) out[i] = samples[i]! / 32768;
  return out;
}
