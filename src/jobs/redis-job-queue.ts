import { randomUUID } from 'node:crypto';
import { Queue, Worker, type Job } from 'bullmq';
import type { Redis } from 'ioredis';
import { ChorusError } from '../errors.js';
import { commandClient, connected, guardRedis, patientClient, whenConnected } from '../storage/redis-client.js';
import { isExpired, type JobRecord, type JobState, type NewJob, type StreamChunk } from './job.js';
import { counterKey, counterPrefix, sumCounters } from './job-counters.js';
import { JobEvents } from './job-events.js';
import { encodeOutput, jsonInMemory } from './job-output.js';
import type { AddOptions, JobCounts, JobQueue, TerminalUpdate, WorkerStats } from './job-queue.js';

export interface RedisJobQueueOptions {
  /** `redis://host:port/db`. */
  readonly url: string;
  /** Queued jobs allowed at once (all endpoints); `add` answers `queue_full` beyond it. */
  readonly maxQueuedJobs: number;
  /** Key prefix shared by every process of one deployment. Default `chorus`. */
  readonly prefix?: string;
  /**
   * How long a claimed job stays locked without its worker renewing the lock, ms. A worker that
   * dies (kill -9) loses its jobs to another worker this long after its last renewal. Default 30 s.
   */
  readonly lockDurationMs?: number;
  readonly now?: () => number;
}

/** A job this process claimed: BullMQ's handle and lock token, and the timer that renews the lock. */
interface Claimed {
  readonly job: Job;
  readonly token: string;
  readonly renew: NodeJS.Timeout;
}

interface QueueEvent {
  readonly type: 'change' | 'cancel' | 'queued';
  readonly id?: string;
  /** The instance that published it; it has already told its own listeners. */
  readonly from: string;
}

const QUEUE_NAME = 'jobs';
/** A runner reports every second; one silent for this long is gone. */
const WORKER_REPORT_TTL_MS = 5000;

/**
 * State changes are Lua scripts, so two processes never both move a job out of one state (a claim
 * racing a cancel, two finishes). Every script takes the job's hash as KEYS[1]. A counter prefix
 * (`counterPrefix`: the job's endpoint and owner) is completed with the counter's name.
 */
const SCRIPTS = {
  // KEYS: job, queued set, running set. ARGV: workerId, now. → 1 claimed, 2 claimed again after its
  // worker died (stream reset), 0 not claimable (cancelled, purged or expired meanwhile).
  claimJob: {
    keys: 3,
    lua: `
      local state = redis.call('HGET', KEYS[1], 'state')
      if state == 'queued' then
        redis.call('HSET', KEYS[1], 'state', 'running', 'startedAt', ARGV[2], 'workerId', ARGV[1])
        redis.call('SMOVE', KEYS[2], KEYS[3], redis.call('HGET', KEYS[1], 'id'))
        return 1
      elseif state == 'running' then
        redis.call('HSET', KEYS[1], 'startedAt', ARGV[2], 'workerId', ARGV[1], 'streamNext', 0, 'streamTaken', 0)
        redis.call('HINCRBY', KEYS[1], 'retries', 1)
        redis.call('HDEL', KEYS[1], 'output')
        redis.call('DEL', KEYS[1] .. ':stream')
        return 2
      end
      return 0`,
  },
  // KEYS: job, queued set, running set, counters, expiry. ARGV: now, counter prefix. → the state it left, or ''.
  cancelJob: {
    keys: 5,
    lua: `
      local state = redis.call('HGET', KEYS[1], 'state')
      if state ~= 'queued' and state ~= 'running' then return '' end
      local id = redis.call('HGET', KEYS[1], 'id')
      redis.call('HSET', KEYS[1], 'state', 'cancelled', 'finishedAt', ARGV[1])
      redis.call('SREM', KEYS[2], id)
      redis.call('SREM', KEYS[3], id)
      redis.call('HINCRBY', KEYS[4], ARGV[2] .. 'cancelled', 1)
      local retention = tonumber(redis.call('HGET', KEYS[1], 'retentionMs'))
      local expires = math.min(tonumber(redis.call('HGET', KEYS[1], 'expiresAt')), tonumber(ARGV[1]) + retention)
      redis.call('ZADD', KEYS[5], expires, id)
      return state`,
  },
  // KEYS: job, running set, counters, expiry. ARGV: state, output JSON or '', error or '', now, counter prefix. → 1 or 0.
  finishJob: {
    keys: 4,
    lua: `
      if redis.call('HGET', KEYS[1], 'state') ~= 'running' then return 0 end
      local id = redis.call('HGET', KEYS[1], 'id')
      redis.call('HSET', KEYS[1], 'state', ARGV[1], 'finishedAt', ARGV[4])
      if ARGV[2] ~= '' then redis.call('HSET', KEYS[1], 'output', ARGV[2]) else redis.call('HDEL', KEYS[1], 'output') end
      if ARGV[3] ~= '' then redis.call('HSET', KEYS[1], 'error', ARGV[3]) end
      redis.call('SREM', KEYS[2], id)
      redis.call('HINCRBY', KEYS[3], ARGV[5] .. ARGV[1], 1)
      local retention = tonumber(redis.call('HGET', KEYS[1], 'retentionMs'))
      local expires = math.min(tonumber(redis.call('HGET', KEYS[1], 'expiresAt')), tonumber(ARGV[4]) + retention)
      redis.call('ZADD', KEYS[4], expires, id)
      return 1`,
  },
  // KEYS: job, queued set, running set, counters, expiry. ARGV: counter prefix.
  // → 1 queued again, 0 no such job, -1 not failed or timed out (the state is returned as well).
  retryJob: {
    keys: 5,
    lua: `
      local state = redis.call('HGET', KEYS[1], 'state')
      if not state then return {0, ''} end
      if state ~= 'failed' and state ~= 'timed-out' then return {-1, state} end
      local id = redis.call('HGET', KEYS[1], 'id')
      redis.call('HSET', KEYS[1], 'state', 'queued', 'streamNext', 0, 'streamTaken', 0)
      redis.call('HDEL', KEYS[1], 'output', 'error', 'startedAt', 'finishedAt', 'workerId')
      redis.call('HINCRBY', KEYS[1], 'retries', 1)
      redis.call('DEL', KEYS[1] .. ':stream')
      redis.call('SADD', KEYS[2], id)
      redis.call('HINCRBY', KEYS[4], ARGV[1] .. 'retried', 1)
      redis.call('ZADD', KEYS[5], tonumber(redis.call('HGET', KEYS[1], 'expiresAt')), id)
      return {1, state}`,
  },
  // KEYS: job, queued set, running set. A running job this process gives up (shutdown) goes back to
  // the queue, as if its worker had died. → 1 or 0.
  releaseJob: {
    keys: 3,
    lua: `
      if redis.call('HGET', KEYS[1], 'state') ~= 'running' then return 0 end
      local id = redis.call('HGET', KEYS[1], 'id')
      redis.call('HSET', KEYS[1], 'state', 'queued', 'streamNext', 0, 'streamTaken', 0)
      redis.call('HDEL', KEYS[1], 'output', 'startedAt', 'workerId')
      redis.call('HINCRBY', KEYS[1], 'retries', 1)
      redis.call('DEL', KEYS[1] .. ':stream')
      redis.call('SMOVE', KEYS[3], KEYS[2], id)
      return 1`,
  },
  // KEYS: job. ARGV: output JSON.
  progressJob: {
    keys: 1,
    lua: `
      if redis.call('HGET', KEYS[1], 'state') ~= 'running' then return 0 end
      redis.call('HSET', KEYS[1], 'output', ARGV[1])
      return 1`,
  },
  // KEYS: job. ARGV: chunk JSON.
  appendStream: {
    keys: 1,
    lua: `
      if redis.call('HGET', KEYS[1], 'state') ~= 'running' then return 0 end
      redis.call('RPUSH', KEYS[1] .. ':stream', ARGV[1])
      redis.call('HINCRBY', KEYS[1], 'streamNext', 1)
      return 1`,
  },
  // KEYS: job. → {first index, chunk, chunk, …}; delivered chunks are dropped (RunPod's /stream is destructive).
  takeStream: {
    keys: 1,
    lua: `
      if redis.call('EXISTS', KEYS[1]) == 0 then return {0} end
      local chunks = redis.call('LRANGE', KEYS[1] .. ':stream', 0, -1)
      local first = tonumber(redis.call('HGET', KEYS[1], 'streamTaken') or '0')
      if #chunks > 0 then
        redis.call('DEL', KEYS[1] .. ':stream')
        redis.call('HINCRBY', KEYS[1], 'streamTaken', #chunks)
      end
      table.insert(chunks, 1, first)
      return chunks`,
  },
} as const;

type ScriptName = keyof typeof SCRIPTS;
type ScriptClient = Redis & { [name in ScriptName]: (...args: (string | number | Uint8Array)[]) => Promise<unknown> };

/**
 * Jobs in Redis for API and worker processes on many machines. BullMQ carries the queue itself:
 * ordering (normal before low priority, oldest first), handing each job to exactly one worker, lock
 * renewal and stalled-job recovery (a worker killed mid-job loses its lock and the job goes back to
 * wait for another). The job's record (state, output, stream chunks, retries) sits in a Redis hash
 * beside it, changed only by the Lua scripts above; changes, cancels and new jobs are announced to
 * every process over Redis pub/sub.
 */
export class RedisJobQueue implements JobQueue {
  readonly #options: RedisJobQueueOptions;
  readonly #prefix: string;
  readonly #redis: ScriptClient;
  readonly #subscriber: Redis;
  /** BullMQ leaves connections it was given open; these are closed here. */
  readonly #bullConnections: Redis[] = [];
  readonly #queue: Queue;
  readonly #events = new JobEvents();
  readonly #instance = randomUUID();
  readonly #claimed = new Map<string, Claimed>();
  readonly #now: () => number;
  readonly #lockDurationMs: number;
  #worker: Worker | undefined;
  #ready: Promise<void>;
  #closed = false;
  /** Claims in progress; `close` lets them land before it hands their jobs back. */
  readonly #claiming = new Set<Promise<unknown>>();

  constructor(options: RedisJobQueueOptions) {
    this.#options = options;
    this.#prefix = options.prefix ?? 'chorus';
    this.#now = options.now ?? Date.now;
    this.#lockDurationMs = options.lockDurationMs ?? 30_000;
    this.#redis = commandClient(options.url) as ScriptClient;
    for (const [name, script] of Object.entries(SCRIPTS)) this.#redis.defineCommand(name, { numberOfKeys: script.keys, lua: script.lua });
    this.#subscriber = patientClient(options.url);
    this.#queue = new Queue(QUEUE_NAME, { connection: this.#bullConnection(), prefix: `${this.#prefix}:bull` });
    this.#subscriber.on('message', (_channel: string, message: string) => this.#receive(message));
    // What was published while the subscriber was away is lost: once it is back (and resubscribed),
    // waiters read their jobs again rather than wait for an event that will not come.
    // ioredis says 'ready' before it resubscribes, so the wake-up waits for a subscribe of its own.
    let connectedBefore = false;
    this.#subscriber.on('ready', () => {
      if (!connectedBefore) {
        connectedBefore = true;
        return;
      }
      const wake = (): void => this.#events.missed();
      this.#subscriber.subscribe(this.#key('events')).then(wake, wake);
    });
    const commandsReady = new Promise<void>((resolve) => this.#redis.once('ready', () => resolve()));
    this.#ready = Promise.all([this.#subscriber.subscribe(this.#key('events')), commandsReady]).then(() => undefined);
  }

  /** Resolves once this instance hears other processes' events; rejects after `timeoutMs` without Redis. */
  ready(timeoutMs = 10_000): Promise<void> {
    return guardRedis(this.#ready, this.#options.url, timeoutMs);
  }

  // What API requests call: Redis being unreachable turns into `store_unavailable` (503), never a hang.
  add(job: NewJob, options: AddOptions = {}): Promise<JobRecord> {
    return this.#guard(() => this.#add(job, options));
  }

  get(id: string): Promise<JobRecord | undefined> {
    return this.#guard(() => this.#get(id));
  }

  cancel(id: string): Promise<{ job: JobRecord; cancelled: boolean } | undefined> {
    return this.#guard(() => this.#cancel(id));
  }

  retry(id: string): Promise<JobRecord | undefined> {
    return this.#guard(() => this.#retry(id));
  }

  purge(endpointId: string, owner: string): Promise<number> {
    return this.#guard(() => this.#purge(endpointId, owner));
  }

  counts(endpointId?: string, owner?: string): Promise<JobCounts> {
    return this.#guard(() => this.#counts(endpointId, owner));
  }

  takeStream(id: string): Promise<StreamChunk[]> {
    return this.#guard(() => this.#takeStream(id));
  }

  async #add(job: NewJob, options: AddOptions): Promise<JobRecord> {
    await this.#ready;
    const { failed } = options;
    if (failed === undefined && (await this.#queuedTotal()) >= this.#options.maxQueuedJobs) {
      throw new ChorusError({
        code: 'queue_full',
        retryable: true,
        message: `The queue is full (${this.#options.maxQueuedJobs} jobs waiting); retry shortly.`,
      });
    }
    const id = `${options.idPrefix ?? ''}${randomUUID()}-u1`;
    const now = this.#now();
    const expiresAt = now + job.policy.ttlMs;
    const transaction = this.#redis
      .multi()
      .hset(this.#jobKey(id), {
        id,
        endpointId: job.endpointId,
        owner: job.owner,
        state: failed === undefined ? 'queued' : 'failed',
        ...(failed === undefined ? {} : { finishedAt: String(now), error: failed.error }),
        input: JSON.stringify(job.input ?? null),
        policy: JSON.stringify(job.policy),
        sync: job.sync ? '1' : '0',
        retentionMs: String(job.retentionMs),
        createdAt: String(now),
        expiresAt: String(expiresAt),
        retries: '0',
        streamNext: '0',
        streamTaken: '0',
        ...(job.webhook === undefined ? {} : { webhook: job.webhook }),
      })
      .sadd(this.#key('endpoints'), job.endpointId);
    const input = JSON.parse(JSON.stringify(job.input ?? null)) as unknown;
    if (failed !== undefined) {
      // Finished as it was made: counted as failed, and kept for its retention as finishJob keeps jobs.
      await transaction
        .hincrby(this.#key('counters'), counterKey(job.endpointId, job.owner, 'failed'), 1)
        .zadd(this.#key('expiry'), Math.min(expiresAt, now + job.retentionMs), id)
        .exec()
        .then(throwOnCommandError);
      return { ...job, id, state: 'failed', createdAt: now, finishedAt: now, error: failed.error, retries: 0, input };
    }
    await transaction.sadd(this.#stateKey('queued', job.endpointId), id).zadd(this.#key('expiry'), expiresAt, id).exec().then(throwOnCommandError);
    await this.#enqueue(id, job.policy.lowPriority, false);
    this.#announce({ type: 'queued' });
    return { ...job, id, state: 'queued', createdAt: now, retries: 0, input };
  }

  async #get(id: string): Promise<JobRecord | undefined> {
    // As bytes: the output is handed on as the JSON it was stored as, never decoded or parsed here.
    const hash = await this.#redis.hgetallBuffer(this.#jobKey(id));
    if (hash['id'] === undefined) return undefined;
    const record = toRecord(hash);
    return isExpired(record, this.#now()) ? undefined : record;
  }

  async #cancel(id: string): Promise<{ job: JobRecord; cancelled: boolean } | undefined> {
    const record = await this.#get(id);
    if (record === undefined) return undefined;
    const left = (await this.#redis.cancelJob(
      this.#jobKey(id),
      this.#stateKey('queued', record.endpointId),
      this.#stateKey('running', record.endpointId),
      this.#key('counters'),
      this.#key('expiry'),
      this.#now(),
      counterPrefix(record.endpointId, record.owner),
    )) as string;
    if (left === 'queued') await this.#queue.remove(id).catch(() => undefined);
    if (left === 'running') this.#announce({ type: 'cancel', id });
    if (left !== '') this.#announce({ type: 'change', id });
    const job = await this.#get(id);
    return job === undefined ? undefined : { job, cancelled: left !== '' };
  }

  async #retry(id: string): Promise<JobRecord | undefined> {
    const record = await this.#get(id);
    if (record === undefined) return undefined;
    const [result, state] = (await this.#redis.retryJob(
      this.#jobKey(id),
      this.#stateKey('queued', record.endpointId),
      this.#stateKey('running', record.endpointId),
      this.#key('counters'),
      this.#key('expiry'),
      counterPrefix(record.endpointId, record.owner),
    )) as [number, string];
    if (result === 0) return undefined;
    if (result === -1) {
      throw new ChorusError({
        code: 'invalid_request',
        param: 'job_id',
        message: `Only FAILED or TIMED_OUT jobs can be retried; this job is ${state.toUpperCase().replace('-', '_')}.`,
      });
    }
    await this.#enqueue(id, record.policy.lowPriority, false);
    const requeued = await this.#get(id);
    this.#announce({ type: 'change', id });
    this.#announce({ type: 'queued' });
    return requeued;
  }

  async #purge(endpointId: string, owner: string): Promise<number> {
    let removed = 0;
    for (const id of await this.#redis.smembers(this.#stateKey('queued', endpointId))) {
      if ((await this.#redis.hget(this.#jobKey(id), 'owner')) !== owner) continue;
      // Only a job still queued is removed; one claimed meanwhile runs.
      const left = (await this.#redis.cancelJob(
        this.#jobKey(id),
        this.#stateKey('queued', endpointId),
        this.#stateKey('running', endpointId),
        this.#key('counters'),
        this.#key('expiry'),
        this.#now(),
        counterPrefix(endpointId, owner),
      )) as string;
      if (left !== 'queued') continue;
      await this.#forget(id);
      await this.#queue.remove(id).catch(() => undefined);
      removed++;
    }
    // A purge is not a cancel: undo the count the shared script made.
    if (removed > 0) await this.#redis.hincrby(this.#key('counters'), counterKey(endpointId, owner, 'cancelled'), -removed);
    return removed;
  }

  async #counts(endpointId?: string, owner?: string): Promise<JobCounts> {
    const endpoints = endpointId === undefined ? await this.#redis.smembers(this.#key('endpoints')) : [endpointId];
    const counters = await this.#redis.hgetall(this.#key('counters'));
    let queued = 0;
    let running = 0;
    for (const endpoint of endpoints) {
      queued += await this.#countOwned(this.#stateKey('queued', endpoint), owner);
      running += await this.#countOwned(this.#stateKey('running', endpoint), owner);
    }
    return { queued, running, ...sumCounters(Object.entries(counters).map(([key, value]) => [key, Number(value)] as const), endpointId, owner) };
  }

  /**
   * Jobs in a state set, or only those of `owner`. The sets hold every owner's jobs (at most the
   * queue's capacity waiting, plus the running ones), so one key's share is read from the jobs.
   */
  async #countOwned(set: string, owner: string | undefined): Promise<number> {
    if (owner === undefined) return this.#redis.scard(set);
    const ids = await this.#redis.smembers(set);
    if (ids.length === 0) return 0;
    const pipeline = this.#redis.pipeline();
    for (const id of ids) pipeline.hget(this.#jobKey(id), 'owner');
    const owners = (await pipeline.exec()) ?? [];
    return owners.filter(([error, value]) => error === null && value === owner).length;
  }

  claim(workerId: string): Promise<JobRecord | undefined> {
    if (this.#closed) return Promise.resolve(undefined);
    const claiming = this.#claim(workerId);
    this.#claiming.add(claiming);
    void claiming.finally(() => this.#claiming.delete(claiming)).catch(() => undefined);
    return claiming;
  }

  async #claim(workerId: string): Promise<JobRecord | undefined> {
    // Nothing can be claimed while Redis is away; the runner asks again on its next poll.
    if (this.#redis.status !== 'ready') return undefined;
    const worker = await this.#startWorker();
    for (;;) {
      const token = randomUUID();
      const job = (await worker.getNextJob(token, { block: false })) as Job | undefined;
      if (job?.id === undefined) return undefined;
      const id = job.id;
      const endpointId = (await this.#redis.hget(this.#jobKey(id), 'endpointId')) ?? '';
      const record = await this.#get(id);
      const claimed =
        record === undefined
          ? 0
          : ((await this.#redis.claimJob(
              this.#jobKey(id),
              this.#stateKey('queued', endpointId),
              this.#stateKey('running', endpointId),
              workerId,
              this.#now(),
            )) as number);
      if (claimed === 0) {
        // Cancelled, purged or expired while it waited: BullMQ's copy is done with.
        await job.moveToCompleted(null, token, false).catch(() => undefined);
        continue;
      }
      const renew = setInterval(() => void job.extendLock(token, this.#lockDurationMs).catch(() => undefined), this.#lockDurationMs / 3);
      renew.unref();
      this.#claimed.set(id, { job, token, renew });
      this.#announce({ type: 'change', id });
      return this.#get(id);
    }
  }

  async progress(id: string, output: unknown): Promise<void> {
    await connected(this.#redis, this.#options.url);
    if ((await this.#redis.progressJob(this.#jobKey(id), encodeOutput(output))) === 1) this.#announce({ type: 'change', id });
  }

  async appendStream(id: string, output: unknown): Promise<void> {
    await connected(this.#redis, this.#options.url);
    if ((await this.#redis.appendStream(this.#jobKey(id), JSON.stringify(output ?? null))) === 1) this.#announce({ type: 'change', id });
  }

  async #takeStream(id: string): Promise<StreamChunk[]> {
    const [first, ...chunks] = (await this.#redis.takeStream(this.#jobKey(id))) as [number, ...string[]];
    return chunks.map((chunk, offset) => ({ index: Number(first) + offset, output: JSON.parse(chunk) as unknown }));
  }

  /**
   * A result is not given up because Redis blinked: finishing retries until Redis answers (the lock
   * renewal keeps the job ours meanwhile) or the queue closes.
   */
  async finish(id: string, update: TerminalUpdate): Promise<JobRecord | undefined> {
    for (let attempt = 0; ; attempt++) {
      try {
        await connected(this.#redis, this.#options.url);
        return await this.#finish(id, update);
      } catch (error) {
        if (this.#closed || !ChorusError.isInstance(error) || error.code !== 'store_unavailable') throw error;
        await new Promise((resolve) => setTimeout(resolve, Math.min(5000, 200 * 2 ** Math.min(attempt, 5))));
      }
    }
  }

  async #finish(id: string, update: TerminalUpdate): Promise<JobRecord | undefined> {
    const record = await this.#get(id);
    if (record === undefined) {
      await this.#release(id, 'done');
      return undefined;
    }
    const changed = (await this.#redis.finishJob(
      this.#jobKey(id),
      this.#stateKey('running', record.endpointId),
      this.#key('counters'),
      this.#key('expiry'),
      update.state,
      // Serialised once, here; every later reader gets these bytes as they are.
      update.output === undefined ? '' : encodeOutput(update.output),
      update.error ?? '',
      this.#now(),
      counterPrefix(record.endpointId, record.owner),
    )) as number;
    await this.#release(id, 'done');
    if (changed === 1) this.#announce({ type: 'change', id });
    return this.#get(id);
  }

  waitForChange(id: string, timeoutMs: number, signal?: AbortSignal): Promise<void> {
    return this.#events.waitForChange(id, timeoutMs, signal);
  }

  onCancel(listener: (id: string) => void): () => void {
    return this.#events.onCancel(listener);
  }

  onQueued(listener: () => void): () => void {
    return this.#events.onQueued(listener);
  }

  async reportWorker(processId: string, stats: WorkerStats): Promise<void> {
    if (this.#redis.status !== 'ready') return;
    await this.#redis.hset(this.#key('workers'), processId, JSON.stringify({ ...stats, seenAt: Date.now() }));
  }

  async retireWorker(processId: string): Promise<void> {
    if (this.#redis.status === 'ready') await this.#redis.hdel(this.#key('workers'), processId);
  }

  /** Runners that reported within the last few seconds; older reports (stopped or dead processes) are dropped. */
  liveWorkers(): Promise<WorkerStats & { processes: number }> {
    return this.#guard(async () => {
      const reports = await this.#redis.hgetall(this.#key('workers'));
      const now = Date.now();
      let slots = 0;
      let running = 0;
      let processes = 0;
      for (const [processId, json] of Object.entries(reports)) {
        const report = JSON.parse(json) as WorkerStats & { seenAt: number };
        if (now - report.seenAt > WORKER_REPORT_TTL_MS) {
          await this.#redis.hdel(this.#key('workers'), processId);
          continue;
        }
        slots += report.slots;
        running += report.running;
        processes++;
      }
      return { slots, running, processes };
    });
  }

  async sweep(now = this.#now()): Promise<number> {
    if (this.#redis.status !== 'ready') return 0;
    const ids = await this.#redis.zrangebyscore(this.#key('expiry'), '-inf', now);
    for (const id of ids) {
      await this.#forget(id);
      await this.#queue.remove(id).catch(() => undefined);
    }
    return ids.length;
  }

  /**
   * Stops renewing locks and hands the jobs this process was running back to the queue (the
   * shutdown of a worker; a crash gets the same result through BullMQ's stalled-job check).
   */
  async close(): Promise<void> {
    this.#closed = true;
    await Promise.allSettled([...this.#claiming]);
    for (const id of [...this.#claimed.keys()]) await this.#release(id, 'requeue').catch(() => undefined);
    await this.#worker?.close(true);
    await this.#queue.close();
    this.#events.clear();
    this.#subscriber.disconnect();
    this.#redis.disconnect();
    for (const connection of this.#bullConnections) connection.disconnect();
  }

  #bullConnection(): Redis {
    const connection = patientClient(this.#options.url);
    this.#bullConnections.push(connection);
    return connection;
  }

  #guard<T>(work: () => Promise<T>): Promise<T> {
    return whenConnected(this.#redis, this.#options.url, work);
  }

  async #startWorker(): Promise<Worker> {
    if (this.#worker !== undefined) return this.#worker;
    this.#worker = new Worker(QUEUE_NAME, null, {
      connection: this.#bullConnection(),
      prefix: `${this.#prefix}:bull`,
      autorun: false,
      lockDuration: this.#lockDurationMs,
      stalledInterval: Math.max(1000, this.#lockDurationMs / 2),
      // A job whose worker keeps dying is not failed by BullMQ: its TTL ends it.
      maxStalledCount: 1_000_000,
    });
    await this.#worker.startStalledCheckTimer();
    return this.#worker;
  }

  /** BullMQ's copy of a job: normal jobs in FIFO order ahead of every low-priority one. */
  async #enqueue(id: string, lowPriority: boolean, first: boolean): Promise<void> {
    await this.#queue.add('job', {}, { jobId: id, removeOnComplete: true, removeOnFail: true, ...(lowPriority ? { priority: 1 } : first ? { lifo: true } : {}) });
  }

  /** Drops BullMQ's lock on a job this process claimed; `requeue` puts the job back at the head of the queue. */
  async #release(id: string, mode: 'done' | 'requeue'): Promise<void> {
    const claimed = this.#claimed.get(id);
    if (claimed === undefined) return;
    this.#claimed.delete(id);
    clearInterval(claimed.renew);
    if (mode === 'requeue') {
      const endpointId = (await this.#redis.hget(this.#jobKey(id), 'endpointId')) ?? '';
      const released = (await this.#redis.releaseJob(this.#jobKey(id), this.#stateKey('queued', endpointId), this.#stateKey('running', endpointId))) as number;
      await claimed.job.moveToCompleted(null, claimed.token, false).catch(() => undefined);
      if (released === 1) {
        const record = await this.#get(id);
        await this.#enqueue(id, record?.policy.lowPriority ?? false, true);
        this.#announce({ type: 'change', id });
        this.#announce({ type: 'queued' });
      }
      return;
    }
    await claimed.job.moveToCompleted(null, claimed.token, false).catch(() => undefined);
  }

  async #forget(id: string): Promise<void> {
    const endpointId = (await this.#redis.hget(this.#jobKey(id), 'endpointId')) ?? '';
    await this.#redis
      .multi()
      .del(this.#jobKey(id), `${this.#jobKey(id)}:stream`)
      .srem(this.#stateKey('queued', endpointId), id)
      .srem(this.#stateKey('running', endpointId), id)
      .zrem(this.#key('expiry'), id)
      .exec();
  }

  async #queuedTotal(): Promise<number> {
    let total = 0;
    for (const endpoint of await this.#redis.smembers(this.#key('endpoints'))) total += await this.#redis.scard(this.#stateKey('queued', endpoint));
    return total;
  }

  /** Tells this process's listeners at once and every other process over pub/sub. */
  #announce(event: Omit<QueueEvent, 'from'>): void {
    this.#dispatch(event);
    void this.#redis.publish(this.#key('events'), JSON.stringify({ ...event, from: this.#instance })).catch(() => undefined);
  }

  #receive(message: string): void {
    let event: QueueEvent;
    try {
      event = JSON.parse(message) as QueueEvent;
    } catch {
      return;
    }
    if (event.from !== this.#instance) this.#dispatch(event);
  }

  #dispatch(event: Omit<QueueEvent, 'from'>): void {
    if (event.type === 'queued') this.#events.queued();
    else if (event.type === 'cancel' && event.id !== undefined) this.#events.cancelled(event.id);
    else if (event.type === 'change' && event.id !== undefined) this.#events.changed(event.id);
  }


  #key(name: string): string {
    return `${this.#prefix}:${name}`;
  }

  #jobKey(id: string): string {
    return `${this.#prefix}:job:${id}`;
  }

  #stateKey(state: Extract<JobState, 'queued' | 'running'>, endpointId: string): string {
    return `${this.#prefix}:${state}:${endpointId}`;
  }
}

/**
 * A transaction resolves even when its commands failed (a Redis still loading its data after a
 * restart answers LOADING); a job must not be announced that was never written.
 */
function throwOnCommandError(results: [error: Error | null, result: unknown][] | null): void {
  if (results === null) throw new Error('the Redis transaction was aborted');
  const failed = results.find(([error]) => error !== null);
  if (failed !== undefined) throw failed[0]!;
}

function toRecord(raw: Record<string, Buffer>): JobRecord {
  const { output, ...fields } = raw;
  const hash: Record<string, string> = {};
  for (const [key, value] of Object.entries(fields)) hash[key] = value.toString('utf8');
  const number = (key: string): number | undefined => (hash[key] === undefined ? undefined : Number(hash[key]));
  const startedAt = number('startedAt');
  const finishedAt = number('finishedAt');
  return {
    id: hash['id']!,
    endpointId: hash['endpointId']!,
    owner: hash['owner']!,
    state: hash['state'] as JobState,
    input: JSON.parse(hash['input']!) as unknown,
    policy: JSON.parse(hash['policy']!) as JobRecord['policy'],
    sync: hash['sync'] === '1',
    retentionMs: Number(hash['retentionMs']),
    createdAt: Number(hash['createdAt']),
    retries: Number(hash['retries'] ?? 0),
    ...(hash['webhook'] === undefined ? {} : { webhook: hash['webhook'] }),
    ...(startedAt === undefined ? {} : { startedAt }),
    ...(finishedAt === undefined ? {} : { finishedAt }),
    ...(hash['workerId'] === undefined ? {} : { workerId: hash['workerId'] }),
    ...(output === undefined ? {} : { output: jsonInMemory(output) }),
    ...(hash['error'] === undefined ? {} : { error: hash['error'] }),
  };
}
