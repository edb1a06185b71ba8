import type { AudioFormat } from '../audio/encoders/audio-encoder.js';
import { availableFormats } from '../audio/encoders/index.js';
import type { ChorusConfig } from '../config/config.js';
import type { EngineDescription } from '../engine/engine-description.js';
import type { PreparedVoice, SpeechEngine, VoiceReference } from '../engine/speech-engine.js';
import { ESPEAK_ENGINE_ID } from '../engines/espeak/espeak-id.js';
import { engineRegistrations, selectEngines, type EngineRegistration } from '../engines/registry.js';
import { remoteEngineRegistrations } from '../engines/remote-registrations.js';
import { loadInstalledNeuralEngines } from '../engines/sherpa/installed-engines.js';
import { ChorusError } from '../errors.js';
import type { Logger } from '../util/logger.js';
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
  /** Calls under way per main-thread engine (engine host models, remote engines); worker engines are not listed. */
  activeEngineCalls(): ReadonlyMap<string, number>;
  /** Every engine loaded or tried: the serving ones `ready`, installed models that could not load `failed` with the reason. */
  engineStatus(): EngineStatus[];
  close(): Promise<void>;
}

export interface SpeechServiceOptions {
  /** Registrations to choose from; absent = eSpeak and every installed model (CHORUS_MODELS_DIR). Tests pass their own. */
  readonly registrations?: readonly EngineRegistration[];
  readonly logger?: Logger;
  /** Hears how every synthesis went (the metrics). */
  readonly observer?: SynthesisObserver;
}

/** How one synthesis went, reported once when it ends. */
export interface SynthesisReport {
  /** A loaded engine's id (never a name from the request that matched none). */
  readonly engine: string;
  readonly delivery: SpeechRequest['delivery'];
  /** `aborted`: the request was cancelled or its consumer stopped reading before the end. */
  readonly outcome: 'completed' | 'failed' | 'aborted';
  /** The error code of a failed synthesis. */
  readonly errorCode?: string;
  /** From the call to its first audio bytes; absent when none came. */
  readonly firstAudioSeconds?: number;
  /** From the call to its end (or failure). */
  readonly elapsedSeconds: number;
  /** Audio made, seconds; absent unless completed. */
  readonly audioSeconds?: number;
}

export interface SynthesisObserver {
  /** A synthesis of `engine` begins; `ended` is called exactly once for each. */
  started(engine: string): void;
  ended(report: SynthesisReport): void;
}

/** An engine this server tried to load, for /health and the log. */
export interface EngineStatus {
  readonly id: string;
  /** `down`: a remote engine that is failing; requests to it fail fast until a health probe succeeds. */
  readonly state: 'loading' | 'ready' | 'failed' | 'down';
  readonly reason?: string;
  /** Remote engines: requests in flight and waiting for a slot. */
  readonly active?: number;
  readonly queued?: number;
}

/** What main-thread engines that can fail after start (remote ones) report about themselves. */
interface LiveEngine {
  status?(): { readonly state: 'ready' | 'down'; readonly reason?: string; readonly active?: number; readonly queued?: number };
}

export async function createSpeechService(config: ChorusConfig, options: SpeechServiceOptions = {}): Promise<SpeechService> {
  const { logger } = options;
  const neural =
    options.registrations === undefined
      ? await loadInstalledNeuralEngines({
          modelsDir: config.modelsDir,
          instances: config.sherpaInstances,
          threads: config.sherpaThreads,
          ...(logger === undefined ? {} : { logger }),
        })
      : undefined;
  const registrations = options.registrations ?? [
    ...(await engineRegistrations()),
    ...(neural?.registrations ?? []),
    ...remoteEngineRegistrations(config.remoteEngines, logger),
  ];
  const selection = selectEngines(registrations, config.engines, config.engine);
  // A model that fails to load is reported and left out; the server starts with the engines that work.
  const created = await Promise.allSettled(selection.main.map((registration) => registration.create()));
  const mainEngines: SpeechEngine[] = [];
  const failed: EngineStatus[] = [];
  created.forEach((result, index) => {
    const id = selection.main[index]!.id;
    if (result.status === 'fulfilled') mainEngines.push(result.value);
    else {
      const reason = result.reason instanceof Error ? result.reason.message : String(result.reason);
      failed.push({ id, state: 'failed', reason });
      logger?.error('engine failed to load', { engine: id, reason });
    }
  });
  if (failed.some((entry) => entry.id === selection.defaultEngine)) {
    await Promise.all(mainEngines.map((engine) => closeEngine(engine)));
    await neural?.close();
    throw new ChorusError({ code: 'engine_unavailable', message: `The default engine '${selection.defaultEngine}' (CHORUS_DEFAULT_ENGINE) failed to load: ${failed.find((entry) => entry.id === selection.defaultEngine)!.reason}` });
  }
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
    await neural?.close();
    throw error;
  }
  const service = speechServiceOver(pool, config, mainEngines, options.observer);
  const neuralStatus = (): EngineStatus[] =>
    (neural?.status() ?? []).map((entry) => ({ id: entry.id, state: entry.state, ...(entry.reason === undefined ? {} : { reason: entry.reason }) }));
  return {
    ...service,
    engineStatus: () => {
      const listed = new Set(service.engines.engines.map((engine) => engine.id));
      // Installed models that are not serving (refused by the pre-check, failed to load) are shown too.
      const others = [...failed, ...neuralStatus()].filter((entry) => !listed.has(entry.id));
      return [...service.engineStatus(), ...others.filter((entry, index) => others.findIndex((other) => other.id === entry.id) === index)];
    },
    close: async () => {
      await service.close();
      await neural?.close();
    },
  };
}

/** The service over a started pool (tests start pools with engines of their own). */
export function speechServiceOver(
  pool: EnginePool,
  config: Pick<ChorusConfig, 'maxCharsPerChunk' | 'maxInputChars' | 'maxAudioSeconds' | 'ffmpegPath'>,
  mainEngines: readonly SpeechEngine[] = [],
  observer?: SynthesisObserver,
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
    synthesize: (request, signal) => {
      const parts = pool.synthesize({ ...request, maxAudioSec: Math.min(request.maxAudioSec ?? Infinity, config.maxAudioSeconds) }, signal);
      if (observer === undefined) return parts;
      // An engine id no loaded engine has is the request's text, not a label: it is reported as `unknown`.
      const engine = pool.engines.some((candidate) => candidate.id === request.engine) ? request.engine : 'unknown';
      return observed(parts, { engine, delivery: request.delivery }, observer, signal);
    },
    async prepareVoice(engineId, reference, signal) {
      const engine = mainEngines.find((candidate) => candidate.id === engineId);
      // Worker engines (eSpeak) clone nothing; one that did would prepare in its worker.
      return engine?.prepareVoice === undefined ? undefined : engine.prepareVoice(reference, signal);
    },
    runTask: (task, signal) => pool.runTask(task, signal),
    stats: () => pool.stats(),
    activeEngineCalls: () => pool.activeEngineCallsByEngine(),
    engineStatus: () =>
      pool.engines.map((engine): EngineStatus => {
        const live = (mainEngines.find((candidate) => candidate.id === engine.id) as LiveEngine | undefined)?.status?.();
        return live === undefined ? { id: engine.id, state: 'ready' } : { id: engine.id, ...live };
      }),
    close: async () => {
      await pool.close();
      await Promise.all(mainEngines.map((engine) => closeEngine(engine)));
    },
  };
}

/** Passes `parts` through, timing them for `observer`. */
async function* observed(
  parts: AsyncIterable<SpeechPart>,
  labels: Pick<SynthesisReport, 'engine' | 'delivery'>,
  observer: SynthesisObserver,
  signal: AbortSignal,
): AsyncGenerator<SpeechPart> {
  const started = performance.now();
  const secondsSince = (): number => (performance.now() - started) / 1000;
  let firstAudioSeconds: number | undefined;
  let audioSeconds: number | undefined;
  let errorCode: string | undefined;
  observer.started(labels.engine);
  try {
    for await (const part of parts) {
      if (part.type === 'audio' && firstAudioSeconds === undefined) firstAudioSeconds = secondsSince();
      if (part.type === 'end') audioSeconds = part.durationSec;
      yield part;
    }
  } catch (error) {
    if (!signal.aborted) errorCode = error instanceof ChorusError ? error.code : 'internal';
    throw error;
  } finally {
    // The pool ends an aborted synthesis quietly, without its `end`; a consumer may also leave after it.
    const outcome: SynthesisReport['outcome'] = errorCode !== undefined ? 'failed' : !signal.aborted && audioSeconds !== undefined ? 'completed' : 'aborted';
    observer.ended({
      ...labels,
      outcome,
      elapsedSeconds: secondsSince(),
      ...(errorCode === undefined ? {} : { errorCode }),
      ...(firstAudioSeconds === undefined ? {} : { firstAudioSeconds }),
      ...(outcome === 'completed' && audioSeconds !== undefined ? { audioSeconds } : {}),
    });
  }
}

/** Main-thread engines may hold a process or sockets; those that do expose `close()`. */
async function closeEngine(engine: SpeechEngine): Promise<void> {
  const closable = engine as SpeechEngine & { close?: () => Promise<void> | void };
  await closable.close?.();
}
