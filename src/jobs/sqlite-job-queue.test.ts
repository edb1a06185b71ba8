import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sqlite from 'node-sqlite3-wasm';
import { parseOutput } from './job-output.js';
import { newJob, runJobQueueCases } from './job-queue.case.js';
import type { JobQueue } from './job-queue.js';
import { SqliteJobQueue } from './sqlite-job-queue.js';

runJobQueueCases('embedded SQLite', async (maxQueuedJobs) => {
  const dir = mkdtempSync(join(tmpdir(), 'chorus-queue-'));
  let offset = 0;
  const options = { path: join(dir, 'jobs.sqlite'), maxQueuedJobs, now: () => Date.now() + offset };
  let queue: JobQueue = new SqliteJobQueue(options);
  return {
    get queue() {
      return queue;
    },
    advance(ms: number) {
      offset += ms;
    },
    async reopen() {
      await queue.close();
      queue = new SqliteJobQueue(options);
      return queue;
    },
    async close() {
      await queue.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
});

describe('SqliteJobQueue start-up after a crash', () => {
  it('clears the lock a killed process left behind, and refuses a database another live process owns', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'chorus-queue-lock-'));
    const path = join(dir, 'jobs.sqlite');
    try {
      mkdirSync(`${path}.lock`);
      writeFileSync(`${path}.owner`, '2147483646');
      const queue = new SqliteJobQueue({ path, maxQueuedJobs: 10 });
      await queue.add(newJob());
      await queue.close();
      writeFileSync(`${path}.owner`, String(process.ppid));
      assert.throws(() => new SqliteJobQueue({ path, maxQueuedJobs: 10 }), /Another Chorus process/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('SqliteJobQueue big outputs', () => {
  const bigOutput = { audio_base64: 'A'.repeat(200_000) };

  it('keeps a big output in a file beside the database, and removes it with its job', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'chorus-queue-outputs-'));
    const outputs = join(dir, 'job-outputs');
    let offset = 0;
    const options = { path: join(dir, 'jobs.sqlite'), maxQueuedJobs: 10, now: () => Date.now() + offset };
    let queue = new SqliteJobQueue(options);
    try {
      const job = await queue.add(newJob({ retentionMs: 60_000 }));
      await queue.claim('w1');
      await queue.finish(job.id, { state: 'completed', output: bigOutput });
      assert.deepEqual(readdirSync(outputs), [`${job.id}.json`]);
      assert.equal(readFileSync(join(outputs, `${job.id}.json`), 'utf8'), JSON.stringify(bigOutput));

      // A crash between writing a file and recording it leaves a file no job points at: gone at the next start.
      writeFileSync(join(outputs, 'lost-job.json'), '{}');
      writeFileSync(join(outputs, 'half-written.json.partial'), '{');
      await queue.close();
      queue = new SqliteJobQueue(options);
      assert.deepEqual(readdirSync(outputs), [`${job.id}.json`]);
      assert.deepEqual(await parseOutput((await queue.get(job.id))?.output), bigOutput);

      offset += 60_001;
      assert.equal(await queue.sweep(), 1);
      assert.deepEqual(readdirSync(outputs), [], 'the file went with its job');
    } finally {
      await queue.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('drops a big output when the job is retried, or when it was cancelled while the output was written', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'chorus-queue-outputs-'));
    const queue = new SqliteJobQueue({ path: join(dir, 'jobs.sqlite'), maxQueuedJobs: 10 });
    try {
      const failed = await queue.add(newJob());
      await queue.claim('w1');
      await queue.finish(failed.id, { state: 'failed', output: bigOutput, error: 'half done' });
      assert.equal(readdirSync(join(dir, 'job-outputs')).length, 1);
      await queue.retry(failed.id);
      assert.deepEqual(readdirSync(join(dir, 'job-outputs')), []);
      assert.equal((await queue.get(failed.id))?.output, undefined);
      await queue.cancel(failed.id);

      const cancelled = await queue.add(newJob());
      await queue.claim('w1');
      const finishing = queue.finish(cancelled.id, { state: 'completed', output: bigOutput });
      await queue.cancel(cancelled.id);
      assert.equal((await finishing)?.state, 'cancelled');
      assert.deepEqual(readdirSync(join(dir, 'job-outputs')), []);
      assert.equal((await queue.counts()).completed, 0, 'not counted as completed');
      assert.equal((await queue.counts()).cancelled, 2);
    } finally {
      await queue.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('reads outputs a database from before this change kept as text', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'chorus-queue-outputs-'));
    const path = join(dir, 'jobs.sqlite');
    const old = new sqlite.Database(path);
    old.exec(`CREATE TABLE jobs (
      seq INTEGER PRIMARY KEY AUTOINCREMENT, id TEXT NOT NULL UNIQUE, endpoint_id TEXT NOT NULL, owner TEXT NOT NULL,
      state TEXT NOT NULL, input TEXT NOT NULL, webhook TEXT, policy TEXT NOT NULL, sync INTEGER NOT NULL,
      retention_ms INTEGER NOT NULL, priority INTEGER NOT NULL, created_at INTEGER NOT NULL, expires_at INTEGER NOT NULL,
      started_at INTEGER, finished_at INTEGER, worker_id TEXT, output TEXT, error TEXT, retries INTEGER NOT NULL DEFAULT 0,
      stream_next INTEGER NOT NULL DEFAULT 0, stream_taken INTEGER NOT NULL DEFAULT 0)`);
    const now = Date.now();
    old.run(
      `INSERT INTO jobs (id, endpoint_id, owner, state, input, policy, sync, retention_ms, priority, created_at, expires_at, started_at, finished_at, output)
       VALUES ('old-job', 'chatterbox', 'owner-a', 'completed', '{}', ?, 0, 600000, 0, ?, ?, ?, ?, '{"text":"héllo"}')`,
      [JSON.stringify(newJob().policy), now, now + 600_000, now, now],
    );
    old.close();
    const queue = new SqliteJobQueue({ path, maxQueuedJobs: 10 });
    try {
      assert.deepEqual(await parseOutput((await queue.get('old-job'))?.output), { text: 'héllo' });
      const job = await queue.add(newJob());
      await queue.claim('w1');
      await queue.finish(job.id, { state: 'completed', output: bigOutput });
      assert.deepEqual(await parseOutput((await queue.get(job.id))?.output), bigOutput);
    } finally {
      await queue.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
