import { createHash } from 'node:crypto';
import type { EngineCapabilities, EnginePart, EngineVoice, VoiceReference } from '../../engine/speech-engine.js';
import { ChorusError } from '../../errors.js';
import { namedVoice, type RemoteAdapter } from '../remote/remote-adapter.js';
import type { RemoteHttp } from '../remote/remote-http.js';
import { pcmParts, referenceWav } from '../remote/remote-audio.js';
import { sseData } from './sse-events.js';

/**
 * travisvn/chatterbox-tts-api (FastAPI, port 4123 by default). Speech is `POST /v1/audio/speech` with
 * `stream_format: "sse"`: `data: {json}` events, `speech.audio.info` (rate, channels, bits), then
 * `speech.audio.delta` with base64 16-bit PCM per text chunk as the model makes it, then
 * `speech.audio.done`. The server has already answered 200 when it starts generating, so a failure
 * there closes the stream: one that ends without `speech.audio.done` has failed.
 *
 * Voices are its voice library (`GET /v1/voices`; newer versions list them at `GET /audio/voices`) and
 * `alloy`, the name its OpenAI-style requests use for its configured voice sample. A voice cloned on
 * Chorus is uploaded once to that library (`POST /v1/voices`, multipart) under a name derived from
 * its audio, then used by that name.
 */

/** Chatterbox's rate (`model.sr`), for a stream that sends audio before its info event. */
const CHATTERBOX_RATE = 24_000;
/** `TTSRequest.input`'s `max_length`. */
const MAX_INPUT_CHARS = 3000;
/** The voice the server speaks OpenAI voice names in: its configured sample. */
const SERVER_DEFAULT_VOICE = 'alloy';
/** Library voices Chorus uploaded: the server lists them, but they are Chorus's voices, not the server's. */
const UPLOADED_PREFIX = 'chorus-';
const KNOBS = ['exaggeration', 'cfg_weight', 'temperature'] as const;
/**
 * Chatterbox conditions on a reference's first 10 s (`DEC_COND_LEN` in chatterbox's tts.py); more is
 * only upload time, and the server refuses files over 10 MB.
 */
const MAX_REFERENCE_SECONDS = 20;

interface UploadedVoice {
  readonly voice: string;
}

export const chatterboxTtsApiAdapter: RemoteAdapter = {
  capabilities: (setting): EngineCapabilities => ({
    languages: [{ tag: 'en', code: 'en' }],
    sampleRate: setting.sampleRate ?? CHATTERBOX_RATE,
    streaming: 'sentence',
    wordTimings: false,
    cloning: 'neural',
    // `speed` is accepted and ignored by the server: the pipeline time-stretches instead.
    maxInputChars: MAX_INPUT_CHARS,
    deterministic: false,
    options: {
      exaggeration: { type: 'number', min: 0.25, max: 2, default: 0.5, description: 'Emotion intensity; sent as `exaggeration` (the server\'s default applies when absent).' },
      cfg_weight: { type: 'number', min: 0, max: 1, default: 0.5, description: 'Pace and adherence: lower is faster; sent as `cfg_weight`.' },
      temperature: { type: 'number', min: 0.05, max: 5, default: 0.8, description: 'Sampling temperature; sent as `temperature`.' },
    },
  }),

  async listVoices(http, setting, signal) {
    let response = await http.fetch('/v1/voices', { method: 'GET' }, signal);
    // Newer servers moved the listing to /audio/voices; /v1/voices then only takes uploads (405).
    if (response.status === 404 || response.status === 405) {
      await http.bytes(response, signal);
      response = await http.fetch('/audio/voices', { method: 'GET' }, signal);
    }
    if (!response.ok) throw await http.failure(response, signal);
    const listed = libraryVoices(await http.json(response, signal), setting.id);
    return [...this.fallbackVoices(setting), ...listed.filter((voice) => voice.id.toLowerCase() !== SERVER_DEFAULT_VOICE)];
  },

  fallbackVoices: (setting): EngineVoice[] =>
    (setting.voices ?? [SERVER_DEFAULT_VOICE]).map((voice) =>
      namedVoice(voice, voice === SERVER_DEFAULT_VOICE ? `${setting.id}: the server's configured voice sample` : `${setting.id} voice ${voice}`),
    ),

  async probe(http, signal) {
    const response = await http.fetchOk('/health', { method: 'GET' }, signal);
    const health = (await http.json(response, signal)) as { initialization_state?: unknown; initialization_error?: unknown };
    // `initializing` is up: a request waits for the model. `error`: the model will not load.
    if (health.initialization_state === 'error') {
      throw new ChorusError({ code: 'engine_failed', retryable: true, message: `its model failed to load: ${String(health.initialization_error ?? 'no reason given')}` });
    }
  },

  async *synthesize(http, setting, request, signal) {
    let voice = request.voiceId;
    if (isUploaded(request.prepared)) voice = request.prepared.voice;
    else if (request.reference !== undefined) voice = (await uploadVoice(http, request.reference, signal)).voice;
    const knobs = Object.fromEntries(KNOBS.filter((name) => typeof request.options?.[name] === 'number').map((name) => [name, request.options![name]]));
    const response = await http.fetch(
      '/v1/audio/speech',
      {
        method: 'POST',
        headers: { 'content-type': 'application/json', accept: 'text/event-stream' },
        body: JSON.stringify({ input: request.text, voice, stream_format: 'sse', ...(setting.model === undefined ? {} : { model: setting.model }), ...knobs }),
      },
      signal,
    );
    if (!response.ok) throw await http.failure(response, signal);
    const fallbackRate = setting.sampleRate ?? CHATTERBOX_RATE;
    // A server from before `stream_format` answers with a WAV file.
    if (response.headers.get('content-type')?.startsWith('audio/') === true) {
      yield* pcmParts(http.body(response, signal), fallbackRate, setting.id);
      return;
    }
    yield* sseAudio(http.body(response, signal), fallbackRate, setting.id);
  },

  prepareVoice: uploadVoice,
};

/** Audio parts from the server's SSE events, as each arrives. */
async function* sseAudio(body: AsyncIterable<Uint8Array>, fallbackRate: number, engineId: string): AsyncGenerator<EnginePart> {
  let sampleRate = fallbackRate;
  let channels = 1;
  let odd: Uint8Array | undefined;
  for await (const data of sseData(body)) {
    let event: { type?: unknown; sample_rate?: unknown; channels?: unknown; bits_per_sample?: unknown; audio?: unknown };
    try {
      event = JSON.parse(data) as typeof event;
    } catch {
      throw badStream(engineId, `an event that is not JSON (${data.slice(0, 80)})`);
    }
    if (event.type === 'speech.audio.info') {
      if (event.bits_per_sample !== 16) throw badStream(engineId, `${String(event.bits_per_sample)}-bit audio (16-bit expected)`);
      if (typeof event.sample_rate !== 'number' || event.sample_rate < 1000) throw badStream(engineId, `a sample rate of ${String(event.sample_rate)}`);
      sampleRate = event.sample_rate;
      channels = typeof event.channels === 'number' && event.channels >= 1 ? event.channels : 1;
    } else if (event.type === 'speech.audio.delta') {
      if (typeof event.audio !== 'string') throw badStream(engineId, 'an audio event without audio');
      let bytes: Uint8Array = Buffer.from(event.audio, 'base64');
      if (odd !== undefined) bytes = Buffer.concat([odd, bytes]);
      const frameBytes = 2 * channels;
      const usable = bytes.length - (bytes.length % frameBytes);
      odd = usable < bytes.length ? bytes.slice(usable) : undefined;
      if (usable > 0) yield { type: 'audio', samples: monoFloat(bytes.subarray(0, usable), channels), sampleRate };
    } else if (event.type === 'speech.audio.done') {
      return;
    }
  }
  throw new ChorusError({
    code: 'engine_failed',
    retryable: true,
    detail: 'remote_server_error',
    message: `The remote engine '${engineId}' ended its speech stream before speech.audio.done (the server closes the stream when generation fails).`,
  });
}

function monoFloat(bytes: Uint8Array, channels: number): Float32Array {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const frames = bytes.length / 2 / channels;
  const samples = new Float32Array(frames);
  for (let frame = 0; frame < frames; frame++) {
    let sum = 0;
    for (let channel = 0; channel < channels; channel++) sum += view.getInt16((frame * channels + channel) * 2, true);
    samples[frame] = sum / channels / 32768;
  }
  return samples;
}

/**
 * Puts a reference into the server's voice library, once: the name comes from the audio itself, so
 * the server's 409 for a name it has means it has this very audio (uploaded earlier, or by another
 * Chorus in front of the same server).
 */
async function uploadVoice(http: RemoteHttp, reference: VoiceReference, signal: AbortSignal): Promise<UploadedVoice> {
  const wav = referenceWav(reference, MAX_REFERENCE_SECONDS);
  const voice = `${UPLOADED_PREFIX}${createHash('sha256').update(wav).digest('hex').slice(0, 16)}`;
  const form = new FormData();
  form.set('voice_name', voice);
  form.set('voice_file', new Blob([wav], { type: 'audio/wav' }), `${voice}.wav`);
  const response = await http.fetch('/v1/voices', { method: 'POST', body: form }, signal);
  if (!response.ok && response.status !== 409) throw await http.failure(response, signal);
  await http.bytes(response, signal);
  return { voice };
}

function isUploaded(prepared: unknown): prepared is UploadedVoice {
  return typeof prepared === 'object' && prepared !== null && typeof (prepared as UploadedVoice).voice === 'string';
}

/** `{voices: [{name, language, aliases}], count}`, less the voices Chorus uploaded itself. */
function libraryVoices(body: unknown, engineId: string): EngineVoice[] {
  const items = (body as { voices?: unknown } | null)?.voices;
  if (!Array.isArray(items)) return [];
  return items.flatMap((item: unknown): EngineVoice[] => {
    const { name, language, aliases } = (item ?? {}) as { name?: unknown; language?: unknown; aliases?: unknown };
    if (typeof name !== 'string' || name === '' || name.startsWith(UPLOADED_PREFIX)) return [];
    const spoken = typeof language === 'string' && language !== 'en' ? ` (${language})` : '';
    const names = Array.isArray(aliases) ? aliases.filter((alias): alias is string => typeof alias === 'string' && alias !== '') : [];
    return [{ ...namedVoice(name, `${engineId} library voice ${name}${spoken}`), ...(names.length === 0 ? {} : { aliases: names }) }];
  });
}

function badStream(engineId: string, what: string): ChorusError {
  return new ChorusError({ code: 'engine_failed', retryable: true, detail: 'remote_server_error', message: `The remote engine '${engineId}' sent ${what}.` });
}
