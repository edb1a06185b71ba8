import type { EngineCapabilities, EngineLanguage, EngineOptionSpec, EngineSynthesisRequest, EngineVoice } from '../../engine/speech-engine.js';
import { ChorusError } from '../../errors.js';
import type { RemoteAdapter } from '../remote/remote-adapter.js';
import { pcmParts } from '../remote/remote-audio.js';
import type { RemoteHttp } from '../remote/remote-http.js';
import type { RemoteEngineSetting } from '../../config/remote-engines.js';
import { isLostReference, uploadReference } from './chatterbox-server-references.js';

/**
 * devnen/Chatterbox-TTS-Server (`server.py`, `models.py`): `POST /tts` with a predefined voice (a
 * file in its `voices/`, named by `GET /get_predefined_voices`) or, for references cloned on Chorus,
 * a file uploaded once to its `reference_audio/` by `POST /upload_reference`. It answers with the
 * whole WAV once all of it is made (no progressive audio), at its configured output rate (24 kHz
 * by default; the header says which).
 */

/** The server's `audio_output.sample_rate` default. */
const CHATTERBOX_SERVER_RATE = 24_000;
/** The voice shipped in the server's `voices/`, offered when it cannot be asked for its list. */
const STOCK_VOICE = 'Emily.wav';
/** `speed_factor` is applied by the server after generation (librosa time-stretch): models.py's range. */
const SERVER_SPEED_RANGE = [0.25, 4] as const;

/** The languages of Chatterbox Multilingual (chatterbox `SUPPORTED_LANGUAGES`); the other models speak English. */
const MULTILINGUAL_LANGUAGES = ['ar', 'da', 'de', 'el', 'en', 'es', 'fi', 'fr', 'he', 'hi', 'it', 'ja', 'ko', 'ms', 'nl', 'no', 'pl', 'pt', 'ru', 'sv', 'sw', 'tr', 'zh'];
/** `model.repo_id` selectors of the multilingual model (engine.py `MODEL_SELECTOR_MAP`). */
const MULTILINGUAL_MODELS = new Set(['chatterbox-multilingual', 'multilingual']);

/**
 * The sampling controls `/tts` takes. Unset, the server uses its config.yaml defaults (the `default`
 * here is that file's shipped value). Ranges span the Chatterbox job's and models.py's.
 */
const CHATTERBOX_SERVER_OPTIONS: Readonly<Record<string, EngineOptionSpec>> = {
  exaggeration: { type: 'number', min: 0, max: 3, default: 1.3, description: 'Expressiveness: lower is calmer, higher more dramatic (server default when unset).' },
  cfg_weight: { type: 'number', min: 0, max: 1, default: 0.5, description: 'Classifier-free guidance weight: adherence to the reference and pacing (server default when unset).' },
  temperature: { type: 'number', min: 0.05, max: 2, default: 0.8, description: 'Sampling randomness (server default when unset).' },
  seed: { type: 'integer', min: 0, max: 4_294_967_295, default: 0, description: 'Random seed; 0 lets the server pick one each time.' },
};

export const chatterboxServerAdapter: RemoteAdapter = {
  capabilities: (setting): EngineCapabilities => ({
    languages: languagesOf(setting),
    sampleRate: setting.sampleRate ?? CHATTERBOX_SERVER_RATE,
    streaming: 'none',
    wordTimings: false,
    cloning: 'neural',
    nativeSpeedRange: SERVER_SPEED_RANGE,
    deterministic: false,
    options: CHATTERBOX_SERVER_OPTIONS,
  }),

  async listVoices(http, setting, signal) {
    const response = await http.fetchOk('/get_predefined_voices', { method: 'GET' }, signal);
    const listed = await http.json(response, signal);
    if (!Array.isArray(listed)) throw malformed(setting.id, '/get_predefined_voices', 'a list');
    return listed
      .filter((entry): entry is { filename: string; display_name?: unknown } => typeof (entry as { filename?: unknown })?.filename === 'string')
      .map((entry) => predefinedVoice(entry.filename, typeof entry.display_name === 'string' ? entry.display_name : undefined, setting));
  },

  fallbackVoices: (setting): EngineVoice[] => (setting.voices ?? [STOCK_VOICE]).map((filename) => predefinedVoice(filename, undefined, setting)),

  async probe(http, signal) {
    // The model can be unloaded (`/api/unload`) or fail to load while the server answers: that is down too.
    const response = await http.fetch('/api/model-info', { method: 'GET' }, signal);
    if (response.status === 404) {
      // Servers from before the model hot-swap have no model-info route.
      await response.body?.cancel();
      const voices = await http.fetchOk('/get_predefined_voices', { method: 'GET' }, signal);
      await http.bytes(voices, signal);
      return;
    }
    if (!response.ok) throw await http.failure(response, signal);
    const info = (await http.json(response, signal)) as { loaded?: unknown };
    if (info.loaded === false) {
      throw new ChorusError({ code: 'engine_failed', retryable: true, message: `The remote engine '${http.engineId}' has no model loaded.` });
    }
  },

  async *synthesize(http, setting, request, signal) {
    let response = await postTts(http, request, await voiceFields(http, request, signal), signal);
    if (request.reference !== undefined && isLostReference(response)) {
      // The server lost its reference_audio/ (a new container): upload again, once.
      await response.body?.cancel();
      response = await postTts(http, request, { voice_mode: 'clone', reference_audio_filename: await uploadReference(http, request.reference, signal, { again: true }) }, signal);
    }
    if (!response.ok) throw await http.failure(response, signal);
    yield* pcmParts(http.body(response, signal), setting.sampleRate ?? CHATTERBOX_SERVER_RATE, setting.id);
  },

  prepareVoice: (http, reference, signal) => uploadReference(http, reference, signal),
};

type VoiceFields = { voice_mode: 'predefined'; predefined_voice_id: string } | { voice_mode: 'clone'; reference_audio_filename: string };

async function voiceFields(http: RemoteHttp, request: EngineSynthesisRequest, signal: AbortSignal): Promise<VoiceFields> {
  if (request.reference === undefined) return { voice_mode: 'predefined', predefined_voice_id: request.voiceId };
  // What prepareVoice returned for this reference (a library voice), else it is uploaded now (an inline reference).
  const filename = typeof request.prepared === 'string' ? request.prepared : await uploadReference(http, request.reference, signal);
  return { voice_mode: 'clone', reference_audio_filename: filename };
}

function postTts(http: RemoteHttp, request: EngineSynthesisRequest, voice: VoiceFields, signal: AbortSignal): Promise<Response> {
  const options = request.options ?? {};
  const knobs = Object.fromEntries(Object.keys(CHATTERBOX_SERVER_OPTIONS).filter((name) => options[name] !== undefined).map((name) => [name, options[name]]));
  return http.fetch(
    '/tts',
    {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        text: request.text,
        ...voice,
        output_format: 'wav',
        ...knobs,
        ...(request.speed === undefined || request.speed === 1 ? {} : { speed_factor: request.speed }),
        ...(request.language === undefined ? {} : { language: request.language }),
      }),
    },
    signal,
  );
}

function languagesOf(setting: RemoteEngineSetting): EngineLanguage[] {
  const codes = setting.model !== undefined && MULTILINGUAL_MODELS.has(setting.model.toLowerCase()) ? MULTILINGUAL_LANGUAGES : ['en'];
  return codes.map((code) => ({ tag: code, code }));
}

/** A file in the server's `voices/`: its filename is the id `/tts` takes; its name without extension is accepted too. */
function predefinedVoice(filename: string, displayName: string | undefined, setting: RemoteEngineSetting): EngineVoice {
  const stem = filename.replace(/\.(wav|mp3)$/i, '');
  return {
    id: filename,
    name: displayName ?? stem,
    gender: 'neutral',
    language: 'en',
    description: `${setting.id} predefined voice ${filename}`,
    ...(stem === filename ? {} : { aliases: [stem] }),
  };
}

function malformed(engineId: string, path: string, expected: string): ChorusError {
  return new ChorusError({ code: 'engine_failed', retryable: true, message: `The remote engine '${engineId}' answered ${path} with something other than ${expected}.` });
}
