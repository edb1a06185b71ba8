import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { ChorusError } from '../errors.js';
import type { NewJob } from './job.js';
import { parseOutput, readJsonBytes } from './job-output.js';
import type { JobQueue } from './job-queue.js';

export interface QueueFixture {
  readonly queue: JobQueue;
  /** Moves the queue's clock (for TTL and retention). */
  advance(ms: number): void;
  /** Closes the queue and opens it again on the same storage, as after a crash. */
  reopen(): Promise<JobQueue>;
  close(): Promise<void>;
}

export const newJob = (overrides: Partial<NewJob> = {}): NewJob => ({
  endpointId: 'chatterbox',
  owner: 'owner-a',
  input: { text: 'hello' },
  policy: { executionTimeoutMs: 600_000, ttlMs: 86_400_000, lowPriority: false },
  sync: false,
  retentionMs: 1_800_000,
  ...overrides,
});

/**
 * The behaviour every JobQueue backend must have. Each backend's test file calls this with a
 * factory; the same cases then run against SQLite and Redis.
 */
export function runJobQueueCases(name: string, createFixture: (maxQueuedJobs: number) => Promise<QueueFixture>): void {
  describe(`JobQueue conformance: ${name}`, () => {
    let fixture: QueueFixture;
    let queue: JobQueue;
    beforeEach(async () => {
      fixture = await createFixture(5);
      queue = fixture.queue;
    });
    afterEach(() => fixture.close());

    it('adds a queued job that get() returns with its input', async () => {
      const job = await queue.add(newJob({ input: { text: 'hi', n: 1 } }));
      assert.match(job.id, /^[0-9a-f-]{36}-u1$/);
      assert.equal(job.state, 'queued');
      const read = await queue.get(job.id);
      assert.deepEqual(read?.input, { text: 'hi', n: 1 });
      assert.equal(await queue.get('no-such-job'), undefined);
    });

    it('claims normal jobs before low-priority ones, oldest first, and marks them running', async () => {
      const low = await queue.add(newJob({ policy: { executionTimeoutMs: 1000, ttlMs: 60_000, lowPriority: true } }));
      const first = await queue.add(newJob());
      const second = await queue.add(newJob());
      const claims = [await queue.claim('w1'), await queue.claim('w2'), await queue.claim('w1')];
      assert.deepEqual(claims.map((job) => job?.id), [first.id, second.id, low.id]);
      assert.equal(claims[0]!.state, 'running');
      assert.equal(claims[0]!.workerId, 'w1');
      assert.ok(claims[0]!.startedAt! >= claims[0]!.createdAt);
      assert.equal(await queue.claim('w1'), undefined);
    });

    it('finishes a job with output, and keeps progress and stream chunks in order', async () => {
      const job = await queue.add(newJob());
      await queue.claim('w1');
      await queue.progress(job.id, { percent: 50 });
      assert.deepEqual(await parseOutput((await queue.get(job.id))?.output), { percent: 50 });
      await queue.appendStream(job.id, { chunk: 1 });
      await queue.appendStream(job.id, { chunk: 2 });
      assert.deepEqual((await queue.takeStream(job.id)).map((c) => c.output), [{ chunk: 1 }, { chunk: 2 }]);
      await queue.appendStream(job.id, { chunk: 3 });
      assert.deepEqual((await queue.takeStream(job.id)).map((c) => c.output), [{ chunk: 3 }], 'only undelivered chunks');
      assert.deepEqual(await queue.takeStream(job.id), []);
      const done = await queue.finish(job.id, { state: 'completed', output: { audio: 'x' } });
      assert.equal(done?.state, 'completed');
      assert.deepEqual(await parseOutput(done?.output), { audio: 'x' });
      assert.ok(done!.finishedAt! >= done!.startedAt!);
    });

    it('keeps an output as the JSON bytes it was serialised to once, big or small, across a restart', async () => {
      const small = await queue.add(newJob());
      const big = await queue.add(newJob());
      await queue.claim('w1');
      await queue.claim('w1');
      // Several MB, and characters outside ASCII: bytes, not characters, are what is kept and counted.
      const bigOutput = { audio_base64: 'é'.repeat(100) + 'A'.repeat(3_000_000), duration_ms: 1 };
      await queue.finish(small.id, { state: 'completed', output: { n: 1 } });
      const finished = await queue.finish(big.id, { state: 'completed', output: bigOutput });
      const expected = Buffer.from(JSON.stringify(bigOutput), 'utf8');
      assert.equal(finished?.output?.byteLength, expected.byteLength);
      assert.ok((await readJsonBytes(finished!.output!)).equals(expected));
      queue = await fixture.reopen();
      const read = await queue.get(big.id);
      assert.equal(read?.output?.byteLength, expected.byteLength);
      assert.ok((await readJsonBytes(read!.output!)).equals(expected), 'the same bytes after a restart');
      assert.ok((await readJsonBytes((await queue.get(small.id))!.output!)).equals(Buffer.from('{"n":1}')));
    });

    it('cancels queued and running jobs, fires onCancel for running ones, and leaves terminal jobs alone', async () => {
      const cancelled: string[] = [];
      const stop = queue.onCancel((id) => cancelled.push(id));
      const running = await queue.add(newJob());
      const waiting = await queue.add(newJob());
      await queue.claim('w1');
      assert.deepEqual(await queue.cancel(waiting.id).then((r) => [r?.job.state, r?.cancelled]), ['cancelled', true]);
      assert.deepEqual(await queue.cancel(running.id).then((r) => [r?.job.state, r?.cancelled]), ['cancelled', true]);
      assert.deepEqual(await queue.cancel(running.id).then((r) => [r?.job.state, r?.cancelled]), ['cancelled', false], 'a second cancel changes nothing');
      assert.deepEqual(cancelled, [running.id]);
      const finished = await queue.finish(running.id, { state: 'completed', output: 1 });
      assert.equal(finished?.state, 'cancelled', 'a cancelled job stays cancelled when its handler returns');
      assert.equal(await queue.claim('w1'), undefined);
      stop();
    });

    it('retries failed and timed-out jobs with the same id and input, and refuses others', async () => {
      const job = await queue.add(newJob({ input: { text: 'again' } }));
      await queue.claim('w1');
      await queue.finish(job.id, { state: 'failed', error: 'boom' });
      const retried = await queue.retry(job.id);
      assert.equal(retried?.state, 'queued');
      assert.equal(retried?.error, undefined);
      assert.equal(retried?.retries, 1);
      assert.deepEqual(retried?.input, { text: 'again' });
      await assert.rejects(queue.retry(job.id), (error) => ChorusError.isInstance(error) && error.code === 'invalid_request');
      assert.equal(await queue.retry('no-such-job'), undefined);
      assert.equal((await queue.counts('chatterbox')).retried, 1);
    });

    it('purges only queued jobs of one endpoint and owner', async () => {
      const running = await queue.add(newJob());
      await queue.claim('w1');
      await queue.add(newJob());
      await queue.add(newJob());
      const other = await queue.add(newJob({ owner: 'owner-b' }));
      const otherEndpoint = await queue.add(newJob({ endpointId: 'spark-tts' }));
      assert.equal(await queue.purge('chatterbox', 'owner-a'), 2);
      assert.equal((await queue.get(running.id))?.state, 'running');
      assert.equal((await queue.get(other.id))?.state, 'queued');
      assert.equal((await queue.get(otherEndpoint.id))?.state, 'queued');
    });

    it('counts jobs by state per endpoint', async () => {
      const a = await queue.add(newJob());
      await queue.add(newJob());
      await queue.add(newJob({ endpointId: 'spark-tts' }));
      await queue.claim('w1');
      await queue.finish(a.id, { state: 'completed', output: null });
      const counts = await queue.counts('chatterbox');
      assert.equal(counts.queued, 1);
      assert.equal(counts.running, 0);
      assert.equal(counts.completed, 1);
      assert.equal((await queue.counts()).queued, 2);
    });

    it('counts each owner apart: one key never sees another key\'s jobs in its counts', async () => {
      const mine = [await queue.add(newJob()), await queue.add(newJob()), await queue.add(newJob())];
      const theirs = [await queue.add(newJob({ owner: 'owner-b' })), await queue.add(newJob({ owner: 'owner-b' }))];
      await queue.add(newJob({ owner: 'owner-b' }), { failed: { error: 'refused' } });
      // Claimed in submission order: all three of mine and the first of theirs.
      for (let i = 0; i < 4; i++) await queue.claim('w1');
      await queue.finish(mine[0]!.id, { state: 'completed', output: null });
      await queue.finish(mine[1]!.id, { state: 'failed', error: 'x' });
      await queue.retry(mine[1]!.id);
      await queue.finish(theirs[0]!.id, { state: 'timed-out', error: 'execution timeout exceeded' });
      await queue.cancel(mine[2]!.id);
      const a = await queue.counts('chatterbox', 'owner-a');
      assert.deepEqual(
        { queued: a.queued, running: a.running, completed: a.completed, failed: a.failed, cancelled: a.cancelled, timedOut: a.timedOut, retried: a.retried },
        { queued: 1, running: 0, completed: 1, failed: 1, cancelled: 1, timedOut: 0, retried: 1 },
      );
      const b = await queue.counts('chatterbox', 'owner-b');
      assert.deepEqual(
        { queued: b.queued, running: b.running, completed: b.completed, failed: b.failed, cancelled: b.cancelled, timedOut: b.timedOut, retried: b.retried },
        { queued: 1, running: 0, completed: 0, failed: 1, cancelled: 0, timedOut: 1, retried: 0 },
      );
      assert.equal((await queue.counts('chatterbox', 'owner-c')).failed, 0);
      const all = await queue.counts('chatterbox');
      assert.deepEqual([all.queued, all.running, all.failed, all.timedOut], [2, 0, 2, 1]);
      assert.equal((await queue.counts('spark-tts', 'owner-a')).completed, 0);
    });

    it('refuses new jobs with queue_full when the queue is at capacity', async () => {
      for (let i = 0; i < 5; i++) await queue.add(newJob());
      await assert.rejects(queue.add(newJob()), (error) => ChorusError.isInstance(error) && error.code === 'queue_full');
      await queue.claim('w1');
      await queue.add(newJob());
    });

    it('records a job refused at submission as failed at once: beyond capacity, counted, never claimed, kept for its retention', async () => {
      for (let i = 0; i < 5; i++) await queue.add(newJob());
      let queuedCalls = 0;
      const stop = queue.onQueued(() => queuedCalls++);
      const refused = await queue.add(newJob({ input: null, sync: true, retentionMs: 60_000 }), { idPrefix: 'sync-', failed: { error: 'Unknown operation: invalid_op' } });
      stop();
      assert.equal(queuedCalls, 0, 'nothing became claimable');
      assert.match(refused.id, /^sync-[0-9a-f-]{36}-u1$/);
      for (const job of [refused, await queue.get(refused.id)]) {
        assert.equal(job?.state, 'failed');
        assert.equal(job?.error, 'Unknown operation: invalid_op');
        assert.equal(job?.finishedAt, job?.createdAt);
        assert.equal(job?.startedAt, undefined, 'it never ran');
        assert.equal(job?.workerId, undefined);
      }
      const counts = await queue.counts('chatterbox');
      assert.equal(counts.failed, 1);
      assert.equal(counts.queued, 5);
      const claimed = [];
      for (let job = await queue.claim('w1'); job !== undefined; job = await queue.claim('w1')) claimed.push(job.id);
      assert.equal(claimed.length, 5);
      assert.ok(!claimed.includes(refused.id));
      fixture.advance(60_001);
      assert.equal(await queue.get(refused.id), undefined, 'past its retention');
    });

    it('forgets jobs after their TTL, and finished jobs after their retention', async () => {
      const short = await queue.add(newJob({ policy: { executionTimeoutMs: 1000, ttlMs: 10_000, lowPriority: false } }));
      const sync = await queue.add(newJob({ sync: true, retentionMs: 60_000 }));
      await queue.claim('w1');
      await queue.claim('w1');
      await queue.finish(sync.id, { state: 'completed', output: 1 });
      fixture.advance(10_001);
      assert.equal(await queue.get(short.id), undefined, 'past its TTL');
      assert.ok(await queue.get(sync.id));
      fixture.advance(60_000);
      assert.equal(await queue.get(sync.id), undefined, 'past its retention');
      assert.ok((await queue.sweep()) >= 2);
    });

    it('waitForChange resolves on a change and on timeout', async () => {
      const job = await queue.add(newJob());
      const started = Date.now();
      const waiting = queue.waitForChange(job.id, 5000);
      setTimeout(() => void queue.claim('w1'), 20);
      await waiting;
      assert.ok(Date.now() - started < 2000);
      const t = Date.now();
      await queue.waitForChange(job.id, 50);
      assert.ok(Date.now() - t >= 40);
    });

    it('closing wakes every waiter, so no wait outlives its queue', async () => {
      const job = await queue.add(newJob());
      let woken = false;
      const waiting = queue.waitForChange(job.id, 600_000).then(() => (woken = true));
      queue = await fixture.reopen();
      await Promise.race([waiting, new Promise((resolve) => setTimeout(resolve, 2000))]);
      assert.equal(woken, true, 'the wait outlived the queue it waited on');
    });

    it('onQueued fires when a job becomes claimable; add and retry report the job as queued even if claimed at once', async () => {
      let calls = 0;
      const stop = queue.onQueued(() => {
        calls++;
        void queue.claim('eager-worker');
      });
      const job = await queue.add(newJob());
      assert.equal(job.state, 'queued');
      assert.equal(calls, 1);
      await new Promise((resolve) => setTimeout(resolve, 20));
      await queue.finish(job.id, { state: 'failed', error: 'x' });
      const retried = await queue.retry(job.id);
      assert.equal(retried?.state, 'queued');
      assert.equal(calls, 2);
      stop();
    });

    it('survives a crash: queued and running jobs come back queued, finished results stay readable', async () => {
      const done = await queue.add(newJob());
      const running = await queue.add(newJob());
      const waiting = await queue.add(newJob());
      await queue.claim('w1');
      await queue.finish(done.id, { state: 'completed', output: { ok: true } });
      await queue.claim('w1');
      await queue.appendStream(running.id, { partial: 1 });
      queue = await fixture.reopen();
      assert.deepEqual(await parseOutput((await queue.get(done.id))?.output), { ok: true });
      const back = await queue.get(running.id);
      assert.equal(back?.state, 'queued');
      assert.equal(back?.retries, 1);
      assert.deepEqual(await queue.takeStream(running.id), [], 'partial stream of the interrupted run is dropped');
      assert.equal((await queue.get(waiting.id))?.state, 'queued');
      const order = [await queue.claim('w2'), await queue.claim('w2')].map((job) => job?.id);
      assert.deepEqual(order, [running.id, waiting.id]);
    });
  });
}
