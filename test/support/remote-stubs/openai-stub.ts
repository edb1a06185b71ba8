import { setTimeout as sleep } from 'node:timers/promises';
import { ConcurrencyGate } from '../../../src/engines/remote/resilience.js';
import { jsonBody, spokenPcm, startStub, writePieces, type StubServer } from './stub-server.js';

/**
 * OpenAI's speech API as a stub (platform.openai.com/docs/api-reference/audio/createSpeech):
 * `POST /v1/audio/speech` JSON {model, input, voice, response_format, speed, instructions};
 * `pcm` is headerless 16-bit mono at 24 kHz, sent chunked as it is made; errors are
 * `{error: {message, type, param, code}}`; `GET /v1/models` lists models. A Bearer key is required
 * when one is given.
 */
export const OPENAI_STUB_VOICES = ['alloy', 'ash', 'ballad', 'coral', 'echo', 'fable', 'nova', 'onyx', 'sage', 'shimmer', 'verse'];

export interface OpenAIStubOptions {
  readonly apiKey?: string;
  /** Bytes per written piece of the pcm body. */
  readonly pieceBytes?: number;
  /** A GPU server's pace: the first piece after `firstMs`, each further one `pieceMs` later (default: at once). */
  readonly pace?: { readonly firstMs: number; readonly pieceMs: number };
  /** Requests synthesised at once, as a model server with this many slots; the rest wait their turn (default: no limit). */
  readonly capacity?: number;
}

export function startOpenAIStub(options: OpenAIStubOptions = {}): Promise<StubServer> {
  // flite takes tens of milliseconds: each text is spoken once, so the stub's own cost stays the same on every request.
  const spoken = new Map<string, Promise<Int16Array>>();
  const slots = new ConcurrencyGate(options.capacity ?? Number.MAX_SAFE_INTEGER, Number.MAX_SAFE_INTEGER, () => 'the stub');
  return startStub(async (request, response) => {
    const error = (status: number, message: string, param: string | null = null, code: string | null = null): void => {
      response.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify({ error: { message, type: 'invalid_request_error', param, code } }));
    };
    if (options.apiKey !== undefined && request.headers.authorization !== `Bearer ${options.apiKey}`) {
      error(401, 'Incorrect API key provided.', null, 'invalid_api_key');
      return;
    }
    const path = request.url.split('?')[0];
    if (request.method === 'GET' && path === '/v1/models') {
      response.writeHead(200, { 'content-type': 'application/json' }).end(
        JSON.stringify({ object: 'list', data: ['tts-1', 'tts-1-hd', 'gpt-4o-mini-tts'].map((id) => ({ id, object: 'model', created: 0, owned_by: 'system' })) }),
      );
      return;
    }
    if (request.method !== 'POST' || path !== '/v1/audio/speech') {
      error(404, `Invalid URL (${request.method} ${path})`);
      return;
    }
    let body: Record<string, unknown>;
    try {
      body = jsonBody(request);
    } catch {
      error(400, 'We could not parse the JSON body of your request.');
      return;
    }
    if (typeof body['input'] !== 'string' || body['input'].length === 0) return error(400, "Missing required parameter: 'input'.", 'input', 'missing_required_parameter');
    if (body['input'].length > 4096) return error(400, "'input' is too long: at most 4096 characters.", 'input', 'string_above_max_length');
    if (typeof body['voice'] !== 'string' || !OPENAI_STUB_VOICES.includes(body['voice'])) return error(400, `Invalid value for 'voice'.`, 'voice', 'invalid_value');
    if (body['response_format'] !== 'pcm') return error(400, 'This stub speaks pcm only.', 'response_format', 'invalid_value');
    const input = body['input'];
    if (!spoken.has(input)) spoken.set(input, spokenPcm(input, 24_000));
    const samples = await spoken.get(input)!;
    const release = await slots.acquire(new AbortController().signal);
    try {
      if (options.pace !== undefined) await sleep(options.pace.firstMs);
      response.writeHead(200, { 'content-type': 'audio/pcm', 'transfer-encoding': 'chunked' });
      await writePieces(response, new Uint8Array(samples.buffer, samples.byteOffset, samples.byteLength), options.pieceBytes ?? 9600, options.pace?.pieceMs);
      response.end();
    } finally {
      release();
    }
  });
}
