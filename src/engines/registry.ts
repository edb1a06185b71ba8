import type { SpeechEngine } from '../engine/speech-engine.js';
import { ChorusError } from '../errors.js';
import { ESPEAK_ENGINE_ID } from './espeak/espeak-id.js';

/**
 * How Chorus loads an engine. `worker` engines (pure JavaScript or wasm, such as eSpeak) get an
 * instance in every engine worker thread; `main` engines (a client of a native engine-host process,
 * a remote HTTP engine) are created once on the main thread and the workers reach them by message.
 */
export interface EngineRegistration {
  readonly id: string;
  readonly placement: 'worker' | 'main';
  create(): Promise<SpeechEngine>;
}

/** Engines every worker thread can make by id; the workers import this module, not the main thread's sources. */
const WORKER_ENGINES: readonly EngineRegistration[] = [
  // Imported when made: the main thread names eSpeak without loading its 840 KB module.
  { id: ESPEAK_ENGINE_ID, placement: 'worker', create: async () => (await import('./espeak/espeak-engine.js')).createEspeakEngine() },
];

/**
 * Every engine this installation can load. Sources of further engines (installed models) add one
 * spread line here, e.g. `...(await sherpaRegistrations(settings))`.
 */
export async function engineRegistrations(): Promise<EngineRegistration[]> {
  return [...WORKER_ENGINES];
}

/** A worker-placement engine by id, inside a worker thread (or in-process: CLI, tests, benchmarks). */
export function createWorkerEngine(engineId: string): Promise<SpeechEngine> {
  const registration = WORKER_ENGINES.find((candidate) => candidate.id === engineId);
  if (registration === undefined) {
    throw new ChorusError({
      code: 'engine_unavailable',
      message: `Unknown worker engine '${engineId}'; available: ${WORKER_ENGINES.map((engine) => engine.id).join(', ')}.`,
    });
  }
  return registration.create();
}

/** Any registered engine by id, in this process (CLI commands). */
export async function createEngine(engineId: string): Promise<SpeechEngine> {
  const registrations = await engineRegistrations();
  const registration = registrations.find((candidate) => candidate.id === engineId);
  if (registration === undefined) {
    throw new ChorusError({
      code: 'engine_unavailable',
      message: `Unknown engine '${engineId}'; available: ${registrations.map((engine) => engine.id).join(', ')}.`,
    });
  }
  return registration.create();
}

export interface EngineSelection {
  readonly worker: readonly EngineRegistration[];
  readonly main: readonly EngineRegistration[];
  readonly defaultEngine: string;
}

/**
 * The engines CHORUS_ENGINES asks for (empty: all registered) with CHORUS_DEFAULT_ENGINE among them.
 * A name that is not registered, or a default that is not loaded, stops the start with a clear error.
 */
export function selectEngines(registrations: readonly EngineRegistration[], wanted: readonly string[], defaultEngine: string): EngineSelection {
  const known = registrations.map((registration) => registration.id);
  for (const id of [...wanted, defaultEngine]) {
    if (!known.includes(id)) {
      throw new ChorusError({
        code: 'engine_unavailable',
        message: `Engine '${id}' (CHORUS_ENGINES / CHORUS_DEFAULT_ENGINE) is not available here; available: ${known.join(', ')}.`,
      });
    }
  }
  const chosen = wanted.length === 0 ? registrations : registrations.filter((registration) => wanted.includes(registration.id) || registration.id === defaultEngine);
  return {
    worker: chosen.filter((registration) => registration.placement === 'worker'),
    main: chosen.filter((registration) => registration.placement === 'main'),
    defaultEngine,
  };
}
