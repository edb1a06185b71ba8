import type { SpeechEngine } from '../engine/speech-engine.js';
import { ChorusError } from '../errors.js';
import { createEspeakEngine, ESPEAK_ENGINE_ID } from './espeak/espeak-engine.js';

/** Engine factories by id. A new engine adds one line here and its own folder under engines/. */
const ENGINE_FACTORIES: Readonly<Record<string, () => Promise<SpeechEngine>>> = {
  [ESPEAK_ENGINE_ID]: createEspeakEngine,
};

export const ENGINE_IDS: readonly string[] = Object.keys(ENGINE_FACTORIES);

export function createEngine(engineId: string): Promise<SpeechEngine> {
  const factory = Object.hasOwn(ENGINE_FACTORIES, engineId) ? ENGINE_FACTORIES[engineId] : undefined;
  if (factory === undefined) {
    throw new ChorusError({
      code: 'engine_unavailable',
      message: `Unknown engine '${engineId}'; available: ${ENGINE_IDS.join(', ')}.`,
    });
  }
  return factory();
}
