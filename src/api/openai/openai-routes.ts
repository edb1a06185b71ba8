import { Hono, type Context } from 'hono';
import type { VoiceLibrary, ResolvedVoice } from '../../voices/voice-library.js';
import { VOICE_MATCHING_NOTE } from '../../voices/voice-library.js';
import { createReferenceRoutes } from './reference-routes.js';
import { cacheUseFrom, renderCached, speechCacheKey, type CacheUse } from '../../cache/cached-speech.js';
import type { ResultCache } from '../../cache/result-cache.js';
import { renderSpeech } from '../../pipeline/render-speech.js';
import type { EngineWarning } from '../../engine/speech-engine.js';
import { ChorusError } from '../../errors.js';
import type { SpeechPart, SpeechRequest } from '../../pipeline/speech-request.js';
import type { SpeechService } from '../../speech/speech-service.js';
import { audioHeaders, byteStream, cutConnection, openSpeechStream, type LateFailure } from '../audio-response.js';
import { checkSpeechText, parseJsonBody, validate } from '../../validation/validation.js';
import { toOpenAIError } from './openai-errors.js';
import { errorFields, logServerError, type Logger } from '../../util/logger.js';
import {
  extendedSpeechRequestSchema,
  isKnownModel,
  MAX_INPUT_CHARS,
  SPEECH_MODELS,
  speechRequestSchema,
  type ExtendedSpeechRequestBody,
} from './speech-schema.js';

const DEFAULT_SAMPLE_RATE = 24_000;
const SAMPLING_KNOBS = ['temperature', 'top_p', 'repetition_penalty', 'max_new_tokens', 'seed'] as const;

/** The OpenAI-compatible surface: /v1/audio/speech, /v1/audio/speech/extended, /v1/voices, /v1/models. */
export function createOpenAIRoutes(speech: SpeechService, voices: VoiceLibrary, ownerOf: (c: Context) => string, logger: Logger, cache?: ResultCache): Hono {
  const app = new Hono();
  app.onError((error, c) => {
    const { status, body, headers } = toOpenAIError(error);
    logServerError(logger, c.req, status, error);
    return c.json(body, status as 400, headers);
  });
  app.notFound((c) => c.json(toOpenAIError(new ChorusError({ code: 'not_found', message: `No route ${c.req.method} ${c.req.path}.` })).body, 404));
  /** A stream that fails after its 200 is logged like any failed request, then ended as its format allows. */
  const lateFailure = (c: Context): LateFailure<never> => ({
    report: (error) => {
      const { status } = toOpenAIError(error);
      if (status >= 500) logServerError(logger, c.req, status, error);
      else if (!ChorusError.isInstance(error) || error.code !== 'aborted') logger.warn('stream ended early', { method: c.req.method, path: c.req.path, status, ...errorFields(error) });
    },
    cut: () => cutConnection(c),
  });

  app.post('/audio/speech', async (c) => {
    const body = validate(speechRequestSchema, parseJsonBody(await c.req.text()));
    return speak({ speech, voices, cache }, ownerOf(c), body, c.req.raw.signal, false, cacheUseFrom(c.req.header('cache-control')), lateFailure(c));
  });

  app.post('/audio/speech/extended', async (c) => {
    const body = validate(extendedSpeechRequestSchema, parseJsonBody(await c.req.text()));
    return speak({ speech, voices, cache }, ownerOf(c), body, c.req.raw.signal, true, cacheUseFrom(c.req.header('cache-control')), lateFailure(c));
  });

  app.get('/voices', async (c) => {
    const own = await voices.listUserVoices(ownerOf(c));
    return c.json({
      voices: [
        ...speech.voices.voices.map((voice) => ({
          voice_id: voice.id,
          name: voice.name,
          description: voice.description,
          gender: voice.gender,
          language: voice.language,
          engine: speech.engine.id,
          type: 'built-in',
        })),
        ...own.map((voice) => ({
          voice_id: voice.voiceId,
          name: voice.name,
          description: voice.description,
          gender: voice.gender ?? null,
          language: null,
          engine: speech.engine.id,
          type: voice.type,
          duration: voice.durationSec,
          transcript: voice.transcript ?? null,
          created_at: new Date(voice.createdAt).toISOString(),
          method: voice.match.method,
          base_voice: voice.match.baseVoice,
        })),
      ],
      languages: speech.engine.capabilities.languages,
      ...(own.length > 0 ? { note: VOICE_MATCHING_NOTE } : {}),
    });
  });

  app.route('/references', createReferenceRoutes(voices, ownerOf));

  app.get('/models', (c) =>
    c.json({
      object: 'list',
      data: SPEECH_MODELS.map((id) => ({ id, object: 'model', created: 0, owned_by: 'chorus', engine: speech.engine.id })),
    }),
  );
  return app;
}

async function speak(
  { speech, voices, cache }: { speech: SpeechService; voices: VoiceLibrary; cache: ResultCache | undefined },
  owner: string,
  body: ExtendedSpeechRequestBody,
  requestSignal: AbortSignal,
  extended: boolean,
  cacheUse: CacheUse,
  late: LateFailure<never>,
): Promise<Response> {
  checkSpeechText('input', body.input, speech.maxInputChars, MAX_INPUT_CHARS);
  const model = body.model ?? 's1-mini';
  if (!isKnownModel(model)) {
    throw new ChorusError({
      code: 'model_not_found',
      param: 'model',
      message: `Model '${model}' is not served here. Available models: ${SPEECH_MODELS.join(', ')}.`,
    });
  }
  const voice = await resolveVoice(speech, voices, owner, body);
  const format = body.response_format ?? 'mp3';
  const formats = await speech.availableFormats();
  if (!formats.includes(format)) {
    throw new ChorusError({
      code: 'unsupported_format',
      param: 'response_format',
      message: `'${format}' needs ffmpeg, which this server does not have. Available formats: ${formats.join(', ')}.`,
    });
  }
  if (body.language !== undefined && !speech.engine.capabilities.languages.includes(body.language.toLowerCase())) {
    throw new ChorusError({
      code: 'invalid_request',
      param: 'language',
      message: `Unknown language '${body.language}'. Available: ${speech.engine.capabilities.languages.join(', ')}.`,
    });
  }

  const warnings: EngineWarning[] = [];
  if (body.instructions !== undefined) {
    warnings.push({ setting: 'instructions', message: `the ${speech.engine.id} engine has no style control; instructions were ignored` });
  }
  for (const knob of SAMPLING_KNOBS) {
    if (body[knob] !== undefined) warnings.push({ setting: knob, message: `not used by the ${speech.engine.id} engine (deterministic synthesis)` });
  }
  const sse = body.stream_format === 'sse';
  const streaming = body.stream === true || sse;
  const request: SpeechRequest = {
    text: body.input,
    voiceId: voice.engineVoiceId,
    ...(voice.match === undefined ? {} : { voiceMatch: { transform: voice.match.transform, rate: voice.match.rate } }),
    watermark: body.no_watermark !== true,
    speed: body.speed ?? 1,
    pitchSemitones: body.pitch_shift ?? 0,
    sampleRate: body.sample_rate ?? DEFAULT_SAMPLE_RATE,
    format,
    normalization: body.normalization ?? 'none',
    maxChunkChars: body.chunk_length ?? speech.maxCharsPerChunk,
    delivery: streaming ? 'stream' : 'buffered',
    ...(body.language === undefined ? {} : { language: body.language.toLowerCase() }),
    ...(body.multi_sentence_gap === undefined ? {} : { sentenceGapSec: body.multi_sentence_gap }),
  };

  // A whole file (not a stream) may come from the result cache: same request, same bytes and timings.
  if (!streaming) return cachedResponse({ speech, cache, cacheUse, owner, voice, request, warnings, format, requestSignal, timestamps: extended && body.timestamps === true });

  // One controller per request: the client hanging up or the stream being cancelled aborts it.
  const controller = new AbortController();
  const abort = (): void => controller.abort();
  requestSignal.addEventListener('abort', abort, { once: true });
  const { start, rest } = await openSpeechStream(speech.synthesize(request, controller.signal));
  const headers = audioHeaders({ ...start, warnings: [...warnings, ...start.warnings] }, speech.engine.id);
  headers['x-chorus-voice'] = voice.name;
  if (voice.match !== undefined) headers['x-chorus-voice-method'] = `voice_matching; base=${voice.match.baseVoice}`;

  if (extended && body.timestamps === true) return timestampsStream(start, rest, headers, abort, late);
  if (sse) {
    const encoder = new TextEncoder();
    // OpenAI's error object in the event's data: the SDK's stream reader raises it as an APIError.
    const stream = byteStream(rest, (part) => encoder.encode(renderSse(part, body.input.length)), abort, {
      ...late,
      render: (error) => encoder.encode(`data: ${JSON.stringify({ type: 'error', ...toOpenAIError(error).body })}\n\n`),
    });
    return new Response(stream, { headers: { ...headers, 'content-type': 'text/event-stream', 'cache-control': 'no-cache' } });
  }
  const stream = byteStream(rest, (part) => (part.type === 'audio' ? part.bytes : undefined), abort, late);
  return new Response(stream, { headers });
}

async function cachedResponse(options: {
  speech: SpeechService;
  cache: ResultCache | undefined;
  cacheUse: CacheUse;
  owner: string;
  voice: ResolvedVoice;
  request: SpeechRequest;
  warnings: readonly EngineWarning[];
  format: string;
  requestSignal: AbortSignal;
  timestamps: boolean;
}): Promise<Response> {
  const { speech, request, voice } = options;
  const key = speechCacheKey(request, speech, voice, options.owner);
  const { rendered, hit } = await renderCached(options.cache, key, () => renderSpeech(speech, request, options.requestSignal), options.requestSignal, options.cacheUse);
  const headers = audioHeaders(
    { type: 'start', format: request.format, mimeType: rendered.mimeType, sampleRate: rendered.sampleRate, decodedSampleRate: rendered.sampleRate, warnings: [...options.warnings, ...rendered.warnings] },
    speech.engine.id,
  );
  headers['x-chorus-voice'] = voice.name;
  if (voice.match !== undefined) headers['x-chorus-voice-method'] = `voice_matching; base=${voice.match.baseVoice}`;
  if (options.cache?.enabled === true) {
    headers['x-cache'] = options.cacheUse === 'bypass' ? 'BYPASS' : hit ? 'HIT' : 'MISS';
    headers['x-chorus-cache-key'] = key;
  }
  if (options.timestamps) {
    return new Response(
      JSON.stringify({
        audio: Buffer.from(rendered.audio).toString('base64'),
        format: request.format,
        content_type: rendered.mimeType,
        sample_rate: rendered.sampleRate,
        duration: rendered.durationSec,
        word_timings: rendered.words.map(publicWord),
        warnings: [...options.warnings, ...rendered.warnings],
      }),
      { headers: { ...headers, 'content-type': 'application/json', 'x-audio-content-type': rendered.mimeType } },
    );
  }
  return new Response(rendered.audio, {
    headers: { ...headers, 'content-length': String(rendered.audio.byteLength), 'content-disposition': `attachment; filename="speech.${options.format}"` },
  });
}

/** A built-in name or OpenAI alias, a library voice by name or id, or `{id}`; absent: the default of `speaker_gender`. */
async function resolveVoice(speech: SpeechService, voices: VoiceLibrary, owner: string, body: ExtendedSpeechRequestBody): Promise<ResolvedVoice> {
  if (body.voice === undefined) {
    const builtin = speech.voices.defaultFor(body.speaker_gender);
    return voices.resolve(owner, { name: builtin.id }, 'voice');
  }
  try {
    return typeof body.voice === 'string'
      ? await voices.resolve(owner, { name: body.voice }, 'voice')
      : await voices.resolve(owner, { id: body.voice.id }, 'voice');
  } catch (error) {
    if (!ChorusError.isInstance(error) || error.code !== 'voice_not_found') throw error;
    const own = await voices.listUserVoices(owner);
    const name = typeof body.voice === 'string' ? body.voice : body.voice.id;
    throw new ChorusError({
      code: 'voice_not_found',
      param: 'voice',
      message:
        `Voice '${name}' not found. Built-in voices: ${speech.voices.voices.map((v) => v.id).join(', ')}; OpenAI names are accepted too` +
        (own.length > 0 ? `; your voices: ${own.map((v) => `${v.name} (${v.voiceId})`).join(', ')}.` : '; add your own with POST /v1/references/add.'),
    });
  }
}

/**
 * OpenAI's SSE shape. `usage` counts input characters as input tokens and output audio in 10 ms
 * frames as output tokens: this engine has no tokens, and the SDK types require integers.
 */
function renderSse(part: SpeechPart, inputChars: number): string | undefined {
  if (part.type === 'audio') {
    return `data: ${JSON.stringify({ type: 'speech.audio.delta', audio: Buffer.from(part.bytes).toString('base64') })}\n\n`;
  }
  if (part.type === 'end') {
    const outputTokens = Math.round(part.durationSec * 100);
    return `data: ${JSON.stringify({
      type: 'speech.audio.done',
      usage: { input_tokens: inputChars, output_tokens: outputTokens, total_tokens: inputChars + outputTokens },
    })}\n\n`;
  }
  return undefined;
}

/** `timestamps` with `stream`: newline-delimited JSON lines as the audio and word timings are made. */
async function timestampsStream(
  start: Extract<SpeechPart, { type: 'start' }>,
  rest: AsyncIterator<SpeechPart>,
  headers: Record<string, string>,
  abort: () => void,
  late: LateFailure<never>,
): Promise<Response> {
  const encoder = new TextEncoder();
  const line = (value: unknown): Uint8Array => encoder.encode(`${JSON.stringify(value)}\n`);
  const stream = byteStream(
    rest,
    (part) => {
      if (part.type === 'audio') return line({ type: 'audio', audio: Buffer.from(part.bytes).toString('base64') });
      if (part.type === 'words') return line({ type: 'words', words: part.words.map(publicWord) });
      if (part.type === 'end') return line({ type: 'done', duration: part.durationSec });
      return undefined;
    },
    abort,
    { ...late, render: (error) => line({ type: 'error', ...toOpenAIError(error).body }) },
  );
  return new Response(stream, { headers: { ...headers, 'content-type': 'application/x-ndjson', 'x-audio-content-type': start.mimeType } });
}

function publicWord(word: { word: string; start: number; end: number; charStart: number; charEnd: number }) {
  const round = (value: number) => Math.round(value * 1000) / 1000;
  return { word: word.word, start: round(word.start), end: round(word.end), char_start: word.charStart, char_end: word.charEnd };
}
