import { Worker } from 'node:worker_threads';
import type { SpeechEngine } from '../engine/speech-engine.js';
import { ESPEAK_ENGINE_ID } from '../engines/espeak/espeak-id.js';
import { ChorusError } from '../errors.js';
import type { SpeechPart, SpeechRequest } from '../pipeline/speech-request.js';
import { AsyncQueue } from '../util/async-queue.js';
import type { AudioTask, AudioTaskResult, AudioTaskResults } from './audio-tasks.js';
import type { EngineDescription, FromWorker, ToWorker, WorkerSettings } from './protocol.js';
import { MainEngineHost } from './main-engine-proxy.js';

export interface EnginePoolOptions {
  /** Worker-placement engines, by registry id, made in every thread. */
  readonly workerEngines: readonly string[];
  /** Engines already made on this (the main) thread; the workers reach them through a proxy. */
  readonly mainEngines?: readonly SpeechEngine[];
  /** The engine of requests that name none; one of the above. */
  readonly defaultEngine: string;
  readonly ffmpegPath: string;
  /** Number of worker threads; one engine instance each. */
  readonly size: number;
  /**
   * Audio bytes a synthesis may have made ahead of its consumer. Past it the worker pauses that
   * synthesis until the consumer (a response being written to its client) takes parts.
   */
  readonly streamBufferBytes: number;
}

export interface EnginePoolStats {
  readonly workers: number;
  readonly readyWorkers: number;
  readonly activeJobs: number;
  readonly completedJobs: number;
  /** Jobs stopped by their abort signal (cancel, client gone) before they finished. */
  readonly abortedJobs: number;
  /** Syntheses paused because their consumer has a whole stream buffer of their audio untaken (a client not reading). */
  readonly pausedJobs: number;
  /** Audio bytes the workers made that their consumers have not taken yet, all syntheses together. */
  readonly unreadBytes: number;
}

interface PoolWorker {
  thread: Worker;
  ready: boolean;
  /** Synthesis jobs stream parts; audio tasks push their one result. */
  jobs: Map<number, AsyncQueue<SpeechPart> | AsyncQueue<AudioTaskResult>>;
  /** Runs the calls this worker's pipelines make to main-thread engines. */
  engineHost: MainEngineHost;
}

// In a build the worker is the compiled .js next to this file. Under tsx (tests, `npm run dev`)
// it is the .ts source, and the worker thread must register tsx itself before importing it.
const RUNNING_FROM_SOURCE = import.meta.url.endsWith('.ts');
const WORKER_URL = new URL(RUNNING_FROM_SOURCE ? './engine-worker.ts' : './engine-worker.js', import.meta.url);
const ESPEAK_MODULE_URL = RUNNING_FROM_SOURCE ? import.meta.resolve('@echogarden/espeak-ng-emscripten') : '';

function createWorkerThread(workerData: WorkerSettings): Worker {
  if (!RUNNING_FROM_SOURCE) return new Worker(WORKER_URL, { workerData });
  // tsx transforms every module it loads, and eSpeak's 840 KB of generated JavaScript took 0.65 s of
  // every thread's start that way. It is plain ESM: loaded first, without tsx, it is already in the
  // module map when the engine imports it.
  const bootstrap =
    `import(${JSON.stringify(ESPEAK_MODULE_URL)})` +
    `.then(() => import('tsx/esm/api'))` +
    `.then(({ register }) => { register(); return import(${JSON.stringify(WORKER_URL.href)}); })`;
  return new Worker(bootstrap, { eval: true, workerData });
}

/**
 * Runs the speech pipeline on a pool of worker threads so synthesis never blocks the event loop and
 * concurrent requests use every core. Each job is pinned to one worker; its parts come back in order.
 */
export class EnginePool {
  /** Every engine the pool serves, worker ones first. */
  readonly engines: readonly EngineDescription[];
  /** The engine of requests that name none. */
  readonly description: EngineDescription;
  /** eSpeak as every worker has it (voice matching, the aligner), served or not. */
  readonly matchingEngine: EngineDescription;
  readonly #options: EnginePoolOptions;
  readonly #settings: WorkerSettings;
  readonly #mainEngines: ReadonlyMap<string, SpeechEngine>;
  readonly #workers: PoolWorker[] = [];
  /** Per synthesis under way: audio bytes received from its worker and not yet taken by its consumer. */
  readonly #unreadBytes = new Map<number, number>();
  #nextJobId = 1;
  #completedJobs = 0;
  #abortedJobs = 0;
  #closed = false;

  private constructor(options: EnginePoolOptions, settings: WorkerSettings, engines: readonly EngineDescription[], matchingEngine: EngineDescription) {
    this.matchingEngine = matchingEngine;
    this.#options = options;
    this.#settings = settings;
    this.engines = engines;
    this.#mainEngines = new Map((options.mainEngines ?? []).map((engine) => [engine.id, engine]));
    const description = engines.find((engine) => engine.id === options.defaultEngine);
    if (description === undefined) {
      throw new ChorusError({
        code: 'engine_unavailable',
        message: `The default engine '${options.defaultEngine}' is not loaded; loaded: ${engines.map((engine) => engine.id).join(', ')}.`,
      });
    }
    this.description = description;
  }

  static async start(options: EnginePoolOptions): Promise<EnginePool> {
    const size = Math.max(1, Math.floor(options.size));
    const mainEngines: EngineDescription[] = (options.mainEngines ?? []).map((engine) => ({
      id: engine.id,
      version: engine.version,
      capabilities: engine.capabilities,
      voices: engine.listVoices(),
      placement: 'main',
    }));
    const settings: WorkerSettings = { workerEngines: options.workerEngines, mainEngines, ffmpegPath: options.ffmpegPath };
    const started = await Promise.all(Array.from({ length: size }, () => spawnWorker(settings)));
    // Workers always carry eSpeak (for alignment and voice matching); only the engines asked for are served.
    const workerEngines = started[0]!.engines.filter((engine) => options.workerEngines.includes(engine.id));
    const matchingEngine = started[0]!.engines.find((engine) => engine.id === ESPEAK_ENGINE_ID)!;
    let pool: EnginePool;
    try {
      pool = new EnginePool(options, settings, [...workerEngines, ...mainEngines], matchingEngine);
    } catch (error) {
      // No default engine among them: the threads already started must not outlive the refusal.
      await Promise.all(started.map(({ worker }) => worker.terminate()));
      throw error;
    }
    for (const { worker } of started) pool.#adopt(worker);
    return pool;
  }

  /** Calls to main-thread engines under way, all workers together. */
  activeEngineCalls(): number {
    return this.#workers.reduce((sum, worker) => sum + worker.engineHost.activeCalls, 0);
  }

  /** Calls under way per main-thread engine (engine host models, remote engines), all workers together. */
  activeEngineCallsByEngine(): ReadonlyMap<string, number> {
    const calls = new Map<string, number>();
    for (const worker of this.#workers) worker.engineHost.countCallsByEngine(calls);
    return calls;
  }

  stats(): EnginePoolStats {
    let activeJobs = 0;
    for (const worker of this.#workers) activeJobs += worker.jobs.size;
    let pausedJobs = 0;
    let unreadBytes = 0;
    for (const bytes of this.#unreadBytes.values()) {
      unreadBytes += bytes;
      // The worker stops once this much is outstanding, so a consumer holding it means a paused synthesis.
      if (bytes >= this.#options.streamBufferBytes) pausedJobs++;
    }
    return {
      workers: this.#workers.length,
      readyWorkers: this.#workers.filter((worker) => worker.ready).length,
      activeJobs,
      completedJobs: this.#completedJobs,
      abortedJobs: this.#abortedJobs,
      pausedJobs,
      unreadBytes,
    };
  }

  /**
   * Streams the parts of one synthesis. Aborting `signal` or leaving the loop early stops the work.
   * The worker runs at most `streamBufferBytes` of audio ahead of this loop: each audio part taken
   * here gives it credit for that many bytes more, so a consumer that stops taking parts pauses
   * the synthesis.
   */
  async *synthesize(request: SpeechRequest, signal: AbortSignal): AsyncGenerator<SpeechPart> {
    if (this.#closed) throw new ChorusError({ code: 'engine_unavailable', message: 'The engine pool is shut down.', retryable: true });
    if (signal.aborted) return;
    const worker = this.#leastBusy();
    const jobId = this.#nextJobId++;
    const queue = new AsyncQueue<SpeechPart>();
    worker.jobs.set(jobId, queue);
    this.#unreadBytes.set(jobId, 0);
    const post = (message: ToWorker): void => worker.thread.postMessage(message);
    const forget = (): void => {
      worker.jobs.delete(jobId);
      this.#unreadBytes.delete(jobId);
    };
    const abort = (): void => {
      post({ type: 'abort', jobId });
      // Nobody will take what was made: it is dropped now, not when the consumer comes back.
      forget();
      queue.discard();
    };
    signal.addEventListener('abort', abort, { once: true });
    post({ type: 'synthesize', jobId, request, creditBytes: this.#options.streamBufferBytes });
    let finished = false;
    try {
      for await (const part of queue) {
        if (part.type === 'audio') {
          const unread = this.#unreadBytes.get(jobId);
          if (unread !== undefined) this.#unreadBytes.set(jobId, unread - part.bytes.byteLength);
          post({ type: 'credit', jobId, bytes: part.bytes.byteLength });
        }
        yield part;
      }
      finished = true;
    } finally {
      signal.removeEventListener('abort', abort);
      if (!finished && worker.jobs.has(jobId)) post({ type: 'abort', jobId });
      forget();
    }
  }

  /** Runs one audio task (analysis, conversion, detection) on the least busy worker. */
  async runTask<T extends AudioTask>(task: T, signal: AbortSignal): Promise<AudioTaskResults[T['kind']]> {
    if (this.#closed) throw new ChorusError({ code: 'engine_unavailable', message: 'The engine pool is shut down.', retryable: true });
    if (signal.aborted) throw new ChorusError({ code: 'aborted', message: 'The request was stopped.' });
    const worker = this.#leastBusy();
    const jobId = this.#nextJobId++;
    const queue = new AsyncQueue<AudioTaskResult>();
    worker.jobs.set(jobId, queue);
    const abort = (): void => {
      worker.thread.postMessage({ type: 'abort', jobId } satisfies ToWorker);
      queue.fail(new ChorusError({ code: 'aborted', message: 'The request was stopped.' }));
    };
    signal.addEventListener('abort', abort, { once: true });
    // The task's bytes are copied, not moved: the caller may still need them (to store a voice).
    worker.thread.postMessage({ type: 'task', jobId, task } satisfies ToWorker);
    try {
      for await (const result of queue) return result as AudioTaskResults[T['kind']];
      throw new ChorusError({ code: 'engine_failed', message: 'The engine worker ended the task without a result.' });
    } finally {
      signal.removeEventListener('abort', abort);
      worker.jobs.delete(jobId);
    }
  }

  async close(): Promise<void> {
    this.#closed = true;
    const workers = this.#workers.splice(0);
    for (const worker of workers) {
      worker.engineHost.abortAll();
      for (const queue of worker.jobs.values()) {
        queue.fail(new ChorusError({ code: 'engine_unavailable', message: 'The server is shutting down.', retryable: true }));
      }
    }
    await Promise.all(workers.map((worker) => worker.thread.terminate()));
  }

  #leastBusy(): PoolWorker {
    let best = this.#workers[0]!;
    for (const worker of this.#workers) {
      if (!best.ready || (worker.ready && worker.jobs.size < best.jobs.size)) best = worker;
    }
    return best;
  }

  #adopt(thread: Worker): void {
    const engineHost = new MainEngineHost(this.#mainEngines, (message, transfer) => {
      if (worker.ready) thread.postMessage(message, transfer);
    });
    const worker: PoolWorker = { thread, ready: true, jobs: new Map(), engineHost };
    this.#workers.push(worker);
    thread.on('message', (message: FromWorker) => {
      if (message.type === 'ready') return;
      if (MainEngineHost.handles(message)) return engineHost.handle(message);
      if (message.type === 'done') {
        if (message.aborted) this.#abortedJobs++;
        else this.#completedJobs++;
      }
      const queue = worker.jobs.get(message.jobId);
      if (queue === undefined) return;
      if (message.type === 'part') {
        const unread = this.#unreadBytes.get(message.jobId);
        if (message.part.type === 'audio' && unread !== undefined) this.#unreadBytes.set(message.jobId, unread + message.part.bytes.byteLength);
        (queue as AsyncQueue<SpeechPart>).push(message.part);
      }
      else if (message.type === 'task-result') {
        worker.jobs.delete(message.jobId);
        (queue as AsyncQueue<AudioTaskResult>).push(message.result);
        queue.end();
        this.#completedJobs++;
      }
      else if (message.type === 'done') {
        worker.jobs.delete(message.jobId);
        queue.end();
      } else {
        worker.jobs.delete(message.jobId);
        queue.fail(new ChorusError(message.error));
      }
    });
    const replace = (reason: string): void => {
      if (!worker.ready) return;
      worker.ready = false;
      worker.engineHost.abortAll();
      for (const queue of worker.jobs.values()) {
        queue.fail(new ChorusError({ code: 'engine_failed', message: `The engine worker stopped (${reason}).`, retryable: true }));
      }
      worker.jobs.clear();
      const index = this.#workers.indexOf(worker);
      if (index >= 0) this.#workers.splice(index, 1);
      if (this.#closed) return;
      // A crashed worker is replaced so capacity comes back; its jobs already failed above.
      spawnWorker(this.#settings).then(
        ({ worker: fresh }) => (this.#closed ? void fresh.terminate() : this.#adopt(fresh)),
        () => undefined,
      );
    };
    thread.on('error', (error) => replace(error.message));
    thread.on('exit', (code) => replace(`exit code ${code}`));
  }
}

function spawnWorker(settings: WorkerSettings): Promise<{ worker: Worker; engines: readonly EngineDescription[] }> {
  return new Promise((resolve, reject) => {
    const worker = createWorkerThread(settings);
    const onMessage = (message: FromWorker): void => {
      if (message.type !== 'ready') return;
      cleanup();
      resolve({ worker, engines: message.engines });
    };
    const onError = (error: Error): void => {
      cleanup();
      reject(new ChorusError({ code: 'engine_unavailable', message: `Engine worker failed to start: ${error.message}`, cause: error }));
    };
    const onExit = (code: number): void => onError(new Error(`exit code ${code}`));
    const cleanup = (): void => {
      worker.off('message', onMessage);
      worker.off('error', onError);
      worker.off('exit', onExit);
    };
    worker.on('message', onMessage);
    worker.on('error', onError);
    worker.on('exit', onExit);
  });
}
