// The job-queue conformance suite against the Redis (BullMQ) backend, on a real redis-server.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { after, before, describe, it } from 'node:test';
import { newJob, runJobQueueCases } from '../src/jobs/job-queue.case.js';
import { parseOutput } from '../src/jobs/job-output.js';
import { RedisJobQueue } from '../src/jobs/redis-job-queue.js';
import { startTestRedis, type TestRedis } from './support/redis.js';

let redis: TestRedis;
let run = 0;
before(async () => {
  redis = await startTestRedis();
});
after(async () => {
  await redis.close();
});

runJobQueueCases('Redis (BullMQ)', async (maxQueuedJobs) => {
  // A prefix per case: each starts on an empty queue without flushing the server.
  const options = { url: redis.url, maxQueuedJobs, prefix: `case${++run}`, lockDurationMs: 2000 };
  let offset = 0;
  const clocked = { ...options, now: () => Date.now() + offset };
  let queue = new RedisJobQueue(clocked);
  await queue.ready();
  return {
    get queue() {
      return queue;
    },
    advance(ms: number) {
      offset += ms;
    },
    async reopen() {
      await queue.close();
      queue = new RedisJobQueue(clocked);
      await queue.ready();
      return queue;
    },
    async close() {
      await queue.close();
    },
  };
});

/** `promise`, or a failure naming `what` after 30 s. */
function within(promise: Promise<unknown>, what: string): Promise<unknown> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise((_, reject) => (timer = setTimeout(() => reject(new Error(what)), 30_000)));
  return Promise.race([promise, late]).finally(() => clearTimeout(timer));
}

describe('Redis job queue across processes', () => {
  const open = async (prefix: string, lockDurationMs = 2000) => {
    const queue = new RedisJobQueue({ url: redis.url, maxQueuedJobs: 100, prefix, lockDurationMs });
    await queue.ready();
    return queue;
  };

  it('a job added on one instance is claimed on another; progress, stream chunks and cancel cross between them', async () => {
    const api = await open('shared1');
    const worker = await open('shared1');
    try {
      const queued = new Promise<void>((resolve) => worker.onQueued(resolve));
      const job = await api.add(newJob({ input: { text: 'across' } }));
      await queued;
      const claimed = await worker.claim('node-b-0');
      assert.equal(claimed?.id, job.id);
      assert.equal((await api.get(job.id))?.workerId, 'node-b-0');

      const changed = api.waitForChange(job.id, 5000);
      await worker.progress(job.id, { percent: 40 });
      await changed;
      assert.deepEqual(await parseOutput((await api.get(job.id))?.output), { percent: 40 });
      await worker.appendStream(job.id, { chunk: 1 });
      await worker.appendStream(job.id, { chunk: 2 });
      assert.deepEqual(await api.takeStream(job.id), [
        { index: 0, output: { chunk: 1 } },
        { index: 1, output: { chunk: 2 } },
      ]);

      const cancelHeard = new Promise<string>((resolve) => worker.onCancel(resolve));
      assert.equal((await api.cancel(job.id))?.job.state, 'cancelled');
      assert.equal(await cancelHeard, job.id, "the worker's abort listener hears the other process's cancel");
      assert.equal((await worker.finish(job.id, { state: 'completed', output: 1 }))?.state, 'cancelled');
      assert.equal((await api.counts('chatterbox')).cancelled, 1);
    } finally {
      await api.close();
      await worker.close();
    }
  });

  it('a worker killed with SIGKILL mid-job loses the job to another worker once its lock lapses', async () => {
    const api = await open('crash1', 1000);
    const survivor = await open('crash1', 1000);
    try {
      const job = await api.add(newJob());
      // A real process claims the job and is killed while it holds it.
      const script = `
        import { RedisJobQueue } from ${JSON.stringify(new URL('../src/jobs/redis-job-queue.ts', import.meta.url).pathname)};
        const queue = new RedisJobQueue({ url: ${JSON.stringify(redis.url)}, maxQueuedJobs: 100, prefix: 'crash1', lockDurationMs: 1000 });
        await queue.ready();
        const job = await queue.claim('doomed-0');
        console.log('claimed', job?.id);
        setInterval(() => {}, 1000);`;
      const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
      const line = await new Promise<string>((resolve, reject) => {
        child.stdout!.on('data', (chunk: Buffer) => resolve(chunk.toString()));
        child.once('exit', (code) => reject(new Error(`the worker process exited (${code}) before claiming`)));
      });
      assert.match(line, new RegExp(`claimed ${job.id}`));
      assert.equal((await api.get(job.id))?.workerId, 'doomed-0');
      child.kill('SIGKILL');
      await new Promise((resolve) => child.once('exit', resolve));

      let reclaimed;
      const deadline = Date.now() + 15_000;
      while (reclaimed === undefined && Date.now() < deadline) {
        reclaimed = await survivor.claim('survivor-0');
        if (reclaimed === undefined) await new Promise((resolve) => setTimeout(resolve, 200));
      }
      assert.equal(reclaimed?.id, job.id, 'the job ran again on the surviving worker');
      assert.equal(reclaimed?.retries, 1);
      assert.equal(reclaimed?.workerId, 'survivor-0');
      assert.equal((await survivor.finish(job.id, { state: 'completed', output: { ok: true } }))?.state, 'completed');
      assert.deepEqual(await parseOutput((await api.get(job.id))?.output), { ok: true });
    } finally {
      await api.close();
      await survivor.close();
    }
  });
  it('after Redis comes back, waiters wake and read their jobs again (events sent meanwhile are lost), and events arrive again', async () => {
    const api = await open('reconnect1');
    const worker = await open('reconnect1');
    try {
      const job = await api.add(newJob());
      // Far longer than the test may take: only the reconnect can end this wait early.
      const woken = api.waitForChange(job.id, 600_000);
      await redis.stop();
      await redis.start();
      await within(woken, 'the waiter slept through the reconnect');
      // Subscribed again: a change made on the other instance reaches this one.
      const changed = api.waitForChange(job.id, 600_000);
      // The worker's own connection may still be reconnecting (a claim then finds nothing, and a
      // runner asks again on its next poll): ask the way a runner does.
      let claimed;
      const deadline = Date.now() + 15_000;
      while (claimed === undefined && Date.now() < deadline) {
        claimed = await worker.claim('node-b-0');
        if (claimed === undefined) await new Promise((resolve) => setTimeout(resolve, 100));
      }
      assert.equal(claimed?.id, job.id);
      await within(changed, 'the change made after the reconnect did not arrive');
    } finally {
      await api.close();
      await worker.close();
    }
  });
});
