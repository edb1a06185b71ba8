import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { CacheLookupOutcome } from '../cache/result-cache.js';
import type { JobQueue } from '../jobs/job-queue.js';
import type { DeliveryResult } from '../jobs/webhook-sender.js';
import type { SpeechService, SynthesisObserver, SynthesisReport } from '../speech/speech-service.js';

/**
 * What is read when Prometheus scrapes rather than counted as it happens: queue depths, job states
 * and utilisation are the state of the queue and the engines at that moment.
 */
export interface MetricsSources {
  readonly speech: SpeechService;
  readonly queue: Pick<JobQueue, 'counts'>;
  /** The job API's endpoint ids (from CHORUS_ENDPOINTS: the operator's names, a bounded set). */
  readonly endpointIds: readonly string[];
  /** This process's job runner; absent on an API process, which runs no jobs. */
  readonly runner?: { stats(): { readonly slots: number; readonly running: number } };
}

const HTTP_METHODS = new Set(['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS']);
const ENGINE_STATES = ['loading', 'ready', 'failed', 'down'] as const;
const ENDED_JOB_STATES = [
  ['completed', 'completed'],
  ['failed', 'failed'],
  ['cancelled', 'cancelled'],
  ['timedOut', 'timed_out'],
] as const;

/**
 * Every Chorus metric, in a registry of its own (each server in a test process has one; the
 * process metrics are shared). Label
 * values come only from bounded sets the server defines: route patterns, status codes, loaded
 * engine ids, configured endpoint ids, error codes; never from request text, voices or keys.
 */
export class ChorusMetrics implements SynthesisObserver {
  readonly #registry = new Registry();

  readonly #httpRequests = new Counter({
    name: 'chorus_http_requests_total',
    help: 'HTTP requests answered, by method, route pattern and status code.',
    labelNames: ['method', 'route', 'status'] as const,
    registers: [this.#registry],
  });
  readonly #httpDuration = new Histogram({
    name: 'chorus_http_request_duration_seconds',
    help: 'Time from a request to its response headers (a streamed body goes on after), by method, route pattern and status code.',
    labelNames: ['method', 'route', 'status'] as const,
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120],
    registers: [this.#registry],
  });
  readonly #firstAudio = new Histogram({
    name: 'chorus_synthesis_time_to_first_audio_seconds',
    help: 'Time from the start of a synthesis to its first encoded audio bytes, by engine and delivery (stream, or buffered: the whole file).',
    labelNames: ['engine', 'delivery'] as const,
    buckets: [0.025, 0.05, 0.1, 0.2, 0.3, 0.5, 0.75, 1, 1.5, 2, 3, 5, 10, 30],
    registers: [this.#registry],
  });
  readonly #realTimeFactor = new Histogram({
    name: 'chorus_synthesis_real_time_factor',
    help: 'Seconds taken per second of audio made (below 1: faster than real time), completed syntheses, by engine and delivery.',
    labelNames: ['engine', 'delivery'] as const,
    buckets: [0.01, 0.02, 0.05, 0.1, 0.2, 0.3, 0.5, 0.75, 1, 1.5, 2, 5, 10],
    registers: [this.#registry],
  });
  readonly #syntheses = new Counter({
    name: 'chorus_syntheses_total',
    help: 'Syntheses (one request to an engine, all its chunks) ended, by engine and outcome: completed, failed, aborted.',
    labelNames: ['engine', 'outcome'] as const,
    registers: [this.#registry],
  });
  readonly #synthesisFailures = new Counter({
    name: 'chorus_synthesis_failures_total',
    help: 'Failed syntheses by engine and Chorus error code.',
    labelNames: ['engine', 'code'] as const,
    registers: [this.#registry],
  });
  readonly #audioSeconds = new Counter({
    name: 'chorus_synthesis_audio_seconds_total',
    help: 'Seconds of audio made by completed syntheses, by engine.',
    labelNames: ['engine'] as const,
    registers: [this.#registry],
  });
  readonly #activeSyntheses = new Gauge({
    name: 'chorus_syntheses_active',
    help: 'Syntheses under way, by engine.',
    labelNames: ['engine'] as const,
    registers: [this.#registry],
  });
  readonly #cacheLookups = new Counter({
    name: 'chorus_result_cache_lookups_total',
    help: 'Result cache lookups by outcome: hit (no synthesis ran), miss (synthesised and stored), refresh (Cache-Control: no-cache).',
    labelNames: ['outcome'] as const,
    registers: [this.#registry],
  });
  readonly #webhookDeliveries = new Counter({
    name: 'chorus_webhook_deliveries_total',
    help: 'Webhook deliveries ended, by outcome: delivered (a 2xx), failed (every attempt refused or unanswered), not_sent (no body could be made).',
    labelNames: ['outcome'] as const,
    registers: [this.#registry],
  });
  readonly #webhookAttempts = new Counter({
    name: 'chorus_webhook_attempts_total',
    help: 'Webhook POSTs made, retries included.',
    registers: [this.#registry],
  });

  constructor() {
    for (const outcome of ['hit', 'miss', 'refresh'] as const) this.#cacheLookups.inc({ outcome }, 0);
    for (const outcome of ['delivered', 'failed', 'not_sent'] as const) this.#webhookDeliveries.inc({ outcome }, 0);
  }

  get contentType(): string {
    return this.#registry.contentType;
  }

  /** The exposition text (Prometheus text format 0.0.4), scrape-time values read now. */
  exposition(): Promise<string> {
    return Registry.merge([processRegistry(), this.#registry]).metrics();
  }

  /** `route` is the pattern that matched (`/v2/:endpointId/run`), never the raw path. */
  httpRequestEnded(method: string, route: string, status: number, seconds: number): void {
    const labels = { method: HTTP_METHODS.has(method) ? method : 'OTHER', route, status: String(status) };
    this.#httpRequests.inc(labels);
    this.#httpDuration.observe(labels, seconds);
  }

  started(engine: string): void {
    this.#activeSyntheses.inc({ engine });
  }

  ended(report: SynthesisReport): void {
    const { engine, delivery } = report;
    this.#activeSyntheses.dec({ engine });
    this.#syntheses.inc({ engine, outcome: report.outcome });
    if (report.errorCode !== undefined) this.#synthesisFailures.inc({ engine, code: report.errorCode });
    if (report.firstAudioSeconds !== undefined) this.#firstAudio.observe({ engine, delivery }, report.firstAudioSeconds);
    if (report.audioSeconds !== undefined && report.audioSeconds > 0) {
      this.#audioSeconds.inc({ engine }, report.audioSeconds);
      this.#realTimeFactor.observe({ engine, delivery }, report.elapsedSeconds / report.audioSeconds);
    }
  }

  readonly cacheLookup = (outcome: CacheLookupOutcome): void => {
    this.#cacheLookups.inc({ outcome });
  };

  readonly webhookEnded = (result: DeliveryResult): void => {
    this.#webhookDeliveries.inc({ outcome: result.delivered ? 'delivered' : result.attempts === 0 ? 'not_sent' : 'failed' });
    this.#webhookAttempts.inc(result.attempts);
  };

  /** Registers the metrics read from `sources` at each scrape. */
  watch(sources: MetricsSources): void {
    const registers = [this.#registry];
    const { speech } = sources;
    const gauge = <L extends string>(name: string, help: string, labelNames: readonly L[], collect: (metric: Gauge<L>) => void | Promise<void>): void => {
      new Gauge<L>({ name, help, labelNames, registers, collect() { return collect(this); } });
    };
    // Lifetime counts the job store keeps itself: counters read at each scrape rather than counted here.
    const storedCounter = <L extends string>(name: string, help: string, labelNames: readonly L[], collect: (metric: Counter<L>) => Promise<void>): void => {
      new Counter<L>({ name, help, labelNames, registers, collect() { return collect(this); } });
    };

    // Undefined when the store did not answer (Redis away): the scrape still answers, without stale counts.
    const readCounts = oncePerScrape(() =>
      Promise.all(sources.endpointIds.map(async (endpoint) => ({ endpoint, counts: await sources.queue.counts(endpoint) }))).catch(() => undefined),
    );
    gauge('chorus_job_queue_up', 'Whether the job store (SQLite, or Redis) answered this scrape: 1 or 0.', [], async (metric) => {
      metric.set((await readCounts()) === undefined ? 0 : 1);
    });
    gauge('chorus_jobs', 'Jobs now queued or running, by endpoint and state (with Redis: the whole deployment).', ['endpoint', 'state'], async (metric) => {
      metric.reset();
      for (const { endpoint, counts } of (await readCounts()) ?? []) {
        metric.set({ endpoint, state: 'queued' }, counts.queued);
        metric.set({ endpoint, state: 'running' }, counts.running);
      }
    });
    storedCounter('chorus_jobs_ended_total', 'Jobs ended since the job store was created, by endpoint and state (with Redis: the whole deployment).', ['endpoint', 'state'], async (metric) => {
      metric.reset();
      for (const { endpoint, counts } of (await readCounts()) ?? []) {
        for (const [field, state] of ENDED_JOB_STATES) metric.inc({ endpoint, state }, counts[field]);
      }
    });
    storedCounter('chorus_jobs_retried_total', 'Jobs retried since the job store was created, by endpoint.', ['endpoint'], async (metric) => {
      metric.reset();
      for (const { endpoint, counts } of (await readCounts()) ?? []) metric.inc({ endpoint }, counts.retried);
    });

    const runner = sources.runner;
    if (runner !== undefined) {
      gauge('chorus_job_runner_slots', 'Jobs this process can run at once.', [], (metric) => metric.set(runner.stats().slots));
      gauge('chorus_job_runner_running', 'Jobs this process is running.', [], (metric) => metric.set(runner.stats().running));
    }

    gauge('chorus_worker_threads', 'Engine worker threads, by state: ready, or starting (replacing one that stopped).', ['state'], (metric) => {
      const stats = speech.stats();
      metric.set({ state: 'ready' }, stats.readyWorkers);
      metric.set({ state: 'starting' }, stats.workers - stats.readyWorkers);
    });
    gauge('chorus_worker_tasks_active', 'Syntheses and audio tasks (voice analysis, conversion) running on the engine worker threads.', [], (metric) => metric.set(speech.stats().activeJobs));
    gauge('chorus_worker_syntheses_paused', 'Syntheses paused because their client has not read a whole stream buffer of their audio.', [], (metric) => metric.set(speech.stats().pausedJobs));
    gauge('chorus_worker_unread_bytes', 'Audio bytes made by the workers that their consumers have not taken yet.', [], (metric) => metric.set(speech.stats().unreadBytes));

    gauge('chorus_engine_calls_active', 'Calls under way to engines outside the worker threads (engine-host models, remote engines), by engine.', ['engine'], (metric) => {
      metric.reset();
      const calls = speech.activeEngineCalls();
      for (const engine of speech.engines.engines) {
        if (engine.placement === 'main') metric.set({ engine: engine.id }, calls.get(engine.id) ?? 0);
      }
    });
    gauge('chorus_engine_state', 'Each engine loaded or tried: 1 for its current state (loading, ready, failed, down), 0 for the others.', ['engine', 'state'], (metric) => {
      metric.reset();
      for (const status of speech.engineStatus()) {
        for (const state of ENGINE_STATES) metric.set({ engine: status.id, state }, status.state === state ? 1 : 0);
      }
    });
    gauge('chorus_remote_engine_requests_active', 'Requests a remote engine is serving (as in /health).', ['engine'], (metric) => {
      metric.reset();
      for (const status of speech.engineStatus()) if (status.active !== undefined) metric.set({ engine: status.id }, status.active);
    });
    gauge('chorus_remote_engine_requests_queued', 'Requests waiting for a remote engine slot (as in /health).', ['engine'], (metric) => {
      metric.reset();
      for (const status of speech.engineStatus()) if (status.queued !== undefined) metric.set({ engine: status.id }, status.queued);
    });
  }
}

let processMetrics: Registry | undefined;

/**
 * prom-client's process metrics (CPU, memory, event-loop lag, GC): one set per process, made on
 * first use, since their monitors run for as long as the process does and several servers in one
 * process (tests) would each start their own.
 */
function processRegistry(): Registry {
  if (processMetrics === undefined) {
    processMetrics = new Registry();
    collectDefaultMetrics({ register: processMetrics });
  }
  return processMetrics;
}

/**
 * One read shared by every metric of a scrape: the registry asks all metrics at once, in one
 * synchronous pass, so a read started in that pass serves them all and is forgotten afterwards.
 */
function oncePerScrape<T>(read: () => Promise<T>): () => Promise<T> {
  let pending: Promise<T> | undefined;
  return () => {
    if (pending === undefined) {
      pending = read();
      setImmediate(() => {
        pending = undefined;
      });
    }
    return pending;
  };
}
