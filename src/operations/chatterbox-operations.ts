import { z } from 'zod';
import { checkSpeechText, numberInRange, validate } from '../validation/validation.js';
import { wavHeader } from '../audio/encoders/wav-encoder.js';
import { concatBytes } from '../audio/pcm.js';
import type { VoiceProfile } from '../audio/analysis/voice-profile.js';
import { ChorusError } from '../errors.js';
import type { LoudnessNormalization, SpeechRequest, WordTiming } from '../pipeline/speech-request.js';
import { buildSubtitles, SUBTITLE_FORMATS } from '../subtitles/index.js';
import type { SpeechService } from '../speech/speech-service.js';
import {
  builtinVoiceId,
  CLONE_DURATION_SEC,
  speechRequestFor,
  VOICE_MATCHING_NOTE,
  voiceMethod,
  voiceMethodFields,
  type ResolvedVoice,
} from '../voices/voice-library.js';
import { engineInput, undeclaredOptions } from './speech-options.js';
import type { UserVoiceRecord } from '../voices/voice-record.js';
import { decodeBase64Audio, decodeBase64Field } from './base64-audio.js';
import type { EndpointProfile, OperationContext, ValidationContext } from './endpoint-profile.js';
import { renderSpeech } from '../pipeline/render-speech.js';
import { renderCached, speechCacheKey } from '../cache/cached-speech.js';
import type { ResultCache } from '../cache/result-cache.js';

/**
 * The Chatterbox operations worker (002): one endpoint, an `operation` field.
 *
 * - `tts` (`mode` basic | streaming | streaming_voice_cloning): text to a base64 WAV in a library
 *   voice (`voice_name` / `voice_id`) or one matched to `reference_audio`. The streaming modes also
 *   send each chunk of audio to /stream as it is made (see StreamElement).
 * - `voice_cloning`: a new library voice from 5 to 60 s of reference audio.
 * - `list_local_voices`: the 37 built-in voices plus the key's own, with gender statistics.
 * - `voice_conversion` / `voice_transfer`: a recording moved to a library voice or a target recording.
 * - `detect_watermark` (Chorus's own): whether audio carries Chorus's watermark.
 *
 * On the embedded engine, cloning is voice matching and conversion is a pitch/formant transform
 * (VOICE_MATCHING_NOTE); responses say so. Chatterbox's sampling controls (`exaggeration`,
 * `cfg_weight`, `temperature`) are validated and reported under `ignored_parameters`. Every
 * generated or converted file carries the inaudible watermark unless `no_watermark: true`.
 */

export const OPERATIONS = ['tts', 'list_local_voices', 'voice_cloning', 'voice_conversion', 'voice_transfer', 'detect_watermark'] as const;
type Operation = (typeof OPERATIONS)[number];
export const TTS_MODES = ['basic', 'streaming', 'streaming_voice_cloning'] as const;

/** `chunk_size` counts words (as the original does); the pipeline cuts by characters. */
export const CHARS_PER_WORD = 6;
const DEFAULT_CHUNK_WORDS = 50;
/** The document's limit of `tts` text; CHORUS_MAX_INPUT_CHARS applies when it is lower. */
const MAX_TTS_TEXT_CHARS = 5000;
const DEFAULT_SAMPLE_RATE = 24_000;
/** Largest PCM payload of one /stream element: base64 of it stays under RunPod's 1 MB per chunk. */
const MAX_STREAM_PIECE_BYTES = 700 * 1024;
/** Audio after a chunk's end that proves the next chunk began, seconds (shorter tails are the resampler's). */
const NEXT_CHUNK_EVIDENCE_SEC = 0.05;

const ttsSchema = z.object({
  operation: z.literal('tts'),
  mode: z.enum(TTS_MODES),
  text: z.string().min(1),
  sample_rate: numberInRange('sample_rate', 8000, 48000, { integer: true }).optional(),
  audio_normalization: z.enum(['peak', 'rms']).nullable().optional(),
  voice_name: z.string().min(1).optional(),
  voice_id: z.string().min(1).optional(),
  reference_audio: z.string().optional(),
  max_reference_duration_sec: numberInRange('max_reference_duration_sec', 1, 300).optional(),
  chunk_size: numberInRange('chunk_size', 1, 100, { integer: true }).optional(),
  exaggeration: numberInRange('exaggeration', 0, 1).optional(),
  cfg_weight: numberInRange('cfg_weight', 0, 1).optional(),
  temperature: numberInRange('temperature', 0.1, 2).optional(),
  print_metrics: z.boolean().optional(),
  no_watermark: z.boolean().optional(),
  /** Chorus extensions: the engine (`model` is its synonym), word timings, and a subtitle file built from them. */
  engine: z.string().min(1).optional(),
  model: z.string().min(1).optional(),
  return_timestamps: z.boolean().optional(),
  subtitle_format: z.enum(SUBTITLE_FORMATS).optional(),
  subtitle_karaoke: z.boolean().optional(),
});
type TtsInput = z.infer<typeof ttsSchema>;

const audioField = z.string().min(1);
const voiceCloningSchema = z.object({
  reference_audio: audioField,
  voice_name: z.string().min(1).max(100),
  voice_description: z.string().max(1000).optional(),
  save_to_library: z.boolean().optional(),
  no_watermark: z.boolean().optional(),
  /** The engine to clone with (`model` is its synonym); absent = a neural one when loaded, else voice matching. */
  engine: z.string().min(1).optional(),
  model: z.string().min(1).optional(),
});
const voiceConversionSchema = z.object({
  input_audio: audioField,
  voice_name: z.string().min(1).optional(),
  voice_id: z.string().min(1).optional(),
  target_speaker: audioField.optional(),
  no_watermark: z.boolean().optional(),
  /** Chorus extensions: what `input_audio` says, to time its words on the converted audio. */
  text: z.string().min(1).max(5000).optional(),
  return_timestamps: z.boolean().optional(),
});
const voiceTransferSchema = z.object({
  transfer_mode: z.enum(['embedding', 'audio']),
  input_audio: audioField,
  voice_name: z.string().min(1).optional(),
  voice_id: z.string().min(1).optional(),
  target_audio: audioField.optional(),
  no_watermark: z.boolean().optional(),
  /** Chorus extensions: what `input_audio` says, to time its words on the converted audio. */
  text: z.string().min(1).max(5000).optional(),
  return_timestamps: z.boolean().optional(),
});
const detectWatermarkSchema = z.object({ input_audio: audioField });

/**
 * Every operation's input, for the API document: the schemas `validate` checks each operation
 * with, told apart by `operation`. Audio fields are base64 of a WAV, MP3, FLAC or Ogg file.
 */
const operationInputSchema = z.discriminatedUnion('operation', [
  ttsSchema.meta({ title: 'tts' }),
  z.object({ operation: z.literal('list_local_voices') }).meta({ title: 'list_local_voices' }),
  voiceCloningSchema.extend({ operation: z.literal('voice_cloning') }).meta({ title: 'voice_cloning' }),
  voiceConversionSchema.extend({ operation: z.literal('voice_conversion') }).meta({ title: 'voice_conversion' }),
  voiceTransferSchema.extend({ operation: z.literal('voice_transfer') }).meta({ title: 'voice_transfer' }),
  detectWatermarkSchema.extend({ operation: z.literal('detect_watermark') }).meta({ title: 'detect_watermark' }),
]);

/** Longest recording `voice_conversion` / `voice_transfer` take (the document recommends up to 60 s). */
export const MAX_CONVERSION_INPUT_SEC = 120;
/** A target recording must hold enough voiced speech to measure pitch and envelope. */
const TARGET_AUDIO_SEC = { minSec: 2, maxSec: 60 } as const;
/** Longest stretch of `reference_audio` on `tts` that is analysed (`max_reference_duration_sec` default). */
const DEFAULT_MAX_REFERENCE_SEC = 30;
const CONVERSION_RATE = 24_000;
const SAMPLE_TEXT = (name: string) => `Hello! This is ${name}, a new voice in the library. How does it sound?`;

export { builtinVoiceId };

/** One element of /stream for the streaming modes (each is `{"output": StreamElement}` on the wire). */
export interface StreamElement {
  /** 0, 1, 2, … over the elements of this job. */
  readonly chunk_index: number;
  /** The text chunk this audio speaks (a long chunk's audio may be split over several elements). */
  readonly text_chunk_index: number;
  readonly text: string;
  /** A complete base64 WAV (16-bit mono); the final `audio` holds the same samples, in order. */
  readonly audio: string;
  readonly format: 'wav';
  readonly sample_rate: number;
  /** Where this piece starts in the complete audio, and how long it is, seconds. */
  readonly start_sec: number;
  readonly duration_sec: number;
}

type Voices = ValidationContext['voices'];

/** `voice_name` wins when both are sent (`voice_id` is documented as its alternative). */
function resolveNamed(voices: Voices, owner: string, name: string | undefined, id: string | undefined, engine?: string): Promise<ResolvedVoice> {
  if (name !== undefined) return voices.resolve(owner, { name }, 'voice_name', engine);
  if (id !== undefined) return voices.resolve(owner, { id }, 'voice_id', engine);
  return voices.resolve(owner, {}, 'voice_name', engine);
}

function readOperation(input: unknown): Operation {
  if (typeof input !== 'object' || input === null || Array.isArray(input)) {
    throw new ChorusError({ code: 'invalid_request', param: 'input', message: "'input' must be a JSON object." });
  }
  const operation = (input as Record<string, unknown>)['operation'];
  if (operation === undefined || operation === null || operation === '') {
    throw new ChorusError({
      code: 'invalid_request',
      param: 'operation',
      message: `Missing required parameter: 'operation' (one of ${OPERATIONS.join(', ')}).`,
      detail: 'missing_required_parameter',
    });
  }
  if (typeof operation !== 'string' || !(OPERATIONS as readonly string[]).includes(operation)) {
    throw new ChorusError({ code: 'invalid_request', param: 'operation', message: `Unknown operation: ${typeof operation === 'string' ? operation : JSON.stringify(operation)}` });
  }
  return operation as Operation;
}

/** The documented checks the schema cannot phrase well; then the schema; then the text itself. */
function parseTts(input: Record<string, unknown>, speech: SpeechService): TtsInput {
  if (input['mode'] === undefined || input['mode'] === null) {
    throw new ChorusError({
      code: 'invalid_request',
      param: 'mode',
      message: `Missing required parameter: 'mode' (one of ${TTS_MODES.join(', ')}).`,
      detail: 'missing_required_parameter',
    });
  }
  const normalization = input['audio_normalization'];
  if (normalization !== undefined && normalization !== null && normalization !== 'peak' && normalization !== 'rms') {
    throw new ChorusError({
      code: 'invalid_request',
      param: 'audio_normalization',
      message: `'audio_normalization' must be "peak", "rms" or null; got ${JSON.stringify(normalization)}.`,
    });
  }
  const parsed = validate(ttsSchema, input);
  for (const field of ['subtitle_format', 'subtitle_karaoke'] as const) {
    if (parsed[field] !== undefined && parsed.return_timestamps !== true) {
      throw new ChorusError({
        code: 'invalid_request',
        param: field,
        message: `'${field}' requires return_timestamps: set "return_timestamps": true to get word timings and subtitles.`,
      });
    }
  }
  checkSpeechText('text', parsed.text, speech.maxInputChars, MAX_TTS_TEXT_CHARS);
  engineInput(speech, parsed);
  return parsed;
}

function parseConversion(input: Record<string, unknown>, operation: 'voice_conversion' | 'voice_transfer') {
  const parsed = parseConversionFields(input, operation);
  if (parsed.return_timestamps === true && parsed.text === undefined) {
    throw new ChorusError({
      code: 'invalid_request',
      param: 'text',
      message: "'return_timestamps' on a conversion needs 'text': what input_audio says, so its words can be aligned to the converted audio.",
    });
  }
  return parsed;
}

function parseConversionFields(input: Record<string, unknown>, operation: 'voice_conversion' | 'voice_transfer') {
  if (operation === 'voice_conversion') {
    const parsed = validate(voiceConversionSchema, input);
    if (parsed.voice_name === undefined && parsed.voice_id === undefined && parsed.target_speaker === undefined) {
      throw new ChorusError({
        code: 'invalid_request',
        param: 'voice_name',
        message: "voice_conversion needs a target voice: 'voice_name', 'voice_id' or 'target_speaker'.",
      });
    }
    const byAudio = parsed.voice_name === undefined && parsed.voice_id === undefined;
    return { ...parsed, targetAudio: byAudio ? parsed.target_speaker : undefined, targetAudioParam: 'target_speaker' };
  }
  const parsed = validate(voiceTransferSchema, input);
  if (parsed.transfer_mode === 'embedding') {
    if (parsed.voice_name === undefined && parsed.voice_id === undefined) {
      throw new ChorusError({
        code: 'invalid_request',
        param: 'voice_name',
        message: "Missing required parameter: 'voice_name' (or 'voice_id') for transfer_mode 'embedding'.",
      });
    }
    return { ...parsed, targetAudio: undefined, targetAudioParam: 'target_audio' };
  }
  if (parsed.target_audio === undefined) {
    throw new ChorusError({ code: 'invalid_request', param: 'target_audio', message: "Missing required parameter: 'target_audio' for transfer_mode 'audio'." });
  }
  return { ...parsed, targetAudio: parsed.target_audio, targetAudioParam: 'target_audio' };
}

export function createChatterboxOperationsProfile(options: { maxCharsPerChunk: number; resultCache?: ResultCache }): EndpointProfile {
  return {
    name: 'chatterbox-v2',
    description:
      'Chatterbox operations worker: tts (basic and streaming), voice_cloning, list_local_voices, voice_conversion, voice_transfer, detect_watermark (cloning is voice matching on the embedded engine)',
    input: {
      schema: operationInputSchema,
      // The operations that take audio have no example: a sendable one is a base64 recording of seconds.
      examples: {
        tts: { summary: 'tts: text to a base64 WAV', value: { operation: 'tts', mode: 'basic', text: 'Hello from Chorus.' } },
        tts_streaming: { summary: 'tts, streamed to /stream chunk by chunk', value: { operation: 'tts', mode: 'streaming', text: 'Hello from Chorus. Each sentence arrives on its own.', chunk_size: 5 } },
        list_local_voices: { summary: 'list_local_voices', value: { operation: 'list_local_voices' } },
      },
    },
    // Each operation's fields only, plus `operation` itself: `run` reads the operation back from them.
    async validate(input, { speech, voices, owner }) {
      const operation = readOperation(input);
      const fields = input as Record<string, unknown>;
      switch (operation) {
        case 'tts': {
          const parsed = parseTts(fields, speech);
          if (parsed.reference_audio !== undefined) {
            await decodeBase64Audio(parsed.reference_audio, 'reference_audio', { minSec: 1, maxSec: 600 });
          } else {
            // Checked on the engine the job will speak with, as the run resolves it.
            await resolveNamed(voices, owner, parsed.voice_name, parsed.voice_id, engineInput(speech, parsed));
          }
          return parsed;
        }
        case 'list_local_voices':
          return { operation };
        case 'voice_cloning': {
          const parsed = validate(voiceCloningSchema, fields);
          if (parsed.save_to_library !== false) await voices.checkNewName(owner, parsed.voice_name, 'voice_name');
          await decodeBase64Audio(parsed.reference_audio, 'reference_audio', CLONE_DURATION_SEC);
          return { operation, ...parsed };
        }
        case 'voice_conversion':
        case 'voice_transfer': {
          const { targetAudio, targetAudioParam, ...parsed } = parseConversion(fields, operation);
          await decodeBase64Audio(parsed.input_audio, 'input_audio', { minSec: 0.5, maxSec: MAX_CONVERSION_INPUT_SEC });
          if (targetAudio !== undefined) await decodeBase64Audio(targetAudio, targetAudioParam, TARGET_AUDIO_SEC);
          else await resolveNamed(voices, owner, parsed.voice_name, parsed.voice_id);
          return { operation, ...parsed };
        }
        case 'detect_watermark': {
          const parsed = validate(detectWatermarkSchema, fields);
          await decodeBase64Audio(parsed.input_audio, 'input_audio', { minSec: 0.1, maxSec: 3600 });
          return { operation, ...parsed };
        }
      }
    },
    async run(input, context) {
      const operation = readOperation(input);
      const fields = input as Record<string, unknown>;
      switch (operation) {
        case 'tts':
          return runTts(parseTts(fields, context.speech), context, options.maxCharsPerChunk, options.resultCache);
        case 'list_local_voices':
          return listLocalVoices(context);
        case 'voice_cloning':
          return runVoiceCloning(validate(voiceCloningSchema, fields), context);
        case 'voice_conversion':
        case 'voice_transfer':
          return runConversion(operation, parseConversion(fields, operation), context);
        case 'detect_watermark': {
          const parsed = validate(detectWatermarkSchema, fields);
          const bytes = decodeBase64Field(parsed.input_audio, 'input_audio');
          const result = await context.speech.runTask({ kind: 'detect-watermark', bytes, param: 'input_audio' }, context.signal);
          return {
            watermark_detected: result.detected,
            score: round(result.score, 3),
            threshold: round(result.threshold, 3),
            analysed_sec: round(result.analysedSec, 3),
            duration: round(result.durationSec, 3),
            operation: 'detect_watermark',
          };
        }
      }
    },
  };
}

async function listLocalVoices(context: OperationContext) {
  const builtins = context.voices
    .allBuiltins()
    .filter(({ voice }) => voice.id !== 'default')
    .sort((a, b) => a.engine.id.localeCompare(b.engine.id) || a.voice.name.localeCompare(b.voice.name));
  const own = await context.voices.listUserVoices(context.owner);
  const local_voices = [
    ...builtins.map(({ engine, voice, voiceId }) => ({
      voice_id: voiceId,
      speaker_name: voice.name,
      gender: voice.gender,
      // A built-in voice has no training recording: no duration, no original file.
      duration: null as number | null,
      original_file: null as string | null,
      // The documented shape has no engine field: the type names it (`espeak_builtin`).
      type: `${engine.id}_builtin`,
    })),
    ...own.map((voice) => ({
      voice_id: voice.voiceId,
      speaker_name: voice.name,
      gender: voice.gender ?? 'unknown',
      duration: voice.durationSec,
      original_file: null as string | null,
      type: voice.type,
      description: voice.description,
      created_at: formatCreatedAt(voice.createdAt),
      method: voice.method ?? voice.match.method,
      engine: voice.engine.split('@')[0],
      base_voice: voice.match.baseVoice,
    })),
  ];
  const count = (gender: string) => local_voices.filter((voice) => voice.gender === gender).length;
  const unknown = count('unknown');
  return {
    local_voices,
    total_local_voices: local_voices.length,
    stats: {
      total_voices: local_voices.length,
      gender_distribution: { male: count('male'), female: count('female'), ...(unknown > 0 ? { unknown } : {}) },
    },
  };
}

async function runVoiceCloning(parsed: z.infer<typeof voiceCloningSchema>, context: OperationContext): Promise<Record<string, unknown>> {
  const save = parsed.save_to_library !== false;
  const audio = decodeBase64Field(parsed.reference_audio, 'reference_audio');
  const voice = {
    name: parsed.voice_name,
    description: parsed.voice_description ?? `Custom cloned voice: ${parsed.voice_name.trim()}`,
    type: 'user_cloned_voice' as const,
    audio,
    param: 'reference_audio',
    nameParam: 'voice_name',
    ...(engineOf(parsed, context) === undefined ? {} : { engine: engineOf(parsed, context)! }),
  };
  const record = save ? await context.voices.create(context.owner, voice, context.signal) : await context.voices.describeUnsaved(context.owner, voice, context.signal);
  const spoken = await context.voices.unsavedVoice(record, audio, context.signal);
  // The sample is spoken in the new voice, so the caller hears the clone before using it.
  const sample = await renderSpeech(
    context.speech,
    speechRequestFor(spoken, {
      text: SAMPLE_TEXT(record.name),
      watermark: parsed.no_watermark !== true,
      speed: 1,
      pitchSemitones: 0,
      sampleRate: DEFAULT_SAMPLE_RATE,
      format: 'wav',
      normalization: 'none',
      maxChunkChars: context.speech.maxCharsPerChunk,
      delivery: 'buffered',
    }),
    context.signal,
  );
  const zeroShot = voiceMethod(spoken) === 'zero_shot';
  const reference = save ? { voice_name: record.name } : { voice_name: record.name };
  return {
    success: true,
    voice_info: {
      voice_name: record.name,
      voice_id: save ? record.voiceId : null,
      description: record.description,
      duration: record.durationSec,
      sample_rate: record.sampleRate,
      created_at: formatCreatedAt(record.createdAt),
      type: record.type,
      gender: record.gender ?? null,
      method: voiceMethod(spoken),
      engine: spoken.engine,
      base_voice: record.match.baseVoice,
      analysis: voiceAnalysis(record),
    },
    sample_audio: Buffer.from(sample.audio).toString('base64'),
    sample_rate: DEFAULT_SAMPLE_RATE,
    saved_to_library: save,
    operation: 'voice_cloning',
    message: save
      ? `Voice '${record.name}' cloned successfully (${zeroShot ? `zero-shot cloning on the ${spoken.engine} engine` : 'voice matching on the embedded engine'})`
      : `Voice '${record.name}' analysed; not saved (save_to_library: false)`,
    ...(zeroShot ? {} : { note: VOICE_MATCHING_NOTE }),
    usage_instructions: save
      ? {
          tts_basic: { operation: 'tts', mode: 'basic', text: 'Your text here', ...reference },
          tts_streaming: { operation: 'tts', mode: 'streaming_voice_cloning', text: 'Your text here', ...reference },
          voice_conversion: { operation: 'voice_conversion', input_audio: 'base64_encoded_audio_data', voice_id: record.voiceId },
          openai_speech: { model: 'tts-1', input: 'Your text here', voice: record.name },
        }
      : {
          tts_basic: { operation: 'tts', mode: 'basic', text: 'Your text here', reference_audio: 'the same base64 reference_audio' },
        },
  };
}

function engineOf(parsed: { engine?: string | undefined; model?: string | undefined }, context: OperationContext): string | undefined {
  return engineInput(context.speech, parsed);
}

function voiceAnalysis(record: UserVoiceRecord) {
  const { profile, match } = record;
  return {
    median_pitch_hz: round(profile.medianPitchHz, 1),
    pitch_range_semitones: round(profile.pitchRangeSemitones, 2),
    syllables_per_sec: round(profile.syllablesPerSec, 2),
    loudness_dbfs: round(profile.loudnessDbfs, 1),
    voiced_fraction: round(profile.voicedFraction, 3),
    pitch_ratio_to_base: round(match.transform.pitchRatio, 3),
    formant_ratio_to_base: round(match.transform.formantRatio, 3),
    rate_to_base: match.rate,
  };
}

async function runConversion(
  operation: 'voice_conversion' | 'voice_transfer',
  parsed: ReturnType<typeof parseConversion>,
  context: OperationContext,
): Promise<Record<string, unknown>> {
  const started = performance.now();
  const { voices, speech, signal } = context;
  let target: { profile: VoiceProfile; name: string; voiceId: string | null; source: 'voice_library' | 'target_audio' };
  if (parsed.targetAudio !== undefined) {
    const bytes = decodeBase64Field(parsed.targetAudio, parsed.targetAudioParam);
    const analysis = await speech.runTask({ kind: 'analyze-voice', bytes, param: parsed.targetAudioParam, ...TARGET_AUDIO_SEC }, signal);
    target = { profile: analysis.profile, name: parsed.targetAudioParam, voiceId: null, source: 'target_audio' };
  } else {
    const voice = await resolveNamed(voices, context.owner, parsed.voice_name, parsed.voice_id);
    target = { profile: await voices.targetProfile(voice, signal), name: voice.name, voiceId: voice.voiceId, source: 'voice_library' };
  }
  const input = decodeBase64Field(parsed.input_audio, 'input_audio');
  const result = await speech.runTask(
    {
      kind: 'convert-voice',
      bytes: input,
      param: 'input_audio',
      maxSec: MAX_CONVERSION_INPUT_SEC,
      target: target.profile,
      watermark: parsed.no_watermark !== true,
      sampleRate: CONVERSION_RATE,
      ...(parsed.return_timestamps === true ? { transcript: parsed.text! } : {}),
    },
    signal,
  );
  const output: Record<string, unknown> = {
    audio: Buffer.from(result.wav).toString('base64'),
    sample_rate: result.sampleRate,
    duration: round(result.durationSec, 3),
    format: 'wav',
    model: 'chorus-dsp-pitch-formant',
    operation,
    target_voice: target.name,
    ...(target.voiceId === null ? {} : { target_voice_id: target.voiceId }),
    conversion: {
      method: 'pitch_formant_transform',
      source_median_pitch_hz: round(result.source.medianPitchHz, 1),
      target_median_pitch_hz: round(target.profile.medianPitchHz, 1),
      pitch_ratio: round(result.transform.pitchRatio, 3),
      range_ratio: round(result.transform.rangeRatio, 3),
      formant_ratio: round(result.transform.formantRatio, 3),
      watermarked: parsed.no_watermark !== true,
    },
    note:
      'Signal-processing conversion, not neural: timing and words are kept, pitch, pitch range and formant scale move to the target; the timbre stays largely the speaker\'s own.',
  };
  if (result.words !== undefined) {
    output['word_timings'] = result.words.map((w) => ({ word: w.word, start: round(w.start, 3), end: round(w.end, 3) }));
    output['word_timings_method'] = 'forced_alignment';
  }
  if (operation === 'voice_transfer') {
    output['transfer_info'] = {
      transfer_mode: parsed.targetAudio === undefined ? 'embedding' : 'audio',
      target_voice: target.name,
      source: target.source,
    };
    output['input_duration'] = round(result.inputDurationSec, 3);
    output['processing_time'] = `${round((performance.now() - started) / 1000, 2)} seconds`;
  } else {
    output['input_duration'] = round(result.inputDurationSec, 3);
  }
  return output;
}

/** Chatterbox's timestamp style: `2025-01-27 10:30:00` (UTC). */
function formatCreatedAt(ms: number): string {
  return new Date(ms).toISOString().slice(0, 19).replace('T', ' ');
}

async function runTts(parsed: TtsInput, context: OperationContext, maxCharsPerChunk: number, cache: ResultCache | undefined): Promise<Record<string, unknown>> {
  const started = performance.now();
  const { speech } = context;
  const engine = engineInput(speech, parsed);
  const voice =
    parsed.reference_audio === undefined
      ? await resolveNamed(context.voices, context.owner, parsed.voice_name, parsed.voice_id, engine)
      : await context.voices.referenceVoice(
          decodeBase64Field(parsed.reference_audio, 'reference_audio'),
          'reference_audio',
          { minSec: 1, maxSec: 600, maxAnalysedSec: parsed.max_reference_duration_sec ?? DEFAULT_MAX_REFERENCE_SEC },
          context.signal,
          engine === undefined ? {} : { engine },
        );
  const knobs = (['exaggeration', 'cfg_weight', 'temperature'] as const).filter((name) => parsed[name] !== undefined);
  const streaming = parsed.mode !== 'basic';
  const sampleRate = parsed.sample_rate ?? DEFAULT_SAMPLE_RATE;
  const normalization: LoudnessNormalization = parsed.audio_normalization ?? 'none';
  const chunkWords = parsed.chunk_size ?? DEFAULT_CHUNK_WORDS;
  const request = speechRequestFor(voice, {
    text: parsed.text,
    textField: 'text',
    // Chatterbox's own knobs reach engines that declare them; the others report them ignored.
    ...(knobs.length === 0 ? {} : { engineOptions: Object.fromEntries(knobs.map((name) => [name, parsed[name]])) }),
    watermark: parsed.no_watermark !== true,
    speed: 1,
    pitchSemitones: 0,
    sampleRate,
    format: streaming ? 'pcm' : 'wav',
    normalization,
    // chunk_size words in every mode: chunk joins change the audio, and basic must sound like streaming.
    maxChunkChars: Math.min(maxCharsPerChunk, chunkWords * CHARS_PER_WORD),
    delivery: streaming ? 'stream' : 'buffered',
    ...(parsed.return_timestamps === true ? {} : { wordTimings: false }),
  });

  let audio: Uint8Array;
  let durationSec: number;
  let chunkCount: number;
  let words: readonly WordTiming[];
  let cacheKey: string | undefined;
  let cacheHit = false;
  let streamed: { elements: number; firstChunkSec: number | undefined } | undefined;
  if (streaming) {
    const result = await streamTts(request, context);
    audio = result.wav;
    durationSec = result.durationSec;
    chunkCount = result.textChunks;
    words = result.words;
    streamed = { elements: result.elements, firstChunkSec: result.firstChunkSec };
  } else {
    // Basic mode answers with one whole file, which a repeated request gets from the result cache.
    cacheKey = speechCacheKey(request, speech, voice, context.owner);
    const { rendered: result, hit } = await renderCached(cache, cacheKey, () => renderSpeech(speech, request, context.signal, undefined, context.progress), context.signal);
    cacheHit = hit;
    audio = result.audio;
    durationSec = result.durationSec;
    chunkCount = result.chunkCount;
    words = result.words;
  }
  const generationSec = (performance.now() - started) / 1000;
  const ignored = undeclaredOptions(speech, voice.engine, knobs);
  const output: Record<string, unknown> = {
    audio: Buffer.from(audio).toString('base64'),
    sample_rate: sampleRate,
    duration: round(durationSec, 3),
    format: 'wav',
    operation: 'tts',
    mode: parsed.mode,
    voice: voice.name,
    voice_id: voice.voiceId,
    engine: voice.engine,
    ...voiceMethodFields(voice),
    chunks_processed: chunkCount,
  };
  if (streamed !== undefined) output['stream_chunks'] = streamed.elements;
  if (cacheKey !== undefined && cache?.enabled === true) {
    output['cache_hit'] = cacheHit;
    output['cache_key'] = cacheKey;
  }
  if (parsed.return_timestamps === true) {
    output['word_timings'] = words.map((w) => ({ word: w.word, start: round(w.start, 3), end: round(w.end, 3) }));
    if (parsed.subtitle_format !== undefined) {
      const subtitles = buildSubtitles(parsed.subtitle_format, words, { text: parsed.text, karaoke: parsed.subtitle_karaoke === true });
      output['subtitles'] = subtitles.text;
      output['subtitles_format'] = subtitles.extension;
    }
  }
  if (ignored.length > 0) output['ignored_parameters'] = ignored;
  // Documented default: on for the streaming modes; basic mode reports metrics when asked.
  if (parsed.print_metrics ?? streaming) {
    output['metrics'] = {
      generation_time_sec: round(generationSec, 3),
      audio_duration_sec: round(durationSec, 3),
      rtf: durationSec > 0 ? round(generationSec / durationSec, 4) : null,
      ...(streamed === undefined ? {} : { first_chunk_latency_sec: streamed.firstChunkSec === undefined ? null : round(streamed.firstChunkSec, 3) }),
      chunk_count: chunkCount,
      characters: parsed.text.length,
    };
  }
  return output;
}

/**
 * One synthesis in `stream` delivery (raw PCM). Audio is grouped by the engine's text chunks: the
 * pipeline ends each with a `chunk-end` part (a chunk may have no words of its own). A closed
 * chunk goes to /stream as soon as 50 ms of the next chunk's audio exist (or at the end, together
 * with the resampler's last samples), split into pieces under 1 MB.
 */
async function streamTts(request: SpeechRequest, context: OperationContext) {
  const started = performance.now();
  const pcm: Uint8Array[] = [];
  let current: Uint8Array[] = [];
  let currentText: { start: number; end: number } | undefined;
  let closed: { pieces: Uint8Array[]; text: { start: number; end: number } | undefined } | undefined;
  let sampleRate = request.sampleRate;
  let emittedBytes = 0;
  let elements = 0;
  let textChunks = 0;
  let chunkCount = 0;
  let firstChunkSec: number | undefined;
  const words: WordTiming[] = [];

  const send = async (pieces: Uint8Array[], text: { start: number; end: number } | undefined): Promise<void> => {
    const bytes = concatBytes(pieces);
    if (bytes.length === 0) return;
    const textChunk = textChunks++;
    const spoken = text === undefined ? '' : request.text.slice(text.start, text.end);
    const pieceBytes = MAX_STREAM_PIECE_BYTES - (MAX_STREAM_PIECE_BYTES % 2);
    for (let offset = 0; offset < bytes.length; offset += pieceBytes) {
      const piece = bytes.subarray(offset, Math.min(bytes.length, offset + pieceBytes));
      const element: StreamElement = {
        chunk_index: elements++,
        text_chunk_index: textChunk,
        text: spoken,
        audio: Buffer.from(concatBytes([wavHeader(sampleRate, piece.length), piece])).toString('base64'),
        format: 'wav',
        sample_rate: sampleRate,
        start_sec: round(emittedBytes / 2 / sampleRate, 4),
        duration_sec: round(piece.length / 2 / sampleRate, 4),
      };
      emittedBytes += piece.length;
      if (firstChunkSec === undefined) firstChunkSec = (performance.now() - started) / 1000;
      await context.stream(element);
    }
  };

  let ended = false;
  for await (const part of context.speech.synthesize(request, context.signal)) {
    if (part.type === 'start') sampleRate = part.sampleRate;
    else if (part.type === 'audio') {
      if (part.bytes.length === 0) continue;
      current.push(part.bytes);
      pcm.push(part.bytes);
      // The next chunk has really started (not just the resampler's last few samples): send the last one.
      if (closed !== undefined && byteLength(current) >= sampleRate * 2 * NEXT_CHUNK_EVIDENCE_SEC) {
        await send(closed.pieces, closed.text);
        closed = undefined;
      }
    } else if (part.type === 'words') {
      words.push(...part.words);
      const first = part.words[0];
      const last = part.words.at(-1);
      if (first !== undefined && last !== undefined) {
        currentText = { start: Math.min(currentText?.start ?? first.charStart, first.charStart), end: last.charEnd };
      }
    } else if (part.type === 'chunk-end') {
      if (current.length > 0) {
        closed = { pieces: closed === undefined ? current : [...closed.pieces, ...current], text: spanUnion(closed?.text, currentText) };
        current = [];
        currentText = undefined;
      }
    } else if (part.type === 'end') {
      chunkCount = part.chunkCount;
      ended = true;
    }
  }
  if (context.signal.aborted) throw new ChorusError({ code: 'aborted', message: 'The job was stopped.' });
  if (!ended) throw new ChorusError({ code: 'engine_failed', message: 'The engine ended without producing audio.' });
  const tail = closed === undefined ? { pieces: current, text: currentText } : { pieces: [...closed.pieces, ...current], text: spanUnion(closed.text, currentText) };
  await send(tail.pieces, tail.text);
  const data = concatBytes(pcm);
  return {
    wav: concatBytes([wavHeader(sampleRate, data.length), data]),
    durationSec: data.length / 2 / sampleRate,
    elements,
    textChunks: chunkCount,
    firstChunkSec,
    words,
  };
}

function byteLength(pieces: readonly Uint8Array[]): number {
  let total = 0;
  for (const piece of pieces) total += piece.length;
  return total;
}

function spanUnion(a: { start: number; end: number } | undefined, b: { start: number; end: number } | undefined) {
  if (a === undefined) return b;
  if (b === undefined) return a;
  return { start: Math.min(a.start, b.start), end: Math.max(a.end, b.end) };
}

function round(value: number, digits: number): number {
  const factor = 10 ** digits;
  return Math.round(value * factor) / factor;
}
