import createEspeakModule, {
  type ESpeakNGWorker,
  type EspeakEvent,
} from '@echogarden/espeak-ng-emscripten';
import { ChorusError } from '../../errors.js';
import type {
  EngineCapabilities,
  EnginePart,
  EngineSynthesisRequest,
  EngineVoice,
  SpeechEngine,
} from '../../engine/speech-engine.js';
import { bcp47Tag } from '../../engine/engine-languages.js';
import { ESPEAK_VOICES, toEngineVoice, type EspeakVoiceDefinition } from './espeak-voices.js';
import { literalEspeakText, type LiteralText } from './literal-text.js';

import { ESPEAK_ENGINE_ID } from './espeak-id.js';

export { ESPEAK_ENGINE_ID };
/** Echogarden's eSpeak NG 1.52-dev build, package version 0.3.5. */
const ESPEAK_VERSION = 'espeak-ng-1.52-dev+echogarden-0.3.5';
// eSpeak accepts 80..450 words per minute; beyond that the pipeline time-stretches.
const MIN_RATE_WPM = 80;
const MAX_RATE_WPM = 450;
/**
 * Appended to a chunk that more text follows: an empty phoneme group is a clause eSpeak says nothing
 * in, so it renders the pause after the chunk's last clause (about 300 ms after a full stop, 150 ms
 * after a comma at the default rate, scaled by the rate) exactly as it does mid-text, and adds no
 * word. Without it a chunk ends with only 7 ms of silence and sentences across a join run together.
 */
const CONTINUATION = ' [[]]';

/**
 * eSpeak NG compiled to JavaScript (wasm2js). Synthesis is synchronous and blocks its thread, so
 * the server runs this engine inside worker threads; one instance serves one thread.
 */
export async function createEspeakEngine(): Promise<SpeechEngine> {
  const module = await createEspeakModule();
  const synth = new module.eSpeakNGWorker();
  const sampleRate = synth.get_samplerate();
  const languages = collectLanguages(synth);
  const voicesById = new Map<string, EspeakVoiceDefinition>();
  for (const voice of ESPEAK_VOICES) voicesById.set(voice.name.toLowerCase(), voice);
  const engineVoices = ESPEAK_VOICES.map(toEngineVoice);

  const capabilities: EngineCapabilities = {
    languages: [...languages.keys()].sort().map((code) => ({ tag: bcp47Tag(code), code })),
    sampleRate,
    streaming: 'sentence',
    wordTimings: true,
    cloning: 'none',
    deterministic: true,
    nativeSpeedRange: [0.5, 2],
  };

  function selectVoice(voice: EspeakVoiceDefinition, language: string | undefined): void {
    const base = languages.get((language ?? voice.base).toLowerCase());
    if (base === undefined) {
      throw new ChorusError({
        code: 'invalid_request',
        param: 'language',
        message: `Unknown language '${language}'. eSpeak NG speaks: ${[...languages.keys()].sort().join(', ')}.`,
      });
    }
    const name = voice.variant === '' ? base : `${base}+${voice.variant}`;
    const status = synth.set_voice(name);
    if (status !== 0) {
      throw new ChorusError({ code: 'engine_failed', message: `eSpeak NG could not load voice '${name}' (status ${status}).` });
    }
  }

  // Note: eSpeak carries some synthesis state from one utterance to the next (pitch-flutter phase,
  // echo buffer), so repeating a request gives the same words and timings but waveforms that can
  // differ by a few samples. The wrapper offers no reset short of a new module instance.

  // The first synthesis compiles the hot paths; pay that at start-up, not on a user request. One is
  // enough: measured, warming eight voices took 630 ms of every thread's start and left a request
  // on any other voice as slow as before (~200 ms, its voice data loading), so only the default is.
  selectVoice(ESPEAK_VOICES[0]!, undefined);
  synth.synthesize('Warming up, with 12 words and a clause.', () => false);

  async function* synthesize(request: EngineSynthesisRequest, signal: AbortSignal): AsyncGenerator<EnginePart> {
    const voice = voicesById.get(request.voiceId.toLowerCase());
    if (voice === undefined) {
      throw new ChorusError({ code: 'voice_not_found', param: 'voice', message: `Voice '${request.voiceId}' does not exist.` });
    }
    if (signal.aborted) return;
    selectVoice(voice, request.language);
    const speed = request.speed ?? 1;
    synth.set_rate(Math.round(Math.min(MAX_RATE_WPM, Math.max(MIN_RATE_WPM, voice.rate * speed))));
    synth.set_pitch(voice.pitch);
    synth.set_range(voice.range);

    const chunks: Int16Array[] = [];
    const events: EspeakEvent[] = [];
    const maxSamples = (request.maxDurationSec ?? Infinity) * sampleRate;
    let madeSamples = 0;
    // Text is spoken as written, never read as SSML, phonemes or embedded commands.
    const literal = literalEspeakText(request.text);
    synth.synthesize(request.continues === true ? literal.text + CONTINUATION : literal.text, (samples, chunkEvents) => {
      if (samples.length > 0) chunks.push(samples);
      madeSamples += samples.length;
      for (const event of chunkEvents) {
        if (event.type === 'word' || event.type === 'end' || event.type === 'sentence') events.push(event);
      }
      // Returning true tells eSpeak to stop: an in-thread abort cuts a long chunk short, and audio
      // past the bound is not made (the pipeline fails the request there).
      return signal.aborted || madeSamples > maxSamples;
    });
    if (signal.aborted) return;

    let totalSamples = 0;
    for (const chunk of chunks) totalSamples += chunk.length;
    const durationMs = (totalSamples / sampleRate) * 1000;
    yield* wordParts(literal, events, durationMs);
    for (const chunk of chunks) {
      // Made in one go, handed out in pieces: a consumer that aborts between them gets no more.
      if (signal.aborted) return;
      const samples = new Float32Array(chunk.length);
      for (let i = 0; i < chunk.length; i++) samples[i] = chunk[i]! / 32768;
      yield { type: 'audio', samples, sampleRate };
    }
  }

  return {
    id: ESPEAK_ENGINE_ID,
    version: ESPEAK_VERSION,
    capabilities,
    listVoices: (): readonly EngineVoice[] => engineVoices,
    synthesize,
  };
}

/** Maps language codes (`en-us`, `cmn`, `de`) to the eSpeak voice that speaks them. */
function collectLanguages(synth: ESpeakNGWorker): Map<string, string> {
  const languages = new Map<string, string>();
  for (const voice of synth.list_voices()) {
    const identifier = voice.identifier;
    for (const language of voice.languages) {
      const code = language.name.toLowerCase();
      if (!languages.has(code)) languages.set(code, identifier);
    }
    const own = (identifier.split('/').pop() ?? identifier).toLowerCase();
    if (!languages.has(own)) languages.set(own, identifier);
  }
  return languages;
}

/**
 * eSpeak reports word starts as 1-based code-point positions into the text it was given. Convert
 * them to UTF-16 offsets into the request's own text, and end each word where the next word or
 * clause begins.
 */
function* wordParts(literal: LiteralText, events: readonly EspeakEvent[], durationMs: number): Generator<EnginePart> {
  const { text } = literal;
  const codePointToUtf16: number[] = [];
  for (let i = 0; i < text.length; i++) {
    codePointToUtf16.push(i);
    const code = text.charCodeAt(i);
    if (code >= 0xd800 && code <= 0xdbff) i++;
  }
  codePointToUtf16.push(text.length);
  const toUtf16 = (position: number): number =>
    codePointToUtf16[Math.min(Math.max(position, 0), codePointToUtf16.length - 1)]!;

  for (let i = 0; i < events.length; i++) {
    const event = events[i]!;
    if (event.type !== 'word') continue;
    let endMs = durationMs;
    for (let j = i + 1; j < events.length; j++) {
      const next = events[j]!;
      if (next.audio_position > event.audio_position || next.type === 'word') {
        endMs = Math.max(event.audio_position, next.audio_position);
        break;
      }
    }
    const start = event.text_position - 1;
    yield {
      type: 'word',
      textStart: literal.toSourceStart(toUtf16(start)),
      textEnd: literal.toSourceEnd(toUtf16(start + Math.max(1, event.word_length))),
      startMs: event.audio_position,
      endMs: Math.min(endMs, durationMs),
    };
  }
}
