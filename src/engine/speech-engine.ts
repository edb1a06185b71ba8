/**
 * The contract every speech engine implements. Dependency-free on purpose: an engine is a small
 * object that declares what it can do and turns text into mono float PCM plus word-timing events.
 * Everything else (chunking, speed, pitch, resampling, loudness, encoding) is the pipeline's job.
 */

export type Gender = 'male' | 'female' | 'neutral';

export interface EngineVoice {
  /** Stable id used in requests (`Aaron`, `default`). Case-insensitive lookup is the registry's job. */
  readonly id: string;
  readonly name: string;
  readonly gender: Gender;
  /** Language the voice speaks when the request names none (an eSpeak code such as `en-us`). */
  readonly language: string;
  readonly description: string;
  /**
   * Other names the voice answers to on this engine: OpenAI's (`alloy` for Kokoro's `af_alloy`) and
   * the named voices of the source documents, so requests written for them work on every engine.
   */
  readonly aliases?: readonly string[];
}

/** A language as requests name it (`tag`, BCP-47: `en-US`) and as the engine does (`code`: eSpeak's `en-us`). */
export interface EngineLanguage {
  readonly tag: string;
  readonly code: string;
}

export interface EngineCapabilities {
  /** Languages the engine can speak: a BCP-47 tag each, with the engine's own code for it. */
  readonly languages: readonly EngineLanguage[];
  /** The rate of the PCM the engine emits, Hz. */
  readonly sampleRate: number;
  /** How soon audio comes out: per sentence chunk, incrementally inside a chunk, or all at once. */
  readonly streaming: 'none' | 'sentence' | 'incremental';
  /** True when the engine reports word timings from its own synthesis (no aligner needed). */
  readonly wordTimings: boolean;
  /** `matching` approximates a reference voice with built-in voices; `neural` clones timbre. */
  readonly cloning: 'none' | 'matching' | 'neural';
  /**
   * Speaking-rate factors the engine applies itself (better than time-stretching afterwards);
   * the pipeline stretches whatever lies outside this range. Absent: no native speed control.
   */
  readonly nativeSpeedRange?: readonly [min: number, max: number];
  /** Longest text one `synthesize` call takes; the pipeline chunks below it. Absent: no limit of its own. */
  readonly maxInputChars?: number;
  /** True when the same request always makes the same audio (results may be cached and compared). */
  readonly deterministic?: boolean;
  /**
   * Engine-specific knobs a request may pass in `options` (Chatterbox's `exaggeration`, Pocket's
   * `temperature`). Engines without a knob report it ignored with a warning; they never fail on it.
   */
  readonly options?: Readonly<Record<string, EngineOptionSpec>>;
}

export type EngineOptionSpec =
  | { readonly type: 'number'; readonly min: number; readonly max: number; readonly default: number; readonly description: string }
  | { readonly type: 'integer'; readonly min: number; readonly max: number; readonly default: number; readonly description: string }
  | { readonly type: 'boolean'; readonly default: boolean; readonly description: string }
  | { readonly type: 'string'; readonly values?: readonly string[]; readonly default?: string; readonly description: string };

/** A speaker to imitate: mono float samples at their own rate, with what is said in them when known. */
export interface VoiceReference {
  readonly samples: Float32Array;
  readonly sampleRate: number;
  readonly transcript?: string;
  /** Stable identity of this reference (a library voice id, a digest), for engines that cache per speaker. */
  readonly key?: string;
}

/** What `prepareVoice` computed for a reference (a speaker embedding); opaque, structured-cloneable. */
export type PreparedVoice = unknown;

export interface EngineSynthesisRequest {
  readonly text: string;
  readonly voiceId: string;
  /** Overrides the voice's own language. */
  readonly language?: string;
  /** Speaking-rate factor for engines with `nativeControls.speed`; 1 = the voice's own rate. */
  readonly speed?: number;
  /**
   * The pipeline will refuse audio past this many seconds; an engine may stop making it there (so
   * memory stays bounded too). Absent: no bound.
   */
  readonly maxDurationSec?: number;
  /**
   * More of the same text follows in the next request (the pipeline's next chunk): end the audio as
   * the engine would mid-text, with the pause it makes after this text's last clause, so that where
   * the pipeline cut the text is not heard.
   */
  readonly continues?: boolean;
  /** Zero-shot cloning: speak as this reference (engines with `capabilities.cloning === 'neural'`). */
  readonly reference?: VoiceReference;
  /** `prepareVoice(reference)` of this engine, when the caller kept it: saves recomputing per request. */
  readonly prepared?: PreparedVoice;
  /** Values for the engine's declared `capabilities.options`, already validated against them. */
  readonly options?: Readonly<Record<string, unknown>>;
}

export type EngineWarning = { readonly setting: string; readonly message: string };

export type EnginePart =
  | { readonly type: 'audio'; readonly samples: Float32Array; readonly sampleRate: number }
  /**
   * A spoken word. Offsets are UTF-16 indices into `request.text`; times are ms from the start of
   * this request's audio. An engine may report one text word as several events (numbers).
   */
  | {
      readonly type: 'word';
      readonly textStart: number;
      readonly textEnd: number;
      readonly startMs: number;
      readonly endMs: number;
    }
  | { readonly type: 'warning'; readonly warning: EngineWarning };

export interface SpeechEngine {
  readonly id: string;
  /** Version of the model or synthesizer, part of cache keys. */
  readonly version: string;
  readonly capabilities: EngineCapabilities;
  listVoices(): readonly EngineVoice[];
  /**
   * Streams the audio of `request.text`. Stops promptly, without throwing, once `signal` aborts.
   * Throws ChorusError (`voice_not_found`, `invalid_request`, `engine_failed`) for bad requests.
   */
  synthesize(request: EngineSynthesisRequest, signal: AbortSignal): AsyncIterable<EnginePart>;
  /** Computes once what a reference costs per request (a speaker embedding), for engines that clone. */
  prepareVoice?(reference: VoiceReference, signal: AbortSignal): Promise<PreparedVoice>;
}
