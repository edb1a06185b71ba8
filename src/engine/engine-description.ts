import type { EngineCapabilities, EngineVoice } from './speech-engine.js';

/** What the main thread knows about a loaded engine, wherever it runs. */
export interface EngineDescription {
  readonly id: string;
  readonly version: string;
  readonly capabilities: EngineCapabilities;
  readonly voices: readonly EngineVoice[];
  /** In every worker thread, or once on the main thread behind a proxy. */
  readonly placement: 'worker' | 'main';
}
