import type { EngineCapabilities, EngineVoice } from '../engine/speech-engine.js';
import type { ChorusErrorCode } from '../errors.js';
import type { SpeechPart, SpeechRequest } from '../pipeline/speech-request.js';
import type { AudioTask, AudioTaskResult } from './audio-tasks.js';

/** What the main thread knows about the engine the workers run, reported by each worker at start. */
export interface EngineDescription {
  readonly id: string;
  readonly version: string;
  readonly capabilities: EngineCapabilities;
  readonly voices: readonly EngineVoice[];
}

export interface WorkerSettings {
  readonly engineId: string;
  readonly ffmpegPath: string;
}

export type ToWorker =
  /** `creditBytes`: audio the worker may send ahead of the consumer before it waits for `credit`. */
  | { readonly type: 'synthesize'; readonly jobId: number; readonly request: SpeechRequest; readonly creditBytes: number }
  /** The consumer took `bytes` of the job's audio: the worker may send that much more. */
  | { readonly type: 'credit'; readonly jobId: number; readonly bytes: number }
  | { readonly type: 'task'; readonly jobId: number; readonly task: AudioTask }
  | { readonly type: 'abort'; readonly jobId: number };

export interface SerializedError {
  readonly code: ChorusErrorCode;
  readonly message: string;
  readonly param?: string;
  readonly retryable: boolean;
}

export type FromWorker =
  | { readonly type: 'ready'; readonly description: EngineDescription }
  | { readonly type: 'part'; readonly jobId: number; readonly part: SpeechPart }
  | { readonly type: 'done'; readonly jobId: number; readonly aborted: boolean }
  | { readonly type: 'task-result'; readonly jobId: number; readonly result: AudioTaskResult }
  | { readonly type: 'error'; readonly jobId: number; readonly error: SerializedError };
