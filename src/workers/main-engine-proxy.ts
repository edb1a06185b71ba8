import type { EngineCapabilities, EnginePart, EngineSynthesisRequest, EngineVoice, SpeechEngine } from '../engine/speech-engine.js';
import { ChorusError } from '../errors.js';
import { AsyncQueue } from '../util/async-queue.js';
import type { EngineDescription, FromWorker, ToWorker } from './protocol.js';
import { SendCredit } from './send-credit.js';
import { ownedSamples, serializeError } from './serialize-error.js';

/** Float samples a main-thread engine may have sent a worker ahead of its pipeline (about 5 s at 24 kHz). */
const ENGINE_CALL_WINDOW_BYTES = 512 * 1024;

type EngineCallMessage = Extract<FromWorker, { type: 'engine-call' | 'engine-credit' | 'engine-abort' }>;

/**
 * The main thread's end: runs the calls one worker's pipelines make to main-thread engines and
 * sends their parts back, the samples moved rather than copied. Each call runs a window ahead of its
 * pipeline, then waits for credit, so a paused synthesis pauses its engine too.
 */
export class MainEngineHost {
  readonly #engines: ReadonlyMap<string, SpeechEngine>;
  readonly #post: (message: ToWorker, transfer: ArrayBuffer[]) => void;
  readonly #calls = new Map<number, { readonly engineId: string; readonly controller: AbortController; readonly credit: SendCredit }>();

  constructor(engines: ReadonlyMap<string, SpeechEngine>, post: (message: ToWorker, transfer: ArrayBuffer[]) => void) {
    this.#engines = engines;
    this.#post = post;
  }

  static handles(message: { readonly type: string }): message is EngineCallMessage {
    return message.type === 'engine-call' || message.type === 'engine-credit' || message.type === 'engine-abort';
  }

  handle(message: EngineCallMessage): void {
    if (message.type === 'engine-call') void this.#serve(message.callId, message.engineId, message.request);
    else if (message.type === 'engine-credit') this.#calls.get(message.callId)?.credit.grant(message.bytes);
    else this.#calls.get(message.callId)?.controller.abort();
  }

  /** Calls under way (tests watch an abort arrive). */
  get activeCalls(): number {
    return this.#calls.size;
  }

  /** Calls under way per engine id, added into `into`. */
  countCallsByEngine(into: Map<string, number>): void {
    for (const { engineId } of this.#calls.values()) into.set(engineId, (into.get(engineId) ?? 0) + 1);
  }

  /** The worker is gone: its calls stop. */
  abortAll(): void {
    for (const call of this.#calls.values()) call.controller.abort();
    this.#calls.clear();
  }

  async #serve(callId: number, engineId: string, request: EngineSynthesisRequest): Promise<void> {
    const controller = new AbortController();
    const credit = new SendCredit(ENGINE_CALL_WINDOW_BYTES, controller.signal);
    this.#calls.set(callId, { engineId, controller, credit });
    try {
      const engine = this.#engines.get(engineId);
      if (engine === undefined) throw new ChorusError({ code: 'engine_unavailable', message: `Engine '${engineId}' is not loaded on the main thread.` });
      for await (const part of engine.synthesize(request, controller.signal)) {
        if (controller.signal.aborted) break;
        if (part.type !== 'audio') {
          this.#post({ type: 'engine-part', callId, part }, []);
          continue;
        }
        const samples = ownedSamples(part.samples);
        credit.spend(samples.byteLength);
        this.#post({ type: 'engine-part', callId, part: { type: 'audio', samples, sampleRate: part.sampleRate } }, [samples.buffer as ArrayBuffer]);
        await credit.available();
      }
      if (!controller.signal.aborted) this.#post({ type: 'engine-end', callId }, []);
    } catch (error) {
      if (!controller.signal.aborted) this.#post({ type: 'engine-end', callId, error: serializeError(error) }, []);
    } finally {
      this.#calls.delete(callId);
    }
  }
}

/**
 * A worker thread's end of the engines that live on the main thread: each `synthesize` becomes an
 * `engine-call` message, and the main thread's parts come back through `receive`. The main thread
 * sends at most a window of samples ahead of the pipeline; taking a part returns its credit.
 */
export class MainEngineChannel {
  readonly #send: (message: FromWorker) => void;
  readonly #calls = new Map<number, AsyncQueue<EnginePart>>();
  #nextCallId = 1;

  constructor(send: (message: FromWorker) => void) {
    this.#send = send;
  }

  engine(description: EngineDescription): SpeechEngine {
    return new MainEngineProxy(description, this);
  }

  async *call(engineId: string, request: EngineSynthesisRequest, signal: AbortSignal): AsyncGenerator<EnginePart> {
    if (signal.aborted) return;
    const callId = this.#nextCallId++;
    const queue = new AsyncQueue<EnginePart>();
    this.#calls.set(callId, queue);
    const abort = (): void => {
      this.#send({ type: 'engine-abort', callId });
      this.#calls.delete(callId);
      // The engine's contract: an abort ends the stream quietly; what was on its way is dropped.
      queue.discard();
    };
    signal.addEventListener('abort', abort, { once: true });
    this.#send({ type: 'engine-call', callId, engineId, request });
    let finished = false;
    try {
      for await (const part of queue) {
        if (part.type === 'audio') this.#send({ type: 'engine-credit', callId, bytes: part.samples.byteLength });
        yield part;
      }
      finished = true;
    } finally {
      signal.removeEventListener('abort', abort);
      if (!finished && this.#calls.has(callId)) this.#send({ type: 'engine-abort', callId });
      this.#calls.delete(callId);
    }
  }

  receive(message: Extract<ToWorker, { type: 'engine-part' | 'engine-end' }>): void {
    const queue = this.#calls.get(message.callId);
    if (queue === undefined) return;
    if (message.type === 'engine-part') {
      queue.push(message.part);
      return;
    }
    this.#calls.delete(message.callId);
    if (message.error === undefined) queue.end();
    else queue.fail(new ChorusError(message.error));
  }
}

/** A main-thread engine as the pipeline in a worker sees it. */
class MainEngineProxy implements SpeechEngine {
  readonly id: string;
  readonly version: string;
  readonly capabilities: EngineCapabilities;
  readonly #voices: readonly EngineVoice[];
  readonly #channel: MainEngineChannel;

  constructor(description: EngineDescription, channel: MainEngineChannel) {
    this.id = description.id;
    this.version = description.version;
    this.capabilities = description.capabilities;
    this.#voices = description.voices;
    this.#channel = channel;
  }

  listVoices(): readonly EngineVoice[] {
    return this.#voices;
  }

  synthesize(request: EngineSynthesisRequest, signal: AbortSignal): AsyncIterable<EnginePart> {
    return this.#channel.call(this.id, request, signal);
  }
}
