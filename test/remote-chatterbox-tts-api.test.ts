// travisvn/chatterbox-tts-api as a remote engine, against a stub written from its sources (real speech
// from flite): its SSE speech read as it streams (in whole events and in 7-byte pieces), its voice
// library listed (both layouts) and used for cloning, Chatterbox's knobs reaching it, its error
// shapes surfaced, its streams that fail after the 200, and its /health probe. The failure behaviour
// every kind shares is tested once in remote-engines.test.ts.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import OpenAI from 'openai';
import { probeAudio } from './support/ffprobe.js';
import { fliteReference } from './support/reference-voices.js';
import { CHATTERBOX_API_RATE, startChatterboxApiStub, type ChatterboxApiStub } from './support/remote-stubs/chatterbox-tts-api-stub.js';
import { spokenPcm, type StubRequest } from './support/remote-stubs/stub-server.js';
import { startTestServer, type TestServer } from './support/server.js';
import { until } from './support/until.js';

const KEY = 'chatterbox-proxy-key';

describe('Remote engine kind chatterbox-tts-api (travisvn/chatterbox-tts-api on loopback)', () => {
  let stub: ChatterboxApiStub;
  let piecesStub: ChatterboxApiStub;
  let server: TestServer;
  let client: OpenAI;

  before(async () => {
    stub = await startChatterboxApiStub({
      apiKey: KEY,
      // A voice Chorus uploaded in an earlier life: the server lists it, Chorus does not offer it.
      library: [{ name: 'narrator', aliases: ['storyteller'] }, { name: 'chorus-00000000000000aa' }],
    });
    piecesStub = await startChatterboxApiStub({ pieceBytes: 7, listRoute: 'audio-voices', library: [{ name: 'radio-host', language: 'fr' }] });
    const common = { kind: 'chatterbox-tts-api', probeIntervalMs: 100 };
    server = await startTestServer({
      CHORUS_REMOTE_ENGINES: JSON.stringify([
        { ...common, id: 'cb-api', url: stub.url, apiKey: KEY, failureThreshold: 2, timeoutMs: 3000 },
        { ...common, id: 'cb-api-pieces', url: piecesStub.url },
        { ...common, id: 'cb-api-v9', url: stub.url, apiKey: KEY, model: 'chatterbox-v9' },
      ]),
    });
    client = new OpenAI({ apiKey: 'unused', baseURL: `${server.url}/v1`, maxRetries: 0 });
  });
  after(async () => {
    await server?.close();
    await stub?.close();
    await piecesStub?.close();
  });

  const speechRequests = (from: ChatterboxApiStub, since = 0): StubRequest[] => from.requests.slice(since).filter((request) => request.url === '/v1/audio/speech');
  const sentBody = (request: StubRequest): Record<string, unknown> => JSON.parse(request.body.toString()) as Record<string, unknown>;
  const speak = (body: Record<string, unknown>) =>
    fetch(`${server.url}/v1/audio/speech`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ voice: 'alloy', response_format: 'wav', ...body }) });
  const job = async (input: Record<string, unknown>) => {
    const response = await fetch(`${server.url}/v2/chatterbox-v2/runsync`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ input }) });
    return (await response.json()) as { status: string; output?: Record<string, unknown>; error?: unknown };
  };
  const engineHealth = async (id: string) => {
    const body = (await (await fetch(`${server.url}/health`)).json()) as { engines: { id: string; ready: boolean; state?: string; reason?: string }[] };
    return body.engines.find((engine) => engine.id === id)!;
  };

  it('speaks through the official OpenAI client in several formats: the server gets SSE speech requests with the key', async () => {
    const since = stub.requests.length;
    for (const [format, container, codec] of [['mp3', 'mp3', 'mp3'], ['opus', 'ogg', 'opus'], ['flac', 'flac', 'flac']] as const) {
      const response = await client.audio.speech.create({ model: 'cb-api', voice: 'alloy', input: 'Hello from the Chatterbox server. It streams.', response_format: format, speed: 1.2 });
      assert.equal(response.headers.get('x-chorus-engine'), 'cb-api');
      const probe = probeAudio(new Uint8Array(await response.arrayBuffer()), container);
      assert.equal(probe.codec, codec);
      assert.ok(probe.duration > 1, `${format}: ${probe.duration} s`);
    }
    const sent = speechRequests(stub, since);
    assert.equal(sent.length, 3);
    for (const request of sent) {
      assert.equal(request.headers.authorization, `Bearer ${KEY}`);
      assert.match(String(request.headers['content-type']), /^application\/json/);
      // No speed: the server ignores it, so the pipeline time-stretches; no knobs unless asked for.
      assert.deepEqual(sentBody(request), { input: 'Hello from the Chatterbox server. It streams.', voice: 'alloy', stream_format: 'sse' });
    }
    assert.deepEqual(stub.spokenWith.slice(-3), ['default', 'default', 'default']);
    const model = (await (await fetch(`${server.url}/v1/models/cb-api`)).json()) as { capabilities: { cloning: string; sample_rate: number; options: Record<string, unknown> } };
    assert.equal(model.capabilities.cloning, 'neural');
    assert.equal(model.capabilities.sample_rate, CHATTERBOX_API_RATE);
    assert.deepEqual(Object.keys(model.capabilities.options).sort(), ['cfg_weight', 'exaggeration', 'temperature']);
  });

  it('reads the SSE stream cut into 7-byte pieces into the same audio (its length within 30 ms)', async () => {
    const text = 'One piece at a time. Still the same speech.';
    const expectedSec = (await Promise.all(['One piece at a time.', 'Still the same speech.'].map((sentence) => spokenPcm(sentence, CHATTERBOX_API_RATE)))).reduce((total, pcm) => total + pcm.length, 0) / CHATTERBOX_API_RATE;
    for (const model of ['cb-api-pieces', 'cb-api']) {
      const response = await speak({ model, input: text, sample_rate: CHATTERBOX_API_RATE });
      assert.equal(response.status, 200, await response.clone().text());
      const probe = probeAudio(new Uint8Array(await response.arrayBuffer()), 'wav');
      assert.ok(Math.abs(probe.duration - expectedSec) < 0.03, `${model}: ${probe.duration} s, the server sent ${expectedSec} s`);
    }
  });

  it('lists the server\'s library voices (both layouts) with their aliases, not the ones Chorus uploaded, and speaks in them', async () => {
    const listed = (await (await fetch(`${server.url}/v1/voices`)).json()) as { voices: { voice_id: string; engine: string; aliases?: string[] }[] };
    const ids = (engine: string) => listed.voices.filter((voice) => voice.engine === engine).map((voice) => voice.voice_id);
    assert.deepEqual(ids('cb-api'), ['cb-api:alloy', 'cb-api:narrator']);
    assert.deepEqual(listed.voices.find((voice) => voice.voice_id === 'cb-api:narrator')!.aliases, ['storyteller']);
    assert.deepEqual(ids('cb-api-pieces'), ['cb-api-pieces:alloy', 'cb-api-pieces:radio-host']);
    assert.ok(piecesStub.requests.some((request) => request.method === 'GET' && request.url === '/audio/voices'), 'the newer listing route');

    const since = stub.requests.length;
    assert.equal((await speak({ model: 'cb-api', voice: 'storyteller', input: 'Once upon a time.' })).status, 200);
    assert.equal(sentBody(speechRequests(stub, since)[0]!)['voice'], 'narrator', 'the alias resolved by Chorus to the library name');
    assert.equal(stub.spokenWith.at(-1), 'narrator');
    // A name the server does not have is refused by Chorus (the server would silently use its default).
    const unknown = await speak({ model: 'cb-api', voice: 'nobody', input: 'Hi.' });
    assert.equal(unknown.status, 400);
    assert.equal(((await unknown.json()) as { error: { param: string } }).error.param, 'voice');
    assert.equal(speechRequests(stub, since).length, 1);
  });

  it('sends exaggeration, cfg_weight and temperature from the OpenAI route and a Chatterbox job; refuses out-of-range ones itself', async () => {
    let since = stub.requests.length;
    const response = await speak({ model: 'cb-api', input: 'Dramatic!', options: { exaggeration: 1.5, cfg_weight: 0.3, temperature: 0.6 } });
    assert.equal(response.status, 200, await response.clone().text());
    assert.deepEqual(sentBody(speechRequests(stub, since)[0]!), { input: 'Dramatic!', voice: 'alloy', stream_format: 'sse', exaggeration: 1.5, cfg_weight: 0.3, temperature: 0.6 });

    since = stub.requests.length;
    const spoken = await job({ operation: 'tts', mode: 'basic', text: 'One two three four.', engine: 'cb-api', voice_name: 'narrator', exaggeration: 0.7, cfg_weight: 0.4, temperature: 0.9, return_timestamps: true });
    assert.equal(spoken.status, 'COMPLETED', JSON.stringify(spoken).slice(0, 400));
    assert.equal(spoken.output!['engine'], 'cb-api');
    assert.equal(spoken.output!['ignored_parameters'], undefined);
    assert.ok(probeAudio(Buffer.from(spoken.output!['audio'] as string, 'base64'), 'wav').duration > 0.5);
    assert.deepEqual((spoken.output!['word_timings'] as { word: string }[]).map((word) => word.word.replace('.', '')), ['One', 'two', 'three', 'four'], 'timings from the aligner');
    assert.deepEqual(sentBody(speechRequests(stub, since)[0]!), { input: 'One two three four.', voice: 'narrator', stream_format: 'sse', exaggeration: 0.7, cfg_weight: 0.4, temperature: 0.9 });

    since = stub.requests.length;
    const refused = await speak({ model: 'cb-api', input: 'Too much.', options: { exaggeration: 3 } });
    assert.equal(refused.status, 400);
    const error = (await refused.json()) as { error: { param: string; message: string } };
    assert.equal(error.error.param, 'exaggeration');
    assert.match(error.error.message, /from 0\.25 to 2/);
    assert.equal(speechRequests(stub, since).length, 0, 'never sent');
  });

  it('clones: a library voice is uploaded to the server once (multipart WAV) and spoken by that name; so is an inline reference', async () => {
    const reference = await fliteReference('This is the reference speaker, reading a few sentences so that there is enough speech to clone a voice from.', 'awb');
    const cloned = await job({ operation: 'voice_cloning', engine: 'cb-api', voice_name: 'Remote Clone', reference_audio: reference.wav.toString('base64') });
    assert.equal(cloned.status, 'COMPLETED', JSON.stringify(cloned).slice(0, 400));
    assert.equal((cloned.output!['voice_info'] as Record<string, unknown>)['method'], 'zero_shot');

    const since = stub.requests.length;
    for (const text of ['Spoken in the cloned voice.', 'And once more.']) {
      const spoken = await job({ operation: 'tts', mode: 'basic', text, voice_name: 'Remote Clone' });
      assert.equal(spoken.status, 'COMPLETED', JSON.stringify(spoken).slice(0, 400));
      assert.equal(spoken.output!['voice_method'], 'zero_shot');
    }
    const uploads = stub.requests.slice(since).filter((request) => request.method === 'POST' && request.url === '/v1/voices');
    assert.equal(uploads.length, 1, 'uploaded once, then used by name');
    assert.equal(uploads[0]!.headers.authorization, `Bearer ${KEY}`);
    const used = speechRequests(stub, since).map((request) => sentBody(request)['voice']);
    assert.equal(used.length, 2);
    assert.match(String(used[0]), /^chorus-[0-9a-f]{16}$/);
    assert.equal(used[1], used[0]);
    const stored = stub.library.get(String(used[0]))!;
    assert.equal(stored.filename, `${String(used[0])}.wav`);
    const uploaded = probeAudio(new Uint8Array(stored.file!), 'wav');
    assert.equal(uploaded.codec, 'pcm_s16le');
    assert.ok(Math.abs(uploaded.duration - reference.samples.length / reference.sampleRate) < 0.1, `uploaded ${uploaded.duration} s`);
    assert.deepEqual(stub.spokenWith.slice(-2), [used[0], used[0]]);

    // reference_audio on a job: uploaded with each request; the server's 409 for audio it already has is no failure.
    const inline = stub.requests.length;
    for (const text of ['Cloned inline.', 'Cloned inline again.']) {
      const spoken = await job({ operation: 'tts', mode: 'basic', text, engine: 'cb-api', reference_audio: reference.wav.toString('base64') });
      assert.equal(spoken.status, 'COMPLETED', JSON.stringify(spoken).slice(0, 400));
    }
    assert.equal(stub.requests.slice(inline).filter((request) => request.method === 'POST' && request.url === '/v1/voices').length, 2);
    const voices = speechRequests(stub, inline).map((request) => String(sentBody(request)['voice']));
    assert.equal(voices.length, 2);
    assert.equal(voices[1], voices[0], 'the same audio, the same name: the second upload met a 409');
    assert.ok(voices[0]!.startsWith('chorus-') && stub.library.has(voices[0]!), voices[0]);
  });

  it('surfaces the server\'s refusals in its own shapes: FastAPI 422 detail and {error: {message}}', async () => {
    const invalid = await speak({ model: 'cb-api-v9', input: 'Which model?' });
    assert.equal(invalid.status, 500);
    const error = (await invalid.json()) as { error: { code: string; message: string } };
    assert.equal(error.error.code, 'engine_failed');
    assert.match(error.error.message, /cb-api-v9.*answered 422: .*model must be one of: chatterbox-v1/);
    assert.equal(sentBody(stub.requests.filter((request) => request.url === '/v1/audio/speech').at(-1)!)['model'], 'chatterbox-v9');

    stub.control.libraryReadOnly = true;
    try {
      const reference = await fliteReference('Another speaker entirely, with a few sentences of speech for the server to keep in its library.', 'rms');
      const spoken = await job({ operation: 'tts', mode: 'basic', text: 'Never spoken.', engine: 'cb-api', reference_audio: reference.wav.toString('base64') });
      assert.equal(spoken.status, 'FAILED');
      assert.match(JSON.stringify(spoken.error), /answered 500: Failed to upload voice: \[Errno 13\] Permission denied/);
    } finally {
      stub.control.libraryReadOnly = false;
    }
    assert.equal((await speak({ model: 'cb-api', input: 'Still fine.' })).status, 200);
  });

  it('a stream that breaks off or ends without speech.audio.done fails the request', async () => {
    stub.control.endWithoutDone = true;
    try {
      const ended = await speak({ model: 'cb-api', input: 'Ends early.' });
      assert.equal(ended.status, 500);
      assert.match(((await ended.json()) as { error: { message: string } }).error.message, /cb-api.*before speech\.audio\.done/);
    } finally {
      stub.control.endWithoutDone = false;
    }
    stub.fault = { kind: 'cut' };
    try {
      const cut = await speak({ model: 'cb-api', input: 'Cut off after the first event.' });
      assert.equal(cut.status, 500);
      assert.match(((await cut.json()) as { error: { message: string } }).error.message, /cb-api/);
    } finally {
      stub.fault = undefined;
    }
    await until(async () => (await engineHealth('cb-api')).ready, 'the engine to be up again after two failures');
    assert.equal((await speak({ model: 'cb-api', input: 'Whole again.' })).status, 200);
  });

  it('probes GET /health: down after failures, kept down while the server says its model failed to load, then up', async () => {
    stub.fault = { kind: 'status', status: 503 };
    for (let attempt = 0; attempt < 2; attempt++) assert.equal((await speak({ model: 'cb-api', input: 'Failing.' })).status, 500);
    assert.equal((await engineHealth('cb-api')).state, 'down');
    stub.control.initializationError = 'CUDA out of memory';
    stub.fault = undefined;
    const probes = stub.requests.length;
    await until(async () => stub.requests.slice(probes).some((request) => request.url === '/health'), 'a health probe');
    await until(async () => /model failed to load: CUDA out of memory/.test(String((await engineHealth('cb-api')).reason)), 'the reason from /health');
    assert.equal((await engineHealth('cb-api')).ready, false);
    const fast = await speak({ model: 'cb-api', input: 'Fail fast.' });
    assert.equal(fast.status, 503);
    stub.control.initializationError = undefined;
    await until(async () => (await engineHealth('cb-api')).ready, 'the engine to be up again');
    assert.equal((await speak({ model: 'cb-api', input: 'Back.' })).status, 200);
  });
});
