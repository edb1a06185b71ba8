import { decodeAudioBytes, type DecodedAudio, type DurationLimits } from '../audio/decode-audio.js';
import { ChorusError } from '../errors.js';

const DATA_URL = /^data:[^,]*;base64,/i;
const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;
const BASE64_URL = /^[A-Za-z0-9_-]*={0,2}$/;

/** Largest audio file accepted in a base64 field (the Chatterbox document's 10 MB). */
export const MAX_AUDIO_FILE_BYTES = 10 * 1024 * 1024;

/**
 * The bytes of a base64 field (plain or URL-safe alphabet, padding optional, a `data:` URL prefix
 * allowed). Errors name the field and say what is wrong, never a decoder's stack.
 */
export function decodeBase64Field(value: unknown, field: string, maxBytes = MAX_AUDIO_FILE_BYTES): Uint8Array {
  if (typeof value !== 'string') {
    throw new ChorusError({ code: 'invalid_request', param: field, message: `'${field}' must be a base64-encoded audio file (a string).` });
  }
  const text = value.replace(DATA_URL, '').replace(/\s+/g, '');
  if (text.length === 0) {
    throw new ChorusError({ code: 'invalid_request', param: field, message: `'${field}' is empty; send a base64-encoded audio file.` });
  }
  const urlSafe = !BASE64.test(text) && BASE64_URL.test(text);
  if ((!BASE64.test(text) && !urlSafe) || text.replace(/=+$/, '').length % 4 === 1) {
    throw new ChorusError({ code: 'invalid_request', param: field, message: `'${field}' is not valid base64 (Incorrect padding or characters outside the base64 alphabet).` });
  }
  if (Math.floor((text.replace(/=+$/, '').length * 3) / 4) > maxBytes) {
    throw new ChorusError({
      code: 'payload_too_large',
      param: field,
      message: `'${field}' is larger than ${Math.round(maxBytes / 1024 / 1024)} MB of audio; send a shorter or more compressed file.`,
    });
  }
  const bytes = Buffer.from(text, urlSafe ? 'base64url' : 'base64');
  return new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/** A base64 field decoded to audio (WAV, MP3, FLAC or Ogg), with its file bytes. */
export async function decodeBase64Audio(
  value: unknown,
  field: string,
  limits: DurationLimits = {},
): Promise<DecodedAudio & { readonly bytes: Uint8Array }> {
  const bytes = decodeBase64Field(value, field);
  const decoded = await decodeAudioBytes(bytes, field, limits);
  return { ...decoded, bytes };
}
