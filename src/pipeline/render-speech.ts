import { concatBytes } from '../audio/pcm.js';
import { ChorusError } from '../errors.js';
import type { SpeechPart, SpeechRequest, WordTiming } from './speech-request.js';

/** Whatever speaks a request part by part; on the main thread, the speech service in front of the engine pool. */
export interface SpeechSource {
  synthesize(request: SpeechRequest, signal: AbortSignal): AsyncIterable<SpeechPart>;
}

/** What /status shows as `output` while a synthesis job runs. */
export interface SpeechProgress {
  readonly stage: 'synthesizing';
  /** Share of the input text spoken so far. */
  readonly percent: number;
  readonly audio_seconds: number;
}

export interface RenderedSpeech {
  readonly audio: Uint8Array;
  readonly mimeType: string;
  /** The rate a decoder reports. */
  readonly sampleRate: number;
  readonly durationSec: number;
  readonly chunkCount: number;
  readonly words: readonly WordTiming[];
  readonly warnings: readonly { setting: string; message: string }[];
}

/**
 * Runs a synthesis to the end and gathers its parts. `onAudio` sees each encoded piece as it is
 * made (for streaming job modes); the returned audio is always the complete file.
 */
export async function renderSpeech(
  speech: SpeechSource,
  request: SpeechRequest,
  signal: AbortSignal,
  onAudio?: (bytes: Uint8Array) => Promise<void>,
  onProgress?: (progress: SpeechProgress) => Promise<void>,
): Promise<RenderedSpeech> {
  const chunks: Uint8Array[] = [];
  const words: WordTiming[] = [];
  let start: Extract<SpeechPart, { type: 'start' }> | undefined;
  let end: Extract<SpeechPart, { type: 'end' }> | undefined;
  for await (const part of speech.synthesize(request, signal)) {
    if (part.type === 'start') start = part;
    else if (part.type === 'audio') {
      chunks.push(part.bytes);
      if (onAudio) await onAudio(part.bytes);
    } else if (part.type === 'words') {
      words.push(...part.words);
      const last = part.words[part.words.length - 1];
      if (onProgress && last !== undefined) {
        await onProgress({
          stage: 'synthesizing',
          percent: Math.min(99, Math.round((last.charEnd / Math.max(1, request.text.length)) * 100)),
          audio_seconds: Math.round(last.end * 100) / 100,
        });
      }
    }
    else if (part.type === 'end') end = part;
  }
  if (signal.aborted) throw new ChorusError({ code: 'aborted', message: 'The job was stopped.' });
  if (start === undefined || end === undefined) {
    throw new ChorusError({ code: 'engine_failed', message: 'The engine ended without producing audio.' });
  }
  return {
    audio: concatBytes(chunks),
    mimeType: start.mimeType,
    sampleRate: start.decodedSampleRate,
    durationSec: end.durationSec,
    chunkCount: end.chunkCount,
    words,
    warnings: start.warnings,
  };
}
