import type { EngineCapabilities, EnginePart, EngineVoice } from '../../engine/speech-engine.js';
import { ChorusError } from '../../errors.js';
import { KOKORO_V1_0_VOICES } from '../../models/catalog-data.js';
import type { RemoteAdapter } from '../remote/remote-adapter.js';
import { pcmParts } from '../remote/remote-audio.js';
import type { RemoteEngineSetting } from '../../config/remote-engines.js';
import { KOKORO_LANGUAGES, kokoroAliasesBySpeaker, kokoroTraits } from '../sherpa/sherpa-voices.js';
import { captionedPieces, WordLocator, wordParts } from './captioned-speech.js';

/**
 * remsky/Kokoro-FastAPI: speech from `POST /dev/captioned_speech` (streamed NDJSON of base64
 * headerless 16-bit PCM at 24 kHz with the server's own word timestamps, so no forced alignment),
 * voices from `GET /v1/audio/voices`, health from `GET /v1/models`. The server chunks and
 * normalises text itself and applies `speed` in the model (0.25 to 4).
 */
const KOKORO_RATE = 24_000;

export const kokoroFastapiAdapter: RemoteAdapter = {
  capabilities: (setting): EngineCapabilities => ({
    languages: Object.entries(KOKORO_LANGUAGES).map(([code, tag]) => ({ tag, code })),
    sampleRate: setting.sampleRate ?? KOKORO_RATE,
    // One NDJSON line per sentence-sized chunk of the server's own splitting.
    streaming: 'sentence',
    wordTimings: true,
    cloning: 'none',
    nativeSpeedRange: [0.25, 4],
    // The same text gives the same audio only as long as the server keeps its model and settings.
    deterministic: false,
  }),

  async listVoices(http, setting, signal) {
    const response = await http.fetchOk('/v1/audio/voices', { method: 'GET' }, signal);
    const body = (await http.json(response, signal)) as { voices?: unknown };
    // `[{id, name}]` since 0.3; plain names before (and with `?legacy=true`).
    const ids = (Array.isArray(body.voices) ? (body.voices as unknown[]) : [])
      .map((voice) => (typeof voice === 'string' ? voice : (voice as { id?: unknown } | null)?.id))
      .filter((id): id is string => typeof id === 'string' && id !== '');
    return kokoroVoices(ids, setting);
  },

  fallbackVoices: (setting): EngineVoice[] => kokoroVoices(setting.voices ?? KOKORO_V1_0_VOICES, setting),

  async probe(http, signal) {
    await http.bytes(await http.fetchOk('/v1/models', { method: 'GET' }, signal), signal);
  },

  async *synthesize(http, setting, request, signal) {
    const langCode = request.language !== undefined && Object.hasOwn(KOKORO_LANGUAGES, request.language) ? request.language : undefined;
    const response = await http.postJson(
      '/dev/captioned_speech',
      {
        model: setting.model ?? 'kokoro',
        input: request.text,
        // A combination (`af_bella(2)+af_sky`) goes as it is: the server mixes it.
        voice: request.voiceId,
        response_format: 'pcm',
        stream: true,
        return_timestamps: true,
        speed: request.speed ?? 1,
        ...(langCode === undefined ? {} : { lang_code: langCode }),
      },
      signal,
    );

    const locator = new WordLocator(request.text);
    const words: EnginePart[] = [];
    async function* audioBytes(): AsyncGenerator<Uint8Array> {
      for await (const piece of captionedPieces(http.body(response, signal), setting.id)) {
        if (piece.audioFormat !== '' && piece.audioFormat !== 'audio/pcm') {
          throw new ChorusError({ code: 'engine_failed', retryable: true, message: `The remote engine '${setting.id}' sent ${piece.audioFormat} where audio/pcm was asked for.` });
        }
        words.push(...wordParts(piece.words, locator));
        yield piece.audio;
      }
    }
    // The same 16-bit reader as every kind's audio; the words of each piece follow its samples.
    for await (const part of pcmParts(audioBytes(), setting.sampleRate ?? KOKORO_RATE, setting.id)) {
      yield part;
      yield* words.splice(0);
    }
    yield* words.splice(0);
  },
};

/**
 * Kokoro's speakers as voices: language and gender from the name, and the OpenAI and named-voice
 * aliases Chorus gives Kokoro everywhere. Combinations (`af_bella+af_sky`) named in the setting are
 * voices of their own.
 */
function kokoroVoices(ids: readonly string[], setting: RemoteEngineSetting): EngineVoice[] {
  const aliases = kokoroAliasesBySpeaker(ids.filter((id) => /^[a-z][fm]_[a-z0-9_]+$/i.test(id)));
  return ids.map((id) => {
    const traits = kokoroTraits(id);
    const voiceAliases = aliases.get(id);
    return {
      id,
      name: id,
      gender: traits.gender,
      language: traits.language ?? 'en-US',
      description: `Kokoro voice ${id} on ${setting.id} (Kokoro-FastAPI).`,
      ...(voiceAliases === undefined ? {} : { aliases: voiceAliases }),
    };
  });
}
