import type { ServerResponse } from 'node:http';
import { spokenPcm, startStub, wavFile, type StubRequest, type StubServer } from './stub-server.js';

/**
 * travisvn/chatterbox-tts-api as a stub, from its sources (`app/models/requests.py`, `responses.py`,
 * `api/endpoints/speech.py`, `voices.py`, `health.py`, `core/aliases.py`, `core/voice_library.py`,
 * `main.py`):
 * - `POST /audio/speech` (also `/v1/audio/speech`, `/tts`): JSON `TTSRequest`, checked as pydantic
 *   does (422 `{detail: [{type, loc, msg, input}]}`); `stream_format: "sse"` answers
 *   `text/event-stream` with `data: {json}\n\n` events `speech.audio.info`, one `speech.audio.delta`
 *   (base64 16-bit PCM at 24 kHz) per sentence, `speech.audio.done` with `usage`. Failures after
 *   the 200 close the connection (Starlette cannot send a status any more). A voice that is neither
 *   in the library nor an alias falls back to the configured sample, as the server does.
 *   `stream_format: "audio"` answers one WAV file.
 * - `GET /voices` (`/v1/voices`, `/voice-library`, `/voice_library`): `{voices: [VoiceLibraryItem], count}`;
 *   with `listRoute: 'audio-voices'`, the newer layout: the listing is `GET /audio/voices` and
 *   `GET /v1/voices` is 405.
 * - `POST /voices` (same aliases): multipart `voice_name`, `voice_file`, `language` (default `en`);
 *   201, 409 for a name it has, 400 for a bad file; errors `{error: {message, type}}` (main.py's handler).
 * - `GET /health` (`/v1/health`, `/status`): `HealthResponse`.
 * The server checks no key; with `apiKey` the stub answers 401 as a reverse proxy in front would.
 */
export const CHATTERBOX_API_RATE = 24_000;

export interface LibraryVoice {
  readonly name: string;
  readonly aliases?: readonly string[];
  readonly language?: string;
  /** The uploaded file, for voices uploaded to the stub. */
  readonly file?: Buffer;
  readonly filename?: string;
}

export interface ChatterboxApiControl {
  /** End the stream cleanly but without `speech.audio.done` (as a proxy that cut it would). */
  endWithoutDone: boolean;
  /** The model failed to load: `/health` says `initialization_state: "error"` with this. */
  initializationError: string | undefined;
  /** The voice directory cannot be written: uploads fail with the server's 500. */
  libraryReadOnly: boolean;
}

export interface ChatterboxApiStub extends StubServer {
  readonly control: ChatterboxApiControl;
  /** The voice library by name, uploads included. */
  readonly library: Map<string, LibraryVoice>;
  /** The library voice (or `default`) each speech request was spoken in, in order. */
  readonly spokenWith: string[];
}

const SPEECH_ROUTES = new Set(['/audio/speech', '/v1/audio/speech', '/tts']);
const VOICES_ROUTES = new Set(['/voices', '/v1/voices', '/voice-library', '/voice_library']);
const HEALTH_ROUTES = new Set(['/health', '/v1/health', '/status']);
const OPENAI_VOICES = new Set(['alloy', 'echo', 'fable', 'onyx', 'nova', 'shimmer']);
const MODELS = ['chatterbox-v1', 'chatterbox-v2', 'chatterbox-multilingual-v1', 'chatterbox-multilingual-v2', 'indextts-2', 'higgs-audio-v2', 'vibevoice-1.5b', 'vibevoice-7b', 'tts-1', 'tts-1-hd'];
const VOICE_FORMATS = ['.mp3', '.wav', '.flac', '.m4a', '.ogg'];
/** The multilingual model's languages (the server's default model is multilingual). */
const LANGUAGES = new Set(['ar', 'da', 'de', 'el', 'en', 'es', 'fi', 'fr', 'he', 'hi', 'it', 'ja', 'ko', 'ms', 'nl', 'no', 'pl', 'pt', 'ru', 'sv', 'sw', 'tr', 'zh']);

export async function startChatterboxApiStub(
  options: { apiKey?: string; pieceBytes?: number; listRoute?: 'voices' | 'audio-voices'; library?: readonly LibraryVoice[] } = {},
): Promise<ChatterboxApiStub> {
  const control: ChatterboxApiControl = { endWithoutDone: false, initializationError: undefined, libraryReadOnly: false };
  const library = new Map((options.library ?? []).map((voice) => [voice.name, voice]));
  const spokenWith: string[] = [];
  const listRoutes = options.listRoute === 'audio-voices' ? new Set(['/audio/voices']) : VOICES_ROUTES;

  const json = (response: ServerResponse, status: number, body: unknown): void => {
    response.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
  };
  const error = (response: ServerResponse, status: number, message: string, type: string): void => json(response, status, { error: { message, type } });

  const stub = await startStub(async (request, response) => {
    if (options.apiKey !== undefined && request.headers.authorization !== `Bearer ${options.apiKey}`) return error(response, 401, 'Unauthorized', 'http_error');
    const path = request.url.split('?')[0]!;
    if (request.method === 'GET' && HEALTH_ROUTES.has(path)) return json(response, 200, health(control));
    if (request.method === 'GET' && listRoutes.has(path)) {
      const voices = [...library.values()].map(libraryItem);
      return json(response, 200, { voices, count: voices.length });
    }
    if (request.method === 'POST' && VOICES_ROUTES.has(path)) return upload(request, response);
    if (request.method === 'POST' && SPEECH_ROUTES.has(path)) return speech(request, response);
    if (VOICES_ROUTES.has(path) || listRoutes.has(path)) return json(response, 405, { detail: 'Method Not Allowed' });
    return json(response, 404, { detail: 'Not Found' });
  });

  async function speech(request: StubRequest, response: ServerResponse): Promise<void> {
    let body: Record<string, unknown>;
    try {
      body = JSON.parse(request.body.toString('utf8')) as Record<string, unknown>;
    } catch {
      return json(response, 422, { detail: [{ type: 'json_invalid', loc: ['body', 0], msg: 'JSON decode error', input: {}, ctx: { error: 'Expecting value' } }] });
    }
    const problems = checkTtsRequest(body);
    if (problems.length > 0) return json(response, 422, { detail: problems });
    const input = (body['input'] as string).trim();
    const voice = typeof body['voice'] === 'string' ? body['voice'] : 'alloy';
    const resolved = library.get(voice) ?? [...library.values()].find((entry) => entry.aliases?.includes(voice));
    // Unknown names, OpenAI's included, fall back to the configured sample (with a warning in its log).
    spokenWith.push(resolved?.name ?? (OPENAI_VOICES.has(voice.toLowerCase()) ? 'default' : `default (unknown ${voice})`));
    const sentences = input.match(/[^.!?]+[.!?]*/g)?.map((sentence) => sentence.trim()).filter((sentence) => sentence !== '') ?? [input];
    if (body['stream_format'] !== 'sse') {
      const spoken = await Promise.all(sentences.map((sentence) => spokenPcm(sentence, CHATTERBOX_API_RATE)));
      const pcm = new Int16Array(spoken.reduce((total, part) => total + part.length, 0));
      spoken.reduce((offset, part) => (pcm.set(part, offset), offset + part.length), 0);
      response.writeHead(200, { 'content-type': 'audio/wav', 'content-disposition': 'attachment; filename=speech.wav' });
      response.end(wavFile(pcm, CHATTERBOX_API_RATE));
      return;
    }
    response.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache', connection: 'keep-alive', 'x-accel-buffering': 'no' });
    await send(response, { type: 'speech.audio.info', sample_rate: CHATTERBOX_API_RATE, channels: 1, bits_per_sample: 16 });
    for (const sentence of sentences) {
      if (response.destroyed) return;
      await send(response, { type: 'speech.audio.delta', audio: pcmBytes(await spokenPcm(sentence, CHATTERBOX_API_RATE)).toString('base64') });
    }
    if (!control.endWithoutDone) {
      const inputTokens = input.split(/\s+/).length;
      await send(response, { type: 'speech.audio.done', usage: { input_tokens: inputTokens, output_tokens: sentences.length * 50, total_tokens: inputTokens + sentences.length * 50 } });
    }
    response.end();
  }

  /** One event, whole or in `pieceBytes` pieces, each written on its own. */
  async function send(response: ServerResponse, event: Record<string, unknown>): Promise<void> {
    const bytes = Buffer.from(`data: ${JSON.stringify(event)}\n\n`);
    const size = options.pieceBytes ?? bytes.length;
    for (let offset = 0; offset < bytes.length && !response.destroyed; offset += size) {
      response.write(bytes.subarray(offset, offset + size));
      await new Promise((resolve) => setImmediate(resolve));
    }
  }

  async function upload(request: StubRequest, response: ServerResponse): Promise<void> {
    let form: FormData;
    try {
      form = await new Request(`http://stub${request.url}`, { method: 'POST', headers: { 'content-type': String(request.headers['content-type']) }, body: request.body }).formData();
    } catch {
      return json(response, 422, { detail: [{ type: 'missing', loc: ['body', 'voice_name'], msg: 'Field required', input: null }] });
    }
    const name = form.get('voice_name');
    const file = form.get('voice_file');
    const language = form.get('language') ?? 'en';
    const missing = [
      ...(typeof name === 'string' && name.length >= 1 && name.length <= 100 ? [] : [{ type: 'missing', loc: ['body', 'voice_name'], msg: 'Field required', input: null }]),
      ...(typeof file === 'object' && file !== null ? [] : [{ type: 'missing', loc: ['body', 'voice_file'], msg: 'Field required', input: null }]),
    ];
    if (missing.length > 0) return json(response, 422, { detail: missing });
    const voiceFile = file as File;
    const extension = voiceFile.name.includes('.') ? voiceFile.name.slice(voiceFile.name.lastIndexOf('.')).toLowerCase() : '';
    if (!VOICE_FORMATS.includes(extension)) return error(response, 400, `Unsupported audio format: ${extension}. Supported formats: ${VOICE_FORMATS.join(', ')}`, 'invalid_request_error');
    if (voiceFile.size > 10 * 1024 * 1024) return error(response, 400, 'File too large. Maximum size: 10MB', 'invalid_request_error');
    if (typeof language !== 'string' || !LANGUAGES.has(language)) return error(response, 400, `Unsupported language: ${String(language)}. Supported languages: ${[...LANGUAGES].join(', ')}`, 'invalid_request_error');
    const voiceName = (name as string).trim();
    if (/[/\\:*?"<>|]/.test(voiceName)) return error(response, 400, `Voice name contains invalid characters: ['/', '\\\\', ':', '*', '?', '"', '<', '>', '|']`, 'validation_error');
    if (library.has(voiceName)) return error(response, 409, `Voice '${voiceName}' already exists`, 'voice_exists_error');
    if (control.libraryReadOnly) return error(response, 500, `Failed to upload voice: [Errno 13] Permission denied: 'voices/${voiceName}${extension}'`, 'voice_library_error');
    const stored: LibraryVoice = { name: voiceName, language, file: Buffer.from(await voiceFile.arrayBuffer()), filename: voiceFile.name };
    library.set(voiceName, stored);
    json(response, 201, {
      message: 'Voice uploaded successfully',
      voice: { name: voiceName, filename: `${voiceName}${extension}`, file_size: stored.file!.length, upload_date: new Date().toISOString(), language },
    });
  }

  return Object.assign(stub, { control, library, spokenWith });
}

/** `TTSRequest`'s field checks, each failure as pydantic v2 reports it. */
function checkTtsRequest(body: Record<string, unknown>): Record<string, unknown>[] {
  const problems: Record<string, unknown>[] = [];
  const problem = (field: string, type: string, msg: string, ctx?: Record<string, unknown>): void => {
    problems.push({ type, loc: ['body', field], msg, input: body[field] ?? null, ...(ctx === undefined ? {} : { ctx }) });
  };
  const input = body['input'];
  if (input === undefined) problem('input', 'missing', 'Field required');
  else if (typeof input !== 'string') problem('input', 'string_type', 'Input should be a valid string');
  else if (input.length < 1) problem('input', 'string_too_short', 'String should have at least 1 character', { min_length: 1 });
  else if (input.length > 3000) problem('input', 'string_too_long', 'String should have at most 3000 characters', { max_length: 3000 });
  else if (input.trim() === '') problem('input', 'value_error', 'Value error, Input text cannot be empty');
  const ranges: [string, number, number][] = [['exaggeration', 0.25, 2], ['cfg_weight', 0, 1], ['temperature', 0.05, 5], ['streaming_chunk_size', 50, 500], ['streaming_buffer_size', 1, 10]];
  for (const [field, min, max] of ranges) {
    const value = body[field];
    if (value === undefined || value === null) continue;
    if (typeof value !== 'number') problem(field, 'float_parsing', 'Input should be a valid number, unable to parse string as a number');
    else if (value < min) problem(field, 'greater_than_equal', `Input should be greater than or equal to ${min}`, { ge: min });
    else if (value > max) problem(field, 'less_than_equal', `Input should be less than or equal to ${max}`, { le: max });
  }
  const choices: [string, readonly string[]][] = [['model', MODELS], ['stream_format', ['audio', 'sse']], ['streaming_strategy', ['sentence', 'paragraph', 'fixed', 'word']], ['streaming_quality', ['fast', 'balanced', 'high']]];
  for (const [field, allowed] of choices) {
    const value = body[field];
    if (value !== undefined && value !== null && !allowed.includes(value as string)) problem(field, 'value_error', `Value error, ${field} must be one of: ${allowed.join(', ')}`);
  }
  return problems;
}

function health(control: ChatterboxApiControl): Record<string, unknown> {
  return {
    status: 'ready',
    model_loaded: control.initializationError === undefined,
    device: 'cpu',
    config: { max_chunk_length: 280, max_total_length: 3000, voice_sample_path: './voice-sample.mp3', default_exaggeration: 0.5, default_cfg_weight: 0.5, default_temperature: 0.8 },
    model_type: null,
    model_capabilities: null,
    memory_info: { cpu_memory_mb: 812.5, gpu_memory_allocated_mb: 0 },
    initialization_state: control.initializationError === undefined ? 'ready' : 'error',
    initialization_progress: control.initializationError === undefined ? 'Model ready' : `Failed: ${control.initializationError}`,
    initialization_error: control.initializationError ?? null,
  };
}

function libraryItem(voice: LibraryVoice): Record<string, unknown> {
  const extension = voice.filename?.slice(voice.filename.lastIndexOf('.')) ?? '.wav';
  return {
    name: voice.name,
    filename: `${voice.name}${extension}`,
    original_filename: voice.filename ?? `${voice.name}${extension}`,
    file_extension: extension,
    file_size: voice.file?.length ?? 0,
    file_hash: '0'.repeat(32),
    upload_date: '2025-06-01T12:00:00',
    path: `voices/${voice.name}${extension}`,
    language: voice.language ?? 'en',
    aliases: voice.aliases ?? [],
    exists: true,
  };
}

function pcmBytes(samples: Int16Array): Buffer {
  return Buffer.from(samples.buffer, samples.byteOffset, samples.byteLength);
}
