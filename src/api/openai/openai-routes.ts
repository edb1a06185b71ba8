import { Hono, type Context } from 'hono';
import type { VoiceLibrary, ResolvedVoice } from '../../voices/voice-library.js';
import { speechRequestFor, VOICE_MATCHING_NOTE, voiceMethod } from '../../voices/voice-library.js';
import { engineLanguage } from '../../operations/speech-options.js';
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
  MAX_INPUT_CHARS,
  modelAliases,
  speechRequestSchema,
  type ExtendedSpeechRequestBody,
} from './speech-schema.js';
import type { EngineDescription } from '../../engine/engine-description.js';
import { z } from 'zod';
import { AUDIO_FORMATS, getFormatInfo } from '../../audio/encoders/index.js';
import { errorResponses, jsonBody, pathParams, schemaRef, type RouteDoc } from '../openapi/route-doc.js';

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
        ...voices.allBuiltins().map(({ engine, voice, name }) => ({
          // Bare on the default engine, `<engine>:<voice>` on others: what a request sends as `voice`.
          voice_id: name,
          name: voice.name,
          description: voice.description,
          gender: voice.gender,
          language: voice.language,
          engine: engine.id,
          type: 'built-in',
          ...(voice.aliases === undefined || voice.aliases.length === 0 ? {} : { aliases: voice.aliases }),
        })),
        ...own.map((voice) => ({
          voice_id: voice.voiceId,
          name: voice.name,
          description: voice.description,
          gender: voice.gender ?? null,
          language: null,
          engine: voice.engine.split('@')[0],
          type: voice.type,
          duration: voice.durationSec,
          transcript: voice.transcript ?? null,
          created_at: new Date(voice.createdAt).toISOString(),
          method: voice.method ?? voice.match.method,
          base_voice: voice.match.baseVoice,
        })),
      ],
      languages: speech.engine.capabilities.languages.map((language) => language.code),
      ...(own.some((voice) => voice.method !== 'zero_shot') ? { note: VOICE_MATCHING_NOTE } : {}),
    });
  });

  app.route('/references', createReferenceRoutes(voices, ownerOf));

  app.get('/models', (c) => c.json({ object: 'list', data: listModels(speech) }));
  app.get('/models/:id', (c) => {
    const id = c.req.param('id');
    const model = listModels(speech).find((entry) => entry.id === id);
    if (model === undefined) throw unknownModel(speech, id, 'model');
    return c.json(model);
  });
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
  const engine = engineForModel(speech, body.model, 'model', typeof body.voice === 'string' ? body.voice : undefined);
  const voice = await resolveVoice(speech, voices, owner, body, engine.id);
  const format = body.response_format ?? 'mp3';
  const formats = await speech.availableFormats();
  if (!formats.includes(format)) {
    throw new ChorusError({
      code: 'unsupported_format',
      param: 'response_format',
      message: `'${format}' needs ffmpeg, which this server does not have. Available formats: ${formats.join(', ')}.`,
    });
  }
  const language = body.language === undefined ? undefined : engineLanguage(speech, voice.engine, body.language);

  const warnings: EngineWarning[] = [];
  if (body.instructions !== undefined && speech.engines.engine(voice.engine, 'model').capabilities.options?.['instructions'] === undefined) {
    warnings.push({ setting: 'instructions', message: `the ${voice.engine} engine has no style control; instructions were ignored` });
  }
  // Sampling knobs reach engines that declare them; the pipeline reports them ignored elsewhere.
  const engineOptions: Record<string, unknown> = { ...body.options };
  for (const knob of SAMPLING_KNOBS) if (body[knob] !== undefined) engineOptions[knob] = body[knob];
  if (body.instructions !== undefined && warnings.length === 0) engineOptions['instructions'] = body.instructions;
  const sse = body.stream_format === 'sse';
  const streaming = body.stream === true || sse;
  const request = speechRequestFor(voice, {
    text: body.input,
    ...(Object.keys(engineOptions).length === 0 ? {} : { engineOptions }),
    watermark: body.no_watermark !== true,
    speed: body.speed ?? 1,
    pitchSemitones: body.pitch_shift ?? 0,
    sampleRate: body.sample_rate ?? DEFAULT_SAMPLE_RATE,
    format,
    normalization: body.normalization ?? 'none',
    maxChunkChars: body.chunk_length ?? speech.maxCharsPerChunk,
    delivery: streaming ? 'stream' : 'buffered',
    // Only /extended with `timestamps` returns them.
    ...(extended && body.timestamps === true ? {} : { wordTimings: false }),
    ...(language === undefined ? {} : { language }),
    ...(body.multi_sentence_gap === undefined ? {} : { sentenceGapSec: body.multi_sentence_gap }),
  });

  // A whole file (not a stream) may come from the result cache: same request, same bytes and timings.
  if (!streaming) return cachedResponse({ speech, cache, cacheUse, owner, voice, request, warnings, format, requestSignal, timestamps: extended && body.timestamps === true });

  // One controller per request: the client hanging up or the stream being cancelled aborts it.
  const controller = new AbortController();
  const abort = (): void => controller.abort();
  requestSignal.addEventListener('abort', abort, { once: true });
  const { start, rest } = await openSpeechStream(speech.synthesize(request, controller.signal));
  const headers = audioHeaders({ ...start, warnings: [...warnings, ...start.warnings] }, voice.engine);
  voiceHeaders(headers, voice);

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
    voice.engine,
  );
  voiceHeaders(headers, voice);
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
async function resolveVoice(speech: SpeechService, voices: VoiceLibrary, owner: string, body: ExtendedSpeechRequestBody, engine: string): Promise<ResolvedVoice> {
  if (body.voice === undefined) return voices.defaultVoice(owner, body.speaker_gender, engine);
  try {
    return typeof body.voice === 'string'
      ? await voices.resolve(owner, { name: body.voice }, 'voice', engine)
      : await voices.resolve(owner, { id: body.voice.id }, 'voice', engine);
  } catch (error) {
    if (!ChorusError.isInstance(error) || error.code !== 'voice_not_found') throw error;
    const own = await voices.listUserVoices(owner);
    const name = typeof body.voice === 'string' ? body.voice : body.voice.id;
    throw new ChorusError({
      code: 'voice_not_found',
      param: 'voice',
      message:
        `Voice '${name}' not found on the ${engine} engine. Its voices: ${speech.engines.voices(engine).voices.map((v) => v.id).join(', ')}` +
        (engine === 'espeak' ? '; OpenAI names are accepted too' : '') +
        (own.length > 0 ? `; your voices: ${own.map((v) => `${v.name} (${v.voiceId})`).join(', ')}.` : '; add your own with POST /v1/references/add.'),
    });
  }
}

/** Says which voice spoke and how: `zero_shot` cloning, `voice_matching` on eSpeak, or a built-in voice. */
function voiceHeaders(headers: Record<string, string>, voice: ResolvedVoice): void {
  headers['x-chorus-voice'] = voice.name;
  const method = voiceMethod(voice);
  if (method === 'voice_matching') headers['x-chorus-voice-method'] = `voice_matching; base=${voice.match!.baseVoice}`;
  else if (method === 'zero_shot') headers['x-chorus-voice-method'] = `zero_shot; engine=${voice.engine}`;
}

/** OpenAI's model names and Fish Speech's: each speaks with the default engine. */
const DEFAULT_ENGINE_MODELS = ['tts-1', 'tts-1-hd', 'gpt-4o-mini-tts', 's1-mini'] as const;

/**
 * The engine a `model` names: an engine id that engine; OpenAI's and Fish's names the default engine,
 * unless the voice is `<engine>:<voice>` (unmodified OpenAI clients send `tts-1` whatever the voice).
 */
function engineForModel(speech: SpeechService, model: string | undefined, param: string, voice?: string): EngineDescription {
  const id = (model ?? 's1-mini').trim();
  const alias = modelAliases(id);
  if (alias === 'default') {
    const prefix = voice === undefined || voice.indexOf(':') <= 0 ? undefined : voice.slice(0, voice.indexOf(':')).trim().toLowerCase();
    return prefix !== undefined && speech.engines.has(prefix) ? speech.engines.engine(prefix, 'voice') : speech.engine;
  }
  const engineId = alias ?? id.toLowerCase();
  if (speech.engines.has(engineId)) return speech.engines.engine(engineId, param);
  throw unknownModel(speech, id, param);
}

function unknownModel(speech: SpeechService, id: string, param: string): ChorusError {
  return new ChorusError({
    code: 'model_not_found',
    param,
    message: `Model '${id}' is not served here. Available models: ${listModels(speech).map((model) => model.id).join(', ')}.`,
  });
}

/** OpenAI's model list: every loaded engine with what it can do, and the names that stand for the default engine. */
function listModels(speech: SpeechService) {
  const describe = (engine: EngineDescription, id: string) => ({
    id,
    object: 'model' as const,
    created: 0,
    owned_by: 'chorus',
    engine: engine.id,
    version: engine.version,
    default: engine.id === speech.engine.id,
    ready: true,
    placement: engine.placement,
    voices: engine.voices.length,
    languages: engine.capabilities.languages.map((language) => language.tag),
    capabilities: {
      sample_rate: engine.capabilities.sampleRate,
      streaming: engine.capabilities.streaming,
      word_timings: engine.capabilities.wordTimings ? 'engine' : 'aligned',
      cloning: engine.capabilities.cloning,
      deterministic: engine.capabilities.deterministic ?? false,
      ...(engine.capabilities.maxInputChars === undefined ? {} : { max_input_chars: engine.capabilities.maxInputChars }),
      options: engine.capabilities.options ?? {},
    },
  });
  return [
    ...speech.engines.engines.map((engine) => describe(engine, engine.id)),
    ...DEFAULT_ENGINE_MODELS.map((id) => ({ ...describe(speech.engine, id), alias_of: speech.engine.id })),
  ];
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

const OPENAI_ERRORS = errorResponses(schemaRef('OpenAIError'), {
  '400': 'A field is missing or out of range, or names an unknown model, voice or format; `param` names it.',
  '401': 'CHORUS_API_KEYS is set and the key is missing or wrong.',
  '413': 'The body is larger than CHORUS_MAX_REQUEST_BYTES.',
  '429': 'Rate limit (CHORUS_RATE_LIMIT_RPS) or too many failed keys; `Retry-After` says when to try again.',
  '500': 'The engine failed; `x-should-retry` says whether a retry can help.',
  '503': 'The engine or a store is unavailable; retry after `Retry-After`.',
});

const audioContent = Object.fromEntries(
  AUDIO_FORMATS.map((format) => [getFormatInfo(format).mimeType, { schema: { type: 'string', contentMediaType: getFormatInfo(format).mimeType, description: `\`response_format: "${format}"\`.` } }]),
);
const sseContent = {
  schema: {
    type: 'string',
    description:
      'With `stream_format: "sse"`: OpenAI\'s events, `data: {"type": "speech.audio.delta", "audio": <base64>}` per piece of audio, then `data: {"type": "speech.audio.done", "usage": {...}}`, or `data: {"type": "error", "error": {...}}` when it fails midway.',
  },
};
const speechHeaders = {
  'x-chorus-engine': 'The engine that spoke.',
  'x-chorus-voice': 'The voice that spoke.',
  'x-chorus-voice-method': '`zero_shot; engine=…` or `voice_matching; base=…` for a library voice.',
  'x-sample-rate': 'Sample rate of the audio, Hz.',
  'x-chorus-warnings': 'Settings the engine could not honour, `setting: message | …`.',
  'x-cache': 'HIT, MISS or BYPASS, when the result cache is on (whole files only).',
};
const cacheHeader = z.object({
  'cache-control': z.string().optional().describe('`no-cache` renders again and refreshes the result cache; `no-store` bypasses it.'),
});
const wordSchema = z.object({ word: z.string(), start: z.number(), end: z.number(), char_start: z.number().int(), char_end: z.number().int() });

const voiceListSchema = z.object({
  voices: z.array(
    z.object({
      voice_id: z.string().describe('What a request sends as `voice`: bare on the default engine, `<engine>:<voice>` on others; a library voice\'s id.'),
      name: z.string(),
      description: z.string().optional(),
      gender: z.string().nullable().optional(),
      language: z.string().nullable().optional(),
      engine: z.string(),
      type: z.string().describe('`built-in`, or how a library voice was made.'),
    }),
  ),
  languages: z.array(z.string()),
  note: z.string().optional(),
});
const modelSchema = z.object({
  id: z.string(),
  object: z.literal('model'),
  created: z.number(),
  owned_by: z.string(),
  engine: z.string(),
  version: z.string(),
  default: z.boolean(),
  ready: z.boolean(),
  placement: z.string(),
  voices: z.number().int(),
  languages: z.array(z.string()),
  capabilities: z.record(z.string(), z.unknown()).describe('sample_rate, streaming, word_timings, cloning, deterministic, max_input_chars, options (the engine\'s knobs).'),
  alias_of: z.string().optional().describe('For OpenAI\'s and Fish Speech\'s model names: the engine they stand for.'),
});

const speechExamples = {
  mp3: { summary: 'An MP3 file, as OpenAI clients ask for it', value: { model: 'tts-1', input: 'Hello from Chorus.', voice: 'alloy', response_format: 'mp3' } },
  sse: { summary: 'Streamed as server-sent events', value: { model: 'tts-1', input: 'Hello from Chorus.', voice: 'nova', response_format: 'wav', stream_format: 'sse' } },
};

/** The OpenAI-compatible routes as the OpenAPI document describes them (mounted under /v1). */
export const OPENAI_ROUTE_DOCS: readonly RouteDoc[] = [
  {
    method: 'post',
    path: '/v1/audio/speech',
    operationId: 'createSpeech',
    summary: 'Speak text (OpenAI)',
    description: "OpenAI's `POST /v1/audio/speech` and Chorus's controls. Unknown fields are ignored. `input` is at most 4096 characters (or CHORUS_MAX_INPUT_CHARS when lower).",
    tag: 'OpenAI',
    auth: 'bearer',
    requestHeaders: cacheHeader,
    body: jsonBody(speechRequestSchema, speechExamples),
    responses: {
      '200': { description: 'The audio, in the asked format; streamed as it is made with `stream` or `stream_format: "sse"`.', headers: speechHeaders, content: { ...audioContent, 'text/event-stream': sseContent } },
      ...OPENAI_ERRORS,
    },
  },
  {
    method: 'post',
    path: '/v1/audio/speech/extended',
    operationId: 'createSpeechExtended',
    summary: 'Speak text with Fish Speech\'s controls and word timings',
    description: 'The same as /v1/audio/speech with `model` and `voice` optional, sampling knobs (checked; reported in `x-chorus-warnings` where the engine has none) and `timestamps`.',
    tag: 'OpenAI',
    auth: 'bearer',
    requestHeaders: cacheHeader,
    body: jsonBody(extendedSpeechRequestSchema, {
      timestamps: { summary: 'A WAV with word timings, as JSON', value: { input: 'Hello from Chorus.', response_format: 'wav', timestamps: true } },
      female: { summary: 'The female default voice, slower', value: { input: 'Hello from Chorus.', speaker_gender: 'female', speed: 0.9, response_format: 'opus' } },
    }),
    responses: {
      '200': {
        description: 'The audio as /v1/audio/speech answers it; with `timestamps`, JSON (or, streamed, newline-delimited JSON) holding base64 audio and word timings.',
        headers: speechHeaders,
        content: {
          ...audioContent,
          'text/event-stream': sseContent,
          'application/json': {
            schema: z.object({
              audio: z.string().describe('Base64 of the audio file.'),
              format: z.string(),
              content_type: z.string(),
              sample_rate: z.number().int(),
              duration: z.number(),
              word_timings: z.array(wordSchema),
              warnings: z.array(z.object({ setting: z.string(), message: z.string() })),
            }),
          },
          'application/x-ndjson': {
            schema: {
              type: 'string',
              description:
                'With `timestamps` and `stream`: one JSON object a line, `{"type": "audio", "audio": <base64>}`, `{"type": "words", "words": [...]}`, then `{"type": "done", "duration"}` or `{"type": "error", "error": {...}}`.',
            },
          },
        },
      },
      ...OPENAI_ERRORS,
    },
  },
  {
    method: 'get',
    path: '/v1/voices',
    operationId: 'listVoices',
    summary: 'List the voices: every engine\'s built-in ones and the key\'s own',
    tag: 'Voices',
    auth: 'bearer',
    responses: { '200': { description: 'The voices.', content: jsonBody(voiceListSchema) }, ...OPENAI_ERRORS },
  },
  {
    method: 'get',
    path: '/v1/models',
    operationId: 'listModels',
    summary: 'List the models (engines, and the OpenAI and Fish Speech names of the default one)',
    tag: 'Models',
    auth: 'bearer',
    responses: { '200': { description: 'The models.', content: jsonBody(z.object({ object: z.literal('list'), data: z.array(modelSchema) })) }, ...OPENAI_ERRORS },
  },
  {
    method: 'get',
    path: '/v1/models/{id}',
    operationId: 'getModel',
    summary: 'One model',
    tag: 'Models',
    auth: 'bearer',
    pathParams: pathParams({ id: 'A model id from GET /v1/models, e.g. `tts-1` or `espeak`.' }),
    responses: { '200': { description: 'The model.', content: jsonBody(modelSchema) }, ...OPENAI_ERRORS },
  },
];
