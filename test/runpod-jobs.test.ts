import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import runpodSdk from 'runpod-sdk';
import { probeAudio } from './support/ffprobe.js';
import { JOB_BACKENDS, stopJobBackends } from './support/job-backends.js';
import { startTestServer, type TestServer } from './support/server.js';
import { until } from './support/until.js';

const UNLIMITED_TEXT = { CHORUS_MAX_INPUT_CHARS: '1000000', CHORUS_MAX_AUDIO_SECONDS: '86400' };

after(() => stopJobBackends());

for (const backend of JOB_BACKENDS) {

describe(`RunPod job API with the official runpod-sdk client (chatterbox profile), ${backend.name}`, () => {
  let server: TestServer;
  let endpoint: NonNullable<ReturnType<ReturnType<typeof runpodSdk>['endpoint']>>;
  const KEY = 'job-key-1';

  before(async () => {
    // Long texts keep the engine busy here; the text and audio limits are under test in test/adversarial/text.test.ts.
    server = await startTestServer({ ...(await backend.env()), CHORUS_API_KEYS: `${KEY},job-key-2`, ...UNLIMITED_TEXT });
    endpoint = runpodSdk(KEY, { baseUrl: `${server.url}/v2` }).endpoint('chatterbox')!;
  });
  after(() => server.close());

  const post = (path: string, body: unknown, key: string | null = KEY) =>
    fetch(`${server.url}/v2/chatterbox${path}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...(key === null ? {} : { authorization: key }) },
      body: JSON.stringify(body),
    });

  it('run + status: the job completes with the documented output fields', async () => {
    const submitted = await endpoint.run({ input: { text: 'Hello! This is a test of the Chatterbox TTS service.', format: 'mp3' } });
    assert.equal(submitted.status, 'IN_QUEUE');
    let status = await endpoint.status(submitted.id);
    for (let i = 0; i < 100 && !['COMPLETED', 'FAILED'].includes(status.status); i++) {
      await new Promise((resolve) => setTimeout(resolve, 100));
      status = await endpoint.status(submitted.id);
    }
    assert.equal(status.status, 'COMPLETED');
    const output = (status as { output: Record<string, unknown> }).output;
    assert.equal(output['mimetype'], 'audio/mpeg');
    assert.equal(output['cache_hit'], false);
    assert.match(String(output['cache_key']), /^[0-9a-f]{64}$/);
    assert.equal(output['chunks_processed'], 1);
    assert.ok(Number(output['generation_time_ms']) >= 0);
    const audio = Buffer.from(String(output['audio_base64']), 'base64');
    const probe = probeAudio(audio, 'mp3');
    assert.equal(probe.codec, 'mp3');
    assert.ok(Math.abs(probe.decodedDuration * 1000 - Number(output['duration_ms'])) < 100);
    const raw = (await (await fetch(`${server.url}/v2/chatterbox/status/${submitted.id}`, { headers: { authorization: `Bearer ${KEY}` } })).json()) as Record<string, unknown>;
    for (const field of ['delayTime', 'executionTime', 'workerId']) assert.ok(field in raw, `status has ${field}`);
  });

  it('runSync returns the finished job, text of any length is chunked', async () => {
    const text = Array.from({ length: 30 }, (_, i) => `Sentence ${i + 1} of a long text.`).join(' ');
    const result = (await endpoint.runSync({ input: { text, format: 'wav', speed: 1.5, voice: 'Amy' } })) as { status: string; output: Record<string, unknown>; id: string };
    assert.equal(result.status, 'COMPLETED');
    assert.match(result.id, /^sync-/);
    assert.ok(Number(result.output['chunks_processed']) > 1);
    assert.equal(probeAudio(Buffer.from(String(result.output['audio_base64']), 'base64'), 'wav').codec, 'pcm_s16le');
  });

  it('runsync with a short wait answers 200 with the job still in flight, then status-sync finishes it', async () => {
    const text = 'A long text keeps the engine busy. '.repeat(80);
    const response = await post('/runsync?wait=1000', { input: { text, format: 'mp3' } });
    assert.equal(response.status, 200);
    const job = (await response.json()) as { id: string; status: string };
    if (job.status !== 'COMPLETED') {
      assert.ok(['IN_QUEUE', 'IN_PROGRESS'].includes(job.status));
      const done = (await (await fetch(`${server.url}/v2/chatterbox/status-sync/${job.id}?wait=60000`, { headers: { authorization: KEY } })).json()) as { status: string };
      assert.equal(done.status, 'COMPLETED');
    }
  });

  it('cancel stops a queued job; health counts jobs and workers', async () => {
    // Distinct texts: identical ones would share one synthesis through the result cache.
    const jobs = await Promise.all(Array.from({ length: 8 }, (_, i) => endpoint.run({ input: { text: `Queue filler text number ${i}. `.repeat(30) } })));
    const last = jobs.at(-1)!;
    const cancelled = await endpoint.cancel(last.id);
    assert.equal(cancelled.status, 'CANCELLED');
    assert.equal((await endpoint.status(last.id)).status, 'CANCELLED');
    const health = await endpoint.health();
    assert.ok(health.workers.ready >= 1);
    assert.ok(health.jobs.inQueue + health.jobs.inProgress >= 1);
    const purged = await endpoint.purgeQueue();
    assert.equal(purged.status, 'completed');
    assert.ok(purged.removed >= 0);
  });

  it('each key sees only its own jobs; a bare key works; a wrong key is 401', async () => {
    const mine = await endpoint.run({ input: { text: 'Private.' } });
    const other = await fetch(`${server.url}/v2/chatterbox/status/${mine.id}`, { headers: { authorization: 'Bearer job-key-2' } });
    assert.equal(other.status, 404);
    const bare = await fetch(`${server.url}/v2/chatterbox/status/${mine.id}`, { headers: { authorization: KEY } });
    assert.equal(bare.status, 200);
    assert.equal((await post('/run', { input: { text: 'x' } }, 'nope')).status, 401);
    assert.equal((await post('/run', { input: { text: 'x' } }, null)).status, 401);
  });

  it('a bad envelope answers 400 naming the field; bad input is a FAILED job naming it; unknown jobs and endpoints 404', async () => {
    const envelopes: [unknown, RegExp][] = [
      [{}, /input/],
      [{ input: { text: 'hi' }, policy: { executionTimeout: 10 } }, /policy\.executionTimeout/],
      [{ input: 'text' }, /input/],
    ];
    for (const [body, message] of envelopes) {
      const response = await post('/run', body);
      assert.equal(response.status, 400, JSON.stringify(body));
      assert.match(((await response.json()) as { error: string }).error, message);
    }
    const inputs: [unknown, RegExp][] = [
      [{}, /'text'/],
      [{ text: 'hi', speed: 3 }, /speed.*0\.5 to 2/],
      [{ text: 'hi', format: 'ogg' }, /format.*mp3, wav/],
      [{ text: 'hi', voice: 'Nobody' }, /Voice 'Nobody' not found/],
    ];
    for (const [input, message] of inputs) {
      const response = await post('/run', { input });
      assert.equal(response.status, 200, JSON.stringify(input));
      const { id, status } = (await response.json()) as { id: string; status: string };
      assert.equal(status, 'FAILED');
      const job = await endpoint.status(id);
      assert.equal(job.status, 'FAILED');
      assert.match(String((job as { error?: string }).error), message);
    }
    const malformed = await fetch(`${server.url}/v2/chatterbox/run`, { method: 'POST', headers: { authorization: KEY }, body: '{"input": ' });
    assert.equal(malformed.status, 400);
    assert.equal((await fetch(`${server.url}/v2/chatterbox/status/nope-u1`, { headers: { authorization: KEY } })).status, 404);
    assert.equal((await fetch(`${server.url}/v2/nowhere/run`, { method: 'POST', headers: { authorization: KEY }, body: '{"input":{}}' })).status, 404);
    const badWait = await post('/runsync?wait=5', { input: { text: 'hi' } });
    assert.equal(badWait.status, 400);
  });

  it('a job over its executionTimeout is TIMED_OUT (its synthesis stopped); retry requeues it with the same id', async () => {
    const text = 'This text is far too long to finish within five seconds of synthesis time. '.repeat(1200);
    const aborted = async () => ((await (await fetch(`${server.url}/health`)).json()) as { jobs: { aborted: number } }).jobs.aborted;
    const abortedBefore = await aborted();
    const submitted = await endpoint.run({ input: { text, format: 'mp3' }, policy: { executionTimeout: 5000 } });
    const timedOut = (await (await fetch(`${server.url}/v2/chatterbox/status-sync/${submitted.id}?wait=60000`, { headers: { authorization: KEY } })).json()) as Record<string, unknown>;
    assert.equal(timedOut['status'], 'TIMED_OUT');
    assert.equal(timedOut['error'], 'execution timeout exceeded');
    assert.ok(Number(timedOut['executionTime']) >= 5000 && Number(timedOut['executionTime']) < 8000, `stopped near the limit: ${timedOut['executionTime']} ms`);
    // The worker reports the abort when its current chunk yields, which a loaded machine can delay.
    await until(async () => (await aborted()) === abortedBefore + 1, 'the engine work was aborted, not left running', 5000);
    const retried = await post(`/retry/${submitted.id}`, {});
    assert.equal(retried.status, 200);
    assert.deepEqual(await retried.json(), { id: submitted.id, status: 'IN_QUEUE' });
    const again = await endpoint.status(submitted.id);
    assert.ok(['IN_QUEUE', 'IN_PROGRESS'].includes(again.status));
    assert.equal((await endpoint.cancel(submitted.id)).status, 'CANCELLED');
    const done = (await endpoint.runSync({ input: { text: 'Done already.' } })) as { id: string };
    const refused = await post(`/retry/${done.id}`, {});
    assert.equal(refused.status, 400);
    assert.match(((await refused.json()) as { error: string }).error, /Only FAILED or TIMED_OUT/);
  });

  it('GET /v2/{endpoint} reports activeWorkers and jobsInQueue', async () => {
    const body = (await (await fetch(`${server.url}/v2/chatterbox`, { headers: { authorization: KEY } })).json()) as Record<string, unknown>;
    assert.equal(typeof body['activeWorkers'], 'number');
    assert.equal(typeof body['jobsInQueue'], 'number');
  });
});

describe(`job API: progress while running and a full queue, ${backend.name}`, () => {
  let server: TestServer;
  before(async () => {
    server = await startTestServer({ ...(await backend.env()), CHORUS_WORKERS: '1', CHORUS_MAX_QUEUED_JOBS: '2', CHORUS_RATE_LIMIT_RPS: '0', ...UNLIMITED_TEXT });
  });
  after(() => server.close());

  const run = (text: string) =>
    fetch(`${server.url}/v2/chatterbox/run`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ input: { text, format: 'wav' } }),
    });

  it('/status shows progress output while the job is IN_PROGRESS', async () => {
    const response = await run(Array.from({ length: 150 }, (_, i) => `Progress sentence ${i}.`).join(' '));
    const { id } = (await response.json()) as { id: string };
    const seen: number[] = [];
    for (let i = 0; i < 200; i++) {
      const job = (await (await fetch(`${server.url}/v2/chatterbox/status/${id}`)).json()) as { status: string; output?: { percent?: number; stage?: string } };
      if (job.status === 'COMPLETED') break;
      if (job.status === 'IN_PROGRESS' && job.output?.stage === 'synthesizing') seen.push(job.output.percent!);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    assert.ok(seen.length >= 1, 'progress was visible');
    assert.ok(seen.every((p, i) => i === 0 || p >= seen[i - 1]!), `progress never goes back: ${seen.join(',')}`);
    const done = (await (await fetch(`${server.url}/v2/chatterbox/status-sync/${id}?wait=60000`)).json()) as { status: string; output: Record<string, unknown> };
    assert.equal(done.status, 'COMPLETED');
    assert.ok('audio_base64' in done.output, 'the final output replaces the progress');
  });

  it('cancelling a running job stops its synthesis through the abort signal', async () => {
    const aborted = async () => ((await (await fetch(`${server.url}/health`)).json()) as { jobs: { aborted: number } }).jobs.aborted;
    const before = await aborted();
    const { id } = (await (await run('A long text that is cancelled while it is spoken. '.repeat(600))).json()) as { id: string };
    for (let i = 0; i < 200; i++) {
      const job = (await (await fetch(`${server.url}/v2/chatterbox/status/${id}`)).json()) as { status: string };
      if (job.status === 'IN_PROGRESS') break;
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    const cancelled = (await (await fetch(`${server.url}/v2/chatterbox/cancel/${id}`, { method: 'POST', body: '{}' })).json()) as { status: string };
    assert.equal(cancelled.status, 'CANCELLED');
    let count = await aborted();
    for (let i = 0; i < 50 && count === before; i++) {
      await new Promise((resolve) => setTimeout(resolve, 20));
      count = await aborted();
    }
    assert.equal(count, before + 1, 'the engine work was aborted');
    assert.equal(((await (await fetch(`${server.url}/v2/chatterbox/status/${id}`)).json()) as { status: string }).status, 'CANCELLED');
  });

  it('a full queue answers 429 with Retry-After, and accepts jobs again once it drains', async () => {
    const long = (n: number) => `Keeps the single worker busy, number ${n}. `.repeat(300);
    const statuses: number[] = [];
    let refused: Response | undefined;
    for (let i = 0; i < 8 && refused === undefined; i++) {
      const response = await run(long(i));
      statuses.push(response.status);
      if (response.status === 429) refused = response;
    }
    assert.ok(refused, `a 429 once two jobs wait (got ${statuses.join(',')})`);
    assert.ok(Number(refused.headers.get('retry-after')) >= 1);
    assert.match(((await refused.json()) as { error: string }).error, /queue is full/);
    await fetch(`${server.url}/v2/chatterbox/purge-queue`, { method: 'POST', body: '{}' });
    assert.equal((await run('Accepted again.')).status, 200);
  });
});
}
