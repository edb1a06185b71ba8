import type { JobRecord, JobState, NewJob, StreamChunk } from './job.js';

export interface JobCounts {
  readonly queued: number;
  readonly running: number;
  readonly completed: number;
  readonly failed: number;
  readonly cancelled: number;
  readonly timedOut: number;
  /** Lifetime count of retried jobs. */
  readonly retried: number;
}

export interface WorkerStats {
  /** Jobs the runner can run at once. */
  readonly slots: number;
  /** Jobs it is running. */
  readonly running: number;
}

export interface TerminalUpdate {
  readonly state: Extract<JobState, 'completed' | 'failed' | 'cancelled' | 'timed-out'>;
  readonly output?: unknown;
  readonly error?: string;
}

export interface AddOptions {
  /** Put before the id (`sync-` for /runsync). */
  readonly idPrefix?: string;
  /**
   * The job ends as it is submitted: its handler refused the input. It is recorded FAILED with this
   * error (never queued, never started; it takes no queue capacity), counted as failed, and kept
   * for its retention like any finished job.
   */
  readonly failed?: { readonly error: string };
}

/**
 * Where jobs live between submission and expiry. The API side adds, reads, cancels and retries;
 * the runner side claims and finishes. An embedded SQLite implementation ships first; a Redis one
 * follows. Both must pass `job-queue.case.ts`.
 */
export interface JobQueue {
  /** Throws ChorusError `queue_full` when the queue is at capacity (not for a job that is `failed` at once). */
  add(job: NewJob, options?: AddOptions): Promise<JobRecord>;
  get(id: string): Promise<JobRecord | undefined>;
  /**
   * Queued or running → cancelled (the runner's abort signal fires); terminal jobs are unchanged.
   * `cancelled` says whether this call made the change, so exactly one party reports the end.
   */
  cancel(id: string): Promise<{ readonly job: JobRecord; readonly cancelled: boolean } | undefined>;
  /** Failed or timed-out → queued again with the same id and input; anything else throws. */
  retry(id: string): Promise<JobRecord | undefined>;
  /** Removes queued jobs of one endpoint and owner; returns how many. */
  purge(endpointId: string, owner: string): Promise<number>;
  /** Counts of one endpoint and one owner; either left out: all of them. */
  counts(endpointId?: string, owner?: string): Promise<JobCounts>;

  /** Takes the next queued job (normal priority first, then by age) and marks it running. */
  claim(workerId: string): Promise<JobRecord | undefined>;
  /** Sets the progress output of a running job. */
  progress(id: string, output: unknown): Promise<void>;
  appendStream(id: string, output: unknown): Promise<void>;
  /** Chunks not yet handed out by `takeStream`; marks them delivered (RunPod's /stream is destructive). */
  takeStream(id: string): Promise<StreamChunk[]>;
  /**
   * Finishes a running job. A job cancelled meanwhile stays cancelled; returns the final record
   * (its state differs from `update.state` when this call did not end the job).
   */
  finish(id: string, update: TerminalUpdate): Promise<JobRecord | undefined>;

  /** Resolves when the job changes (state, progress, stream) or after `timeoutMs`. */
  waitForChange(id: string, timeoutMs: number, signal?: AbortSignal): Promise<void>;
  /** Calls `listener` when a running job is cancelled, so its handler can be aborted. */
  onCancel(listener: (id: string) => void): () => void;
  /** Calls `listener` when a job becomes claimable. */
  onQueued(listener: () => void): () => void;
  /**
   * A running job runner says it is alive and how busy it is (every poll). Queues shared by several
   * processes keep these to count live workers across all of them; the embedded queue needs none.
   */
  reportWorker?(processId: string, stats: WorkerStats): Promise<void>;
  /** The runner stopped: it no longer counts. */
  retireWorker?(processId: string): Promise<void>;
  /** Job slots and busy slots of every runner that reported lately, across all processes. */
  liveWorkers?(): Promise<WorkerStats & { readonly processes: number }>;
  /** Deletes jobs past their TTL or retention; returns how many. */
  sweep(now?: number): Promise<number>;
  close(): Promise<void>;
}
