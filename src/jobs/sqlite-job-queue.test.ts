import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runJobQueueCases } from './job-queue.case.js';
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
