import type { ServerResponse } from 'node:http';
import { spokenPcm, startStub, wavFile, writePieces, type StubRequest, type StubServer } from './stub-server.js';

/**
 * devnen/Chatterbox-TTS-Server as a stub, from its `server.py`, `models.py`, `utils.py`, `engine.py`:
 *
 * - `POST /tts`, JSON `CustomTTSRequest`: `text` (required, non-empty), `voice_mode`
 *   (`predefined`|`clone`, default predefined), `predefined_voice_id` / `reference_audio_filename`
 *   (filenames), `output_format` (`wav`|`opus`|`mp3`, default wav), `split_text`, `chunk_size`
 *   (50–500), `temperature`, `exaggeration`, `cfg_weight`, `seed`, `speed_factor`, `language`.
 *   503 when no model is loaded; 400 for a missing voice field; 404 for a missing voice file; 400 for
 *   a reference over 30 s. Answers the whole file (`audio/wav`, 16-bit PCM, 24 kHz) with a
 *   Content-Disposition, written in pieces (StreamingResponse over a BytesIO).
 * - `GET /get_predefined_voices` → `[{display_name, filename}]`, `GET /get_reference_files` → `[filenames]`.
 * - `POST /upload_reference`, multipart `files` (.wav/.mp3 only): a name already present is skipped
 *   (not overwritten); → `{message, uploaded_files, all_reference_files, errors}`, 400 when every
 *   file failed.
 * - `GET /api/model-info` → `{loaded, type, sample_rate, …}`.
 * - Errors are FastAPI's: `{detail: "…"}` for HTTPException, 422 `{detail: [{loc, msg, type}]}` for
 *   validation. The server has no auth of its own; the stub checks a Bearer key only when given one,
 *   as a reverse proxy in front of it would.
 *
 * Only `wav` output is spoken here (Chorus asks for nothing else); opus/mp3 answer 400.
 */
export const CHATTERBOX_SERVER_RATE = 24_000;
const MAX_REFERENCE_SEC = 30;

export interface ChatterboxServerStub {
  readonly stub: StubServer;
  /** The server's `engine.MODEL_LOADED`: false makes `/tts` answer 503 and model-info say so. */
  modelLoaded: boolean;
  /** `reference_audio/`: filename → WAV bytes. */
  readonly referenceFiles: Map<string, Uint8Array>;
  /** Requests to `path` (no query), in order. */
  calls(path: string): StubRequest[];
}

export async function startChatterboxServerStub(options: { apiKey?: string; predefinedVoices?: readonly string[] } = {}): Promise<ChatterboxServerStub> {
  const predefined = options.predefinedVoices ?? ['Emily.wav', 'Michael.wav', 'Olivia.wav'];
  const state = { modelLoaded: true, referenceFiles: new Map<string, Uint8Array>() };

  const stub = await startStub(async (request, response) => {
    const detail = (status: number, message: unknown): void => {
      response.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify({ detail: message }));
    };
    const json = (value: unknown, status = 200): void => {
      response.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(value));
    };
    if (options.apiKey !== undefined && request.headers.authorization !== `Bearer ${options.apiKey}`) return detail(401, 'Not authenticated');
    const path = request.url.split('?')[0];
    if (request.method === 'GET' && path === '/get_predefined_voices') {
      return json(predefined.map((filename) => ({ display_name: displayName(filename), filename })));
    }
    if (request.method === 'GET' && path === '/get_reference_files') return json([...state.referenceFiles.keys()].sort());
    if (request.method === 'GET' && path === '/api/model-info') {
      return json({
        loaded: state.modelLoaded,
        type: state.modelLoaded ? 'turbo' : null,
        class_name: state.modelLoaded ? 'ChatterboxTurboTTS' : null,
        device: 'cpu',
        sample_rate: state.modelLoaded ? CHATTERBOX_SERVER_RATE : null,
        supported_languages: { en: 'English' },
      });
    }
    if (request.method === 'POST' && path === '/upload_reference') return upload(request, response, state.referenceFiles);
    if (request.method === 'POST' && path === '/tts') return tts(request, response, state, predefined, detail);
    return detail(404, 'Not Found');
  });

  return {
    stub,
    get modelLoaded() {
      return state.modelLoaded;
    },
    set modelLoaded(value: boolean) {
      state.modelLoaded = value;
    },
    referenceFiles: state.referenceFiles,
    calls: (path) => stub.requests.filter((request) => request.url.split('?')[0] === path),
  };
}

async function tts(
  request: StubRequest,
  response: ServerResponse,
  state: { modelLoaded: boolean; referenceFiles: Map<string, Uint8Array> },
  predefined: readonly string[],
  detail: (status: number, message: unknown) => void,
): Promise<void> {
  let body: Record<string, unknown>;
  try {
    body = JSON.parse(request.body.toString('utf8')) as Record<string, unknown>;
  } catch {
    return detail(422, [{ loc: ['body'], msg: 'JSON decode error', type: 'json_invalid' }]);
  }
  const invalid = (field: string, msg: string): void => detail(422, [{ loc: ['body', field], msg, type: 'value_error' }]);
  if (typeof body['text'] !== 'string' || body['text'].length < 1) return invalid('text', 'String should have at least 1 character');
  const mode = body['voice_mode'] ?? 'predefined';
  if (mode !== 'predefined' && mode !== 'clone') return invalid('voice_mode', "Input should be 'predefined' or 'clone'");
  const format = body['output_format'] ?? 'wav';
  if (format !== 'wav' && format !== 'opus' && format !== 'mp3') return invalid('output_format', "Input should be 'wav', 'opus' or 'mp3'");
  const chunkSize = body['chunk_size'];
  if (chunkSize !== undefined && (typeof chunkSize !== 'number' || chunkSize < 50 || chunkSize > 500)) return invalid('chunk_size', 'Input should be between 50 and 500');
  for (const field of ['temperature', 'exaggeration', 'cfg_weight', 'speed_factor']) {
    if (body[field] !== undefined && body[field] !== null && typeof body[field] !== 'number') return invalid(field, 'Input should be a valid number');
  }
  if (body['seed'] !== undefined && body['seed'] !== null && !Number.isInteger(body['seed'])) return invalid('seed', 'Input should be a valid integer');

  if (!state.modelLoaded) return detail(503, 'TTS engine model is not currently loaded or available.');
  if (mode === 'predefined') {
    const voice = body['predefined_voice_id'];
    if (typeof voice !== 'string' || voice === '') return detail(400, "Missing 'predefined_voice_id' for 'predefined' voice mode.");
    if (!predefined.includes(voice)) return detail(404, `Predefined voice file '${voice}' not found.`);
  } else {
    const reference = body['reference_audio_filename'];
    if (typeof reference !== 'string' || reference === '') return detail(400, "Missing 'reference_audio_filename' for 'clone' voice mode.");
    const file = state.referenceFiles.get(reference);
    if (file === undefined) return detail(404, `Reference audio file '${reference}' not found.`);
    const seconds = wavSeconds(file);
    if (seconds > MAX_REFERENCE_SEC) return detail(400, `Invalid reference audio: Reference audio duration (${seconds.toFixed(2)}s) exceeds maximum allowed (${MAX_REFERENCE_SEC}s).`);
  }
  if (format !== 'wav') return detail(400, 'This stub speaks wav only.');

  const samples = await spokenPcm(body['text'], CHATTERBOX_SERVER_RATE);
  const wav = wavFile(samples, CHATTERBOX_SERVER_RATE);
  response.writeHead(200, { 'content-type': 'audio/wav', 'content-disposition': 'attachment; filename="tts_output_20250101_000000.wav"' });
  await writePieces(response, wav, 16_384, 1);
  response.end();
}

async function upload(request: StubRequest, response: ServerResponse, referenceFiles: Map<string, Uint8Array>): Promise<void> {
  const json = (value: unknown, status: number): void => {
    response.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(value));
  };
  let files: { readonly name: string; arrayBuffer(): Promise<ArrayBuffer> }[];
  try {
    // undici parses multipart/form-data as the server's python-multipart does.
    const form = await new Request('http://stub/upload_reference', { method: 'POST', headers: { 'content-type': String(request.headers['content-type']) }, body: request.body }).formData();
    files = form.getAll('files').filter((value) => typeof value !== 'string') as unknown as typeof files;
  } catch {
    return json({ detail: [{ loc: ['body', 'files'], msg: 'Field required', type: 'missing' }] }, 422);
  }
  if (files.length === 0) return json({ detail: [{ loc: ['body', 'files'], msg: 'Field required', type: 'missing' }] }, 422);
  const uploadedFiles: string[] = [];
  const errors: { filename: string; error: string }[] = [];
  for (const file of files) {
    const name = file.name.replace(/[^A-Za-z0-9._-]+/g, '_');
    if (!/\.(wav|mp3)$/i.test(name)) {
      errors.push({ filename: file.name, error: 'Invalid file type. Only .wav and .mp3 are allowed.' });
      continue;
    }
    if (!referenceFiles.has(name)) {
      const bytes = new Uint8Array(await file.arrayBuffer());
      const seconds = wavSeconds(bytes);
      if (seconds > MAX_REFERENCE_SEC) {
        errors.push({ filename: name, error: `Reference audio duration (${seconds.toFixed(2)}s) exceeds maximum allowed (${MAX_REFERENCE_SEC}s).` });
        continue;
      }
      referenceFiles.set(name, bytes);
    }
    uploadedFiles.push(name);
  }
  json(
    { message: `Processed ${files.length} file(s).`, uploaded_files: uploadedFiles, all_reference_files: [...referenceFiles.keys()].sort(), errors },
    errors.length === 0 || uploadedFiles.length > 0 ? 200 : 400,
  );
}

/** Duration of a canonical 16-bit mono WAV (what Chorus uploads). */
function wavSeconds(bytes: Uint8Array): number {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (bytes.length < 44) return 0;
  return (bytes.length - 44) / 2 / view.getUint32(24, true);
}

/** utils.get_predefined_voices: the stem with `_`/`-` as spaces, each word capitalised. */
function displayName(filename: string): string {
  return filename
    .replace(/\.[^.]+$/, '')
    .split(/[_\s-]+/)
    .filter((word) => word !== '')
    .map((word) => word[0]!.toUpperCase() + word.slice(1).toLowerCase())
    .join(' ');
}
