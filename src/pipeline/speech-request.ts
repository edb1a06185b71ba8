import type { AudioFormat } from '../audio/encoders/audio-encoder.js';
import type { VoiceTransform } from '../audio/dsp/voice-transform.js';
import type { EngineWarning, PreparedVoice, VoiceReference } from '../engine/speech-engine.js';

export type LoudnessNormalization = 'none' | 'peak' | 'rms';

/**
 * Changes whenever the pipeline makes different results for the same request (2: chunks planned the
 * same for every delivery, chunk joins with the engine's own pauses, one timing per word), so results
 * an older Chorus cached are not served.
 */
export const PIPELINE_REVISION = 2;

/** Everything the pipeline needs to turn text into an encoded audio stream. Already validated. */
export interface SpeechRequest {
  /** The text exactly as the user sent it; word timings point into it. */
  readonly text: string;
  /** The engine that speaks it (`espeak`); the pipeline's context supplies that engine. */
  readonly engine: string;
  /** A voice id of that engine (`Aaron`, `default`). */
  readonly voiceId: string;
  /** Zero-shot cloning: the speaker to imitate, for engines with `capabilities.cloning === 'neural'`. */
  readonly reference?: VoiceReference;
  /** The engine's `prepareVoice(reference)`, computed once per library voice. */
  readonly prepared?: PreparedVoice;
  /** Engine-specific knobs (`exaggeration`, `temperature`), already checked against `capabilities.options`. */
  readonly engineOptions?: Readonly<Record<string, unknown>>;
  /**
   * For a library voice the engine cannot speak natively: each chunk the engine renders with
   * `voiceId` is moved toward the reference (pitch, range, formants) and spoken `rate` times faster.
   */
  readonly voiceMatch?: { readonly transform: VoiceTransform; readonly rate: number };
  /** Marks the audio with Chorus's inaudible watermark (audio/watermark); absent = true. */
  readonly watermark?: boolean;
  /** eSpeak language code; when absent the voice's own, or the one the text's script implies. */
  readonly language?: string;
  /** 0.25..4, 1 = the voice's natural rate. */
  readonly speed: number;
  /** -12..12 semitones, tempo unchanged. */
  readonly pitchSemitones: number;
  /** Requested output rate, 8000..48000; containers with fixed rate sets use the nearest. */
  readonly sampleRate: number;
  readonly format: AudioFormat;
  readonly bitrateKbps?: number;
  /** Seconds of silence between sentences; absent = the engine's own pauses. */
  readonly sentenceGapSec?: number;
  readonly normalization: LoudnessNormalization;
  /** Longest text handed to the engine at once. */
  readonly maxChunkChars: number;
  /**
   * `stream`: bytes leave as soon as each chunk is encoded, headers leave lengths open.
   * `buffered`: the whole file is produced first, with exact lengths and whole-file loudness.
   */
  readonly delivery: 'stream' | 'buffered';
  /**
   * Longest audio the request may make, seconds: past it the synthesis stops with `text_too_long`.
   * The speech service caps it at CHORUS_MAX_AUDIO_SECONDS; absent = that setting (no bound in-process).
   */
  readonly maxAudioSec?: number;
  /**
   * `false`: the caller has no use for word timings, so an engine that reports none is not
   * forced-aligned (the aligner speaks a reference with eSpeak and holds each chunk back until it
   * is whole). Absent = wanted. Engines that report timings themselves send them either way.
   */
  readonly wordTimings?: boolean;
  /** The request field the text came from (`input`, `text`), named in errors about it; absent = `input`. */
  readonly textField?: string;
}

export interface WordTiming {
  /** The word as it appears in the original text. */
  readonly word: string;
  /** Seconds from the start of the output audio. */
  readonly start: number;
  readonly end: number;
  /** UTF-16 offsets into the original text. */
  readonly charStart: number;
  readonly charEnd: number;
}

export type SpeechPart =
  | {
      readonly type: 'start';
      readonly format: AudioFormat;
      readonly mimeType: string;
      /** The rate the PCM was encoded at. */
      readonly sampleRate: number;
      /** The rate a decoder reports (differs for opus, always 48 kHz). */
      readonly decodedSampleRate: number;
      readonly warnings: readonly EngineWarning[];
    }
  | { readonly type: 'audio'; readonly bytes: Uint8Array }
  | { readonly type: 'words'; readonly words: readonly WordTiming[] }
  /**
   * Chunk `index` (of `chunkCount`) is complete: its audio and words have all been sent before this
   * part. Streams that deliver per chunk close one here, whatever words it had.
   */
  | { readonly type: 'chunk-end'; readonly index: number; readonly chunkCount: number; readonly endSec: number }
  | {
      readonly type: 'end';
      readonly durationSec: number;
      readonly chunkCount: number;
      readonly characterCount: number;
    };
