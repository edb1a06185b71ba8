import type { ServerResponse } from 'node:http';
import { spokenPcm, startStub, wavFile, writePieces, type StubRequest, type StubServer } from './stub-server.js';
import { wavHeader } from '../../../src/audio/encoders/wav-encoder.js';

/**
 * fish-speech's `tools/api_server.py` as a stub, from its sources (`tools/api_server.py`,
 * `tools/server/views.py`, `api_utils.py`, `inference.py`, `exception_handler.py`,
 * `fish_speech/utils/schema.py`):
 * - Bearer auth on every route when an API key is set: 401 `Invalid token`.
 * - Errors are Kui's `HTTPException` as the server's handler shapes them:
 *   `{statusCode, message, error}` (message `null` when the exception has no content, as the 415).
 * - `GET|POST /v1/health` -> `{"status": "ok"}`.
 * - `GET /v1/references/list` -> `{success, reference_ids, message}`, msgpack unless the client asks
 *   for JSON (`Accept: application/json` or `?format=json`, as `wants_json`).
 * - `POST /v1/tts`: body `application/json`, `application/msgpack` or `multipart/form-data`, else
 *   415. Validated as `ServeTTSRequest` (pydantic; Kui answers 422 with the error list, a shape
 *   not read from the source and kept plain here). `--max-text-length` gives 400 `Text is too long,
 *   max length is N`; `streaming` with a format other than wav gives 400 `Streaming only supports
 *   WAV format`; a generation failure gives 500 with its message. Streamed audio is 16-bit mono
 *   PCM, headerless as the server's byte filter leaves it (`streamHeader` adds the WAV header fish
 *   meant to send, at `streamRate`); unstreamed is a whole WAV file.
 * The stub reads JSON bodies only (what Chorus sends); msgpack and multipart get a 400 saying so.
 */
export interface FishStubBehaviour {
  /** Server-side references (`references/<id>/` on disk), by id, with their transcripts. */
  references: Record<string, string>;
  /** `--max-text-length`; 0 = unlimited. */
  maxTextLength: number;
  /** Send a WAV header before the streamed PCM (the header the real server likely drops). */
  streamHeader: boolean;
  /** The rate of the audio made; fish's decoder is 44.1 kHz. */
  streamRate: number;
  /** Fail generation with this message (an engine `error` result: 500). */
  generationError: string | undefined;
}

export interface FishSpeechStub extends StubServer {
  readonly behaviour: FishStubBehaviour;
  /** The samples of every /v1/tts answer, in order (what Chorus's output is compared with). */
  readonly spoken: { text: string; samples: number; sampleRate: number }[];
}

const FISH_RATE = 44_100;
const FORMATS = ['wav', 'pcm', 'mp3', 'opus'];

export async function startFishSpeechStub(options: { apiKey?: string; pieceBytes?: number } & Partial<FishStubBehaviour> = {}): Promise<FishSpeechStub> {
  const behaviour: FishStubBehaviour = {
    references: options.references ?? {},
    maxTextLength: options.maxTextLength ?? 0,
    streamHeader: options.streamHeader ?? false,
    streamRate: options.streamRate ?? FISH_RATE,
    generationError: options.generationError,
  };
  const spoken: FishSpeechStub['spoken'] = [];
  const stub = await startStub(async (request, response) => {
    const fail = (status: number, message: string | null, phrase: string): void => {
      response.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify({ statusCode: status, message, error: phrase }));
    };
    if (options.apiKey !== undefined && request.headers.authorization !== `Bearer ${options.apiKey}`) return fail(401, 'Invalid token', 'Unauthorized');
    const [path, query = ''] = request.url.split('?') as [string, string?];
    if (path === '/v1/health' && (request.method === 'GET' || request.method === 'POST')) {
      response.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ status: 'ok' }));
      return;
    }
    if (path === '/v1/references/list' && request.method === 'GET') {
      const list = { success: true, reference_ids: Object.keys(behaviour.references), message: 'Success' };
      if (wantsJson(request, query)) response.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(list));
      else response.writeHead(200, { 'content-type': 'application/msgpack' }).end(msgpack(list));
      return;
    }
    if (path !== '/v1/tts' || request.method !== 'POST') return fail(404, null, 'Not Found');

    const type = (request.headers['content-type'] ?? '').split(';')[0]!.trim();
    if (type === 'application/msgpack' || type === 'multipart/form-data') return fail(400, 'This stub reads JSON bodies only.', 'Bad Request');
    if (type !== 'application/json') {
      response.setHeader('accept', 'application/msgpack, application/json, multipart/form-data');
      return fail(415, null, 'Unsupported Media Type');
    }
    let body: Record<string, unknown>;
    try {
      body = JSON.parse(request.body.toString('utf8')) as Record<string, unknown>;
    } catch {
      return invalid(response, [{ loc: ['body'], msg: 'Invalid JSON', type: 'json_invalid' }]);
    }
    const problems = validateTtsRequest(body);
    if (problems.length > 0) return invalid(response, problems);
    const text = body['text'] as string;
    if (behaviour.maxTextLength > 0 && text.length > behaviour.maxTextLength) return fail(400, `Text is too long, max length is ${behaviour.maxTextLength}`, 'Bad Request');
    const format = (body['format'] as string | undefined) ?? 'wav';
    if (body['streaming'] === true && format !== 'wav') return fail(400, 'Streaming only supports WAV format', 'Bad Request');
    if (behaviour.generationError !== undefined) return fail(500, behaviour.generationError, 'Internal Server Error');
    if (format !== 'wav' && format !== 'pcm') return fail(400, `This stub makes wav and pcm only, not ${format}.`, 'Bad Request');

    const rate = behaviour.streamRate;
    const samples = await spokenPcm(text, rate);
    spoken.push({ text, samples: samples.length, sampleRate: rate });
    const pcm = new Uint8Array(samples.buffer, samples.byteOffset, samples.byteLength);
    const headers = { 'content-type': format === 'wav' ? 'audio/wav' : 'application/octet-stream', 'content-disposition': `attachment; filename=audio.${format}` };
    if (body['streaming'] !== true) {
      response.writeHead(200, headers).end(format === 'wav' ? wavFile(samples, rate) : pcm);
      return;
    }
    response.writeHead(200, { ...headers, 'transfer-encoding': 'chunked' });
    if (behaviour.streamHeader) response.write(wavHeader(rate, 0));
    await writePieces(response, pcm, options.pieceBytes ?? 8820);
    response.end();
  });
  return Object.assign(stub, { behaviour, spoken });
}

type Problem = { loc: string[]; msg: string; type: string };

function invalid(response: ServerResponse, problems: Problem[]): void {
  response.writeHead(422, { 'content-type': 'application/json' }).end(JSON.stringify(problems));
}

/** `ServeTTSRequest`'s fields and constraints (`fish_speech/utils/schema.py`). */
function validateTtsRequest(body: Record<string, unknown>): Problem[] {
  const problems: Problem[] = [];
  const problem = (field: string, msg: string, type: string): void => void problems.push({ loc: ['body', field], msg, type });
  if (typeof body['text'] !== 'string') problem('text', 'Field required', 'missing');
  if (body['format'] !== undefined && !FORMATS.includes(body['format'] as string)) problem('format', "Input should be 'wav', 'pcm', 'mp3' or 'opus'", 'literal_error');
  const range = (field: string, min: number, max: number, integer: boolean): void => {
    const value = body[field];
    if (value === undefined) return;
    if (typeof value !== 'number' || (integer && !Number.isInteger(value))) problem(field, `Input should be a valid ${integer ? 'integer' : 'number'}`, integer ? 'int_type' : 'float_type');
    else if (value < min) problem(field, `Input should be greater than or equal to ${min}`, 'greater_than_equal');
    else if (value > max) problem(field, `Input should be less than or equal to ${max}`, 'less_than_equal');
  };
  range('chunk_length', 100, 1000, true);
  range('top_p', 0.1, 1, false);
  range('repetition_penalty', 0.9, 2, false);
  range('temperature', 0.1, 1, false);
  range('max_new_tokens', -Infinity, Infinity, true);
  if (body['seed'] !== undefined && body['seed'] !== null && !Number.isInteger(body['seed'])) problem('seed', 'Input should be a valid integer', 'int_type');
  if (body['use_memory_cache'] !== undefined && body['use_memory_cache'] !== 'on' && body['use_memory_cache'] !== 'off') problem('use_memory_cache', "Input should be 'on' or 'off'", 'literal_error');
  const references = body['references'];
  if (references !== undefined) {
    if (!Array.isArray(references)) problem('references', 'Input should be a valid list', 'list_type');
    else {
      references.forEach((reference: unknown, index) => {
        const entry = (reference ?? {}) as Record<string, unknown>;
        if (typeof entry['text'] !== 'string') problem(`references.${index}.text`, 'Field required', 'missing');
        // Base64 strings longer than 255 characters are decoded (ServeReferenceAudio.decode_audio); the server then reads them as audio files.
        const audio = typeof entry['audio'] === 'string' && entry['audio'].length > 255 ? Buffer.from(entry['audio'], 'base64') : undefined;
        if (audio === undefined || audio.subarray(0, 4).toString('latin1') !== 'RIFF') problem(`references.${index}.audio`, 'Not an audio file the stub can read (base64 WAV expected)', 'value_error');
      });
    }
  }
  // An unknown `reference_id` is no error: fish's ReferenceLoader.load_by_id creates its empty folder and speaks without a reference.
  if (body['reference_id'] !== undefined && body['reference_id'] !== null && typeof body['reference_id'] !== 'string') problem('reference_id', 'Input should be a valid string', 'string_type');
  return problems;
}

/** `wants_json` of `tools/server/api_utils.py`. */
function wantsJson(request: StubRequest, query: string): boolean {
  const format = (new URLSearchParams(query).get('format') ?? '').trim().toLowerCase();
  if (['json', 'application/json', 'msgpack', 'application/msgpack'].includes(format)) return format === 'json';
  const accept = String(request.headers.accept ?? '').toLowerCase();
  return accept.includes('application/json') && !accept.includes('application/msgpack');
}

/** The msgpack of a small object of strings, booleans and string arrays (enough for the list answer). */
function msgpack(value: unknown): Buffer {
  if (typeof value === 'boolean') return Buffer.from([value ? 0xc3 : 0xc2]);
  if (typeof value === 'string') {
    const bytes = Buffer.from(value, 'utf8');
    return Buffer.concat([bytes.length < 32 ? Buffer.from([0xa0 | bytes.length]) : Buffer.from([0xd9, bytes.length]), bytes]);
  }
  if (Array.isArray(value)) return Buffer.concat([Buffer.from([0x90 | value.length]), ...value.map(msgpack)]);
  const entries = Object.entries(value as Record<string, unknown>);
  return Buffer.concat([Buffer.from([0x80 | entries.length]), ...entries.flatMap(([key, item]) => [msgpack(key), msgpack(item)])]);
}
