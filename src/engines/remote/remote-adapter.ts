import type { EngineCapabilities, EnginePart, EngineSynthesisRequest, EngineVoice, PreparedVoice, VoiceReference } from '../../engine/speech-engine.js';
import type { RemoteHttp } from './remote-http.js';
import type { RemoteEngineSetting } from '../../config/remote-engines.js';

/**
 * What one kind of model server needs to be a Chorus engine: its protocol, nothing else. Queueing,
 * timeouts, the retry, the circuit breaker and health reporting are the same for every kind and
 * live in remote-engine.ts.
 */
export interface RemoteAdapter {
  /** What the engine can do with this setting (the rate its audio comes at, whether it clones). */
  capabilities(setting: RemoteEngineSetting): EngineCapabilities;
  /** The server's voices, asked for at start. */
  listVoices(http: RemoteHttp, setting: RemoteEngineSetting, signal: AbortSignal): Promise<EngineVoice[]>;
  /** Voices offered when the server cannot be asked (it is down at start, or lists none). */
  fallbackVoices(setting: RemoteEngineSetting): EngineVoice[];
  /** Resolves when the server is up: its health route, or the cheapest request it has. */
  probe(http: RemoteHttp, signal: AbortSignal): Promise<void>;
  /**
   * Audio (and word timings, where the server gives them) for one request. Throws ChorusError:
   * `engine_failed` from RemoteHttp for the server's failures. Stops quietly once `signal` aborts.
   */
  synthesize(http: RemoteHttp, setting: RemoteEngineSetting, request: EngineSynthesisRequest, signal: AbortSignal): AsyncIterable<EnginePart>;
  /** For servers that keep references: uploads one, returning what `synthesize` needs to use it. */
  prepareVoice?(http: RemoteHttp, reference: VoiceReference, signal: AbortSignal): Promise<PreparedVoice>;
}

/** A voice the server names but does not describe further. */
export function namedVoice(id: string, description: string): EngineVoice {
  return { id, name: id, gender: 'neutral', language: 'en', description };
}
