import { hostname } from 'node:os';
import { ChorusError } from '../errors.js';
import type { Logger } from '../util/logger.js';
import { describeError, ThrottledLog } from '../util/throttled-log.js';
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
/** Longest wait between two attempts of a queue write that was refused (a job's end, a stream element). */
const MAX_WRITE_BACKOFF_MS = 5000;

/**
 * Pulls jobs from the queue and runs their handlers, up to `concurrency` at once. Cancel, execution
 * timeout and shutdown all reach the handler as one AbortSignal. A queue that cannot be written
 * (disk read-only or full, Redis away) never loses a result nor takes the process down: the end of a
 * job is written again until it lands.
 */
export class JobRunner {
  readonly #options: JobRunnerOptions;
  readonly #running = new Map<string, AbortController>();
  readonly #workerPrefix = `${hostname()}-${process.pid}`;
  readonly #complaints: ThrottledLog;
  #stopped = true;
  /** Stopped claiming (a shutdown draining): running jobs go on, queued ones wait for the next start. */
  #claiming = false;
  /** Aborts, at stop, the waits between attempts of queue writes that were refused. */
  #lifetime = new AbortController();
  #pumping = false;
  #pumpAgain = false;
  #timer: NodeJS.Timeout | undefined;
  #unsubscribe: (() => void)[] = [];
  #idle: Promise<void>[] = [];

  constructor(options: JobRunnerOptions) {
    this.#options = options;
    this.#complaints = new ThrottledLog(options.logger);
  }

  start(): void {
    if (!this.#stopped) return;
    this.#stopped = false;
    this.#claiming = true;
    this.#lifetime = new AbortController();
    const { queue } = this.#options;
    this.#unsubscribe = [
      // Deferred: the submitting request answers before this process claims the job.
      queue.onQueued(() => void setImmediate(() => this.#pump())),
      queue.onCancel((id) => this.#running.get(id)?.abort('cancelled')),
    ];
    const report = (): void =>
      void queue.reportWorker?.(this.#workerPrefix, this.stats()).catch((error: unknown) => this.#complaints.warn('report', 'worker report failed', { error: describeError(error) }));
    report();
    this.#timer = setInterval(() => {
      void queue.sweep().catch((error: unknown) => this.#complaints.warn('sweep', 'sweeping expired jobs failed', { error: describeError(error) }));
      report();
      this.#pump();
    }, this.#options.pollIntervalMs ?? 1000);
    this.#timer.unref();
    this.#pump();
  }

  stats(): JobRunnerStats {
    return { slots: this.#options.concurrency, running: this.#running.size };
  }

  /** Claims no more jobs; those running go on. Queued jobs stay queued (for the next start, or another process). */
  stopClaiming(): void {
    this.#claiming = false;
  }

  /** Resolves once no job is running here (call after `stopClaiming`, or new claims keep it busy). */
  async idle(): Promise<void> {
    while (this.#idle.length > 0) await Promise.allSettled([...this.#idle]);
  }

  /**
   * Stops claiming; running jobs are aborted and go back to the queue (with Redis at once, with
   * SQLite when the process starts again), and so do jobs whose end could not be recorded yet.
   */
  async stop(): Promise<void> {
    if (this.#stopped) return;
    this.#stopped = true;
    this.#claiming = false;
    this.#lifetime.abort();
    clearInterval(this.#timer);
    for (const unsubscribe of this.#unsubscribe) unsubscribe();
    for (const controller of this.#running.values()) controller.abort(SHUTDOWN);
    await Promise.allSettled(this.#idle);
    await this.#options.queue.retireWorker?.(this.#workerPrefix).catch(() => undefined);
  }

  #pump(): void {
    if (!this.#claiming) return;
    if (this.#pumping) {
      this.#pumpAgain = true;
      return;
    }
    this.#pumping = true;
    void (async () => {
      try {
        do {
          this.#pumpAgain = false;
          while (this.#claiming && this.#running.size < this.#options.concurrency) {
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
        } while (this.#pumpAgain && this.#claiming);
      } catch (error) {
        this.#complaints.warn('claim', 'claiming a job failed; trying again at the next poll', { error: describeError(error) });
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
        // Progress only changes what /status shows meanwhile: one that cannot be written is dropped.
        progress: (output) =>
          queue.progress(job.id, output).catch((error: unknown) => this.#complaints.warn('progress', 'the queue could not record a job\'s progress; skipped', { job: job.id, error: describeError(error) })),
        // A /stream element cannot be dropped: it is written again until it lands (or the job stops).
        stream: (output) =>
          this.#untilStored(() => queue.appendStream(job.id, output), AbortSignal.any([controller.signal, this.#lifetime.signal]), (error) =>
            logger.error('the queue could not record a job\'s stream element; retrying', { job: job.id, error: describeError(error) }),
          ),
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

  /**
   * Records the job's end. When the queue cannot take it now, the result stays here and is written
   * again, with back-off, until it lands or the runner stops: then the job is still running in the
   * queue and runs again (after a restart with SQLite), as after a crash. Never rejects.
   */
  async #finish(id: string, update: Parameters<JobQueue['finish']>[1]): Promise<void> {
    const { queue, logger } = this.#options;
    let record: Awaited<ReturnType<JobQueue['finish']>>;
    try {
      record = await this.#untilStored(() => queue.finish(id, update), this.#lifetime.signal, (error) =>
        logger.error('the queue could not record the end of job; keeping the result and retrying', { job: id, state: update.state, error: describeError(error) }),
      );
    } catch {
      logger.warn('stopped before the end of job was recorded; it runs again after a restart', { job: id });
      return;
    }
    // Only the party that ended the job reports it: a job cancelled meanwhile was reported by the cancel.
    if (record !== undefined && record.state === update.state) this.#options.onFinished?.(record);
  }

  /**
   * `write()`'s result once it succeeds: a write the queue refuses now is tried again with back-off
   * (the data stays in memory meanwhile); `onFirstFailure` hears of the first refusal. Throws the
   * last refusal when `signal` aborts first.
   */
  async #untilStored<T>(write: () => Promise<T>, signal: AbortSignal, onFirstFailure: (error: unknown) => void): Promise<T> {
    for (let attempt = 0; ; attempt++) {
      try {
        const result = await write();
        if (attempt > 0) this.#options.logger.info('the queue took a write it had refused', { attempts: attempt + 1 });
        return result;
      } catch (error) {
        if (attempt === 0) onFirstFailure(error);
        if (signal.aborted) throw error;
        await sleepUnlessAborted(Math.min(MAX_WRITE_BACKOFF_MS, 100 * 2 ** attempt), signal);
      }
    }
  }
}

function sleepUnlessAborted(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms);
    signal.addEventListener('abort', done, { once: true });
    function done(): void {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    }
  });
}
