import { hostname } from 'node:os';
import { ChorusError } from '../errors.js';
import type { Logger } from '../util/logger.js';
import type { JobRecord } from './job.js';
import type { JobQueue } from './job-queue.js';

export interface JobContext {
  /** Aborts on cancel, on execution timeout and at shutdown. */
  readonly signal: AbortSignal;
  /** Replaces what /status shows as `output` while the job runs. */
  progress(output: unknown): Promise<void>;
  /** Appends one element to what /stream returns. */
  stream(output: unknown): Promise<void>;
}

/** A worker is one function: the job and an abort signal in, the output out (BullMQ's shape). */
export type JobHandler = (job: JobRecord, context: JobContext) => Promise<unknown>;

export interface JobRunnerOptions {
  readonly queue: JobQueue;
  readonly handlerFor: (endpointId: string) => JobHandler | undefined;
  /** Jobs run at once; normally the number of engine threads. */
  readonly concurrency: number;
  readonly logger: Logger;
  /** Called once per job that reached a terminal state (webhooks hang off this). */
  readonly onFinished?: (job: JobRecord) => void;
  /** How often to look for claimable jobs without being told, and to sweep expired ones, ms. */
  readonly pollIntervalMs?: number;
}

export interface JobRunnerStats {
  readonly slots: number;
  readonly running: number;
}

const SHUTDOWN = 'shutdown';
const TIMEOUT = 'timeout';

/**
 * Pulls jobs from the queue and runs their handlers, up to `concurrency` at once. Cancel, execution
 * timeout and shutdown all reach the handler as one AbortSignal.
 */
export class JobRunner {
  readonly #options: JobRunnerOptions;
  readonly #running = new Map<string, AbortController>();
  readonly #workerPrefix = `${hostname()}-${process.pid}`;
  #stopped = true;
  #pumping = false;
  #pumpAgain = false;
  #timer: NodeJS.Timeout | undefined;
  #unsubscribe: (() => void)[] = [];
  #idle: Promise<void>[] = [];

  constructor(options: JobRunnerOptions) {
    this.#options = options;
  }

  start(): void {
    if (!this.#stopped) return;
    this.#stopped = false;
    const { queue } = this.#options;
    this.#unsubscribe = [
      // Deferred: the submitting request answers before this process claims the job.
      queue.onQueued(() => void setImmediate(() => this.#pump())),
      queue.onCancel((id) => this.#running.get(id)?.abort('cancelled')),
    ];
    const report = (): void =>
      void queue.reportWorker?.(this.#workerPrefix, this.stats()).catch((error: unknown) => this.#options.logger.warn('worker report failed', { error: String(error) }));
    report();
    this.#timer = setInterval(() => {
      void queue.sweep().catch((error: unknown) => this.#options.logger.warn('sweep failed', { error: String(error) }));
      report();
      this.#pump();
    }, this.#options.pollIntervalMs ?? 1000);
    this.#timer.unref();
    this.#pump();
  }

  stats(): JobRunnerStats {
    return { slots: this.#options.concurrency, running: this.#running.size };
  }

  /** Stops claiming; running jobs are aborted and go back to the queue when the process restarts. */
  async stop(): Promise<void> {
    if (this.#stopped) return;
    this.#stopped = true;
    clearInterval(this.#timer);
    for (const unsubscribe of this.#unsubscribe) unsubscribe();
    for (const controller of this.#running.values()) controller.abort(SHUTDOWN);
    await Promise.allSettled(this.#idle);
    await this.#options.queue.retireWorker?.(this.#workerPrefix).catch(() => undefined);
  }

  #pump(): void {
    if (this.#stopped) return;
    if (this.#pumping) {
      this.#pumpAgain = true;
      return;
    }
    this.#pumping = true;
    void (async () => {
      try {
        do {
          this.#pumpAgain = false;
          while (!this.#stopped && this.#running.size < this.#options.concurrency) {
            const slot = this.#running.size;
            const job = await this.#options.queue.claim(`${this.#workerPrefix}-${slot}`);
            if (job === undefined) break;
            const run = this.#run(job);
            this.#idle.push(run);
            void run.finally(() => {
              this.#idle = this.#idle.filter((p) => p !== run);
              this.#pump();
            });
          }
        } while (this.#pumpAgain && !this.#stopped);
      } catch (error) {
        this.#options.logger.error('claiming a job failed', { error: String(error) });
      } finally {
        this.#pumping = false;
      }
    })();
  }

  async #run(job: JobRecord): Promise<void> {
    const { queue, logger } = this.#options;
    const controller = new AbortController();
    this.#running.set(job.id, controller);
    const timer = setTimeout(() => controller.abort(TIMEOUT), job.policy.executionTimeoutMs);
    try {
      const handler = this.#options.handlerFor(job.endpointId);
      if (handler === undefined) throw new ChorusError({ code: 'not_found', message: `No handler for endpoint '${job.endpointId}'.` });
      const context: JobContext = {
        signal: controller.signal,
        progress: (output) => queue.progress(job.id, output),
        stream: (output) => queue.appendStream(job.id, output),
      };
      const output = await handler(job, context);
      if (controller.signal.reason === SHUTDOWN) return;
      if (controller.signal.reason === TIMEOUT) {
        await this.#finish(job.id, { state: 'timed-out', error: 'execution timeout exceeded' });
      } else {
        await this.#finish(job.id, { state: 'completed', ...(output === undefined ? {} : { output }) });
      }
    } catch (error) {
      if (controller.signal.reason === SHUTDOWN) return;
      if (controller.signal.reason === TIMEOUT) {
        await this.#finish(job.id, { state: 'timed-out', error: 'execution timeout exceeded' });
      } else {
        const message = ChorusError.isInstance(error) ? error.message : `handler: ${error instanceof Error ? error.message : String(error)}`;
        if (!ChorusError.isInstance(error)) logger.error('job handler crashed', { job: job.id, error: String(error) });
        await this.#finish(job.id, { state: 'failed', error: message });
      }
    } finally {
      clearTimeout(timer);
      this.#running.delete(job.id);
    }
  }

  async #finish(id: string, update: Parameters<JobQueue['finish']>[1]): Promise<void> {
    const record = await this.#options.queue.finish(id, update);
    // Only the party that ended the job reports it: a job cancelled meanwhile was reported by the cancel.
    if (record !== undefined && record.state === update.state) this.#options.onFinished?.(record);
  }
}
