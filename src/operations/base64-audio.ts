import decodeAudio, { type AudioData } from 'audio-decode';
import { ChorusError } from '../errors.js';
import { sniffAudioFormat } from '../security/fetch-remote-audio.js';

/** What a decoded upload turned out to be. */
export interface DecodedAudioInfo {
  readonly bytes: number;
  readonly sampleRate: number;
  readonly channels: number;
  readonly durationSec: number;
}

const DATA_URL = /^data:[^,]*;base64,/i;
const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;
const BASE64_URL = /^[A-Za-z0-9_-]*={0,2}$/;

/**
 * Decodes a base64 audio field (plain or URL-safe alphabet, padding optional, a `data:` URL
 * prefix allowed) and checks that it really is audio: WAV, MP3, FLAC or Ogg (Vorbis/Opus). Errors
 * name the field. Other containers are refused before decoding: `audio-decode` would load
 * GPL-2.0-only decoders for some of them (AAC, AC-3), which cannot be combined with Chorus's
 * GPL-3.0 engine (docs/licenses.md).
 */
export async function decodeBase64Audio(value: unknown, field: string): Promise<DecodedAudioInfo> {
  if (typeof value !== 'string') {
    throw new ChorusError({ code: 'invalid_request', param: field, message: `'${field}' must be a base64-encoded audio file (a string).` });
  }
  const text = value.replace(DATA_URL, '').replace(/\s+/g, '');
  if (text.length === 0) {
    throw new ChorusError({ code: 'invalid_request', param: field, message: `'${field}' is empty; send a base64-encoded audio file.` });
  }
  const urlSafe = !BASE64.test(text) && BASE64_URL.test(text);
  if ((!BASE64.test(text) && !urlSafe) || text.replace(/=+$/, '').length % 4 === 1) {
    throw new ChorusError({ code: 'invalid_request', param: field, message: `'${field}' is not valid base64.` });
  }
  const bytes = Buffer.from(text, urlSafe ? 'base64url' : 'base64');
  const isOgg = bytes.length >= 4 && bytes.subarray(0, 4).toString('latin1') === 'OggS';
  if (sniffAudioFormat(bytes) === undefined && !isOgg) {
    throw new ChorusError({ code: 'invalid_request', param: field, message: `'${field}' is not audio in a supported format (WAV, MP3, FLAC or Ogg).` });
  }
  let decoded: AudioData;
  try {
    decoded = await decodeAudio(new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength));
  } catch (error) {
    throw new ChorusError({
      code: 'invalid_request',
      param: field,
      message: `'${field}' is not audio that can be decoded (WAV, MP3, FLAC or Ogg): ${error instanceof Error ? error.message : String(error)}.`,
    });
  }
  const samples = decoded.channelData[0]?.length ?? 0;
  if (!(decoded.sampleRate > 0) || samples === 0) {
    throw new ChorusError({ code: 'invalid_request', param: field, message: `'${field}' decodes to no audio samples.` });
  }
  return { bytes: bytes.length, sampleRate: decoded.sampleRate, channels: decoded.channelData.length, durationSec: samples / decoded.sampleRate };
}
