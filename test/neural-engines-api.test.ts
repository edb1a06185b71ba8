import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import OpenAI from 'openai';
import { startChatServer, type ChatServer } from './support/chat-server.js';
import { probeAudio } from './support/ffprobe.js';
import { fliteReference } from './support/reference-voices.js';
import { startTestServer, type TestServer } from './support/server.js';
import { buildKitten, buildKokoro, buildPiper, buildPocket } from './support/tiny-models/tiny-models.js';

/**
 * Installed neural models served through the real APIs: the server finds the models under
 * CHORUS_MODELS_DIR, checks them, loads them into the sherpa-onnx engine host and serves them next to
 * eSpeak. The models are tiny generated ones (no weights can be downloaded here), so what is checked
 * is the path, not the sound.
 */
describe('Neural engines through the APIs (tiny generated models)', () => {
  let server: TestServer;
  let client: OpenAI;
  let modelsDir: string;
  let chat: ChatServer;
  const REPLY = 'It is sunny today. No umbrella needed.';

  before(async () => {
    chat = await startChatServer(() => ({ tokens: REPLY.match(/ ?[\p{L}\p{N}']+|[^\s\p{L}\p{N}']/gu) ?? [], tokenIntervalMs: 2 }));
    modelsDir = mkdtempSync(join(tmpdir(), 'chorus-models-'));
    await buildKokoro(modelsDir);
    await buildPocket(modelsDir, { referenceWavs: ['bria'] });
    await buildPiper(modelsDir);
    await buildKitten(modelsDir);
    // sherpa-onnx would exit the whole process on this one: the pre-check must refuse it and the server start anyway.
    await buildPiper(modelsDir, { name: 'piper-broken', omitMetadata: ['sample_rate'] });
    // Spark's prompt_speech_url is fetched from a loopback file server here.
    server = await startTestServer({
      CHORUS_MODELS_DIR: modelsDir,
      CHORUS_SHERPA_THREADS: '1',
      CHORUS_ALLOW_PRIVATE_URLS: 'true',
      CHORUS_LLM_URL: chat.url,
      CHORUS_LLM_MODEL: 'scripted-model',
    });
    client = new OpenAI({ apiKey: 'unused', baseURL: `${server.url}/v1`, maxRetries: 0 });
  });
  after(async () => {
    await server?.close();
    await chat?.close();
    rmSync(modelsDir, { recursive: true, force: true });
  });

  it('/health and /v1/models list the installed models that load, and say why a refused one does not', async () => {
    const health = (await (await fetch(`${server.url}/health`)).json()) as { engines: { id: string; ready: boolean; reason?: string }[] };
    const byId = new Map(health.engines.map((engine) => [engine.id, engine]));
    assert.equal(byId.get('espeak')?.ready, true);
    assert.equal(byId.get('kokoro-tiny-multi-lang')?.ready, true);
    assert.equal(byId.get('pocket-tiny')?.ready, true);
    assert.equal(byId.get('piper-broken')?.ready, false);
    assert.match(String(byId.get('piper-broken')?.reason), /sample_rate/);
    const ids: string[] = [];
    for await (const model of client.models.list()) ids.push(model.id);
    for (const id of ['espeak', 'kokoro-tiny-multi-lang', 'pocket-tiny']) assert.ok(ids.includes(id), `${id} in ${ids.join(', ')}`);
    assert.ok(!ids.includes('piper-broken'));
    const kokoro = (await client.models.retrieve('kokoro-tiny-multi-lang')) as unknown as { capabilities: Record<string, unknown> };
    assert.equal(kokoro.capabilities['cloning'], 'none');
  });

  it('/v1/models/catalog shows what can be pulled with its licence, and each installed model with its state', async () => {
    const response = await fetch(`${server.url}/v1/models/catalog`);
    assert.equal(response.status, 200);
    const catalog = (await response.json()) as { data: { id: string; installed: boolean; state: string; license: string; reason?: string; license_note?: string; pull?: string }[] };
    const byId = new Map(catalog.data.map((entry) => [entry.id, entry]));
    const kokoro = byId.get('kokoro-multi-lang-v1_0');
    assert.ok(kokoro !== undefined, 'the built-in catalogue is listed');
    assert.equal(kokoro.installed, false);
    assert.equal(kokoro.state, 'not_installed');
    assert.equal(kokoro.pull, 'chorus models pull kokoro-multi-lang-v1_0');
    assert.ok(kokoro.license.length > 0);
    assert.ok(catalog.data.some((entry) => /non-commercial/i.test(entry.license_note ?? '')), 'Pocket\'s licence note is shown');
    assert.equal(byId.get('kokoro-tiny-multi-lang')?.state, 'ready');
    assert.equal(byId.get('kokoro-tiny-multi-lang')?.installed, true);
    assert.equal(byId.get('piper-broken')?.state, 'failed');
    assert.match(String(byId.get('piper-broken')?.reason), /sample_rate/);
  });

  it('speaks with Kokoro through the official OpenAI client: `model` picks it, OpenAI voice names map to its speakers', async () => {
    const response = await client.audio.speech.create({ model: 'kokoro-tiny-multi-lang', voice: 'alloy', input: 'Hello there. This is a neural engine.', response_format: 'mp3' });
    assert.equal(response.headers.get('x-chorus-engine'), 'kokoro-tiny-multi-lang');
    // No timings are returned here, so none are made: the forced aligner is not run.
    assert.doesNotMatch(String(response.headers.get('x-chorus-warnings')), /word_timings/);
    const probe = probeAudio(new Uint8Array(await response.arrayBuffer()), 'mp3');
    assert.equal(probe.codec, 'mp3');
    assert.ok(probe.duration > 0.3, `duration ${probe.duration}`);
    // The same voice by its own name and with the engine prefix, through a plain fetch.
    const byId = await fetch(`${server.url}/v1/audio/speech`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'tts-1', voice: 'kokoro-tiny-multi-lang:af_heart', input: 'Second request.', response_format: 'wav' }),
    });
    assert.equal(byId.status, 200, await byId.clone().text());
    assert.equal(probeAudio(new Uint8Array(await byId.arrayBuffer()), 'wav').codec, 'pcm_s16le');
    // A voice that belongs to no engine named: a clear 400 naming `voice`.
    await assert.rejects(client.audio.speech.create({ model: 'kokoro-tiny-multi-lang', voice: 'no-such-voice', input: 'Hi.' }), (error: unknown) => {
      assert.ok(error instanceof OpenAI.BadRequestError);
      assert.equal(error.param, 'voice');
      return true;
    });
  });

  it('every speech API speaks on every engine: OpenAI, Spark, Chatterbox and Chatterbox v2 jobs', async () => {
    const post = async (path: string, body: unknown) => {
      const response = await fetch(`${server.url}${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
      return (await response.json()) as { status: string; output?: Record<string, unknown> };
    };
    for (const engine of ['espeak', 'kokoro-tiny-multi-lang', 'piper-tiny', 'kitten-tiny', 'pocket-tiny']) {
      const voice = engine === 'pocket-tiny' ? 'bria' : undefined;
      const speech = await fetch(`${server.url}/v1/audio/speech`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ model: engine, voice: voice ?? 'alloy', input: `Spoken on ${engine}.`, response_format: 'opus' }),
      });
      assert.equal(speech.status, 200, `${engine}: ${await speech.clone().text()}`);
      assert.equal(speech.headers.get('x-chorus-engine'), engine);
      assert.equal(probeAudio(new Uint8Array(await speech.arrayBuffer()), 'ogg').codec, 'opus', engine);
      const withVoice = voice === undefined ? {} : { voice_name: voice };
      const spark = await post('/v2/spark-tts/runsync', { input: { text: `Spark on ${engine}.`, engine, ...withVoice } });
      assert.equal(spark.status, 'COMPLETED', `${engine}: ${JSON.stringify(spark)}`);
      const chatterbox = await post('/v2/chatterbox/runsync', { input: { text: `Chatterbox on ${engine}.`, engine, ...withVoice } });
      assert.equal(chatterbox.status, 'COMPLETED', `${engine}: ${JSON.stringify(chatterbox).slice(0, 300)}`);
      const v2 = await post('/v2/chatterbox-v2/runsync', { input: { operation: 'tts', mode: 'basic', text: `Version two on ${engine}.`, engine, format: 'mp3', ...withVoice } });
      assert.equal(v2.status, 'COMPLETED', `${engine}: ${JSON.stringify(v2).slice(0, 300)}`);
      assert.equal(v2.output!['engine'] ?? engine, engine);
    }
  });

  it('gives word timings from the aligner on /extended, since sherpa reports none, and says where they came from', async () => {
    const response = await fetch(`${server.url}/v1/audio/speech/extended`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'kokoro-tiny-multi-lang', voice: 'alloy', input: 'Seven eight nine.', timestamps: true }),
    });
    assert.equal(response.status, 200, await response.clone().text());
    assert.match(String(response.headers.get('x-chorus-warnings')), /word_timings: .*forced alignment/);
    const body = (await response.json()) as { word_timings: { word: string }[] };
    assert.deepEqual(body.word_timings.map((word) => word.word.replace(/[.,]/g, '')), ['Seven', 'eight', 'nine']);
  });

  it('gives word timings and subtitles from the aligner on a job API, since sherpa reports none', async () => {
    const response = await fetch(`${server.url}/v2/spark-tts/runsync`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ input: { text: 'One two three. Four five six.', engine: 'kokoro-tiny-multi-lang', enable_whisperx: true } }),
    });
    const body = (await response.json()) as { status: string; output?: { word_timings?: { word: string; start: number; end: number }[] } };
    assert.equal(body.status, 'COMPLETED', JSON.stringify(body));
    const words = body.output!.word_timings!;
    assert.deepEqual(
      words.map((word) => word.word.replace(/[.,]/g, '')),
      ['One', 'two', 'three', 'Four', 'five', 'six'],
    );
    for (let index = 1; index < words.length; index++) assert.ok(words[index]!.start >= words[index - 1]!.start, 'timings in order');
  });

  it('clones zero-shot with Pocket (voice_cloning, then tts with the voice) and says which method was used', async () => {
    const reference = await fliteReference('This is the reference speaker, reading a few sentences so that there is enough speech to clone from.', 'slt');
    const clone = await fetch(`${server.url}/v2/chatterbox-v2/runsync`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ input: { operation: 'voice_cloning', engine: 'pocket-tiny', voice_name: 'Tiny Clone', reference_audio: reference.wav.toString('base64') } }),
    });
    const cloned = (await clone.json()) as { status: string; output?: Record<string, unknown> };
    assert.equal(cloned.status, 'COMPLETED', JSON.stringify(cloned));
    const info = cloned.output!['voice_info'] as Record<string, unknown>;
    assert.equal(info['method'], 'zero_shot');
    assert.equal(info['engine'], 'pocket-tiny');
    assert.match(String(cloned.output!['message']), /zero-shot cloning on the pocket-tiny engine/);
    const speak = await fetch(`${server.url}/v2/chatterbox-v2/runsync`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ input: { operation: 'tts', mode: 'basic', text: 'Spoken in the cloned voice.', voice_name: 'Tiny Clone', format: 'wav' } }),
    });
    const spoken = (await speak.json()) as { status: string; output?: Record<string, unknown> };
    assert.equal(spoken.status, 'COMPLETED', JSON.stringify(spoken).slice(0, 500));
    assert.equal(spoken.output!['voice_method'], 'zero_shot');
    assert.equal(spoken.output!['engine'], 'pocket-tiny');
    assert.ok((spoken.output!['duration'] as number) > 0.5);
  });

  it('clones zero-shot from a Fish reference (/v1/references/add) and from Spark\'s prompt_speech_url', async () => {
    const reference = await fliteReference('A second reference speaker, reading a few longer sentences, so that there is more than enough speech to clone a voice from.', 'awb');
    const form = new FormData();
    form.set('id', 'tiny-ref');
    form.set('text', 'A second reference speaker.');
    form.set('audio', new Blob([reference.wav], { type: 'audio/wav' }), 'ref.wav');
    const added = await fetch(`${server.url}/v1/references/add`, { method: 'POST', body: form });
    assert.equal(added.status, 200, await added.clone().text());
    const speech = await fetch(`${server.url}/v1/audio/speech`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'pocket-tiny', voice: 'tiny-ref', input: 'Hello from the reference.', response_format: 'wav' }),
    });
    assert.equal(speech.status, 200, await speech.clone().text());
    assert.match(String(speech.headers.get('x-chorus-voice-method')), /^zero_shot; engine=pocket-tiny/);
    assert.equal(probeAudio(new Uint8Array(await speech.arrayBuffer()), 'wav').codec, 'pcm_s16le');

    const files: Server = createServer((_request, response) => {
      response.writeHead(200, { 'content-type': 'audio/wav' });
      response.end(reference.wav);
    });
    await new Promise<void>((resolve) => files.listen(0, '127.0.0.1', resolve));
    try {
      const { port } = files.address() as AddressInfo;
      const response = await fetch(`${server.url}/v2/spark-tts/runsync`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ input: { text: 'Cloned from a URL.', engine: 'pocket-tiny', prompt_speech_url: `http://127.0.0.1:${port}/reference.wav` } }),
      });
      const body = (await response.json()) as { status: string; output?: { warnings?: string[] } };
      assert.equal(body.status, 'COMPLETED', JSON.stringify(body));
      assert.ok(body.output!.warnings!.some((warning) => /cloned zero-shot by the pocket-tiny engine/.test(warning)), JSON.stringify(body.output!.warnings));
    } finally {
      await new Promise<void>((resolve) => files.close(() => resolve()));
    }
  });

  it('the Fish chat agent speaks its reply on a neural engine, and clones reference_audio zero-shot with Pocket', async () => {
    const run = async (input: Record<string, unknown>) => {
      const response = await fetch(`${server.url}/v2/fish-speech/run`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ input }) });
      assert.equal(response.status, 200);
      return (await response.json()) as { status: string; output?: Record<string, unknown> };
    };
    const onKokoro = await run({ message: 'What is the weather?', engine: 'kokoro-tiny-multi-lang', voice: 'alloy', audio_format: 'wav' });
    assert.equal(onKokoro.status, 'success', JSON.stringify(onKokoro).slice(0, 500));
    assert.equal(onKokoro.output!['text'], REPLY);
    assert.equal(onKokoro.output!['engine'], 'kokoro-tiny-multi-lang');
    const probe = probeAudio(Buffer.from(onKokoro.output!['audio'] as string, 'base64'), 'wav');
    assert.equal(probe.sampleRate, 44_100, 'the agent speaks 44.1 kHz whatever the engine\'s own rate');
    assert.ok(Math.abs(probe.decodedDuration - (onKokoro.output!['duration'] as number)) < 0.001);
    assert.ok(probe.decodedDuration > 0.3);

    // No engine named: reference_audio goes to the loaded engine that clones (Pocket), and the reply says so.
    const reference = await fliteReference('The reference speaker of the chat agent, reading enough sentences to clone a voice from, slowly.', 'rms');
    const cloned = await run({ message: 'Say it in my voice', reference_audio: reference.wav.toString('base64'), audio_format: 'wav' });
    assert.equal(cloned.status, 'success', JSON.stringify(cloned).slice(0, 500));
    assert.equal(cloned.output!['voice_method'], 'zero_shot');
    assert.equal(cloned.output!['engine'], 'pocket-tiny');
    assert.equal(cloned.output!['note'], undefined, 'no voice-matching note on a neural clone');
    assert.ok(probeAudio(Buffer.from(cloned.output!['audio'] as string, 'base64'), 'wav').decodedDuration > 0.3);

    // eSpeak asked for by name: the documented fallback, voice matching, said plainly.
    const matched = await run({ message: 'And on eSpeak?', engine: 'espeak', reference_audio: reference.wav.toString('base64'), audio_format: 'wav' });
    assert.equal(matched.status, 'success', JSON.stringify(matched).slice(0, 500));
    assert.equal(matched.output!['voice_method'], 'voice_matching');
    assert.match(String(matched.output!['note']), /not neural cloning/);
  });

  it('an engine host killed mid-request is replaced: that request fails as engine_failed or was already complete, the next is served by a new host, eSpeak is unaffected', async () => {
    const hostPid = (): number | undefined => {
      const lines = execFileSync('ps', ['-o', 'pid=,args=', '--ppid', String(process.pid)], { encoding: 'utf8' }).split('\n');
      const line = lines.find((entry) => entry.includes('engine-host'));
      return line === undefined ? undefined : Number(line.trim().split(/\s+/)[0]);
    };
    const before = hostPid();
    assert.ok(before !== undefined, 'the engine host runs as a child process');
    const long = 'This sentence keeps the engine busy for a while. '.repeat(40);
    const doomed = fetch(`${server.url}/v1/audio/speech`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'kokoro-tiny-multi-lang', voice: 'af_heart', input: long, response_format: 'wav' }),
    });
    await new Promise((resolve) => setTimeout(resolve, 150));
    process.kill(before, 'SIGKILL');
    // The tiny model may have finished before the kill landed; if it had not, the request fails as engine_failed
    // (a 500, or a cut body when the headers had left), never with a wrong success.
    const failed = await doomed;
    if (failed.status !== 200) {
      assert.equal(failed.status, 500, await failed.clone().text());
      const error = (await failed.json()) as { error: { code: string } };
      assert.equal(error.error.code, 'engine_failed');
    } else {
      const bytes = await failed.arrayBuffer().then((body) => new Uint8Array(body), () => undefined);
      if (bytes !== undefined) assert.ok(probeAudio(bytes, 'wav').duration > 5, 'a request that succeeds is complete');
    }
    const next = await client.audio.speech.create({ model: 'kokoro-tiny-multi-lang', voice: 'alloy', input: 'Back again.', response_format: 'wav' });
    assert.equal(probeAudio(new Uint8Array(await next.arrayBuffer()), 'wav').codec, 'pcm_s16le');
    const after = hostPid();
    assert.ok(after !== undefined && after !== before, `a new host (${before} -> ${after})`);
    const eSpeak = await client.audio.speech.create({ model: 'tts-1', voice: 'alloy', input: 'eSpeak was never affected.', response_format: 'wav' });
    await eSpeak.arrayBuffer();
  });
});
