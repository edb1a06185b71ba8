import { createHash } from 'node:crypto';
import type { VoiceReference } from '../../engine/speech-engine.js';
import { ChorusError } from '../../errors.js';
import { referenceWav } from '../remote/remote-audio.js';
import type { RemoteHttp } from '../remote/remote-http.js';

/**
 * References cloned on Chorus, kept on Chatterbox-TTS-Server as files in its `reference_audio/`
 * (`POST /upload_reference`, multipart field `files`). A file is named by a digest of its audio:
 * the server skips an upload whose name it already has, so a name must never stand for other audio,
 * and the same voice uploaded again (another Chorus process) lands on the same file.
 */

/** The server refuses longer references (config.yaml `audio_output.max_reference_duration_sec`). */
const MAX_REFERENCE_SECONDS = 30;

/** Uploads done (or under way) per server, so a voice is sent once per process however often it speaks. */
const uploaded = new WeakMap<RemoteHttp, Map<string, Promise<string>>>();

/**
 * The reference's filename on the server, uploading it first unless this process already did.
 * `again`: upload even so (the server answered that it does not have the file).
 */
export function uploadReference(http: RemoteHttp, reference: VoiceReference, signal: AbortSignal, options: { again?: boolean } = {}): Promise<string> {
  const wav = referenceWav(reference, MAX_REFERENCE_SECONDS);
  const filename = `chorus-${createHash('sha256').update(wav).digest('hex').slice(0, 16)}.wav`;
  let done = uploaded.get(http);
  if (done === undefined) uploaded.set(http, (done = new Map()));
  const known = done.get(filename);
  // Another request's upload of the same audio is shared; if it fails (that request was cancelled, say), this one uploads itself.
  if (known !== undefined && options.again !== true) return known.catch(() => (signal.aborted ? known : uploadReference(http, reference, signal, { again: true })));
  const upload = send(http, wav, filename, signal);
  done.set(filename, upload);
  upload.catch(() => {
    if (done.get(filename) === upload) done.delete(filename);
  });
  return upload;
}

/** A `/tts` answer saying the clone file is missing (`404 Reference audio file '…' not found.`). */
export function isLostReference(response: Response): boolean {
  return response.status === 404;
}

async function send(http: RemoteHttp, wav: Uint8Array, filename: string, signal: AbortSignal): Promise<string> {
  const form = new FormData();
  form.append('files', new Blob([wav], { type: 'audio/wav' }), filename);
  const response = await http.fetch('/upload_reference', { method: 'POST', body: form }, signal);
  if (response.status >= 500) throw await http.failure(response, signal);
  // 200 when the file was stored (or was already there), 400 with `errors` when it was refused.
  let answer: { uploaded_files?: unknown; errors?: unknown } = {};
  try {
    answer = (await http.json(response, signal)) as typeof answer;
  } catch {
    // Not the server's JSON: reported below with the status.
  }
  if (response.ok && Array.isArray(answer.uploaded_files) && answer.uploaded_files.includes(filename)) return filename;
  const reasons = Array.isArray(answer.errors) ? answer.errors.map((error) => String((error as { error?: unknown })?.error ?? JSON.stringify(error))).join('; ') : '';
  throw new ChorusError({
    code: 'engine_failed',
    detail: 'remote_refused',
    message: `The remote engine '${http.engineId}' did not keep the reference audio (${response.status}${reasons === '' ? '' : `: ${reasons}`}).`,
  });
}

