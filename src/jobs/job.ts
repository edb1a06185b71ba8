/**
 * A queued unit of work for one endpoint profile. States are lowercase here (as BullMQ's); the
 * RunPod surface maps them to IN_QUEUE … TIMED_OUT in exactly one place (api/runpod/job-view.ts).
 */
export type JobState = 'queued' | 'running' | 'completed' | 'failed' | 'cancelled' | 'timed-out';

export const TERMINAL_STATES: readonly JobState[] = ['completed', 'failed', 'cancelled', 'timed-out'];

export function isTerminal(state: JobState): boolean {
  return TERMINAL_STATES.includes(state);
}

export interface JobPolicy {
  /** Longest a handler may run, ms. */
  readonly executionTimeoutMs: number;
  /** Total lifespan from submission, ms; afterwards the job is gone whatever its state. */
  readonly ttlMs: number;
  /** Low-priority jobs run after every normal one that is waiting. */
  readonly lowPriority: boolean;
}

export interface NewJob {
  readonly endpointId: string;
  /** Digest of the API key that owns the job ('' when the server has no keys). */
  readonly owner: string;
  readonly input: unknown;
  readonly policy: JobPolicy;
  readonly webhook?: string;
  /** Submitted through /runsync: shorter retention after it finishes. */
  readonly sync: boolean;
  /** How long the result stays readable after the job finishes, ms. */
  readonly retentionMs: number;
}

export interface JobRecord extends NewJob {
  readonly id: string;
  readonly state: JobState;
  readonly createdAt: number;
  readonly startedAt?: number;
  readonly finishedAt?: number;
  readonly workerId?: string;
  /**
   * Final output, or the latest progress output while running, as the JSON it was stored as. It is
   * never parsed on the way to a client: answers splice these bytes in (`parseOutput` reads the value).
   */
  readonly output?: JsonBytes;
  readonly error?: string;
  /** Times the job was put back in the queue by /retry or after a crash. */
  readonly retries: number;
}

/**
 * JSON text as UTF-8 bytes of a known length, read in pieces: from memory, or (a big job output of
 * the embedded queue) from a file, off the event loop.
 */
export interface JsonBytes {
  readonly byteLength: number;
  chunks(): AsyncIterable<Uint8Array>;
}

/** One element of a job's `/stream` output, in production order. */
export interface StreamChunk {
  readonly index: number;
  readonly output: unknown;
}

/** Past its TTL, or finished and past its retention: to every reader, the job no longer exists. */
export function isExpired(record: JobRecord, now: number): boolean {
  if (now >= record.createdAt + record.policy.ttlMs) return true;
  return record.finishedAt !== undefined && now >= record.finishedAt + record.retentionMs;
}
