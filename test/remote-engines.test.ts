// Remote engines: Chorus in front of a model server, here OpenAI's speech API as a stub on loopback
// (real speech from flite). What every kind shares is checked here: the official client through
// Chorus to the remote, job APIs on it, and the remote failing in every way: refusing a request,
// failing until it is reported down (fast 503s, then back up after a health probe), hanging,
// breaking off, unreachable, busy beyond its queue; and a client's cancel reaching the remote.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import OpenAI from 'openai';
import { probeAudio } from './support/ffprobe.js';
import { startOpenAIStub } from './support/remote-stubs/openai-stub.js';
import type { StubServer } from './support/remote-stubs/stub-server.js';
import { startTestServer, type TestServer } from './support/server.js';
import { closedPort } from './support/ports.js';
import { until } from './support/until.js';

const KEY = 'remote-secret';

interface EngineHealth {
  id: string;
  ready: boolean;
  state?: string;
  reason?: string;
  active?: number;
  queued?: number;
}

describe('Remote engines (an OpenAI-compatible model server on loopback)', () => {
  let stub: StubServer;
  let busyStub: StubServer;
  let server: TestServer;
  let client: OpenAI;
  let deadPort: number;

  before(async () => {
    stub = await startOpenAIStub({ apiKey: KEY });
    busyStub = await startOpenAIStub({ apiKey: KEY });
    deadPort = await closedPort();
    const common = { kind: 'openai', apiKey: KEY, probeIntervalMs: 100 };
    server = await startTestServer({
      CHORUS_REMOTE_ENGINES: JSON.stringify([
        { ...common, id: 'gpu-openai', url: stub.url, failureThreshold: 2, timeoutMs: 1500, voices: ['alloy', 'nova', 'not-on-the-server'] },
        { ...common, id: 'gpu-busy', url: busyStub.url, concurrency: 1, maxQueued: 1 },
        { ...common, id: 'gpu-absent', url: `http://127.0.0.1:${deadPort}`, probeIntervalMs: 60_000 },
      ]),
    });
    client = new OpenAI({ apiKey: 'unused', baseURL: `${server.url}/v1`, maxRetries: 0 });
  });
  after(async () => {
    await server?.close();
    await stub?.close();
    await busyStub?.close();
  });

  const health = async (id: string): Promise<EngineHealth> => {
    const body = (await (await fetch(`${server.url}/health`)).json()) as { engines: EngineHealth[] };
    const engine = body.engines.find((entry) => entry.id === id);
    assert.ok(engine !== undefined, `${id} in /health`);
    return engine;
  };
  const speak = (model: string, input: string, extra: Record<string, unknown> = {}) =>
    fetch(`${server.url}/v1/audio/speech`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ model, voice: 'alloy', input, response_format: 'wav', ...extra }) });

  it('speaks through the remote with the official OpenAI client: the remote gets its own protocol, the key and the voice', async () => {
    const before = stub.requests.length;
    const response = await client.audio.speech.create({ model: 'gpu-openai', voice: 'nova', input: 'Hello from the graphics card.', response_format: 'mp3', speed: 1.25 });
    assert.equal(response.headers.get('x-chorus-engine'), 'gpu-openai');
    const probe = probeAudio(new Uint8Array(await response.arrayBuffer()), 'mp3');
    assert.equal(probe.codec, 'mp3');
    assert.ok(probe.duration > 0.5, `duration ${probe.duration}`);
    const sent = stub.requests.slice(before).find((request) => request.url === '/v1/audio/speech')!;
    assert.equal(sent.headers.authorization, `Bearer ${KEY}`);
    const body = JSON.parse(sent.body.toString()) as Record<string, unknown>;
    assert.equal(body['voice'], 'nova');
    assert.equal(body['response_format'], 'pcm');
    assert.equal(body['input'], 'Hello from the graphics card.');
    assert.equal(body['speed'], 1.25);
    const listedText = await (await fetch(`${server.url}/v1/models/gpu-openai`)).text();
    assert.equal((JSON.parse(listedText) as { id: string }).id, 'gpu-openai');
    const healthText = await (await fetch(`${server.url}/health`)).text();
    // Clients are not shown where the model server lives (an internal address).
    for (const text of [listedText, healthText]) assert.ok(!text.includes(new URL(stub.url).host), `no remote address in ${text.slice(0, 300)}`);
    const engine = await health('gpu-openai');
    assert.equal(engine.ready, true);
    assert.equal(engine.active, 0);
  });

  it('serves the job APIs on the remote, with word timings from the aligner', async () => {
    const response = await fetch(`${server.url}/v2/spark-tts/runsync`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ input: { text: 'One two three four.', engine: 'gpu-openai', voice_name: 'alloy', enable_whisperx: true } }),
    });
    const body = (await response.json()) as { status: string; output?: { word_timings?: { word: string }[] } };
    assert.equal(body.status, 'COMPLETED', JSON.stringify(body));
    assert.deepEqual(body.output!.word_timings!.map((word) => word.word.replace('.', '')), ['One', 'two', 'three', 'four']);
  });

  it('a request the remote refuses (4xx) fails with its reason and does not count against the engine', async () => {
    for (let attempt = 0; attempt < 3; attempt++) {
      const response = await speak('gpu-openai', 'Hello.', { voice: 'not-on-the-server' });
      assert.equal(response.status, 500);
      const error = (await response.json()) as { error: { code: string; message: string } };
      assert.equal(error.error.code, 'engine_failed');
      assert.match(error.error.message, /gpu-openai.*answered 400: Invalid value for 'voice'/);
    }
    assert.equal((await health('gpu-openai')).ready, true, 'three refusals in a row: still up (threshold is 2)');
  });

  it('a remote that keeps failing is reported down, fails fast with 503 without being called, and comes back after a health probe', async () => {
    stub.fault = { kind: 'status', status: 500 };
    for (let attempt = 0; attempt < 2; attempt++) {
      const response = await speak('gpu-openai', 'Failing.');
      assert.equal(response.status, 500);
      assert.match(((await response.json()) as { error: { message: string } }).error.message, /answered 500: stub failure 500/);
    }
    const engine = await health('gpu-openai');
    assert.equal(engine.ready, false);
    assert.equal(engine.state, 'down');
    assert.match(String(engine.reason), /500/);
    const calls = stub.requests.filter((request) => request.url === '/v1/audio/speech').length;
    const fast = await speak('gpu-openai', 'Fail fast.');
    assert.equal(fast.status, 503);
    const error = (await fast.json()) as { error: { code: string; message: string } };
    assert.equal(error.error.code, 'engine_unavailable');
    assert.match(error.error.message, /gpu-openai.*is down/);
    assert.equal(stub.requests.filter((request) => request.url === '/v1/audio/speech').length, calls, 'a down engine is not called');
    // eSpeak is not affected.
    assert.equal((await speak('tts-1', 'Still speaking.')).status, 200);

    stub.fault = undefined;
    await until(async () => (await health('gpu-openai')).ready, 'the health probe to bring the engine back');
    const back = await speak('gpu-openai', 'Back again.');
    assert.equal(back.status, 200, await back.clone().text());
    assert.ok(probeAudio(new Uint8Array(await back.arrayBuffer()), 'wav').duration > 0.3);
  });

  it('a remote that hangs fails the request at the timeout; one that breaks off mid-answer fails it; other requests go on', async () => {
    stub.fault = { kind: 'hang' };
    const started = Date.now();
    const [hung, local] = await Promise.all([speak('gpu-openai', 'Hanging.'), speak('tts-1', 'Meanwhile on eSpeak.')]);
    assert.equal(local.status, 200);
    assert.equal(hung.status, 500);
    assert.match(((await hung.json()) as { error: { message: string } }).error.message, /did not answer within 1500 ms/);
    assert.ok(Date.now() - started >= 1400);

    stub.fault = { kind: 'cut' };
    const cut = await speak('gpu-openai', 'This answer is cut off after its first piece of audio, long before the end of the sentence.');
    assert.equal(cut.status, 500, 'a whole-file answer never goes out incomplete');
    assert.match(((await cut.json()) as { error: { message: string } }).error.message, /gpu-openai/);
    stub.fault = undefined;
    await until(async () => (await health('gpu-openai')).ready, 'the engine to be back up');
  });

  it('an unreachable remote is retried once, then fails; a server down at start is reported with its reason and voices still listed', async () => {
    await stub.stop();
    const before = stub.requests.length;
    const refused = await speak('gpu-openai', 'Nobody home.');
    assert.equal(refused.status, 500);
    assert.match(((await refused.json()) as { error: { message: string } }).error.message, /could not be reached \(ECONNREFUSED\)/);
    await stub.restart();
    assert.equal(stub.requests.length, before, 'nothing reached the stopped server');
    await until(async () => (await speak('gpu-openai', 'Hi.')).status === 200, 'the engine to serve again');

    const absent = await health('gpu-absent');
    assert.equal(absent.ready, false);
    assert.equal(absent.state, 'down');
    assert.match(String(absent.reason), /not reachable at start/);
    const unavailable = await speak('gpu-absent', 'Hello?');
    assert.equal(unavailable.status, 503);
    const voices = (await (await fetch(`${server.url}/v1/models/gpu-absent`)).json()) as { id: string };
    assert.equal(voices.id, 'gpu-absent');
  });

  it('holds to the concurrency limit: one request at a time, one waiting, the next refused with 503 at once', async () => {
    busyStub.fault = { kind: 'delay', ms: 700 };
    let most = 0;
    const watch = setInterval(() => (most = Math.max(most, busyStub.inFlight)), 5);
    try {
      const first = speak('gpu-busy', 'First.');
      await until(async () => busyStub.inFlight === 1, 'the first request to reach the remote');
      const second = speak('gpu-busy', 'Second.');
      await until(async () => (await health('gpu-busy')).queued === 1, 'the second request to wait in line');
      const third = await speak('gpu-busy', 'Third.');
      assert.equal(third.status, 503);
      assert.match(((await third.json()) as { error: { message: string } }).error.message, /busy: 1 requests running and 1 waiting/);
      assert.equal((await first).status, 200);
      assert.equal((await second).status, 200);
      assert.equal(most, 1, 'never more than one request at the remote');
    } finally {
      clearInterval(watch);
      busyStub.fault = undefined;
    }
  });

  it('a client that hangs up mid-stream cancels the remote request', async () => {
    // Each remote call waits a little, so the client's hang-up finds one under way.
    busyStub.fault = { kind: 'delay', ms: 300 };
    const controller = new AbortController();
    const before = busyStub.requests.length;
    try {
      const response = await fetch(`${server.url}/v1/audio/speech`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ model: 'gpu-busy', voice: 'alloy', input: 'A long answer that the client will not wait for. '.repeat(8), response_format: 'pcm', stream: true }),
        signal: controller.signal,
      });
      const reader = response.body!.getReader();
      await reader.read();
      controller.abort();
      await until(async () => busyStub.requests.slice(before).some((request) => request.closedEarly), 'the remote request to be closed');
      await until(async () => (await health('gpu-busy')).active === 0, 'the slot to be free again');
    } finally {
      busyStub.fault = undefined;
    }
  });
});
