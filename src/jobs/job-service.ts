import { z } from 'zod';
import { numberInRange, validate } from '../validation/validation.js';
import { ChorusError, type ChorusErrorCode } from '../errors.js';
import { assertPublicUrl } from '../security/address-policy.js';
import { isTerminal, type JobRecord, type StreamChunk } from './job.js';
import type { JobCounts, JobQueue } from './job-queue.js';
import type { JobRunner } from './job-runner.js';

export interface JobServiceSettings {
  readonly defaultExecutionTimeoutMs: number;
  readonly defaultTtlMs: number;
  /** Result retention after /run and after /runsync, ms. */
  readonly runRetentionMs: number;
  readonly runsyncRetentionMs: number;
  /** Lets `webhook` name private and loopback addresses (CHORUS_ALLOW_PRIVATE_URLS). */
  readonly allowPrivateUrls?: boolean;
}

const MIN_TIMEOUT_MS = 5_000;
const MAX_POLICY_MS = 7 * 24 * 3600 * 1000;

/** What the job API shows of an endpoint; its handler (an operation's profile) is the server's to wire. */
export interface JobEndpoint {
  readonly name: string;
  readonly description: string;
  /**
   * How `/run` answers, for profiles whose document does not follow RunPod's (absent: the job id at
   * once). `result`: `/run` waits and answers with the finished job in the document's envelope;
   * `stream`: it streams the job's /stream elements as they are made, as newline-delimited JSON.
   */
  runAnswer?(input: unknown): 'result' | 'stream';
  /** The schema `input` is validated with, and sendable examples of it: for the API document. */
  readonly input?: EndpointInputDoc;
}

export interface EndpointInputDoc {
  readonly schema: z.ZodType;
  readonly examples?: Readonly<Record<string, { readonly summary: string; readonly value: Record<string, unknown> }>>;
}

/**
 * Checks a job's input at submission and returns it as the job stores it. The server supplies it
 * (the endpoint's profile, with the engine and voices it needs), so jobs/ knows nothing of them.
 */
export type InputValidator = (
  endpointId: string,
  input: unknown,
  submission: { readonly owner: string; readonly signal: AbortSignal },
) => Promise<Record<string, unknown>>;

/** RunPod's request envelope; `input` goes to the profile, the rest is queue policy. */
export const jobSubmissionSchema = z.object({
  input: z.record(z.string(), z.unknown()).describe("The worker's input; its fields are the endpoint's own."),
  webhook: z.string().url().optional().describe('A public URL that gets the finished job, as /status shows it, signed per Standard Webhooks.'),
  webhookV2: z.string().optional().describe("Accepted for RunPod clients; not used."),
  policy: z
    .object({
      executionTimeout: numberInRange('policy.executionTimeout', MIN_TIMEOUT_MS, MAX_POLICY_MS, { integer: true }).optional().describe('Longest run, ms (default 600000).'),
      ttl: numberInRange('policy.ttl', 10_000, MAX_POLICY_MS, { integer: true }).optional().describe('How long the job may exist, ms (default a day).'),
      lowPriority: z.boolean().optional().describe('Queued behind every other job.'),
    })
    .optional(),
  s3Config: z.record(z.string(), z.unknown()).optional().describe('Accepted for RunPod clients; outputs go to the server\'s configured storage.'),
});

/**
 * What a handler's refusal of its input is made of. On RunPod a handler that refuses its input
 * ends its job FAILED with the message; the HTTP request that submitted it succeeded. Failures of
 * Chorus itself (a store or engine unavailable, a bug) are not refusals and stay HTTP errors.
 */
const INPUT_REFUSALS: ReadonlySet<ChorusErrorCode> = new Set<ChorusErrorCode>([
  'invalid_request',
  'missing_parameter',
  'text_too_long',
  'payload_too_large',
  'unsupported_format',
  'voice_not_found',
  'model_not_found',
  'not_found',
  'conflict',
  'forbidden',
]);

/** A refusal's message is kept as the job's error; messages quote what was sent, which may be long. */
const MAX_REFUSAL_CHARS = 2000;

/** A submitted job; `refusal` is why it is FAILED already, when its input was refused. */
export interface Submitted {
  readonly job: JobRecord;
  readonly refusal?: ChorusError;
}

/**
 * The job API's logic, independent of HTTP: submission with validation, owner scoping (another
 * key's job does not exist), long-polling, cancel, retry, purge and health.
 */
export class JobService {
  readonly #queue: JobQueue;
  readonly #runner: JobRunner;
  readonly #profiles: ReadonlyMap<string, JobEndpoint>;
  readonly #validateInput: InputValidator;
  readonly #settings: JobServiceSettings;
  readonly #onFinished: ((job: JobRecord) => void) | undefined;
  /** Aborted at shutdown: every long-poll answers at once with the job as it is. */
  readonly #released = new AbortController();

  constructor(options: {
    queue: JobQueue;
    runner: JobRunner;
    profiles: ReadonlyMap<string, JobEndpoint>;
    validateInput: InputValidator;
    settings: JobServiceSettings;
    /** Called for jobs that end here rather than in the runner (a queued job cancelled); webhooks hang off it. */
    onFinished?: (job: JobRecord) => void;
  }) {
    this.#queue = options.queue;
    this.#runner = options.runner;
    this.#profiles = options.profiles;
    this.#validateInput = options.validateInput;
    this.#settings = options.settings;
    this.#onFinished = options.onFinished;
  }

  get endpointIds(): string[] {
    return [...this.#profiles.keys()];
  }

  /** The server is shutting down: waiting requests get the job's current state now (the client polls /status later). */
  releaseWaiters(): void {
    this.#released.abort();
  }

  /** True once `releaseWaiters` was called: nothing waits for a job any more. */
  get waitersReleased(): boolean {
    return this.#released.signal.aborted;
  }

  profile(endpointId: string): JobEndpoint {
    const profile = this.#profiles.get(endpointId);
    if (profile === undefined) {
      throw new ChorusError({
        code: 'not_found',
        param: 'endpoint_id',
        message: `Endpoint '${endpointId}' not found. Endpoints on this server: ${this.endpointIds.join(', ')}.`,
      });
    }
    return profile;
  }

  /**
   * Checks the envelope (what RunPod itself checks: a ChorusError thrown here is an HTTP error),
   * then the input. An input the profile refuses makes a job that is FAILED at once with the
   * refusal's message, as a RunPod handler that refuses its input does; its input is not kept.
   */
  async submit(endpointId: string, owner: string, body: unknown, sync: boolean): Promise<Submitted> {
    this.profile(endpointId);
    if (typeof body === 'object' && body !== null && !Array.isArray(body) && !('input' in body)) {
      throw new ChorusError({ code: 'invalid_request', param: 'input', message: "Missing required field 'input': send {\"input\": {...}}." });
    }
    const submission = validate(jobSubmissionSchema, body);
    if (submission.webhook !== undefined) {
      await assertPublicUrl(submission.webhook, { allowPrivate: this.#settings.allowPrivateUrls ?? false, param: 'webhook' });
    }
    const job = {
      endpointId,
      owner,
      sync,
      retentionMs: sync ? this.#settings.runsyncRetentionMs : this.#settings.runRetentionMs,
      policy: {
        executionTimeoutMs: submission.policy?.executionTimeout ?? this.#settings.defaultExecutionTimeoutMs,
        ttlMs: submission.policy?.ttl ?? this.#settings.defaultTtlMs,
        lowPriority: submission.policy?.lowPriority ?? false,
      },
      ...(submission.webhook === undefined ? {} : { webhook: submission.webhook }),
    };
    const idPrefix = sync ? 'sync-' : '';
    let input: Record<string, unknown>;
    try {
      input = await this.#validateInput(endpointId, submission.input, { owner, signal: AbortSignal.timeout(60_000) });
    } catch (error) {
      if (!ChorusError.isInstance(error) || !INPUT_REFUSALS.has(error.code)) throw error;
      const message = error.message.length > MAX_REFUSAL_CHARS ? `${error.message.slice(0, MAX_REFUSAL_CHARS)}…` : error.message;
      const refused = await this.#queue.add({ ...job, input: null }, { idPrefix, failed: { error: message } });
      // It ended here, not in a runner: its webhook is sent from here.
      this.#onFinished?.(refused);
      return { job: refused, refusal: error };
    }
    // Only what the profile validated is stored: unknown fields, however large, are dropped here.
    return { job: await this.#queue.add({ ...job, input }, { idPrefix }) };
  }

  /** The job, if it exists for this endpoint and owner; otherwise `not_found` (never "forbidden"). */
  async get(endpointId: string, owner: string, jobId: string): Promise<JobRecord> {
    this.profile(endpointId);
    const job = await this.#queue.get(jobId);
    if (job === undefined || job.owner !== owner || job.endpointId !== endpointId) {
      throw new ChorusError({ code: 'not_found', param: 'job_id', message: `Job '${jobId}' not found (unknown, expired, or not yours).` });
    }
    return job;
  }

  /** Waits until the job is terminal or `waitMs` passes; returns the job as it is then. */
  async waitForTerminal(endpointId: string, owner: string, jobId: string, waitMs: number, requestSignal: AbortSignal): Promise<JobRecord> {
    const signal = AbortSignal.any([requestSignal, this.#released.signal]);
    const deadline = Date.now() + waitMs;
    for (;;) {
      const change = this.#watch(jobId, deadline - Date.now(), signal);
      let keepWatching = false;
      try {
        const job = await this.get(endpointId, owner, jobId);
        if (isTerminal(job.state) || Date.now() >= deadline || signal.aborted) return job;
        keepWatching = true;
      } finally {
        if (!keepWatching) change.stop();
      }
      await change.changed;
    }
  }

  /** Chunks not yet delivered; waits up to `waitMs` for at least one, or for the end. */
  async stream(endpointId: string, owner: string, jobId: string, waitMs: number, requestSignal: AbortSignal): Promise<{ job: JobRecord; chunks: StreamChunk[] }> {
    const signal = AbortSignal.any([requestSignal, this.#released.signal]);
    const deadline = Date.now() + waitMs;
    for (;;) {
      const change = this.#watch(jobId, deadline - Date.now(), signal);
      let keepWatching = false;
      try {
        const job = await this.get(endpointId, owner, jobId);
        const chunks = await this.#queue.takeStream(jobId);
        if (chunks.length > 0 || isTerminal(job.state) || Date.now() >= deadline || signal.aborted) {
          // A job that finished after we read its state may have left chunks; read its final state.
          return { job: chunks.length > 0 ? job : await this.get(endpointId, owner, jobId), chunks };
        }
        keepWatching = true;
      } finally {
        if (!keepWatching) change.stop();
      }
      await change.changed;
    }
  }

  /**
   * Listens for a change of the job before its state is read, so a change that lands between the
   * read and the wait is not missed (it would cost a whole long-poll).
   */
  #watch(jobId: string, timeoutMs: number, signal: AbortSignal): { changed: Promise<void>; stop(): void } {
    const stopped = new AbortController();
    const changed = this.#queue.waitForChange(jobId, timeoutMs, AbortSignal.any([signal, stopped.signal]));
    return { changed, stop: () => stopped.abort() };
  }

  async cancel(endpointId: string, owner: string, jobId: string): Promise<JobRecord> {
    await this.get(endpointId, owner, jobId);
    const result = await this.#queue.cancel(jobId);
    if (result === undefined) throw new ChorusError({ code: 'not_found', param: 'job_id', message: `Job '${jobId}' not found.` });
    // Whoever makes a job terminal reports it (webhooks): a cancel here, queued or running, so the
    // runner of a cancelled job does not (its finish finds the job already ended).
    if (result.cancelled) this.#onFinished?.(result.job);
    return result.job;
  }

  async retry(endpointId: string, owner: string, jobId: string): Promise<JobRecord> {
    const previous = await this.get(endpointId, owner, jobId);
    if (previous.state === 'failed' && previous.startedAt === undefined) {
      throw new ChorusError({
        code: 'invalid_request',
        param: 'job_id',
        message: `Job '${jobId}' was refused when it was submitted (${previous.error ?? 'its input was not accepted'}); its input was not kept, so submit a corrected job instead of retrying this one.`,
      });
    }
    const job = await this.#queue.retry(jobId);
    if (job === undefined) throw new ChorusError({ code: 'not_found', param: 'job_id', message: `Job '${jobId}' not found.` });
    return job;
  }

  async purge(endpointId: string, owner: string): Promise<number> {
    this.profile(endpointId);
    return this.#queue.purge(endpointId, owner);
  }

  /** The owner's own jobs of this endpoint: a key sees no trace of another key's jobs. */
  async counts(endpointId: string, owner: string): Promise<JobCounts> {
    this.profile(endpointId);
    return this.#queue.counts(endpointId, owner);
  }

  /**
   * Worker slots: across every process when the queue is shared (runners report to it), else this
   * process's runner. An API-only process runs nothing itself, so without reports it has no slots.
   */
  async workers(): Promise<{ slots: number; running: number }> {
    if (this.#queue.liveWorkers !== undefined) {
      const { slots, running } = await this.#queue.liveWorkers();
      return { slots, running };
    }
    return this.#runner.stats();
  }
}
