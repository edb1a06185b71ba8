import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { ChorusError } from '../errors.js';
import { AsyncQueue } from '../util/async-queue.js';
import type { Logger } from '../util/logger.js';
import { AUDIO_FD, AudioFrameReader, type AudioFrame } from './audio-frames.js';
import type { GenerationSettings, HostReply, HostRequest, HostedModelConfig } from './host-protocol.js';

// In a build the host is the compiled .js next to this file; under tsx (tests, `npm run dev`) it
// is the .ts source and the child registers tsx first.
const RUNNING_FROM_SOURCE = import.meta.url.endsWith('.ts');
const HOST_PATH = fileURLToPath(new URL(RUNNING_FROM_SOURCE ? './sherpa-host.ts' : './sherpa-host.js', import.meta.url));
/** Native log lines kept to explain a host that died. */
const KEPT_LOG_LINES = 20;
const MAX_RESTART_DELAY_MS = 5000;

export type HostedModelState = 'loading' | 'ready' | 'failed';

export interface HostedModelStatus {
  readonly id: string;
  readonly state: HostedModelState;
  /** Why a failed model failed. */
  readonly reason?: string;
}

export interface EngineHostOptions {
  /** sherpa OfflineTts instances per model (requests to one model run on the least busy). */
  readonly instances: number;
  /** onnxruntime threads per instance (sherpa `numThreads`). */
  readonly threads: number;
  readonly logger?: Logger;
}

interface HostedModel {
  readonly id: string;
  readonly config: HostedModelConfig;
  state: HostedModelState;
  reason?: string;
  /** Settles when the model is ready in the current host process, or has failed. */
  ready: Promise<void>;
  settle: (error?: Error) => void;
}

interface PendingGeneration {
  readonly queue: AsyncQueue<Float32Array>;
}

/**
 * The server side of the engine host: starts the child process, loads models into it one at a
 * time, streams generations back, and when the child dies fails exactly the requests it was
 * serving with `engine_failed`, starts a new one and reloads the models that were ready. A model
 * whose loading killed the host is marked failed with the reason and not loaded again.
 */
export class EngineHost {
  readonly #options: EngineHostOptions;
  readonly #models = new Map<string, HostedModel>();
  readonly #generations = new Map<number, PendingGeneration>();
  #child: ChildProcess | undefined;
  #recentLog: string[] = [];
  #loadChain: Promise<void> = Promise.resolve();
  /** The model whose `load` the current child is working on. */
  #loading: { id: string; done: (reply: Extract<HostReply, { type: 'loaded' | 'load-failed' }> | Error) => void } | undefined;
  #nextRequestId = 1;
  #crashes = 0;
  #generation = 0;
  #closed = false;
  /** The pause before restarting a host that died, cut short by close(). */
  #restartWait: { timer: NodeJS.Timeout; resolve: () => void } | undefined;

  constructor(options: EngineHostOptions) {
    this.#options = options;
  }

  /** The host's process id (tests kill it); undefined before it starts or while it restarts. */
  get pid(): number | undefined {
    return this.#child?.pid;
  }

  status(): HostedModelStatus[] {
    return [...this.#models.values()].map(({ id, state, reason }) => ({ id, state, ...(reason === undefined ? {} : { reason }) }));
  }

  /** Loads a (pre-checked) model; resolves when it is ready, rejects with the reason it failed. */
  load(id: string, family: Readonly<Record<string, unknown>>): Promise<void> {
    if (this.#models.has(id)) throw new Error(`model '${id}' is already hosted`);
    const model = this.#newModel(id, {
      model: { ...family, numThreads: this.#options.threads, debug: false, provider: 'cpu' },
      // One sentence per generate step: sherpa reports progress (and sees a cancel) per sentence.
      maxNumSentences: 1,
      // sherpa shortens every pause longer than 0.2 s unless this is 1.
      silenceScale: 1,
    });
    this.#models.set(id, model);
    this.#enqueueLoad(model);
    return model.ready;
  }

  /** The audio of one generate call, chunk by chunk. Ends early, without error, once `signal` aborts. */
  async *generate(id: string, text: string, generation: GenerationSettings, maxSamples: number, signal: AbortSignal): AsyncGenerator<Float32Array> {
    const model = this.#models.get(id);
    if (model === undefined) throw new ChorusError({ code: 'engine_unavailable', message: `Engine '${id}' is not loaded.` });
    await model.ready;
    if (signal.aborted) return;
    const child = this.#child;
    if (child === undefined || this.#closed) throw new ChorusError({ code: 'engine_unavailable', message: 'The engine host is not running.' });
    const requestId = this.#nextRequestId++;
    const queue = new AsyncQueue<Float32Array>();
    this.#generations.set(requestId, { queue });
    const onAbort = (): void => {
      // Stop at once; sherpa itself sees the cancel only at its next chunk, which is then dropped.
      this.#generations.delete(requestId);
      this.#send(child, { type: 'cancel', requestId });
      queue.discard();
    };
    signal.addEventListener('abort', onAbort, { once: true });
    try {
      this.#send(child, { type: 'generate', requestId, modelId: id, text, generation, maxSamples });
      yield* queue;
    } finally {
      signal.removeEventListener('abort', onAbort);
      if (this.#generations.delete(requestId)) this.#send(child, { type: 'cancel', requestId });
    }
  }

  async close(): Promise<void> {
    this.#closed = true;
    if (this.#restartWait !== undefined) {
      clearTimeout(this.#restartWait.timer);
      this.#restartWait.resolve();
    }
    const child = this.#child;
    this.#child = undefined;
    for (const { queue } of this.#generations.values()) queue.fail(new ChorusError({ code: 'engine_unavailable', message: 'The server is shutting down.' }));
    this.#generations.clear();
    for (const model of this.#models.values()) if (model.state === 'loading') model.settle(new Error('the engine host was closed'));
    if (child === undefined || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    child.disconnect();
    const timer = setTimeout(() => child.kill('SIGKILL'), 2000);
    await exited;
    clearTimeout(timer);
  }

  #newModel(id: string, config: HostedModelConfig): HostedModel {
    const model: HostedModel = { id, config, state: 'loading', ready: Promise.resolve(), settle: () => {} };
    this.#resetReadiness(model);
    return model;
  }

  #resetReadiness(model: HostedModel): void {
    model.ready = new Promise<void>((resolve, reject) => {
      model.settle = (error) => (error === undefined ? resolve() : reject(error));
    });
    // Nobody may be waiting yet; a failure is reported through status() as well.
    model.ready.catch(() => {});
  }

  #enqueueLoad(model: HostedModel): void {
    this.#loadChain = this.#loadChain
      .then(() => this.#loadInHost(model))
      .catch((error: unknown) => this.#markFailed(model, error instanceof Error ? error.message : String(error)));
  }

  async #loadInHost(model: HostedModel): Promise<void> {
    if (this.#closed || model.state === 'failed') return;
    const child = await this.#ensureChild();
    const reply = await new Promise<Extract<HostReply, { type: 'loaded' | 'load-failed' }> | Error>((done) => {
      this.#loading = { id: model.id, done };
      this.#send(child, { type: 'load', modelId: model.id, config: model.config, instances: this.#options.instances });
    });
    this.#loading = undefined;
    if (reply instanceof Error || reply.type === 'load-failed') {
      const reason =
        reply instanceof Error
          ? reply.message
          : `sherpa-onnx refused it: ${reply.message}${this.#nativeDetail()}`;
      this.#markFailed(model, reason);
      return;
    }
    model.state = 'ready';
    this.#crashes = 0;
    this.#options.logger?.info('engine ready', { engine: model.id, sampleRate: reply.sampleRate, speakers: reply.numSpeakers });
    model.settle();
  }

  #markFailed(model: HostedModel, reason: string): void {
    model.state = 'failed';
    model.reason = reason;
    this.#options.logger?.error('engine failed to load', { engine: model.id, reason });
    model.settle(new ChorusError({ code: 'engine_unavailable', message: `Engine '${model.id}' failed to load: ${reason}` }));
  }

  #nativeDetail(): string {
    const lines = this.#recentLog.filter((line) => line.trim() !== '');
    return lines.length === 0 ? '' : ` (native log: ${lines.slice(-5).join(' | ')})`;
  }

  async #ensureChild(): Promise<ChildProcess> {
    if (this.#child !== undefined) return this.#child;
    const child = fork(HOST_PATH, [], {
      serialization: 'advanced',
      execArgv: RUNNING_FROM_SOURCE ? ['--import', 'tsx'] : [],
      stdio: ['ignore', 'pipe', 'pipe', 'ipc', 'pipe'],
      // sherpa's async calls run on the libuv pool: one thread per instance at work, and spare.
      env: { ...process.env, UV_THREADPOOL_SIZE: String(Math.max(4, this.#options.instances * 4)) },
    });
    this.#child = child;
    this.#recentLog = [];
    const generation = ++this.#generation;
    const keepLog = (chunk: Buffer): void => {
      for (const line of chunk.toString('utf8').split('\n')) {
        if (line.trim() === '') continue;
        this.#recentLog.push(line);
        this.#options.logger?.debug('engine host', { line });
      }
      if (this.#recentLog.length > KEPT_LOG_LINES) this.#recentLog.splice(0, this.#recentLog.length - KEPT_LOG_LINES);
    };
    child.stdout?.on('data', keepLog);
    child.stderr?.on('data', keepLog);
    child.on('message', (reply: HostReply) => this.#onReply(reply));
    const frames = new AudioFrameReader();
    child.stdio[AUDIO_FD]!.on('data', (bytes: Buffer) => {
      for (const frame of frames.push(bytes)) this.#onAudio(frame);
    });
    child.once('exit', (code, signal) => this.#onExit(generation, code, signal));
    const started = await new Promise<boolean>((resolve) => {
      const onMessage = (reply: HostReply): void => {
        if (reply.type !== 'started') return;
        child.off('message', onMessage);
        child.off('exit', onEarlyExit);
        resolve(true);
      };
      const onEarlyExit = (): void => resolve(false);
      child.on('message', onMessage);
      child.once('exit', onEarlyExit);
    });
    if (!started) throw new ChorusError({ code: 'engine_unavailable', message: `The engine host could not start${this.#nativeDetail()}.` });
    return child;
  }

  #send(child: ChildProcess, request: HostRequest): void {
    if (child.connected) child.send(request);
  }

  #onReply(reply: HostReply): void {
    switch (reply.type) {
      case 'loaded':
      case 'load-failed':
        if (this.#loading?.id === reply.modelId) this.#loading.done(reply);
        break;
      case 'started':
        break;
    }
  }

  #onAudio(frame: AudioFrame): void {
    switch (frame.kind) {
      case 'chunk':
        this.#generations.get(frame.requestId)?.queue.push(frame.samples);
        break;
      case 'done': {
        const pending = this.#generations.get(frame.requestId);
        this.#generations.delete(frame.requestId);
        pending?.queue.end();
        break;
      }
      case 'failed': {
        const pending = this.#generations.get(frame.requestId);
        this.#generations.delete(frame.requestId);
        pending?.queue.fail(new ChorusError({ code: 'engine_failed', message: `The engine failed: ${frame.message}.` }));
        break;
      }
    }
  }

  #onExit(generation: number, code: number | null, signal: NodeJS.Signals | null): void {
    if (generation !== this.#generation) return;
    this.#child = undefined;
    if (this.#closed) return;
    const how = signal !== null ? `signal ${signal}` : `exit code ${code}`;
    const detail = this.#nativeDetail();
    this.#options.logger?.error('engine host died', { how, log: this.#recentLog.slice(-5) });
    const failure = new ChorusError({
      code: 'engine_failed',
      retryable: true,
      message: `The engine host process died (${how}) while making this audio; it is being restarted.`,
    });
    for (const { queue } of this.#generations.values()) queue.fail(failure);
    this.#generations.clear();

    // The model being loaded killed the host (sherpa `_Exit`s on what the pre-check cannot see,
    // such as a graph onnxruntime refuses): it stays failed, and the others are reloaded.
    this.#loading?.done(new Error(`loading it ended the engine host (${how})${detail}`));
    this.#loading = undefined;
    const reload = [...this.#models.values()].filter((model) => model.state === 'ready');
    if (reload.length === 0) return;
    this.#crashes++;
    const delay = Math.min(MAX_RESTART_DELAY_MS, 100 * 2 ** (this.#crashes - 1));
    for (const model of reload) {
      model.state = 'loading';
      this.#resetReadiness(model);
    }
    this.#loadChain = this.#loadChain.then(
      () =>
        new Promise<void>((resolve) => {
          this.#restartWait = { timer: setTimeout(resolve, delay), resolve };
        }),
    );
    for (const model of reload) this.#enqueueLoad(model);
  }
}
