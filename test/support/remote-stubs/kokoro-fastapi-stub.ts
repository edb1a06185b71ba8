import { jsonBody, spokenPcm, startStub, writePieces, type StubServer } from './stub-server.js';

/**
 * remsky/Kokoro-FastAPI as a stub, written from its sources (`api/src/routers/development.py`,
 * `openai_compatible.py`, `structures/schemas.py`, `structures/custom_responses.py`,
 * `services/tts_service.py`):
 * - `POST /dev/captioned_speech` JSON `CaptionedSpeechRequest` {model, input, voice, response_format,
 *   speed 0.25-4, stream (default true), return_timestamps (default true), lang_code, …}; with
 *   `stream` the answer is `application/json` NDJSON, one `{audio (base64), audio_format,
 *   timestamps: [{word, start_time, end_time}]}` per sentence, times in seconds from the start of the
 *   whole answer; without it, one such object for everything.
 * - Words are the model's tokens: punctuation is a token of its own and numbers are spoken (and
 *   reported) as words, as the server's normaliser makes them.
 * - Errors: `{detail: {error, message, type}}` (400 for a bad voice), pydantic's 422
 *   `{detail: [{type, loc, msg, input}]}` for a malformed body.
 * - `GET /v1/audio/voices` → `{voices: [{id, name}]}` (`?legacy=true`: plain names), `GET /v1/models`.
 * Audio is real speech (flite) at 24 kHz; `speed` shortens it as the model would. The stub's word
 * times share each sentence's audio out evenly among its tokens, which no aligner would produce,
 * so a test can tell the server's timings from the aligner's. Only `pcm` is made (the real server
 * also encodes mp3, opus, aac, flac and wav).
 */
export const KOKORO_STUB_VOICES = ['af_heart', 'af_alloy', 'af_bella', 'af_sky', 'am_adam', 'am_echo', 'bf_emma', 'bm_george', 'ef_dora', 'jf_alpha'];

export interface CaptionRecord {
  readonly input: string;
  /** Length of the audio sent, seconds. */
  durationSec: number;
  readonly timestamps: { word: string; start_time: number; end_time: number }[];
}

export interface KokoroStub extends StubServer {
  /** What each captioned request was answered with. */
  readonly captions: CaptionRecord[];
  /** The next answer breaks off in the middle of a JSON line, as a proxy cutting a stream would leave it. */
  breakLine: boolean;
}

const NUMBERS = ['zero', 'one', 'two', 'three', 'four', 'five', 'six', 'seven', 'eight', 'nine', 'ten'];

/** Tokens as Kokoro's pipeline reports them: words, and punctuation on its own; small numbers spelled out. */
function tokens(sentence: string): string[] {
  return (sentence.match(/[\p{L}\p{N}'’]+|[^\s\p{L}\p{N}]/gu) ?? []).map((token) => (/^\d+$/.test(token) && Number(token) <= 10 ? NUMBERS[Number(token)]! : token));
}

export async function startKokoroFastapiStub(options: { apiKey?: string; pieceBytes?: number } = {}): Promise<KokoroStub> {
  const captions: CaptionRecord[] = [];
  const stub = (await startStub(async (request, response) => {
    const fail = (status: number, error: string, message: string): void => {
      response.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify({ detail: { error, message, type: status < 500 ? 'invalid_request_error' : 'server_error' } }));
    };
    const invalid = (field: string, type: string, msg: string, input: unknown): void => {
      response.writeHead(422, { 'content-type': 'application/json' }).end(JSON.stringify({ detail: [{ type, loc: ['body', field], msg, input }] }));
    };
    if (options.apiKey !== undefined && request.headers.authorization !== `Bearer ${options.apiKey}`) {
      response.writeHead(401, { 'content-type': 'application/json' }).end(JSON.stringify({ detail: 'Invalid API key' }));
      return;
    }
    const [path, query = ''] = request.url.split('?');
    if (request.method === 'GET' && path === '/v1/models') {
      response.writeHead(200, { 'content-type': 'application/json' }).end(
        JSON.stringify({ object: 'list', data: ['tts-1', 'tts-1-hd', 'kokoro', 'gpt-4o-mini-tts'].map((id) => ({ id, object: 'model', created: 1686935002, owned_by: 'kokoro' })) }),
      );
      return;
    }
    if (request.method === 'GET' && path === '/v1/audio/voices') {
      const legacy = new URLSearchParams(query).get('legacy') === 'true';
      response.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ voices: legacy ? KOKORO_STUB_VOICES : KOKORO_STUB_VOICES.map((id) => ({ id, name: id })) }));
      return;
    }
    if (request.method !== 'POST' || path !== '/dev/captioned_speech') {
      response.writeHead(404, { 'content-type': 'application/json' }).end(JSON.stringify({ detail: 'Not Found' }));
      return;
    }
    let body: Record<string, unknown>;
    try {
      body = jsonBody(request);
    } catch {
      invalid('', 'json_invalid', 'JSON decode error', {});
      return;
    }
    const input = body['input'];
    if (typeof input !== 'string') return invalid('input', 'missing', 'Field required', body);
    const speed = body['speed'] ?? 1;
    if (typeof speed !== 'number') return invalid('speed', 'float_parsing', 'Input should be a valid number', speed);
    if (speed < 0.25) return invalid('speed', 'greater_than_equal', 'Input should be greater than or equal to 0.25', speed);
    if (speed > 4) return invalid('speed', 'less_than_equal', 'Input should be less than or equal to 4', speed);
    const format = body['response_format'] ?? 'mp3';
    if (!['mp3', 'opus', 'aac', 'flac', 'wav', 'pcm'].includes(String(format))) return invalid('response_format', 'literal_error', "Input should be 'mp3', 'opus', 'aac', 'flac', 'wav' or 'pcm'", format);
    if (format !== 'pcm') return fail(400, 'validation_error', 'This stub makes pcm only.');

    // process_and_validate_voices: spaces dropped, `+`/`-` combinations of voices with optional `(weight)`.
    const voice = String(body['voice'] ?? 'af_heart').replace(/ /g, '');
    if (/^[+-]|[+-]$|[+-]{2,}/.test(voice)) return fail(400, 'validation_error', 'Voice combination contains empty combine items');
    for (const part of voice.split(/[+-]/)) {
      const name = part.split('(')[0]!;
      if (!KOKORO_STUB_VOICES.includes(name)) return fail(400, 'validation_error', `Voice '${name}' not found. Available voices: ${[...KOKORO_STUB_VOICES].sort().join(', ')}`);
    }

    const returnTimestamps = body['return_timestamps'] !== false;
    const record: CaptionRecord = { input, durationSec: 0, timestamps: [] };
    captions.push(record);
    let offsetSec = 0;
    const lines: { audio: Uint8Array; timestamps: CaptionRecord['timestamps'] | null }[] = [];
    for (const sentence of input.split(/(?<=[.!?])\s+/).filter((text) => text.trim() !== '')) {
      const samples = await spokenPcm(sentence, Math.round(24_000 / speed));
      const durationSec = samples.length / 24_000;
      const words = tokens(sentence);
      const timestamps = words.map((word, index) => ({
        word,
        start_time: Math.round((offsetSec + (index * durationSec) / words.length) * 1000) / 1000,
        end_time: Math.round((offsetSec + ((index + 1) * durationSec) / words.length) * 1000) / 1000,
      }));
      if (returnTimestamps) record.timestamps.push(...timestamps);
      offsetSec += durationSec;
      record.durationSec = offsetSec;
      lines.push({ audio: new Uint8Array(samples.buffer, samples.byteOffset, samples.byteLength), timestamps: returnTimestamps ? timestamps : null });
    }
    const render = (audio: Uint8Array, timestamps: CaptionRecord['timestamps'] | null): string =>
      `${JSON.stringify({ audio: Buffer.from(audio).toString('base64'), audio_format: 'audio/pcm', timestamps })}\n`;

    if (body['stream'] === false) {
      const audio = Buffer.concat(lines.map((line) => line.audio));
      response.writeHead(200, { 'content-type': 'application/json' }).end(render(audio, returnTimestamps ? record.timestamps : null));
      return;
    }
    response.writeHead(200, {
      'content-type': 'application/json',
      'content-disposition': 'attachment; filename=speech.pcm',
      'x-accel-buffering': 'no',
      'cache-control': 'no-cache',
      'transfer-encoding': 'chunked',
    });
    for (const line of lines) {
      let text = render(line.audio, line.timestamps);
      if (stub.breakLine) {
        stub.breakLine = false;
        text = text.slice(0, Math.floor(text.length / 2));
        response.end(text);
        return;
      }
      // Pieces that cut lines anywhere, as the network does.
      await writePieces(response, new TextEncoder().encode(text), options.pieceBytes ?? 4093);
    }
    response.end();
  })) as KokoroStub;
  Object.assign(stub, { captions, breakLine: false });
  return stub;
}
