import type { S3Client } from '@aws-sdk/client-s3';
import { randomUUID } from 'node:crypto';
import { z } from 'zod';
import { checkSpeechText, numberInRange, validate } from '../validation/validation.js';
import { ChorusError } from '../errors.js';
import { fetchRemoteBytes } from '../security/fetch-remote-audio.js';
import { speechRequestFor, VOICE_MATCHING_NOTE, voiceMethod, type ResolvedVoice } from '../voices/voice-library.js';
import { engineInput, undeclaredOptions } from './speech-options.js';
import { buildSubtitles, SUBTITLE_FORMATS } from '../subtitles/index.js';
import type { EndpointProfile } from './endpoint-profile.js';
import { renderSpeech } from '../pipeline/render-speech.js';
import { renderCached, speechCacheKey } from '../cache/cached-speech.js';
import type { ResultCache } from '../cache/result-cache.js';
import type { SpeechRequest } from '../pipeline/speech-request.js';
import type { SpeechService } from '../speech/speech-service.js';

/** The Spark-TTS worker (000): text (and optional reference audio) in, a link to a 24 kHz WAV out. */
const inputSchema = z.object({
  text: z.string().min(1),
  prompt_text: z.string().optional(),
  prompt_speech_url: z.string().min(1).optional(),
  output_name: z.string().optional(),
  speaker_gender: z.enum(['male', 'female']).optional(),
  pitch_shift: numberInRange('pitch_shift', -12, 12).optional(),
  speed_shift: numberInRange('speed_shift', 0.5, 2).optional(),
  multi_sentence_gap: numberInRange('multi_sentence_gap', 0, 2).optional(),
  task_token: z.enum(['zero_shot', 'cross_lingual', 'continue']).optional(),
  temperature: numberInRange('temperature', 0.1, 1).optional(),
  top_p: numberInRange('top_p', 0.1, 1).optional(),
  max_length: numberInRange('max_length', 256, 8192, { integer: true }).optional(),
  enable_whisperx: z.boolean().optional(),
  enable_subtitles: z.boolean().optional(),
  /** Chorus extension: the subtitle file's format (the document's is ASS) and word-by-word karaoke timing. */
  subtitle_format: z.enum(SUBTITLE_FORMATS).optional(),
  subtitle_karaoke: z.boolean().optional(),
  /** Chorus extension: a library voice (built-in or the key's own) instead of a prompt URL. */
  voice_name: z.string().min(1).optional(),
  voice_id: z.string().min(1).optional(),
  no_watermark: z.boolean().optional(),
  /** Chorus extension: the speech engine (`model` is its synonym). */
  engine: z.string().min(1).optional(),
  model: z.string().min(1).optional(),
});

type SparkInput = z.infer<typeof inputSchema>;

const SAMPLE_RATE = 24_000;
const SAMPLING_KNOBS = ['task_token', 'temperature', 'top_p', 'max_length'] as const;

export interface SparkTtsOptions {
  readonly maxCharsPerChunk: number;
  /** Lifetime of the returned links, seconds. */
  readonly urlTtlSeconds: number;
  readonly allowPrivateUrls: boolean;
  readonly maxPromptAudioBytes: number;
  /** Whole renderings are kept here: a repeated request is not synthesised again. */
  readonly resultCache?: ResultCache;
  /** Reads `s3://` prompt URLs; undefined when S3 is not configured. Made on first use. */
  readonly s3Client?: () => Promise<S3Client | undefined>;
}

/** `output_name` as a key prefix: [A-Za-z0-9_-] only, at most 64 characters, "output" when nothing is left. */
export function sanitizeOutputName(name: string | undefined): string {
  const cleaned = (name ?? '').replace(/[^A-Za-z0-9_-]+/g, '_').replace(/^_+|_+$/g, '').slice(0, 64);
  return cleaned === '' ? 'output' : cleaned;
}

export function createSparkTtsProfile(options: SparkTtsOptions): EndpointProfile {
  const parse = (input: unknown, speech: SpeechService): SparkInput => {
    const parsed = validate(inputSchema, input);
    checkSpeechText('text', parsed.text, speech.maxInputChars);
    engineInput(speech, parsed);
    for (const field of ['subtitle_format', 'subtitle_karaoke'] as const) {
      if (parsed[field] !== undefined && parsed.enable_subtitles !== true) {
        throw new ChorusError({
          code: 'invalid_request',
          param: field,
          message: `'${field}' applies to subtitles: set "enable_subtitles": true (with "enable_whisperx": true) to get them.`,
        });
      }
    }
    if (parsed.enable_subtitles === true && parsed.enable_whisperx !== true) {
      throw new ChorusError({
        code: 'invalid_request',
        param: 'enable_subtitles',
        message: "'enable_subtitles' requires enable_whisperx: set \"enable_whisperx\": true to get subtitles.",
      });
    }
    if (parsed.prompt_speech_url !== undefined) checkUrlShape(parsed.prompt_speech_url, options.allowPrivateUrls);
    return parsed;
  };

  return {
    name: 'spark-tts',
    description: 'Spark-TTS worker: text to a 24 kHz WAV link, with word timings and ASS subtitles on request',
    input: {
      schema: inputSchema,
      examples: {
        speech: { summary: 'Text to a WAV link', value: { text: 'Hello from Chorus.', speaker_gender: 'female' } },
        subtitles: { summary: 'With word timings and SRT subtitles', value: { text: 'Hello from Chorus.', enable_whisperx: true, enable_subtitles: true, subtitle_format: 'srt' } },
      },
    },
    async validate(input, { speech, voices, owner }) {
      const parsed = parse(input, speech);
      if (parsed.prompt_speech_url !== undefined && (parsed.voice_name !== undefined || parsed.voice_id !== undefined)) {
        throw new ChorusError({
          code: 'invalid_request',
          param: 'voice_name',
          message: "Send either 'prompt_speech_url' (a reference recording) or 'voice_name'/'voice_id' (a library voice), not both.",
        });
      }
      const engine = engineInput(speech, parsed);
      if (parsed.voice_name !== undefined) await voices.resolve(owner, { name: parsed.voice_name }, 'voice_name', engine);
      else if (parsed.voice_id !== undefined) await voices.resolve(owner, { id: parsed.voice_id }, 'voice_id', engine);
      return parsed;
    },
    async run(input, context) {
      const { speech, storage, signal } = context;
      const parsed = parse(input, speech);
      const warnings: string[] = [];
      const engine = engineInput(speech, parsed);
      const gender = parsed.speaker_gender ?? 'male';
      let voice: ResolvedVoice;
      if (parsed.prompt_speech_url !== undefined) {
        const s3Client = parsed.prompt_speech_url.startsWith('s3://') ? await options.s3Client?.() : undefined;
        const bytes = await fetchRemoteBytes(parsed.prompt_speech_url, {
          param: 'prompt_speech_url',
          allowPrivate: options.allowPrivateUrls,
          maxBytes: options.maxPromptAudioBytes,
          signal,
          ...(s3Client === undefined ? {} : { s3Client }),
        });
        const reference = await context.voices.referenceVoice(bytes, 'prompt_speech_url', { minSec: 1, maxSec: 600, maxAnalysedSec: 60 }, signal, {
          ...(engine === undefined ? {} : { engine }),
          ...(parsed.prompt_text === undefined ? {} : { transcript: parsed.prompt_text }),
        });
        voice = reference;
        const { analysis } = reference;
        const zeroShot = voiceMethod(voice) === 'zero_shot';
        warnings.push(
          `prompt_speech_url: reference ${analysis.format.toUpperCase()}, ${analysis.durationSec.toFixed(2)} s, ${analysis.sampleRate} Hz, ` +
            `median pitch ${analysis.profile.medianPitchHz.toFixed(0)} Hz; ` +
            (zeroShot ? `cloned zero-shot by the ${voice.engine} engine.` : `spoken by voice matching from the built-in voice ${voice.engineVoiceId}. ${VOICE_MATCHING_NOTE}`),
        );
        if (parsed.speaker_gender !== undefined) warnings.push('speaker_gender: not used, the reference audio decides the voice.');
        if (parsed.prompt_text !== undefined && !zeroShot) warnings.push('prompt_text: not needed by voice matching (it analyses the sound, not the words).');
      } else {
        if (parsed.prompt_text !== undefined) warnings.push('prompt_text: ignored without prompt_speech_url.');
        voice =
          parsed.voice_name !== undefined
            ? await context.voices.resolve(context.owner, { name: parsed.voice_name }, 'voice_name', engine)
            : parsed.voice_id !== undefined
              ? await context.voices.resolve(context.owner, { id: parsed.voice_id }, 'voice_id', engine)
              : await context.voices.defaultVoice(context.owner, gender, engine);
        if (voiceMethod(voice) === 'voice_matching') warnings.push(`voice: ${VOICE_MATCHING_NOTE} Base voice: ${voice.engineVoiceId}.`);
      }
      const sent = SAMPLING_KNOBS.filter((knob) => parsed[knob] !== undefined);
      const ignored = undeclaredOptions(speech, voice.engine, sent);
      if (ignored.length > 0) {
        warnings.push(`${ignored.join(', ')}: accepted and checked, but not used by the embedded engine (${voice.engine} has no such setting).`);
      }

      const request = speechRequestFor(voice, {
        text: parsed.text,
        textField: 'text',
        // Sampling knobs reach engines that declare them; the pipeline drops the others quietly, reported above.
        ...(sent.length === ignored.length ? {} : { engineOptions: Object.fromEntries(sent.filter((knob) => !ignored.includes(knob)).map((knob) => [knob, parsed[knob]])) }),
        watermark: parsed.no_watermark !== true,
        speed: parsed.speed_shift ?? 1,
        pitchSemitones: parsed.pitch_shift ?? 0,
        sentenceGapSec: parsed.multi_sentence_gap ?? 0.3,
        sampleRate: SAMPLE_RATE,
        format: 'wav',
        normalization: 'none',
        maxChunkChars: options.maxCharsPerChunk,
        delivery: 'buffered',
        ...(parsed.enable_whisperx === true ? {} : { wordTimings: false }),
      } as const);
      const { rendered, hit } = await renderCached(
        options.resultCache,
        speechCacheKey(request, speech, voice, context.owner),
        () => renderSpeech(speech, request, signal, undefined, context.progress),
        signal,
      );
      for (const warning of rendered.warnings) warnings.push(`${warning.setting}: ${warning.message}`);

      const base = `${sanitizeOutputName(parsed.output_name)}_${randomUUID()}`;
      await storage.put(`${base}.wav`, rendered.audio, 'audio/wav');
      const output: Record<string, unknown> = {
        status: 'success',
        audio_url: await storage.signedUrl(`${base}.wav`, options.urlTtlSeconds),
        sample_rate: rendered.sampleRate,
        duration: roundMs(rendered.durationSec),
        cache_hit: hit,
      };
      if (parsed.enable_whisperx === true) {
        const words = rendered.words.map((w) => ({ word: w.word, start: roundMs(w.start), end: roundMs(w.end) }));
        output['word_timings'] = words;
        if (parsed.enable_subtitles === true) {
          const subtitles = buildSubtitles(parsed.subtitle_format ?? 'ass', rendered.words, { text: parsed.text, karaoke: parsed.subtitle_karaoke === true });
          const key = `subtitles/${base}.${subtitles.extension}`;
          await storage.put(key, new TextEncoder().encode(subtitles.text), subtitles.contentType);
          output['subtitles_url'] = await storage.signedUrl(key, options.urlTtlSeconds);
          output['subtitles_format'] = subtitles.extension;
        }
        warnings.push('enable_whisperx: word timings come from the synthesis itself, not from a WhisperX transcription.');
      }
      if (warnings.length > 0) output['warnings'] = warnings;
      return output;
    },
  };
}

function roundMs(seconds: number): number {
  return Math.round(seconds * 1000) / 1000;
}

/** Submission-time check of the URL's form; addresses are checked when the job fetches it. */
function checkUrlShape(url: string, allowPrivate: boolean): void {
  const fail = (message: string) => new ChorusError({ code: 'invalid_request', param: 'prompt_speech_url', message: `'prompt_speech_url' ${message}` });
  if (/^s3:\/\//i.test(url)) {
    if (!/^s3:\/\/[^/]+\/.+$/.test(url)) throw fail(`must look like s3://bucket/key, got ${JSON.stringify(url)}.`);
    return;
  }
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw fail(`must be an https:// or s3:// URL, got ${JSON.stringify(url.length > 80 ? `${url.slice(0, 80)}…` : url)}.`);
  }
  if (parsed.protocol === 'https:' || (parsed.protocol === 'http:' && allowPrivate)) return;
  throw fail(`must be an https:// or s3:// URL, got ${parsed.protocol}//${parsed.protocol === 'http:' ? ' (plain http is allowed only with CHORUS_ALLOW_PRIVATE_URLS=true)' : ''}.`);
}
