import type { EngineCapabilities, EnginePart, EngineSynthesisRequest, EngineVoice, SpeechEngine } from '../engine/speech-engine.js';
import { ChorusError } from '../errors.js';
import { AsyncQueue } from '../util/async-queue.js';
import type { EngineDescription, FromWorker, ToWorker } from './protocol.js';

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
