import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
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
