import { concatBytes, int16ToFloat } from '../audio/pcm.js';
import type { SpeechRequest, WordTiming } from './speech-request.js';
import { synthesizeSpeech, type PipelineContext } from './synthesize-speech.js';

export interface RenderedPcm {
  readonly samples: Float32Array;
  readonly sampleRate: number;
  readonly words: WordTiming[];
}

/**
 * The whole pipeline output of `request` as float samples with its word timings, for callers that
 * analyse speech rather than send it (the forced aligner's reference, tests, benchmarks).
 */
export async function renderPcm(
  context: PipelineContext,
  request: Omit<SpeechRequest, 'format' | 'bitrateKbps' | 'engine'>,
  signal: AbortSignal,
): Promise<RenderedPcm> {
  const bytes: Uint8Array[] = [];
  const words: WordTiming[] = [];
  let sampleRate = request.sampleRate;
  for await (const part of synthesizeSpeech(context, { ...request, engine: context.engine.id, format: 'pcm' }, signal)) {
    if (part.type === 'audio') bytes.push(part.bytes);
    else if (part.type === 'words') words.push(...part.words);
    else if (part.type === 'start') sampleRate = part.sampleRate;
  }
  const pcm = concatBytes(bytes);
  // Copied so the Int16Array view is aligned whatever offset the concatenated bytes have.
  const aligned = pcm.slice(0, pcm.byteLength & ~1);
  return { samples: int16ToFloat(new Int16Array(aligned.buffer, aligned.byteOffset, aligned.byteLength / 2)), sampleRate, words };
}
