import type { EngineDescription } from '../engine/engine-description.js';
import type { EnginePart, EngineSynthesisRequest } from '../engine/speech-engine.js';
import type { ChorusErrorCode } from '../errors.js';
import type { SpeechPart, SpeechRequest } from '../pipeline/speech-request.js';
import type { AudioTask, AudioTaskResult } from './audio-tasks.js';

export type { EngineDescription };

export interface WorkerSettings {
  /** Worker-placement engines each thread makes (eSpeak always among them: the aligner and voice matching use it). */
  readonly workerEngines: readonly string[];
  /** Main-thread engines the pipeline reaches through the thread's message port. */
  readonly mainEngines: readonly EngineDescription[];
  readonly ffmpegPath: string;
}

export type ToWorker =
  /** `creditBytes`: audio the worker may send ahead of the consumer before it waits for `credit`. */
  | { readonly type: 'synthesize'; readonly jobId: number; readonly request: SpeechRequest; readonly creditBytes: number }
  /** The consumer took `bytes` of the job's audio: the worker may send that much more. */
  | { readonly type: 'credit'; readonly jobId: number; readonly bytes: number }
  | { readonly type: 'task'; readonly jobId: number; readonly task: AudioTask }
  | { readonly type: 'abort'; readonly jobId: number }
  /** A part a main-thread engine made for the worker's call `callId`; audio samples are transferred. */
  | { readonly type: 'engine-part'; readonly callId: number; readonly part: EnginePart }
  /** The main-thread engine finished the call (or failed with `error`). */
  | { readonly type: 'engine-end'; readonly callId: number; readonly error?: SerializedError };

export interface SerializedError {
  readonly code: ChorusErrorCode;
  readonly message: string;
  readonly param?: string;
  readonly retryable: boolean;
}

export type FromWorker =
  | { readonly type: 'ready'; readonly engines: readonly EngineDescription[] }
  | { readonly type: 'part'; readonly jobId: number; readonly part: SpeechPart }
  | { readonly type: 'done'; readonly jobId: number; readonly aborted: boolean }
  | { readonly type: 'task-result'; readonly jobId: number; readonly result: AudioTaskResult }
  | { readonly type: 'error'; readonly jobId: number; readonly error: SerializedError }
  /** The pipeline asks a main-thread engine to synthesize; parts come back as `engine-part`. */
  | { readonly type: 'engine-call'; readonly callId: number; readonly engineId: string; readonly request: EngineSynthesisRequest }
  /** The pipeline took `bytes` of the call's samples: the main thread may send that much more. */
  | { readonly type: 'engine-credit'; readonly callId: number; readonly bytes: number }
  | { readonly type: 'engine-abort'; readonly callId: number };
