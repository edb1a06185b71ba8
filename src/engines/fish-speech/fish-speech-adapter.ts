import type { EngineCapabilities, EngineOptionSpec, EngineSynthesisRequest, EngineVoice, VoiceReference } from '../../engine/speech-engine.js';
import { ChorusError } from '../../errors.js';
import { namedVoice, type RemoteAdapter } from '../remote/remote-adapter.js';
import { pcmParts, referenceWav } from '../remote/remote-audio.js';

/**
 * fish-speech's own server (`tools/api_server.py`, Kui): `POST /v1/tts` with a JSON `ServeTTSRequest`,
 * asked to stream (`streaming: true` works only with `format: "wav"`). Read from its source, the
 * streamed WAV header is a numpy array that the server's byte filter drops, so the answer is
 * usually bare 16-bit mono PCM at the decoder's 44.1 kHz; a header, when one comes, is read instead.
 */

/** The `modded_dac_vq` decoder's rate (OpenAudio S1); other decoders need `sampleRate`. */
const FISH_RATE = 44_100;
/** Speaks without any reference: fish's own voice, which varies between requests unless a seed is set. */
export const FISH_DEFAULT_VOICE = 'default';

/** OpenAudio S1's languages; fish reads the language from the text, so nothing about it is sent. */
const FISH_LANGUAGES = ['en', 'zh', 'ja', 'ko', 'fr', 'de', 'ar', 'es', 'ru', 'nl', 'it', 'pl', 'pt'] as const;

/** `ServeTTSRequest`'s sampling fields, with its ranges and defaults. */
const FISH_OPTIONS: Readonly<Record<string, EngineOptionSpec>> = {
  temperature: { type: 'number', min: 0.1, max: 1, default: 0.8, description: 'Sampling temperature: lower is steadier, higher more varied.' },
  top_p: { type: 'number', min: 0.1, max: 1, default: 0.8, description: 'Nucleus sampling: the share of probability mass sampled from.' },
  repetition_penalty: { type: 'number', min: 0.9, max: 2, default: 1.1, description: 'Penalty on repeated tokens: higher avoids loops and stutters.' },
  max_new_tokens: { type: 'integer', min: 100, max: 4096, default: 1024, description: 'Most semantic tokens fish generates per text chunk.' },
  seed: { type: 'integer', min: -1, max: 2_147_483_647, default: -1, description: 'Random seed, for repeatable speech; -1 sends none (a new one each time).' },
};

export const fishSpeechAdapter: RemoteAdapter = {
  capabilities: (setting): EngineCapabilities => ({
    languages: FISH_LANGUAGES.map((tag) => ({ tag, code: tag })),
    sampleRate: setting.sampleRate ?? FISH_RATE,
    streaming: 'incremental',
    wordTimings: false,
    cloning: 'neural',
    deterministic: false,
    options: FISH_OPTIONS,
  }),

  async listVoices(http, setting, signal) {
    // Without the Accept header the server answers msgpack.
    const response = await http.fetchOk('/v1/references/list', { method: 'GET', headers: { accept: 'application/json' } }, signal);
    const text = new TextDecoder().decode(await http.bytes(response, signal));
    let ids: unknown;
    try {
      ids = (JSON.parse(text) as { reference_ids?: unknown }).reference_ids;
    } catch {
      ids = undefined;
    }
    if (!Array.isArray(ids) || ids.some((id) => typeof id !== 'string')) {
      throw new ChorusError({ code: 'engine_failed', message: `The remote engine '${setting.id}' listed its references as something other than {reference_ids: [...]}: ${text.slice(0, 200)}` });
    }
    // The reference-free voice comes first: a voice cloned on Chorus is sent with it as its base.
    const references = (ids as string[]).filter((id) => id !== FISH_DEFAULT_VOICE);
    return [defaultVoice(setting.id), ...references.map((id) => namedVoice(id, `${setting.id} reference '${id}' (stored on the server)`))];
  },

  fallbackVoices: (setting): EngineVoice[] => {
    const named = (setting.voices ?? []).filter((voice) => voice !== FISH_DEFAULT_VOICE);
    return [defaultVoice(setting.id), ...named.map((id) => namedVoice(id, `${setting.id} reference '${id}'`))];
  },

  async probe(http, signal) {
    const response = await http.fetchOk('/v1/health', { method: 'GET', headers: { accept: 'application/json' } }, signal);
    await http.bytes(response, signal);
  },

  async *synthesize(http, setting, request, signal) {
    const response = await http.fetch(
      '/v1/tts',
      { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(ttsRequest(request)) },
      signal,
    );
    if (!response.ok) throw await http.failure(response, signal);
    yield* pcmParts(http.body(response, signal), setting.sampleRate ?? FISH_RATE, setting.id);
  },
};

function defaultVoice(engineId: string): EngineVoice {
  return namedVoice(FISH_DEFAULT_VOICE, `${engineId} without a reference (the model's own voice, different each time unless seeded)`);
}

/** The `ServeTTSRequest` for one engine request: fish's defaults except where the request says otherwise. */
function ttsRequest(request: EngineSynthesisRequest): Record<string, unknown> {
  const options = request.options ?? {};
  const sampling = Object.fromEntries(
    (['temperature', 'top_p', 'repetition_penalty', 'max_new_tokens'] as const).filter((name) => typeof options[name] === 'number').map((name) => [name, options[name]]),
  );
  const seed = options['seed'];
  return {
    text: request.text,
    format: 'wav',
    streaming: true,
    ...voiceFields(request),
    ...sampling,
    ...(typeof seed === 'number' && seed >= 0 ? { seed } : {}),
  };
}

function voiceFields(request: EngineSynthesisRequest): Record<string, unknown> {
  if (request.reference !== undefined) {
    // Sent whole each time; `use_memory_cache` lets the server keep its encoding of it by content hash.
    return { references: [{ audio: Buffer.from(referenceWav(request.reference)).toString('base64'), text: request.reference.transcript ?? '' }], use_memory_cache: 'on' };
  }
  return request.voiceId === FISH_DEFAULT_VOICE ? {} : { reference_id: request.voiceId };
}

