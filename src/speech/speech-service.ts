import type { AudioFormat } from '../audio/encoders/audio-encoder.js';
import { availableFormats } from '../audio/encoders/index.js';
import type { ChorusConfig } from '../config/config.js';
import { EnginePool, type EnginePoolStats } from '../workers/engine-pool.js';
import type { EngineDescription } from '../workers/protocol.js';
import type { AudioTask, AudioTaskResults } from '../workers/audio-tasks.js';
import { VoiceCatalog } from './voice-catalog.js';
import type { SpeechPart, SpeechRequest } from '../pipeline/speech-request.js';

/** What the API surfaces need from the speech side; the engine pool is behind it. */
export interface SpeechService {
  readonly engine: EngineDescription;
  readonly voices: VoiceCatalog;
  readonly maxCharsPerChunk: number;
  /** Longest speech text a request may send (CHORUS_MAX_INPUT_CHARS). */
  readonly maxInputChars: number;
  /** Longest audio one request may make (CHORUS_MAX_AUDIO_SECONDS); `synthesize` enforces it. */
  readonly maxAudioSeconds: number;
  availableFormats(): Promise<readonly AudioFormat[]>;
  synthesize(request: SpeechRequest, signal: AbortSignal): AsyncIterable<SpeechPart>;
  /** Voice analysis, conversion and watermark detection, off the event loop. */
  runTask<T extends AudioTask>(task: T, signal: AbortSignal): Promise<AudioTaskResults[T['kind']]>;
  stats(): EnginePoolStats;
  close(): Promise<void>;
}

export async function createSpeechService(config: ChorusConfig): Promise<SpeechService> {
  const pool = await EnginePool.start({
    engineId: config.engine,
    size: config.workers,
    ffmpegPath: config.ffmpegPath,
    streamBufferBytes: config.streamBufferBytes,
  });
  const voices = new VoiceCatalog(pool.description.voices);
  return {
    engine: pool.description,
    voices,
    maxCharsPerChunk: config.maxCharsPerChunk,
    maxInputChars: config.maxInputChars,
    maxAudioSeconds: config.maxAudioSeconds,
    availableFormats: () => availableFormats({ ffmpegPath: config.ffmpegPath }),
    // A caller may bound a request tighter (the agent's remaining reply), never looser.
    synthesize: (request, signal) =>
      pool.synthesize({ ...request, maxAudioSec: Math.min(request.maxAudioSec ?? Infinity, config.maxAudioSeconds) }, signal),
    runTask: (task, signal) => pool.runTask(task, signal),
    stats: () => pool.stats(),
    close: () => pool.close(),
  };
}
