import { randomUUID } from 'node:crypto';
import { mkdirSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import sqlite from 'node-sqlite3-wasm';
import { ChorusError } from '../errors.js';
import { claimDatabase, inTransaction } from '../storage/sqlite-file.js';
import { asStorageError, guardStorage } from '../storage/storage-errors.js';
import { isExpired, isTerminal, type JobRecord, type JobState, type JsonBytes, type NewJob, type StreamChunk } from './job.js';
import { counterKey, sumCounters, type CounterName } from './job-counters.js';
import { JobEvents } from './job-events.js';
import { encodeOutput, jsonInMemory, OutputFiles } from './job-output.js';
import type { AddOptions, JobCounts, JobQueue, TerminalUpdate } from './job-queue.js';

type Row = Record<string, number | bigint | string | Uint8Array | null>;

export interface SqliteJobQueueOptions {
  /** Database file; created with its folder if missing. */
  readonly path: string;
  /** Queued jobs allowed at once (all endpoints); `add` answers `queue_full` beyond it. */
  readonly maxQueuedJobs: number;
  readonly now?: () => number;
}

const SCHEMA = `
CREATE TABLE IF NOT EXISTS jobs (
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  id TEXT NOT NULL UNIQUE,
  endpoint_id TEXT NOT NULL,
  owner TEXT NOT NULL,
  state TEXT NOT NULL,
  input TEXT NOT NULL,
  webhook TEXT,
  policy TEXT NOT NULL,
  sync INTEGER NOT NULL,
  retention_ms INTEGER NOT NULL,
  priority INTEGER NOT NULL,
  created_at INTEGER NOT NULL,
  expires_at INTEGER NOT NULL,
  started_at INTEGER,
  finished_at INTEGER,
  worker_id TEXT,
  output BLOB,
  output_file_bytes INTEGER,
  error TEXT,
  retries INTEGER NOT NULL DEFAULT 0,
  stream_next INTEGER NOT NULL DEFAULT 0,
  stream_taken INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS jobs_claim ON jobs (state, priority, seq);
CREATE TABLE IF NOT EXISTS job_stream (
  job_id TEXT NOT NULL,
  idx INTEGER NOT NULL,
  output TEXT NOT NULL,
  PRIMARY KEY (job_id, idx)
);
CREATE TABLE IF NOT EXISTS counters (name TEXT PRIMARY KEY, value INTEGER NOT NULL);
`;

/**
 * Final outputs up to this size stay in the row (their JSON as a BLOB); larger ones go to a file
 * (OutputFiles), because the wasm SQLite reads and writes a value in one synchronous call.
 */
const INLINE_OUTPUT_BYTES = 64 * 1024;

/**
 * The embedded job queue: one SQLite file under the data directory (SQLite compiled to wasm, so
 * nothing is compiled at install time). Every change is committed before the call returns, so a
 * `kill -9` loses nothing: on open, jobs that were running go back to the queue. While the
 * directory cannot be used (read-only, full), every call fails with `storage_unavailable` naming it
 * and changes nothing; the same handle works again once it can.
 */
export class SqliteJobQueue implements JobQueue {
  readonly #db: InstanceType<typeof sqlite.Database>;
  readonly #events = new JobEvents();
  readonly #maxQueued: number;
  readonly #now: () => number;
  readonly #path: string;
  readonly #dir: string;
  readonly #outputFiles: OutputFiles;

  constructor(options: SqliteJobQueueOptions) {
    mkdirSync(dirname(options.path), { recursive: true });
    claimDatabase(options.path, 'job database');
    this.#path = options.path;
    this.#dir = dirname(options.path);
    this.#db = new sqlite.Database(options.path);
    this.#db.exec('PRAGMA journal_mode = TRUNCATE; PRAGMA synchronous = NORMAL;');
    this.#db.exec(SCHEMA);
    this.#addOutputFileColumn();
    this.#outputFiles = new OutputFiles(join(dirname(options.path), 'job-outputs'));
    this.#maxQueued = options.maxQueuedJobs;
    this.#now = options.now ?? Date.now;
    this.#recoverInterrupted();
    this.#removeUnrecordedOutputFiles();
  }

  /** Databases made before big outputs went to files lack the column that records them. */
  #addOutputFileColumn(): void {
    const columns = this.#db.all('PRAGMA table_info(jobs)') as Row[];
    if (!columns.some((column) => column['name'] === 'output_file_bytes')) this.#db.exec('ALTER TABLE jobs ADD COLUMN output_file_bytes INTEGER');
  }

  /** A crash between writing an output file and recording it leaves a file no job points at. */
  #removeUnrecordedOutputFiles(): void {
    const rows = this.#db.all('SELECT id FROM jobs WHERE output_file_bytes IS NOT NULL') as Row[];
    this.#outputFiles.removeAllBut(new Set(rows.map((row) => row['id'] as string)));
  }

  /** Jobs that were running when the process died run again from the start. */
  #recoverInterrupted(): void {
    const interrupted = this.#db.all(`SELECT id, endpoint_id FROM jobs WHERE state = 'running'`) as Row[];
    if (interrupted.length === 0) return;
    this.#transaction(() => {
      for (const row of interrupted) {
        this.#db.run('DELETE FROM job_stream WHERE job_id = ?', [row['id'] as string]);
      }
      this.#db.run(
        `UPDATE jobs SET state = 'queued', started_at = NULL, worker_id = NULL, output = NULL,
           retries = retries + 1, stream_next = 0, stream_taken = 0 WHERE state = 'running'`,
      );
    });
  }

  async add(job: NewJob, options: AddOptions = {}): Promise<JobRecord> {
    return this.#io(() => this.#add(job, options));
  }

  #add(job: NewJob, options: AddOptions): JobRecord {
    const { failed } = options;
    const queued = (this.#db.get(`SELECT COUNT(*) AS n FROM jobs WHERE state = 'queued'`) as Row)['n'] as number;
    if (failed === undefined && queued >= this.#maxQueued) {
      throw new ChorusError({
        code: 'queue_full',
        retryable: true,
        message: `The queue is full (${this.#maxQueued} jobs waiting); retry shortly.`,
      });
    }
    const id = `${options.idPrefix ?? ''}${randomUUID()}-u1`;
    const now = this.#now();
    this.#transaction(() => {
      this.#db.run(
        `INSERT INTO jobs (id, endpoint_id, owner, state, input, webhook, policy, sync, retention_ms, priority, created_at, expires_at, finished_at, error)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
        [
          id,
          job.endpointId,
          job.owner,
          failed === undefined ? 'queued' : 'failed',
          JSON.stringify(job.input ?? null),
          job.webhook ?? null,
          JSON.stringify(job.policy),
          job.sync ? 1 : 0,
          job.retentionMs,
          job.policy.lowPriority ? 1 : 0,
          now,
          now + job.policy.ttlMs,
          failed === undefined ? null : now,
          failed?.error ?? null,
        ],
      );
      if (failed !== undefined) this.#bump(job, 'failed');
    });
    // Built from what was written rather than read back: one statement fewer on the submit path.
    const input = JSON.parse(JSON.stringify(job.input ?? null)) as unknown;
    if (failed !== undefined) return { ...job, id, state: 'failed', createdAt: now, finishedAt: now, error: failed.error, retries: 0, input };
    this.#events.queued();
    return { ...job, id, state: 'queued', createdAt: now, retries: 0, input };
  }

  async get(id: string): Promise<JobRecord | undefined> {
    return this.#io(() => this.#get(id));
  }

  #get(id: string): JobRecord | undefined {
    const row = this.#db.get('SELECT * FROM jobs WHERE id = ?', [id]) as Row | null;
    if (row === null) return undefined;
    const record = toRecord(row, this.#outputOf(row));
    return isExpired(record, this.#now()) ? undefined : record;
  }

  async cancel(id: string): Promise<{ job: JobRecord; cancelled: boolean } | undefined> {
    return this.#io(() => this.#cancel(id));
  }

  #cancel(id: string): { job: JobRecord; cancelled: boolean } | undefined {
    const record = this.#get(id);
    if (record === undefined) return undefined;
    if (isTerminal(record.state)) return { job: record, cancelled: false };
    let changed = 0;
    this.#transaction(() => {
      changed = Number(this.#db.run(`UPDATE jobs SET state = 'cancelled', finished_at = ? WHERE id = ? AND state IN ('queued', 'running')`, [this.#now(), id]).changes);
      if (changed > 0) this.#bump(record, 'cancelled');
    });
    if (changed === 0) return { job: this.#get(id)!, cancelled: false };
    if (record.state === 'running') this.#events.cancelled(id);
    this.#changed(id);
    return { job: this.#get(id)!, cancelled: true };
  }

  async retry(id: string): Promise<JobRecord | undefined> {
    const requeued = this.#io(() => this.#retry(id));
    if (requeued === undefined) return undefined;
    // The old output's file goes before anyone hears of the job again, so its next run cannot race it.
    await this.#outputFiles.remove(id).catch(() => undefined);
    this.#changed(id);
    this.#events.queued();
    return requeued;
  }

  #retry(id: string): JobRecord | undefined {
    const record = this.#get(id);
    if (record === undefined) return undefined;
    if (record.state !== 'failed' && record.state !== 'timed-out') {
      throw new ChorusError({
        code: 'invalid_request',
        param: 'job_id',
        message: `Only FAILED or TIMED_OUT jobs can be retried; this job is ${record.state.toUpperCase().replace('-', '_')}.`,
      });
    }
    this.#transaction(() => {
      this.#db.run('DELETE FROM job_stream WHERE job_id = ?', [id]);
      this.#db.run(
        `UPDATE jobs SET state = 'queued', output = NULL, output_file_bytes = NULL, error = NULL, started_at = NULL, finished_at = NULL,
           worker_id = NULL, retries = retries + 1, stream_next = 0, stream_taken = 0 WHERE id = ?`,
        [id],
      );
      this.#bump(record, 'retried');
    });
    return this.#get(id);
  }

  async purge(endpointId: string, owner: string): Promise<number> {
    return this.#io(() => Number(this.#db.run(`DELETE FROM jobs WHERE state = 'queued' AND endpoint_id = ? AND owner = ?`, [endpointId, owner]).changes));
  }

  async counts(endpointId?: string, owner?: string): Promise<JobCounts> {
    return this.#io(() => this.#counts(endpointId, owner));
  }

  #counts(endpointId: string | undefined, owner: string | undefined): JobCounts {
    const filters: [string, string][] = [];
    if (endpointId !== undefined) filters.push(['endpoint_id = ?', endpointId]);
    if (owner !== undefined) filters.push(['owner = ?', owner]);
    const where = filters.length === 0 ? '' : `WHERE ${filters.map(([condition]) => condition).join(' AND ')}`;
    const rows = this.#db.all(`SELECT state, COUNT(*) AS n FROM jobs ${where} GROUP BY state`, filters.map(([, value]) => value)) as Row[];
    const live: Partial<Record<JobState, number>> = {};
    for (const row of rows) live[row['state'] as JobState] = Number(row['n']);
    const stored = this.#db.all('SELECT name, value FROM counters') as Row[];
    return {
      queued: live.queued ?? 0,
      running: live.running ?? 0,
      ...sumCounters(stored.map((row) => [row['name'] as string, Number(row['value'])] as const), endpointId, owner),
    };
  }

  async claim(workerId: string): Promise<JobRecord | undefined> {
    return this.#io(() => this.#claim(workerId));
  }

  #claim(workerId: string): JobRecord | undefined {
    const now = this.#now();
    let claimed: string | undefined;
    this.#transaction(() => {
      const row = this.#db.get(
        `SELECT id FROM jobs WHERE state = 'queued' AND expires_at > ? ORDER BY priority, seq LIMIT 1`,
        [now],
      ) as Row | null;
      if (row === null) return;
      claimed = row['id'] as string;
      this.#db.run(`UPDATE jobs SET state = 'running', started_at = ?, worker_id = ? WHERE id = ?`, [now, workerId, claimed]);
    });
    if (claimed === undefined) return undefined;
    this.#changed(claimed);
    return this.#get(claimed);
  }

  async progress(id: string, output: unknown): Promise<void> {
    this.#io(() => this.#db.run(`UPDATE jobs SET output = ? WHERE id = ? AND state = 'running'`, [encodeOutput(output), id]));
    this.#changed(id);
  }

  async appendStream(id: string, output: unknown): Promise<void> {
    this.#io(() => this.#transaction(() => {
      const row = this.#db.get(`SELECT stream_next FROM jobs WHERE id = ? AND state = 'running'`, [id]) as Row | null;
      if (row === null) return;
      const index = Number(row['stream_next']);
      this.#db.run('INSERT INTO job_stream (job_id, idx, output) VALUES (?, ?, ?)', [id, index, JSON.stringify(output ?? null)]);
      this.#db.run('UPDATE jobs SET stream_next = ? WHERE id = ?', [index + 1, id]);
    }));
    this.#changed(id);
  }

  async takeStream(id: string): Promise<StreamChunk[]> {
    let chunks: StreamChunk[] = [];
    this.#io(() => this.#transaction(() => {
      const row = this.#db.get('SELECT stream_taken, stream_next FROM jobs WHERE id = ?', [id]) as Row | null;
      if (row === null) return;
      const from = Number(row['stream_taken']);
      const to = Number(row['stream_next']);
      if (to <= from) return;
      const rows = this.#db.all('SELECT idx, output FROM job_stream WHERE job_id = ? AND idx >= ? AND idx < ? ORDER BY idx', [id, from, to]) as Row[];
      chunks = rows.map((r) => ({ index: Number(r['idx']), output: JSON.parse(r['output'] as string) as unknown }));
      this.#db.run('UPDATE jobs SET stream_taken = ? WHERE id = ?', [to, id]);
      // Delivered chunks are not needed again; the final output carries the complete result.
      this.#db.run('DELETE FROM job_stream WHERE job_id = ? AND idx < ?', [id, to]);
    }));
    return chunks;
  }

  async finish(id: string, update: TerminalUpdate): Promise<JobRecord | undefined> {
    const record = this.#io(() => this.#get(id));
    if (record === undefined) return undefined;
    if (record.state !== 'running') return record;
    // Serialised once, here; every later reader gets these bytes as they are.
    const json = update.output === undefined ? undefined : encodeOutput(update.output);
    const inFile = json !== undefined && json.byteLength > INLINE_OUTPUT_BYTES;
    if (inFile) {
      await this.#outputFiles.write(id, json).catch((error: unknown) => {
        throw asStorageError(this.#dir, error);
      });
    }
    let changed = 0;
    try {
      // One transaction: the end and its counter land together or not at all (the runner retries).
      this.#io(() =>
        this.#transaction(() => {
          changed = Number(
            this.#db.run(
              `UPDATE jobs SET state = ?, output = ?, output_file_bytes = ?, error = ?, finished_at = ? WHERE id = ? AND state = 'running'`,
              [update.state, inFile ? null : (json ?? null), inFile ? json.byteLength : null, update.error ?? null, this.#now(), id],
            ).changes,
          );
          if (changed > 0) this.#bump(record, update.state);
        }),
      );
    } catch (error) {
      if (inFile) await this.#outputFiles.remove(id).catch(() => undefined);
      throw error;
    }
    // Cancelled while the file was written: the job stays cancelled, and the output is not kept.
    if (changed === 0 && inFile) await this.#outputFiles.remove(id).catch(() => undefined);
    if (changed > 0) this.#changed(id);
    return this.#io(() => this.#get(id));
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

  async sweep(now = this.#now()): Promise<number> {
    let removed = 0;
    const outputFiles: string[] = [];
    this.#io(() => this.#transaction(() => {
      const rows = this.#db.all(
        `SELECT id, output_file_bytes FROM jobs WHERE expires_at <= ? OR (finished_at IS NOT NULL AND finished_at + retention_ms <= ?)`,
        [now, now],
      ) as Row[];
      for (const row of rows) {
        this.#db.run('DELETE FROM job_stream WHERE job_id = ?', [row['id'] as string]);
        if (row['output_file_bytes'] !== null) outputFiles.push(row['id'] as string);
      }
      removed = Number(
        this.#db.run(`DELETE FROM jobs WHERE expires_at <= ? OR (finished_at IS NOT NULL AND finished_at + retention_ms <= ?)`, [now, now])
          .changes,
      );
    }));
    for (const id of outputFiles) await this.#outputFiles.remove(id).catch(() => undefined);
    return removed;
  }

  async close(): Promise<void> {
    this.#events.clear();
    this.#db.close();
    rmSync(`${this.#path}.owner`, { force: true });
  }


  #outputOf(row: Row): JsonBytes | undefined {
    const fileBytes = row['output_file_bytes'];
    if (fileBytes !== null && fileBytes !== undefined) return this.#outputFiles.output(row['id'] as string, Number(fileBytes));
    const stored = row['output'];
    if (stored === null || stored === undefined) return undefined;
    // Databases written before outputs were kept as bytes hold them as text.
    return jsonInMemory(typeof stored === 'string' ? Buffer.from(stored, 'utf8') : (stored as Uint8Array));
  }

  #bump(job: Pick<NewJob, 'endpointId' | 'owner'>, name: CounterName): void {
    this.#db.run(
      `INSERT INTO counters (name, value) VALUES (?, 1) ON CONFLICT(name) DO UPDATE SET value = value + 1`,
      [counterKey(job.endpointId, job.owner, name)],
    );
  }

  #changed(id: string): void {
    this.#events.changed(id);
  }

  #transaction(work: () => void): void {
    inTransaction(this.#db, work);
  }

  #io<T>(work: () => T): T {
    return guardStorage(this.#dir, work);
  }
}

/**
 * The embedded queue belongs to one process. node-sqlite3-wasm locks with a `<db>.lock` directory
 * that a killed process leaves behind, which would make the restart fail with "database is locked".
 * An owner file with our pid tells a stale lock (owner gone) from a live one (refuse to start).
 */
function toRecord(row: Row, output: JsonBytes | undefined): JobRecord {
  const optional = <T>(key: string, map: (value: NonNullable<Row[string]>) => T): T | undefined => {
    const value = row[key];
    return value === null || value === undefined ? undefined : map(value);
  };
  const webhook = optional('webhook', String);
  const startedAt = optional('started_at', Number);
  const finishedAt = optional('finished_at', Number);
  const workerId = optional('worker_id', String);
  const error = optional('error', String);
  return {
    id: row['id'] as string,
    endpointId: row['endpoint_id'] as string,
    owner: row['owner'] as string,
    state: row['state'] as JobState,
    input: JSON.parse(row['input'] as string) as unknown,
    policy: JSON.parse(row['policy'] as string) as JobRecord['policy'],
    sync: Number(row['sync']) === 1,
    retentionMs: Number(row['retention_ms']),
    createdAt: Number(row['created_at']),
    retries: Number(row['retries']),
    ...(webhook === undefined ? {} : { webhook }),
    ...(startedAt === undefined ? {} : { startedAt }),
    ...(finishedAt === undefined ? {} : { finishedAt }),
    ...(workerId === undefined ? {} : { workerId }),
    ...(output === undefined ? {} : { output }),
    ...(error === undefined ? {} : { error }),
  };
}
