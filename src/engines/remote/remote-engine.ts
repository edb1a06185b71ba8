import { createHash } from 'node:crypto';
import type { EngineVoice, EnginePart, EngineSynthesisRequest, PreparedVoice, SpeechEngine, VoiceReference } from '../../engine/speech-engine.js';
import { ChorusError } from '../../errors.js';
import type { Logger } from '../../util/logger.js';
import type { RemoteAdapter } from './remote-adapter.js';
import { RemoteHttp } from './remote-http.js';
import type { RemoteEngineSetting } from '../../config/remote-engines.js';
import { CircuitBreaker, ConcurrencyGate } from './resilience.js';

/** How long the server may take to list its voices at start before it is reported down. */
const START_PROBE_MS = 5000;

export interface RemoteEngineStatus {
  readonly state: 'ready' | 'down';
  readonly reason?: string;
  readonly active: number;
  readonly queued: number;
}

export interface RemoteEngine extends SpeechEngine {
  status(): RemoteEngineStatus;
  close(): Promise<void>;
}

/**
 * A model server as an engine. Every request takes a slot of the engine's concurrency limit (or
 * waits for one), and fails with `engine_unavailable` at once while the engine is down: after
 * `failureThreshold` failures in a row (no answer, a 5xx, a broken stream) until a health probe,
 * every `probeIntervalMs`, succeeds. A request's abort reaches the remote request.
 */
export async function createRemoteEngine(setting: RemoteEngineSetting, adapter: RemoteAdapter, logger?: Logger): Promise<RemoteEngine> {
  const http = new RemoteHttp(setting.id, setting.url, setting.apiKey, setting.timeoutMs);
  const describe = (): string => `The remote engine '${setting.id}' (${setting.kind})`;
  const gate = new ConcurrencyGate(setting.concurrency, setting.maxQueued, describe);
  let probeTimer: NodeJS.Timeout | undefined;
  let closed = false;
  const closing = new AbortController();

  const breaker = new CircuitBreaker(setting.failureThreshold, (state, reason) => {
    if (state === 'down') {
      logger?.error('remote engine down', { engine: setting.id, reason });
      gate.refuseWaiting(downError());
      scheduleProbe();
    } else {
      logger?.info('remote engine up', { engine: setting.id });
    }
  });

  function downError(): ChorusError {
    return new ChorusError({
      code: 'engine_unavailable',
      retryable: true,
      message: `${describe()} is down (${breaker.reason ?? 'failing'}); its health is checked every ${setting.probeIntervalMs} ms.`,
    });
  }

  function scheduleProbe(): void {
    if (closed || probeTimer !== undefined) return;
    probeTimer = setTimeout(() => {
      probeTimer = undefined;
      void (async () => {
        try {
          await adapter.probe(http, AbortSignal.any([closing.signal, AbortSignal.timeout(setting.timeoutMs)]));
          breaker.succeeded();
        } catch (error) {
          breaker.trip(error instanceof Error ? error.message : String(error));
          scheduleProbe();
        }
      })();
    }, setting.probeIntervalMs);
    probeTimer.unref();
  }

  /** Failures that say the server is unwell (not the request's own fault, not a cancel). */
  function judge(error: unknown, signal: AbortSignal): void {
    if (signal.aborted) return;
    if (error instanceof ChorusError && (error.code === 'aborted' || error.detail === 'remote_refused' || !error.retryable)) {
      // The server answered (a 4xx about this request): it is up.
      if (error.detail === 'remote_refused') breaker.succeeded();
      return;
    }
    breaker.failed(error instanceof Error ? error.message : String(error));
  }

  let voices: EngineVoice[];
  try {
    voices = await adapter.listVoices(http, setting, AbortSignal.timeout(Math.min(START_PROBE_MS, setting.timeoutMs)));
    if (voices.length === 0) voices = adapter.fallbackVoices(setting);
  } catch (error) {
    voices = adapter.fallbackVoices(setting);
    breaker.trip(`not reachable at start: ${error instanceof Error ? error.message : String(error)}`);
  }
  if (setting.voices !== undefined) {
    const listed = new Set(voices.map((voice) => voice.id));
    voices = [...voices, ...adapter.fallbackVoices(setting).filter((voice) => !listed.has(voice.id))];
  }
  const byId = new Map(voices.map((voice) => [voice.id.toLowerCase(), voice]));

  async function* synthesize(request: EngineSynthesisRequest, signal: AbortSignal): AsyncGenerator<EnginePart> {
    if (!byId.has(request.voiceId.toLowerCase())) {
      throw new ChorusError({
        code: 'voice_not_found',
        param: 'voice',
        message: `Voice '${request.voiceId}' does not exist on engine '${setting.id}'. It has: ${voices.map((voice) => voice.id).join(', ')}.`,
      });
    }
    if (breaker.isDown()) throw downError();
    const release = await gate.acquire(signal);
    try {
      if (breaker.isDown()) throw downError();
      const voiceId = byId.get(request.voiceId.toLowerCase())!.id;
      for await (const part of adapter.synthesize(http, setting, { ...request, voiceId }, signal)) {
        if (signal.aborted) return;
        yield part;
      }
      if (!signal.aborted) breaker.succeeded();
    } catch (error) {
      judge(error, signal);
      if (signal.aborted) return;
      throw error;
    } finally {
      release();
    }
  }

  const engine: RemoteEngine = {
    id: setting.id,
    // Listed to clients (/v1/models, /health) and part of cache keys: names the server without showing its address.
    version: `${setting.kind}@${createHash('sha256').update(`${setting.url}#${setting.model ?? ''}`).digest('hex').slice(0, 12)}`,
    capabilities: adapter.capabilities(setting),
    listVoices: () => voices,
    synthesize,
    status: () => ({
      state: breaker.state === 'up' ? 'ready' : 'down',
      ...(breaker.reason === undefined ? {} : { reason: breaker.reason }),
      active: gate.active,
      queued: gate.queued,
    }),
    async close() {
      closed = true;
      closing.abort();
      if (probeTimer !== undefined) clearTimeout(probeTimer);
    },
  };
  if (adapter.prepareVoice !== undefined) {
    const prepare = adapter.prepareVoice.bind(adapter);
    (engine as { prepareVoice?: (reference: VoiceReference, signal: AbortSignal) => Promise<PreparedVoice> }).prepareVoice = async (reference, signal) => {
      if (breaker.isDown()) throw downError();
      const release = await gate.acquire(signal);
      try {
        const prepared = await prepare(http, reference, signal);
        breaker.succeeded();
        return prepared;
      } catch (error) {
        judge(error, signal);
        throw error;
      } finally {
        release();
      }
    };
  }
  return engine;
}
