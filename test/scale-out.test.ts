// API and worker processes on one Redis: jobs submitted through one API process run on the worker
// processes and are read through another; a voice cloned through one API process speaks through the
// other; cancel reaches the worker running the job; a worker killed mid-job loses nothing; Redis
// going away gives 503s, and its return is survived.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import OpenAI from 'openai';
import { startChorusProcess, type ChorusProcess } from './support/process.js';
import { startTestRedis, type TestRedis } from './support/redis.js';
import { startTestS3, type TestS3 } from './support/s3.js';
import { fliteReference } from './support/reference-voices.js';

type Job = Record<string, any> & { id: string; status: string };
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const LONG_TEXT = Array.from({ length: 30 }, (_, i) => `Sentence number ${i + 1} keeps the worker busy for a little while longer.`).join(' ');

describe('scale-out: one Redis and one S3 bucket, two API processes, two worker processes', () => {
  let redis: TestRedis;
  let s3: TestS3;
  const dataDir = mkdtempSync(join(tmpdir(), 'chorus-scale-'));
  let apis: ChorusProcess[] = [];
  // Webhook deliveries by path, from whichever process sends them.
  const deliveries = new Map<string, string[]>();
  let receiver: Server;
  let receiverUrl = '';
  let workers: ChorusProcess[] = [];

  const env = (role: string, name: string) => ({
    CHORUS_REDIS_URL: redis.url,
    CHORUS_ROLE: role,
    CHORUS_JOB_LOCK_MS: '2000',
    // The webhook receiver below is on loopback.
    CHORUS_ALLOW_PRIVATE_URLS: 'true',
    ...s3.env('chorus'),
    // Each process has its own data directory, as on separate machines.
    CHORUS_DATA_DIR: join(dataDir, name),
  });
  const post = async (api: ChorusProcess, path: string, body: unknown): Promise<Job> => {
    const response = await fetch(`${api.url}${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
    const job = (await response.json()) as Job;
    assert.ok(typeof job.id === 'string', `${path} answered ${response.status}: ${JSON.stringify(job).slice(0, 300)}`);
    return job;
  };
  const status = async (api: ChorusProcess, id: string): Promise<Job> => (await (await fetch(`${api.url}/v2/chatterbox-v2/status/${id}`)).json()) as Job;
  const until = async (api: ChorusProcess, id: string, done: (job: Job) => boolean, timeoutMs = 60_000): Promise<Job> => {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const job = await status(api, id);
      if (done(job)) return job;
      if (Date.now() > deadline) throw new Error(`job ${id} still ${job.status}`);
      await sleep(100);
    }
  };
  const workerPid = (job: Job): number => Number(/-(\d+)-\d+$/.exec(String(job.workerId))?.[1]);

  before(async () => {
    receiver = createServer((request, response) => {
      let body = '';
      request.on('data', (chunk: Buffer) => (body += chunk.toString()));
      request.on('end', () => {
        deliveries.set(request.url ?? '', [...(deliveries.get(request.url ?? '') ?? []), body]);
        response.end('ok');
      });
    });
    await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
    receiverUrl = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}`;
    [redis, s3] = await Promise.all([startTestRedis(), startTestS3(['chorus'])]);
    [apis, workers] = await Promise.all([
      Promise.all([startChorusProcess(env('api', 'api1')), startChorusProcess(env('api', 'api2'))]),
      Promise.all([startChorusProcess(env('worker', 'worker1')), startChorusProcess(env('worker', 'worker2'))]),
    ]);
  });
  after(async () => {
    await Promise.all([...apis, ...workers].map((process) => process.stop()));
    await redis.close();
    await s3.close();
    await new Promise((resolve) => receiver.close(resolve));
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('jobs submitted through one API process run on both workers and read the same through the other', async () => {
    const submitted = await Promise.all(
      Array.from({ length: 6 }, (_, i) => post(apis[0]!, '/v2/chatterbox-v2/run', { input: { operation: 'tts', mode: 'basic', text: `Job ${i + 1} of six. ${LONG_TEXT.slice(0, 400)}` } })),
    );
    const finished = await Promise.all(submitted.map((job) => until(apis[1]!, job.id, (j) => j.status === 'COMPLETED')));
    for (const job of finished) assert.equal(typeof job.output.audio, 'string');
    const pids = new Set(finished.map(workerPid));
    assert.deepEqual([...pids].sort(), workers.map((w) => w.pid).sort(), 'both worker processes ran jobs');
    const health = (await (await fetch(`${apis[1]!.url}/v2/chatterbox-v2/health`)).json()) as { jobs: { completed: number }; workers: { ready: number } };
    assert.ok(health.jobs.completed >= 6);
    // Each worker process runs 2 jobs at once (1 engine thread); the API processes run none.
    assert.equal(health.workers.ready, 4, 'health counts the live workers of every node');
    // Files a worker uploads are in the shared bucket: the link works whichever process made it.
    const spark = (await (await fetch(`${apis[1]!.url}/v2/spark-tts/runsync`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ input: { text: 'Stored in the shared bucket.' } }) })).json()) as Job;
    assert.equal(spark.status, 'COMPLETED', JSON.stringify(spark).slice(0, 300));
    assert.ok(String(spark.output.audio_url).startsWith(`${s3.endpoint}/chorus/`), spark.output.audio_url);
    const audio = await fetch(spark.output.audio_url);
    assert.equal(audio.status, 200);
    assert.ok((await audio.arrayBuffer()).byteLength > 10_000);
    // A worker process answers /health but not the APIs.
    assert.equal((await fetch(`${workers[0]!.url}/health`)).status, 200);
    assert.equal((await fetch(`${workers[0]!.url}/v1/models`)).status, 404);
  });

  it('a voice cloned through one API process speaks at once through the other (job API and OpenAI route)', async () => {
    const reference = await fliteReference('The quick brown fox jumps over the lazy dog near the river bank today, and then it runs all the way home again before dark.', 'slt');
    const cloned = await post(apis[0]!, '/v2/chatterbox-v2/runsync', { input: { operation: 'voice_cloning', reference_audio: reference.wav.toString('base64'), voice_name: 'Shared Voice' } });
    assert.equal(cloned.status, 'COMPLETED', JSON.stringify(cloned).slice(0, 300));
    const spoken = await post(apis[1]!, '/v2/chatterbox-v2/runsync', { input: { operation: 'tts', mode: 'basic', text: 'Spoken in the shared voice.', voice_name: 'Shared Voice' } });
    assert.equal(spoken.status, 'COMPLETED', JSON.stringify(spoken).slice(0, 300));
    const client = new OpenAI({ baseURL: `${apis[1]!.url}/v1`, apiKey: 'unused' });
    const response = await client.audio.speech.create({ model: 'tts-1', voice: 'Shared Voice', input: 'Hello from the other API process.', response_format: 'wav' }).asResponse();
    assert.equal(response.headers.get('x-chorus-voice'), 'Shared Voice');
    assert.ok((await response.arrayBuffer()).byteLength > 10_000);
  });

  it('the result cache is the deployment\'s: a repeat through another API process, or run by another worker, is a hit', async () => {
    const speak = (api: ChorusProcess) =>
      fetch(`${api.url}/v1/audio/speech`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ model: 'tts-1', voice: 'Amy', input: 'Cached once, for every process.', response_format: 'wav' }) });
    const first = await speak(apis[0]!);
    assert.equal(first.headers.get('x-cache'), 'MISS');
    const firstBytes = Buffer.from(await first.arrayBuffer());
    const second = await speak(apis[1]!);
    assert.equal(second.headers.get('x-cache'), 'HIT');
    assert.ok(Buffer.from(await second.arrayBuffer()).equals(firstBytes));

    const input = { operation: 'tts', mode: 'basic', text: 'A job result both workers can reuse.' };
    const a = await post(apis[0]!, '/v2/chatterbox-v2/runsync', { input });
    const b = await post(apis[1]!, '/v2/chatterbox-v2/runsync', { input });
    assert.equal(a.output.cache_hit, false);
    assert.equal(b.output.cache_hit, true);
    assert.equal(b.output.audio, a.output.audio);
  });

  it('stream chunks made on a worker are read through the other API process; cancel reaches the running job', async () => {
    const streaming = await post(apis[0]!, '/v2/chatterbox-v2/run', { input: { operation: 'tts', mode: 'streaming', text: LONG_TEXT, chunk_size: 20 } });
    let chunks = 0;
    for (let attempt = 0; attempt < 200 && chunks === 0; attempt++) {
      const body = (await (await fetch(`${apis[1]!.url}/v2/chatterbox-v2/stream/${streaming.id}`)).json()) as { stream: unknown[]; status: string };
      chunks += body.stream.length;
      if (body.status === 'COMPLETED') break;
    }
    assert.ok(chunks > 0, 'chunks crossed from the worker to the other API process');

    const long = await post(apis[0]!, '/v2/chatterbox-v2/run', { input: { operation: 'tts', mode: 'basic', text: `${LONG_TEXT} ${LONG_TEXT}`, format: 'mp3' }, webhook: `${receiverUrl}/cancelled` });
    await until(apis[0]!, long.id, (job) => job.status === 'IN_PROGRESS');
    const cancelled = await post(apis[1]!, `/v2/chatterbox-v2/cancel/${long.id}`, {});
    assert.equal(cancelled.status, 'CANCELLED');
    await sleep(1500);
    const after = await status(apis[0]!, long.id);
    assert.equal(after.status, 'CANCELLED');
    assert.equal(after.output, undefined, 'the worker stopped: no output was written over the cancel');
    // The cancelling API process reports the end; the worker, whose finish finds the job ended, does not.
    const sent = deliveries.get('/cancelled') ?? [];
    assert.equal(sent.length, 1, `webhook deliveries: ${sent.length}`);
    assert.equal((JSON.parse(sent[0]!) as Job).status, 'CANCELLED');
  });

  it('a worker killed with SIGKILL mid-job loses nothing: the job completes on the other worker', async () => {
    const job = await post(apis[0]!, '/v2/chatterbox-v2/run', { input: { operation: 'tts', mode: 'basic', text: LONG_TEXT, format: 'mp3' } });
    const running = await until(apis[0]!, job.id, (j) => j.status === 'IN_PROGRESS' && j.workerId !== undefined);
    const victim = workers.find((w) => w.pid === workerPid(running))!;
    assert.ok(victim, `job ran on ${running.workerId}`);
    await victim.kill();
    const done = await until(apis[1]!, job.id, (j) => j.status === 'COMPLETED', 90_000);
    assert.notEqual(workerPid(done), victim.pid, 'it completed on the surviving worker');
    assert.equal(typeof done.output.audio, 'string');
    workers = workers.filter((w) => w !== victim);
  });

  it('with Redis gone the API answers 503 with a clear message at once, and recovers when Redis returns', async () => {
    await redis.stop();
    const started = Date.now();
    const response = await fetch(`${apis[0]!.url}/v2/chatterbox-v2/run`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ input: { operation: 'tts', mode: 'basic', text: 'Anyone there?' } }) });
    assert.equal(response.status, 503);
    assert.match(((await response.json()) as { error: string }).error, /Redis .* cannot be reached/);
    assert.ok(Date.now() - started < 8000, 'answered, not hung');
    await redis.start();
    let job: Job | undefined;
    for (let attempt = 0; attempt < 100; attempt++) {
      const again = await fetch(`${apis[0]!.url}/v2/chatterbox-v2/runsync`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ input: { operation: 'tts', mode: 'basic', text: 'Back again.' } }) });
      if (again.status !== 503) {
        job = (await again.json()) as Job;
        break;
      }
      await sleep(200);
    }
    assert.equal(job?.status, 'COMPLETED', JSON.stringify(job).slice(0, 300));
  });
});
