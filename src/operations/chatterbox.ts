import { z } from 'zod';
import { checkSpeechText, numberInRange, validate } from '../validation/validation.js';
import { resultCacheKey, type CachedResult, type ResultCache } from '../cache/result-cache.js';
import type { SpeechService } from '../speech/speech-service.js';
import { normalizeText } from '../text/index.js';
import type { EndpointProfile } from './endpoint-profile.js';
import { renderSpeech } from '../pipeline/render-speech.js';
import { engineInput, languageFor } from './speech-options.js';
import { speechRequestFor, type ResolvedVoice, type VoiceLibrary } from '../voices/voice-library.js';

/**
 * The first Chatterbox worker (001): plain text in (up to CHORUS_MAX_INPUT_CHARS), base64 audio out.
 * Results are kept in the result cache (when one is given) under `cache_key`: a repeat request is
 * answered from it with `cache_hit: true` and the same bytes.
 */
const inputSchema = z.object({
  text: z.string().min(1),
  format: z.enum(['mp3', 'wav']).optional(),
  speed: numberInRange('speed', 0.5, 2).optional(),
  voice: z.string().min(1).optional(),
  language: z.string().min(1).optional(),
  seed: z.number().int().optional(),
  /** Chorus extension: the speech engine (`model` is its synonym). */
  engine: z.string().min(1).optional(),
  model: z.string().min(1).optional(),
});

type ChatterboxInput = z.infer<typeof inputSchema>;

export function createChatterboxProfile(options: { maxCharsPerChunk: number; resultCache?: ResultCache }): EndpointProfile {
  const parse = (input: unknown, speech: SpeechService): ChatterboxInput => {
    const parsed = validate(inputSchema, input);
    checkSpeechText('text', parsed.text, speech.maxInputChars);
    engineInput(speech, parsed);
    return parsed;
  };
  return {
    name: 'chatterbox',
    description: 'Chatterbox TTS worker: text to mp3 or wav as base64',
    input: { schema: inputSchema, examples: { wav: { summary: 'Text to a base64 WAV', value: { text: 'Hello from Chorus.', format: 'wav' } } } },
    async validate(input, { speech, voices, owner }) {
      const parsed = parse(input, speech);
      const voice = await resolveVoice(voices, owner, parsed, speech);
      languageOf(voice, parsed, speech);
      return parsed;
    },
    async run(input, context) {
      const started = performance.now();
      const { speech } = context;
      const parsed = parse(input, speech);
      const voice = await resolveVoice(context.voices, context.owner, parsed, speech);
      const language = languageOf(voice, parsed, speech);
      const format = parsed.format ?? 'mp3';
      const speed = parsed.speed ?? 1;
      // `seed` is part of the key: the same seed gives the same (cached) audio, as documented.
      // Built-in voices are shared by every key, so their results have no owner; a key's own voice
      // is scoped to the key, and its key covers the match so a re-made voice never hits old audio.
      const cacheKey = resultCacheKey(
        {
          text: normalizeText(parsed.text).text,
          format,
          speed,
          voice: voice.kind === 'builtin' ? voice.engineVoiceId : `${voice.voiceId}:${JSON.stringify(voice.match)}:${voice.reference?.key ?? ''}`,
          engine: voice.engine,
          language,
          seed: parsed.seed,
          watermark: true,
        },
        speech,
        voice.kind === 'builtin' ? {} : { owner: context.owner },
      );
      const compute = async (): Promise<CachedResult> => {
        const rendered = await renderSpeech(
          speech,
          speechRequestFor(voice, {
            text: parsed.text,
            textField: 'text',
            speed,
            pitchSemitones: 0,
            sampleRate: 24_000,
            format,
            normalization: 'none',
            maxChunkChars: options.maxCharsPerChunk,
            delivery: 'buffered',
            wordTimings: false,
            ...(language === undefined ? {} : { language }),
          } as const),
          context.signal,
          undefined,
          context.progress,
        );
        return {
          audio: rendered.audio,
          meta: { duration_ms: Math.round(rendered.durationSec * 1000), chunks_processed: rendered.chunkCount },
        };
      };
      const { result, hit } =
        options.resultCache === undefined
          ? { result: await compute(), hit: false }
          : await options.resultCache.getOrCompute(cacheKey, compute, context.signal);
      return {
        audio_base64: Buffer.from(result.audio).toString('base64'),
        mimetype: format === 'mp3' ? 'audio/mpeg' : 'audio/wav',
        duration_ms: Number(result.meta['duration_ms']),
        cache_hit: hit,
        cache_key: cacheKey,
        chunks_processed: Number(result.meta['chunks_processed']),
        generation_time_ms: Math.round(performance.now() - started),
      };
    },
  };
}

function resolveVoice(voices: Pick<VoiceLibrary, 'resolve'>, owner: string, parsed: ChatterboxInput, speech: SpeechService): Promise<ResolvedVoice> {
  const engine = engineInput(speech, parsed);
  return parsed.voice === undefined ? voices.resolve(owner, {}, 'voice', engine) : voices.resolve(owner, { name: parsed.voice }, 'voice', engine);
}

/** The language to ask the voice's engine for, checked against what that engine speaks. */
function languageOf(voice: ResolvedVoice, parsed: ChatterboxInput, speech: SpeechService): string | undefined {
  const engineVoice = speech.engines.voices(voice.engine).resolve(voice.engineVoiceId, 'voice');
  return languageFor(engineVoice, parsed.language, speech, 'language', voice.engine);
}
