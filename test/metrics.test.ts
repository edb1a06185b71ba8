import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { parseExposition, valueOf, type MetricFamily } from './support/prometheus.js';
import { closedPort } from './support/ports.js';
import { startTestRedis, type TestRedis } from './support/redis.js';
import { startOpenAIStub } from './support/remote-stubs/openai-stub.js';
import type { StubServer } from './support/remote-stubs/stub-server.js';
import { startTestServer, type TestServer } from './support/server.js';
import { until } from './support/until.js';

type Families = Map<string, MetricFamily>;

async function scrape(server: TestServer, authorization?: string): Promise<{ families: Families; text: string }> {
  const response = await fetch(`${server.url}/metrics`, authorization === undefined ? {} : { headers: { authorization } });
  assert.equal(response.status, 200);
  assert.match(response.headers.get('content-type') ?? '', /^text\/plain; version=0\.0\.4/);
  const text = await response.text();
  return { families: parseExposition(text), text };
}

async function speak(server: TestServer, body: Record<string, unknown>): Promise<Response> {
  const response = await fetch(`${server.url}/v1/audio/speech`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ model: 'tts-1', voice: 'alloy', response_format: 'wav', ...body }),
  });
  await response.arrayBuffer();
  return response;
}

/** Counts of a histogram series: how many observations it has had. */
const observations = (families: Families, name: string, labels: Record<string, string>): number => valueOf(families, `${name}_count`, labels);

describe('GET /metrics (open: a server without API keys)', () => {
  let server: TestServer;
  let receiver: Server;
  let receiverUrl: string;
  const hooks: string[] = [];

  before(async () => {
    receiver = createServer((request, response) => {
      request.resume();
      request.on('end', () => {
        hooks.push(request.url ?? '');
        response.writeHead(200).end();
      });
    });
    await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
    receiverUrl = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}`;
    server = await startTestServer({ CHORUS_WORKERS: '1', CHORUS_ALLOW_PRIVATE_URLS: 'true', CHORUS_MAX_AUDIO_SECONDS: '8' });
  });
  after(async () => {
    await server?.close();
    receiver?.close();
  });

  it('is on by default without API keys, and carries process metrics', async () => {
    const { families } = await scrape(server);
    assert.equal(families.get('process_cpu_user_seconds_total')?.type, 'counter');
    assert.equal(families.get('nodejs_heap_size_used_bytes')?.type, 'gauge');
    assert.equal(families.get('chorus_http_request_duration_seconds')?.type, 'histogram');
    assert.equal(valueOf(families, 'chorus_engine_state', { engine: 'espeak', state: 'ready' }), 1);
    assert.equal(valueOf(families, 'chorus_worker_threads', { state: 'ready' }), 1);
    assert.equal(valueOf(families, 'chorus_job_queue_up'), 1);
    assert.equal(valueOf(families, 'chorus_job_runner_slots'), 2);
  });

  it('counts an OpenAI speech request, its synthesis, the cache miss and then the hit', async () => {
    const secret = `Zanzibar${randomBytes(4).toString('hex')}`;
    const speech = { method: 'POST', route: '/v1/audio/speech', status: '200' };
    const synthesis = { engine: 'espeak', delivery: 'buffered' };
    const before = (await scrape(server)).families;

    assert.equal((await speak(server, { input: `The password is ${secret}.` })).status, 200);
    const afterMiss = (await scrape(server)).families;
    assert.equal(valueOf(afterMiss, 'chorus_http_requests_total', speech) - valueOf(before, 'chorus_http_requests_total', speech), 1);
    assert.equal(observations(afterMiss, 'chorus_http_request_duration_seconds', speech) - observations(before, 'chorus_http_request_duration_seconds', speech), 1);
    assert.equal(valueOf(afterMiss, 'chorus_syntheses_total', { engine: 'espeak', outcome: 'completed' }) - valueOf(before, 'chorus_syntheses_total', { engine: 'espeak', outcome: 'completed' }), 1);
    assert.equal(observations(afterMiss, 'chorus_synthesis_time_to_first_audio_seconds', synthesis) - observations(before, 'chorus_synthesis_time_to_first_audio_seconds', synthesis), 1);
    assert.equal(observations(afterMiss, 'chorus_synthesis_real_time_factor', synthesis) - observations(before, 'chorus_synthesis_real_time_factor', synthesis), 1);
    const audioSeconds = valueOf(afterMiss, 'chorus_synthesis_audio_seconds_total', { engine: 'espeak' }) - valueOf(before, 'chorus_synthesis_audio_seconds_total', { engine: 'espeak' });
    assert.ok(audioSeconds > 0.5 && audioSeconds < 10, `about the sentence's length of audio, got ${audioSeconds} s`);
    // eSpeak speaks much faster than real time; a factor near 0 or above 5 would be a unit mistake.
    const rtfSum = valueOf(afterMiss, 'chorus_synthesis_real_time_factor_sum', synthesis) - valueOf(before, 'chorus_synthesis_real_time_factor_sum', synthesis);
    assert.ok(rtfSum > 0 && rtfSum < 5, `real-time factor ${rtfSum}`);
    assert.equal(valueOf(afterMiss, 'chorus_result_cache_lookups_total', { outcome: 'miss' }) - valueOf(before, 'chorus_result_cache_lookups_total', { outcome: 'miss' }), 1);
    assert.equal(valueOf(afterMiss, 'chorus_syntheses_active', { engine: 'espeak' }), 0);

    assert.equal((await speak(server, { input: `The password is ${secret}.` })).status, 200);
    const afterHit = (await scrape(server)).families;
    assert.equal(valueOf(afterHit, 'chorus_result_cache_lookups_total', { outcome: 'hit' }) - valueOf(afterMiss, 'chorus_result_cache_lookups_total', { outcome: 'hit' }), 1);
    assert.equal(valueOf(afterHit, 'chorus_result_cache_lookups_total', { outcome: 'miss' }), valueOf(afterMiss, 'chorus_result_cache_lookups_total', { outcome: 'miss' }));
    assert.equal(valueOf(afterHit, 'chorus_syntheses_total', { engine: 'espeak', outcome: 'completed' }), valueOf(afterMiss, 'chorus_syntheses_total', { engine: 'espeak', outcome: 'completed' }), 'a hit runs no synthesis');
    assert.equal(valueOf(afterHit, 'chorus_http_requests_total', speech) - valueOf(afterMiss, 'chorus_http_requests_total', speech), 1);

    // Cache-Control: no-cache synthesises again and says so.
    assert.equal((await fetch(`${server.url}/v1/audio/speech`, { method: 'POST', headers: { 'content-type': 'application/json', 'cache-control': 'no-cache' }, body: JSON.stringify({ model: 'tts-1', voice: 'alloy', response_format: 'wav', input: `The password is ${secret}.` }) }).then((r) => r.arrayBuffer())).byteLength > 0, true);
    const afterRefresh = (await scrape(server)).families;
    assert.equal(valueOf(afterRefresh, 'chorus_result_cache_lookups_total', { outcome: 'refresh' }) - valueOf(afterHit, 'chorus_result_cache_lookups_total', { outcome: 'refresh' }), 1);
  });

  it('counts failed requests by route pattern and status, and failed syntheses by error code', async () => {
    const before = (await scrape(server)).families;
    const badVoice = await speak(server, { input: 'Hello.', voice: 'no-such-voice-xyzzy' });
    assert.equal(badVoice.status, 400);
    // Too much audio for CHORUS_MAX_AUDIO_SECONDS passes validation but fails inside the synthesis.
    const tooLong = await speak(server, { input: 'This sentence is spoken again and again until the audio is too long. '.repeat(4) });
    assert.equal(tooLong.status, 400);
    const after = (await scrape(server)).families;
    const label = { method: 'POST', route: '/v1/audio/speech', status: '400' };
    assert.equal(valueOf(after, 'chorus_http_requests_total', label) - valueOf(before, 'chorus_http_requests_total', label), 2);
    assert.equal(
      valueOf(after, 'chorus_syntheses_total', { engine: 'espeak', outcome: 'failed' }) - valueOf(before, 'chorus_syntheses_total', { engine: 'espeak', outcome: 'failed' }),
      1,
      'the long input failed in its synthesis',
    );
    assert.equal(valueOf(after, 'chorus_synthesis_failures_total', { engine: 'espeak', code: 'text_too_long' }) - valueOf(before, 'chorus_synthesis_failures_total', { engine: 'espeak', code: 'text_too_long' }), 1);
  });

  it('labels unknown paths as unmatched: no raw path, text or voice name reaches a label', async () => {
    const secretPath = `/private-${randomBytes(6).toString('hex')}`;
    const secretVoice = `voice${randomBytes(6).toString('hex')}`;
    assert.equal((await fetch(`${server.url}${secretPath}`)).status, 404);
    assert.equal((await speak(server, { input: 'Hello.', voice: secretVoice })).status, 400);
    const jobPath = `/v2/spark-tts/status/${randomBytes(6).toString('hex')}`;
    assert.equal((await fetch(`${server.url}${jobPath}`)).status, 404);
    const { families, text } = await scrape(server);
    assert.ok(valueOf(families, 'chorus_http_requests_total', { method: 'GET', route: 'unmatched', status: '404' }) >= 1);
    assert.ok(valueOf(families, 'chorus_http_requests_total', { method: 'GET', route: '/v2/:endpointId/status/:jobId', status: '404' }) >= 1);
    for (const secret of [secretPath.slice(1), secretVoice, jobPath.split('/').at(-1)!]) assert.ok(!text.includes(secret), `${secret} is not in the metrics`);
  });

  it('counts a job: its endpoint, its state, its route, and its webhook delivery', async () => {
    const before = (await scrape(server)).families;
    const submitted = await fetch(`${server.url}/v2/chatterbox/run`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ input: { text: `A job for the metrics ${randomBytes(4).toString('hex')}.`, format: 'wav' }, webhook: `${receiverUrl}/hook` }),
    });
    assert.equal(submitted.status, 200);
    const { id } = (await submitted.json()) as { id: string };
    await until(async () => {
      const status = (await (await fetch(`${server.url}/v2/chatterbox/status/${id}`)).json()) as { status: string };
      return status.status === 'COMPLETED';
    }, 'the job to complete', 30_000);
    await until(async () => hooks.length > 0, 'the webhook');
    let after = (await scrape(server)).families;
    await until(async () => {
      after = (await scrape(server)).families;
      return valueOf(after, 'chorus_webhook_deliveries_total', { outcome: 'delivered' }) > valueOf(before, 'chorus_webhook_deliveries_total', { outcome: 'delivered' });
    }, 'the delivery to be counted');
    assert.equal(valueOf(after, 'chorus_webhook_deliveries_total', { outcome: 'delivered' }) - valueOf(before, 'chorus_webhook_deliveries_total', { outcome: 'delivered' }), 1);
    assert.equal(valueOf(after, 'chorus_webhook_attempts_total') - valueOf(before, 'chorus_webhook_attempts_total'), 1);
    assert.equal(valueOf(after, 'chorus_jobs_ended_total', { endpoint: 'chatterbox', state: 'completed' }) - valueOf(before, 'chorus_jobs_ended_total', { endpoint: 'chatterbox', state: 'completed' }), 1);
    assert.equal(valueOf(after, 'chorus_jobs', { endpoint: 'chatterbox', state: 'queued' }), 0);
    assert.equal(valueOf(after, 'chorus_jobs', { endpoint: 'chatterbox', state: 'running' }), 0);
    const run = { method: 'POST', route: '/v2/:endpointId/run', status: '200' };
    assert.equal(valueOf(after, 'chorus_http_requests_total', run) - valueOf(before, 'chorus_http_requests_total', run), 1);
    assert.ok(valueOf(after, 'chorus_http_requests_total', { method: 'GET', route: '/v2/:endpointId/status/:jobId', status: '200' }) >= 1);
    assert.equal(valueOf(after, 'chorus_result_cache_lookups_total', { outcome: 'miss' }) - valueOf(before, 'chorus_result_cache_lookups_total', { outcome: 'miss' }), 1, 'the job went through the result cache');
    assert.equal(valueOf(after, 'chorus_syntheses_total', { engine: 'espeak', outcome: 'completed' }) - valueOf(before, 'chorus_syntheses_total', { engine: 'espeak', outcome: 'completed' }), 1);
  });
});

describe('GET /metrics access (CHORUS_METRICS)', () => {
  const servers: TestServer[] = [];
  after(async () => {
    await Promise.all(servers.map((server) => server.close()));
  });
  const start = async (env: Record<string, string>): Promise<TestServer> => {
    const server = await startTestServer({ CHORUS_WORKERS: '1', ...env });
    servers.push(server);
    return server;
  };

  it('off: 404', async () => {
    const server = await start({ CHORUS_METRICS: 'off' });
    const response = await fetch(`${server.url}/metrics`);
    assert.equal(response.status, 404);
    assert.equal(((await response.json()) as { error: { code: string } }).error.code, 'not_found');
  });

  it('with API keys and no setting: off by default', async () => {
    const server = await start({ CHORUS_API_KEYS: 'sk-one-key-for-metrics' });
    assert.equal((await fetch(`${server.url}/metrics`, { headers: { authorization: 'Bearer sk-one-key-for-metrics' } })).status, 404);
  });

  it('a token: 401 without it or with an API key, 200 with it', async () => {
    const token = randomBytes(24).toString('hex');
    const server = await start({ CHORUS_METRICS: token, CHORUS_API_KEYS: 'sk-an-api-key-0001' });
    const missing = await fetch(`${server.url}/metrics`);
    assert.equal(missing.status, 401);
    assert.equal(missing.headers.get('www-authenticate'), 'Bearer realm="metrics"');
    const body = (await missing.json()) as { error: { code: string; message: string } };
    assert.equal(body.error.code, 'invalid_metrics_token');
    assert.match(body.error.message, /Missing metrics token/);
    assert.equal((await fetch(`${server.url}/metrics`, { headers: { authorization: 'Bearer sk-an-api-key-0001' } })).status, 401, 'an API key is not the metrics token');
    assert.equal((await fetch(`${server.url}/metrics`, { headers: { authorization: `Bearer ${token}x` } })).status, 401);
    const { families, text } = await scrape(server, `Bearer ${token}`);
    assert.ok(families.has('chorus_http_requests_total'));
    assert.ok(!text.includes(token));
    // The 401s were counted under the /metrics route, and the token did not unlock the API.
    assert.equal(valueOf(families, 'chorus_http_requests_total', { method: 'GET', route: '/metrics', status: '401' }), 3);
    assert.equal((await fetch(`${server.url}/v1/models`, { headers: { authorization: `Bearer ${token}` } })).status, 401);
  });

  it('api-keys: any API key reads it', async () => {
    const server = await start({ CHORUS_METRICS: 'api-keys', CHORUS_API_KEYS: 'sk-first-key-0001,sk-second-key-0002' });
    assert.equal((await fetch(`${server.url}/metrics`)).status, 401);
    await scrape(server, 'Bearer sk-second-key-0002');
  });
});

describe('GET /metrics with the Redis queue: an API process (it runs no jobs) and a worker process', () => {
  let redis: TestRedis;
  let server: TestServer;
  before(async () => {
    redis = await startTestRedis();
    server = await startTestServer({ CHORUS_WORKERS: '1', CHORUS_REDIS_URL: redis.url, CHORUS_REDIS_PREFIX: 'metrics', CHORUS_ROLE: 'api' });
  });
  after(async () => {
    await server?.close();
    await redis?.close();
  });

  it('reads queue depth and ended jobs from Redis, and reports no runner', async () => {
    const before = (await scrape(server)).families;
    assert.equal(valueOf(before, 'chorus_job_queue_up'), 1);
    assert.ok(!before.has('chorus_job_runner_slots'), 'an API process has no job runner');
    const ids: string[] = [];
    for (const n of [1, 2, 3]) {
      const response = await fetch(`${server.url}/v2/spark-tts/run`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ input: { text: `Queued job ${n}.` } }) });
      assert.equal(response.status, 200);
      ids.push(((await response.json()) as { id: string }).id);
    }
    const queued = (await scrape(server)).families;
    assert.equal(valueOf(queued, 'chorus_jobs', { endpoint: 'spark-tts', state: 'queued' }) - valueOf(before, 'chorus_jobs', { endpoint: 'spark-tts', state: 'queued' }), 3);
    assert.equal(valueOf(queued, 'chorus_jobs', { endpoint: 'chatterbox', state: 'queued' }), 0);

    const cancelled = await fetch(`${server.url}/v2/spark-tts/cancel/${ids[0]}`, { method: 'POST' });
    assert.equal(cancelled.status, 200);
    const after = (await scrape(server)).families;
    assert.equal(valueOf(after, 'chorus_jobs', { endpoint: 'spark-tts', state: 'queued' }), 2);
    assert.equal(valueOf(after, 'chorus_jobs_ended_total', { endpoint: 'spark-tts', state: 'cancelled' }) - valueOf(before, 'chorus_jobs_ended_total', { endpoint: 'spark-tts', state: 'cancelled' }), 1);
  });

  it('a worker process serves /metrics on its own port: it runs the queued jobs, and counts their syntheses', async () => {
    const worker = await startTestServer({ CHORUS_WORKERS: '1', CHORUS_REDIS_URL: redis.url, CHORUS_REDIS_PREFIX: 'metrics', CHORUS_ROLE: 'worker' });
    try {
      let families = (await scrape(worker)).families;
      assert.equal(valueOf(families, 'chorus_job_runner_slots'), 2);
      await until(async () => {
        families = (await scrape(worker)).families;
        return valueOf(families, 'chorus_jobs_ended_total', { endpoint: 'spark-tts', state: 'completed' }) === 2;
      }, 'the worker to finish both queued jobs', 30_000);
      assert.equal(valueOf(families, 'chorus_syntheses_total', { engine: 'espeak', outcome: 'completed' }), 2);
      assert.equal(valueOf(families, 'chorus_jobs', { endpoint: 'spark-tts', state: 'queued' }), 0);
      // The API process counted none: the syntheses ran on the worker.
      assert.equal(valueOf((await scrape(server)).families, 'chorus_syntheses_total', { engine: 'espeak', outcome: 'completed' }), 0);
    } finally {
      await worker.close();
    }
  });
});

describe('GET /metrics with remote engines (OpenAI-compatible stubs on loopback)', () => {
  let stub: StubServer;
  let deadPort: number;
  let server: TestServer;
  before(async () => {
    // Slow enough that a scrape lands while the remote is speaking.
    stub = await startOpenAIStub({ pace: { firstMs: 1500, pieceMs: 50 }, pieceBytes: 4800 });
    deadPort = await closedPort();
    server = await startTestServer({
      CHORUS_WORKERS: '1',
      CHORUS_REMOTE_ENGINES: JSON.stringify([
        { id: 'gpu-slow', kind: 'openai', url: stub.url, concurrency: 1, maxQueued: 4 },
        { id: 'gpu-absent', kind: 'openai', url: `http://127.0.0.1:${deadPort}`, probeIntervalMs: 60_000 },
      ]),
    });
  });
  after(async () => {
    await server?.close();
    await stub?.close();
  });

  it('shows a remote call in flight, its slot and its engine call, then counts the synthesis; a failing remote counts a failure', async () => {
    const before = (await scrape(server)).families;
    assert.equal(valueOf(before, 'chorus_engine_state', { engine: 'gpu-slow', state: 'ready' }), 1);
    assert.equal(valueOf(before, 'chorus_remote_engine_requests_active', { engine: 'gpu-slow' }), 0);
    const speaking = speak(server, { model: 'gpu-slow', voice: 'alloy', input: 'Spoken slowly by the graphics card.', stream: true, response_format: 'pcm' });
    let during = before;
    await until(async () => {
      during = (await scrape(server)).families;
      return valueOf(during, 'chorus_remote_engine_requests_active', { engine: 'gpu-slow' }) === 1;
    }, 'the remote request to be in flight');
    assert.equal(valueOf(during, 'chorus_engine_calls_active', { engine: 'gpu-slow' }), 1);
    assert.equal(valueOf(during, 'chorus_syntheses_active', { engine: 'gpu-slow' }), 1);
    assert.equal(valueOf(during, 'chorus_remote_engine_requests_queued', { engine: 'gpu-slow' }), 0);
    assert.equal((await speaking).status, 200);

    const after = (await scrape(server)).families;
    assert.equal(valueOf(after, 'chorus_remote_engine_requests_active', { engine: 'gpu-slow' }), 0);
    assert.equal(valueOf(after, 'chorus_engine_calls_active', { engine: 'gpu-slow' }), 0);
    assert.equal(valueOf(after, 'chorus_syntheses_total', { engine: 'gpu-slow', outcome: 'completed' }), 1);
    const firstAudio = valueOf(after, 'chorus_synthesis_time_to_first_audio_seconds_sum', { engine: 'gpu-slow', delivery: 'stream' });
    assert.ok(firstAudio >= 1.4, `the remote's 1.5 s before its first audio is in the time to first audio (${firstAudio} s)`);

    assert.equal((await speak(server, { model: 'gpu-absent', voice: 'alloy', input: 'Nobody is there.' })).status >= 500, true);
    const failed = (await scrape(server)).families;
    assert.equal(valueOf(failed, 'chorus_syntheses_total', { engine: 'gpu-absent', outcome: 'failed' }), 1);
    const codes = failed.get('chorus_synthesis_failures_total')!.samples.filter((sample) => sample.labels['engine'] === 'gpu-absent');
    assert.deepEqual(codes.map((sample) => sample.value), [1], `one failure with its code: ${JSON.stringify(codes)}`);
  });
});
