import { Hono, type Context } from 'hono';
import { z } from 'zod';
import { ChorusError } from '../../errors.js';
import { MAX_AUDIO_FILE_BYTES } from '../../operations/base64-audio.js';
import type { UserVoiceRecord } from '../../voices/voice-record.js';
import { VOICE_MATCHING_NOTE, type VoiceLibrary } from '../../voices/voice-library.js';
import { errorResponses, jsonBody, pathParams, schemaRef, type RouteDoc } from '../openapi/route-doc.js';

/** Fish Speech's reference ids: letters, digits, '-', '_' and spaces, at most 255 characters. */
const REFERENCE_ID = /^[a-zA-Z0-9\-_ ]{1,255}$/;

/** Fish Speech's `DELETE /v1/references/delete` body. */
const deleteBodySchema = z.object({ reference_id: z.string().min(1).describe('The reference to delete (its id, or its voice_id).') });

/**
 * Fish Speech's reference voices (003): `POST /v1/references/add` (multipart `id`, `text`, `audio`),
 * `GET /v1/references` (and Fish's `/list`), `DELETE /v1/references/{id}` (and Fish's `/delete`
 * with a JSON body). A reference is a library voice: its id is the voice's name, usable as `voice`
 * in /v1/audio/speech and as `voice_name` in the job API.
 */
export function createReferenceRoutes(voices: VoiceLibrary, ownerOf: (c: Context) => string): Hono {
  const app = new Hono();

  app.post('/add', async (c) => {
    const form = await readForm(c);
    const id = form.get('id');
    const text = form.get('text');
    const audio = form.get('audio');
    if (typeof id !== 'string' || id.trim() === '') throw missing('id', 'the reference id (the voice name to use later)');
    if (!REFERENCE_ID.test(id)) {
      throw new ChorusError({ code: 'invalid_request', param: 'id', message: `'id' may hold only letters, digits, '-', '_' and spaces (at most 255 characters); got ${JSON.stringify(id)}.` });
    }
    if (audio === null || typeof audio === 'string') throw missing('audio', 'the reference audio file (WAV, MP3, FLAC or Ogg)');
    if (text !== null && typeof text !== 'string') {
      throw new ChorusError({ code: 'invalid_request', param: 'text', message: "'text' must be a form field with the transcript, not a file." });
    }
    if (audio.size > MAX_AUDIO_FILE_BYTES) {
      throw new ChorusError({ code: 'payload_too_large', param: 'audio', message: `'audio' is larger than 10 MB; send a shorter or more compressed file.` });
    }
    const bytes = new Uint8Array(await audio.arrayBuffer());
    const record = await voices.create(
      ownerOf(c),
      {
        name: id.trim(),
        description: `Reference voice '${id.trim()}'`,
        ...(typeof text === 'string' && text.trim() !== '' ? { transcript: text.trim() } : {}),
        type: 'reference',
        audio: bytes,
        param: 'audio',
        nameParam: 'id',
      },
      c.req.raw.signal,
    );
    return c.json({ success: true, message: `Reference '${record.name}' added.`, reference_id: record.name, voice_id: record.voiceId, reference: describe(record), ...(record.method === 'zero_shot' ? {} : { note: VOICE_MATCHING_NOTE }) });
  });

  const list = async (c: Context) => {
    const own = await voices.listUserVoices(ownerOf(c));
    return c.json({
      success: true,
      reference_ids: own.map((voice) => voice.name),
      references: own.map(describe),
      message: `${own.length} reference voice${own.length === 1 ? '' : 's'}.`,
    });
  };
  app.get('/', list);
  app.get('/list', list);

  const remove = async (c: Context, id: string | undefined) => {
    if (id === undefined || id.trim() === '') throw missing('reference_id', 'the id of the reference to delete');
    const record = await voices.delete(ownerOf(c), id, 'reference_id');
    return c.json({ success: true, message: `Reference '${record.name}' deleted.`, reference_id: record.name, voice_id: record.voiceId });
  };
  app.delete('/delete', async (c) => {
    let body: unknown;
    try {
      body = await c.req.json();
    } catch {
      throw new ChorusError({ code: 'invalid_request', message: 'Send a JSON body {"reference_id": "..."}.' });
    }
    const parsed = deleteBodySchema.safeParse(body);
    return remove(c, parsed.success ? parsed.data.reference_id : undefined);
  });
  // Hono has already decoded the path parameter; decoding it again would turn '%25' into a URIError.
  app.delete('/:id', (c) => remove(c, c.req.param('id')));
  return app;
}

async function readForm(c: Context): Promise<FormData> {
  const type = c.req.header('content-type') ?? '';
  if (!/^multipart\/form-data/i.test(type)) {
    throw new ChorusError({
      code: 'invalid_request',
      message: `Send multipart/form-data with the fields 'id', 'text' and 'audio' (a file); got content-type '${type || 'none'}'.`,
    });
  }
  try {
    return await c.req.formData();
  } catch (error) {
    throw new ChorusError({ code: 'invalid_request', message: `The multipart body could not be read: ${error instanceof Error ? error.message : String(error)}.` });
  }
}

function missing(param: string, what: string): ChorusError {
  return new ChorusError({ code: 'invalid_request', param, detail: 'missing_required_parameter', message: `Missing required field '${param}': ${what}.` });
}

function describe(voice: UserVoiceRecord) {
  return {
    id: voice.name,
    voice_id: voice.voiceId,
    text: voice.transcript ?? null,
    gender: voice.gender ?? null,
    duration: voice.durationSec,
    sample_rate: voice.sampleRate,
    created_at: new Date(voice.createdAt).toISOString(),
    type: voice.type,
    method: voice.method ?? voice.match.method,
    engine: voice.engine.split('@')[0],
    base_voice: voice.match.baseVoice,
  };
}

/** The multipart form of `POST /v1/references/add`, as `readForm`'s reader checks it field by field. */
const addFormSchema = z.object({
  id: z.string().regex(REFERENCE_ID).describe('The voice name to use later as `voice`: letters, digits, \'-\', \'_\' and spaces, at most 255.'),
  text: z.string().optional().describe('The transcript of the recording (zero-shot engines use it).'),
  audio: z.file().max(MAX_AUDIO_FILE_BYTES).describe('The reference recording: WAV, MP3, FLAC or Ogg, at most 10 MB.'),
});

const referenceSchema = z.object({
  id: z.string(),
  voice_id: z.string(),
  text: z.string().nullable(),
  gender: z.string().nullable(),
  duration: z.number(),
  sample_rate: z.number().int(),
  created_at: z.string(),
  type: z.string(),
  method: z.string().describe('`zero_shot` on an engine that clones, `voice_matching` on eSpeak.'),
  engine: z.string(),
  base_voice: z.string().optional(),
});
const deletedSchema = z.object({ success: z.literal(true), message: z.string(), reference_id: z.string(), voice_id: z.string() });
const listSchema = z.object({ success: z.literal(true), reference_ids: z.array(z.string()), references: z.array(referenceSchema), message: z.string() });
const ERRORS = errorResponses(schemaRef('OpenAIError'), {
  '400': 'A field is missing or malformed; `param` names it.',
  '401': 'CHORUS_API_KEYS is set and the key is missing or wrong.',
  '404': 'No such reference for this key.',
  '409': 'A voice of that name exists already.',
  '413': 'The audio file is larger than 10 MB.',
  '429': 'Rate limited; see `Retry-After`.',
});
const common = { tag: 'References', auth: 'bearer' } as const;

/** Fish Speech's reference routes as the OpenAPI document describes them (mounted at /v1/references). */
export const REFERENCE_ROUTE_DOCS: readonly RouteDoc[] = [
  {
    ...common,
    method: 'post',
    path: '/v1/references/add',
    operationId: 'addReference',
    summary: 'Add a reference voice from a recording (Fish Speech)',
    body: { 'multipart/form-data': { schema: addFormSchema } },
    responses: {
      '200': {
        description: 'The new library voice.',
        content: jsonBody(z.object({ success: z.literal(true), message: z.string(), reference_id: z.string(), voice_id: z.string(), reference: referenceSchema, note: z.string().optional() })),
      },
      ...ERRORS,
    },
  },
  { ...common, method: 'get', path: '/v1/references', operationId: 'listReferences', summary: "List the key's reference voices", responses: { '200': { description: 'The references.', content: jsonBody(listSchema) }, ...ERRORS } },
  { ...common, method: 'get', path: '/v1/references/list', operationId: 'listReferencesFish', summary: "List the key's reference voices (Fish Speech's path)", responses: { '200': { description: 'The references.', content: jsonBody(listSchema) }, ...ERRORS } },
  {
    ...common,
    method: 'delete',
    path: '/v1/references/delete',
    operationId: 'deleteReferenceFish',
    summary: "Delete a reference voice (Fish Speech's form, a JSON body)",
    body: jsonBody(deleteBodySchema),
    responses: { '200': { description: 'Deleted.', content: jsonBody(deletedSchema) }, ...ERRORS },
  },
  {
    ...common,
    method: 'delete',
    path: '/v1/references/{id}',
    operationId: 'deleteReference',
    summary: 'Delete a reference voice',
    pathParams: pathParams({ id: 'The reference id (its name) or its voice_id.' }),
    responses: { '200': { description: 'Deleted.', content: jsonBody(deletedSchema) }, ...ERRORS },
  },
];
