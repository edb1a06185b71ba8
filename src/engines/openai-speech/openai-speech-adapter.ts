import type { EngineCapabilities, EngineVoice } from '../../engine/speech-engine.js';
import { namedVoice, type RemoteAdapter } from '../remote/remote-adapter.js';
import { pcmParts } from '../remote/remote-audio.js';

/**
 * Any server with OpenAI's `POST /v1/audio/speech` (OpenAI itself, LocalAI, vLLM-Omni, Orpheus-FastAPI,
 * Chatterbox-TTS-Server's OpenAI route): `response_format: "pcm"`, which OpenAI defines as headerless
 * 16-bit mono at 24 kHz, read as it streams.
 */

/** OpenAI's voices; the API has no route to list them. */
export const OPENAI_VOICES = ['alloy', 'ash', 'ballad', 'coral', 'echo', 'fable', 'nova', 'onyx', 'sage', 'shimmer', 'verse'] as const;
const OPENAI_RATE = 24_000;
/** OpenAI's documented limit on `input`. */
const OPENAI_MAX_INPUT = 4096;

export const openaiSpeechAdapter: RemoteAdapter = {
  capabilities: (setting): EngineCapabilities => ({
    languages: [{ tag: 'en', code: 'en' }],
    sampleRate: setting.sampleRate ?? OPENAI_RATE,
    streaming: 'incremental',
    wordTimings: false,
    cloning: 'none',
    nativeSpeedRange: [0.25, 4],
    maxInputChars: OPENAI_MAX_INPUT,
    deterministic: false,
    options: {
      instructions: { type: 'string', description: 'How to speak (tone, accent, pace): sent as OpenAI\'s `instructions` (gpt-4o-mini-tts).' },
    },
  }),

  async listVoices(http, setting, signal) {
    // Nothing to list; the call still checks that the server is there and the key is accepted.
    await this.probe(http, signal);
    return this.fallbackVoices(setting);
  },

  fallbackVoices: (setting): EngineVoice[] => (setting.voices ?? OPENAI_VOICES).map((voice) => namedVoice(voice, `${setting.id} voice ${voice}`)),

  async probe(http, signal) {
    await http.bytes(await http.fetchOk('/v1/models', { method: 'GET' }, signal), signal);
  },

  async *synthesize(http, setting, request, signal) {
    const instructions = request.options?.['instructions'];
    const response = await http.postJson(
      '/v1/audio/speech',
      {
        model: setting.model ?? 'tts-1',
        input: request.text,
        voice: request.voiceId,
        response_format: 'pcm',
        ...(request.speed === undefined || request.speed === 1 ? {} : { speed: request.speed }),
        ...(typeof instructions === 'string' ? { instructions } : {}),
      },
      signal,
    );
    yield* pcmParts(http.body(response, signal), setting.sampleRate ?? OPENAI_RATE, setting.id);
  },
};
