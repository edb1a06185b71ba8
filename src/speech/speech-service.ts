import type { AudioFormat } from '../audio/encoders/audio-encoder.js';
import { availableFormats } from '../audio/encoders/index.js';
import type { ChorusConfig } from '../config/config.js';
import type { EngineDescription } from '../engine/engine-description.js';
import type { PreparedVoice, SpeechEngine, VoiceReference } from '../engine/speech-engine.js';
import { ESPEAK_ENGINE_ID } from '../engines/espeak/espeak-id.js';
import { engineRegistrations, selectEngines, type EngineRegistration } from '../engines/registry.js';
import { EnginePool, type EnginePoolStats } from '../workers/engine-pool.js';
import type { AudioTask, AudioTaskResults } from '../workers/audio-tasks.js';
import { EngineDirectory, VoiceCatalog } from './voice-catalog.js';
import type { SpeechPart, SpeechRequest } from '../pipeline/speech-request.js';

/** What the API surfaces need from the speech side; the engine pool is behind it. */
export interface SpeechService {
  /** The default engine. */
  readonly engine: EngineDescription;
  /** Every engine requests may choose, and their voices. */
  readonly engines: EngineDirectory;
  /** The default engine's voices. */
  readonly voices: VoiceCatalog;
  /** The engine voice matching renders with (eSpeak), loaded in every worker whatever CHORUS_ENGINES says. */
  readonly matching: { readonly engine: EngineDescription; readonly voices: VoiceCatalog };
  readonly maxCharsPerChunk: number;
  /** Longest speech text a request may send (CHORUS_MAX_INPUT_CHARS). */
  readonly maxInputChars: number;
  /** Longest audio one request may make (CHORUS_MAX_AUDIO_SECONDS); `synthesize` enforces it. */
  readonly maxAudioSeconds: number;
  availableFormats(): Promise<readonly AudioFormat[]>;
  synthesize(request: SpeechRequest, signal: AbortSignal): AsyncIterable<SpeechPart>;
  /** The engine's `prepareVoice(reference)` (a speaker embedding), or undefined when it has none. */
  prepareVoice(engineId: string, reference: VoiceReference, signal: AbortSignal): Promise<PreparedVoice | undefined>;
  /** Voice analysis, conversion and watermark detection, off the event loop. */
  runTask<T extends AudioTask>(task: T, signal: AbortSignal): Promise<AudioTaskResults[T['kind']]>;
  stats(): EnginePoolStats;
  close(): Promise<void>;
}

export interface SpeechServiceOptions {
  /** Registrations to choose from; absent = every registered engine. Tests pass their own. */
  readonly registrations?: readonly EngineRegistration[];
}

export async function createSpeechService(config: ChorusConfig, options: SpeechServiceOptions = {}): Promise<SpeechService> {
  const registrations = options.registrations ?? (await engineRegistrations());
  const selection = selectEngines(registrations, config.engines, config.engine);
  const mainEngines: SpeechEngine[] = await Promise.all(selection.main.map((registration) => registration.create()));
  let pool: EnginePool;
  try {
    pool = await EnginePool.start({
      workerEngines: selection.worker.map((registration) => registration.id),
      mainEngines,
      defaultEngine: selection.defaultEngine,
      size: config.workers,
      ffmpegPath: config.ffmpegPath,
      streamBufferBytes: config.streamBufferBytes,
    });
  } catch (error) {
    await Promise.all(mainEngines.map((engine) => closeEngine(engine)));
    throw error;
  }
  return speechServiceOver(pool, config, mainEngines);
}

/** The service over a started pool (tests start pools with engines of their own). */
export function speechServiceOver(
  pool: EnginePool,
  config: Pick<ChorusConfig, 'maxCharsPerChunk' | 'maxInputChars' | 'maxAudioSeconds' | 'ffmpegPath'>,
  mainEngines: readonly SpeechEngine[] = [],
): SpeechService {
  const engines = new EngineDirectory(pool.engines, pool.description.id);
  const matchingEngine = pool.engines.find((engine) => engine.id === ESPEAK_ENGINE_ID) ?? pool.matchingEngine;
  const matching = { engine: matchingEngine, voices: engines.has(ESPEAK_ENGINE_ID) ? engines.voices(ESPEAK_ENGINE_ID) : new VoiceCatalog(matchingEngine.voices) };
  return {
    engine: pool.description,
    engines,
    voices: engines.voices(pool.description.id),
    matching,
    maxCharsPerChunk: config.maxCharsPerChunk,
    maxInputChars: config.maxInputChars,
    maxAudioSeconds: config.maxAudioSeconds,
    availableFormats: () => availableFormats({ ffmpegPath: config.ffmpegPath }),
    // A caller may bound a request tighter (the agent's remaining reply), never looser.
    synthesize: (request, signal) =>
      pool.synthesize({ ...request, maxAudioSec: Math.min(request.maxAudioSec ?? Infinity, config.maxAudioSeconds) }, signal),
    async prepareVoice(engineId, reference, signal) {
      const engine = mainEngines.find((candidate) => candidate.id === engineId);
      // Worker engines (eSpeak) clone nothing; one that did would prepare in its worker.
      return engine?.prepareVoice === undefined ? undefined : engine.prepareVoice(reference, signal);
    },
    runTask: (task, signal) => pool.runTask(task, signal),
    stats: () => pool.stats(),
    close: async () => {
      await pool.close();
      await Promise.all(mainEngines.map((engine) => closeEngine(engine)));
    },
  };
}

/** Main-thread engines may hold a process or sockets; those that do expose `close()`. */
async function closeEngine(engine: SpeechEngine): Promise<void> {
  const closable = engine as SpeechEngine & { close?: () => Promise<void> | void };
  await closable.close?.();
}
