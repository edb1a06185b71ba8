// The fish-speech remote engine: Chorus in front of fish-speech's own API server (a stub on loopback,
// written from its sources, speaking with flite). What this kind adds to the shared remote-engine
// behaviour (test/remote-engines.test.ts): its request body, its references as voices, inline
// references for voices cloned on Chorus, the sampling knobs, its streamed audio with and without
// a WAV header, its error bodies, and the chat agent speaking on it.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import OpenAI from 'openai';
import { startChatServer, type ChatServer } from './support/chat-server.js';
import { probeAudio } from './support/ffprobe.js';
import { fliteReference } from './support/reference-voices.js';
import { startFishSpeechStub, type FishSpeechStub } from './support/remote-stubs/fish-speech-stub.js';
import type { StubRequest } from './support/remote-stubs/stub-server.js';
import { startTestServer, type TestServer } from './support/server.js';

const KEY = 'fish-secret';
const REPLY = 'The sea is calm today. Shall we sail?';

interface EngineHealth {
  id: string;
  ready: boolean;
  state?: string;
  reason?: string;
}

describe('Remote engine: fish-speech (its API server as a stub on loopback)', () => {
  let fish: FishSpeechStub;
  let fishWithHeader: FishSpeechStub;
  let chat: ChatServer;
  let server: TestServer;
  let client: OpenAI;

  before(async () => {
    fish = await startFishSpeechStub({ apiKey: KEY, references: { narrator: 'The narrator reads the story.', 'old sailor': 'Ahoy there.' } });
    // The header fish meant to send, at a rate other than 44.1 kHz: read as bare PCM it would play at the wrong speed.
    fishWithHeader = await startFishSpeechStub({ streamHeader: true, streamRate: 24_000, maxTextLength: 60 });
    chat = await startChatServer(() => ({ tokens: REPLY.match(/ ?[\p{L}\p{N}']+|[^\s\p{L}\p{N}']/gu) ?? [], tokenIntervalMs: 1 }));
    server = await startTestServer({
      CHORUS_REMOTE_ENGINES: JSON.stringify([
        { id: 'gpu-fish', kind: 'fish-speech', url: fish.url, apiKey: KEY },
        { id: 'gpu-fish-wav', kind: 'fish-speech', url: fishWithHeader.url, failureThreshold: 100 },
        { id: 'gpu-fish-wrong-key', kind: 'fish-speech', url: fish.url, apiKey: 'not-the-key', probeIntervalMs: 60_000 },
      ]),
      CHORUS_LLM_URL: chat.url,
      CHORUS_LLM_MODEL: 'scripted',
    });
    client = new OpenAI({ apiKey: 'unused', baseURL: `${server.url}/v1`, maxRetries: 0 });
  });
  after(async () => {
    await server?.close();
    await fish?.close();
    await fishWithHeader?.close();
    await chat?.close();
  });

  const ttsCalls = (stub: FishSpeechStub): StubRequest[] => stub.requests.filter((request) => request.url === '/v1/tts');
  const lastTtsBody = (stub: FishSpeechStub): Record<string, unknown> => JSON.parse(ttsCalls(stub).at(-1)!.body.toString()) as Record<string, unknown>;
  const speak = (body: Record<string, unknown>) =>
    fetch(`${server.url}/v1/audio/speech`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ response_format: 'wav', ...body }) });
  const job = async (endpoint: string, input: Record<string, unknown>) => {
    const response = await fetch(`${server.url}/v2/${endpoint}/runsync`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ input }) });
    return (await response.json()) as { status: string; error?: string; output?: Record<string, unknown> };
  };
  /** Seconds of audio the stub made for all the /v1/tts calls since `from`. */
  const spokenSince = (stub: FishSpeechStub, from: number): number => stub.spoken.slice(from).reduce((sum, entry) => sum + entry.samples / entry.sampleRate, 0);

  it('lists the server\'s references as voices (asking for JSON, not msgpack), with the reference-free voice first', async () => {
    const listed = fish.requests.filter((request) => request.url === '/v1/references/list');
    assert.ok(listed.length >= 1);
    assert.equal(listed[0]!.headers.accept, 'application/json');
    assert.equal(listed[0]!.headers.authorization, `Bearer ${KEY}`);
    const body = (await (await fetch(`${server.url}/v1/voices`)).json()) as { voices: { voice_id: string; engine: string }[] };
    const onFish = body.voices.filter((voice) => voice.engine === 'gpu-fish').map((voice) => voice.voice_id);
    assert.deepEqual(onFish, ['gpu-fish:default', 'gpu-fish:narrator', 'gpu-fish:old sailor']);
    // Without the Accept header the server answers msgpack: what the adapter avoids.
    const raw = await fetch(`${fish.url}/v1/references/list`, { headers: { authorization: `Bearer ${KEY}` } });
    assert.equal(raw.headers.get('content-type'), 'application/msgpack');
  });

  it('speaks through the official OpenAI client: the stub gets a streaming wav ServeTTSRequest with the key, and the audio is whole', async () => {
    const from = fish.spoken.length;
    const response = await client.audio.speech.create({ model: 'gpu-fish', voice: 'default' as 'alloy', input: 'Hello from the fish server.', response_format: 'mp3' });
    assert.equal(response.headers.get('x-chorus-engine'), 'gpu-fish');
    const probe = probeAudio(new Uint8Array(await response.arrayBuffer()), 'mp3');
    assert.equal(probe.codec, 'mp3');
    const call = ttsCalls(fish).at(-1)!;
    assert.equal(call.headers.authorization, `Bearer ${KEY}`);
    assert.equal(call.headers['content-type'], 'application/json');
    assert.deepEqual(JSON.parse(call.body.toString()), { text: 'Hello from the fish server.', format: 'wav', streaming: true });
    // Headerless 44.1 kHz PCM read at its rate: as long as what the stub made (mp3 adds encoder padding).
    const made = spokenSince(fish, from);
    assert.ok(Math.abs(probe.decodedDuration - made) < 0.1, `${probe.decodedDuration} s out, ${made} s made`);
  });

  it('a server reference is asked for by reference_id; wav, opus and a stream all come out whole', async () => {
    for (const format of ['wav', 'opus', 'flac'] as const) {
      const from = fish.spoken.length;
      const response = await speak({ model: 'gpu-fish', voice: 'narrator', input: `Read by the narrator as ${format}.`, response_format: format });
      assert.equal(response.status, 200, await response.clone().text());
      const probe = probeAudio(new Uint8Array(await response.arrayBuffer()), format === 'opus' ? 'ogg' : format);
      assert.equal(probe.codec, { wav: 'pcm_s16le', opus: 'opus', flac: 'flac' }[format]);
      assert.ok(Math.abs(probe.decodedDuration - spokenSince(fish, from)) < 0.1, format);
      const body = lastTtsBody(fish);
      assert.equal(body['reference_id'], 'narrator');
      assert.equal(body['references'], undefined);
    }
    const streamed = await speak({ model: 'gpu-fish', voice: 'old sailor', input: 'Streamed as it is made.', response_format: 'pcm', stream: true });
    assert.equal(streamed.status, 200);
    assert.ok((await streamed.arrayBuffer()).byteLength > 10_000);
    assert.equal(lastTtsBody(fish)['reference_id'], 'old sailor');
  });

  it('reads a stream that does carry a WAV header at the header\'s rate', async () => {
    const from = fishWithHeader.spoken.length;
    const response = await speak({ model: 'gpu-fish-wav', voice: 'default', input: 'A header first.' });
    assert.equal(response.status, 200, await response.clone().text());
    const probe = probeAudio(new Uint8Array(await response.arrayBuffer()), 'wav');
    const made = spokenSince(fishWithHeader, from);
    assert.equal(fishWithHeader.spoken.at(-1)!.sampleRate, 24_000);
    assert.ok(Math.abs(probe.decodedDuration - made) < 0.05, `${probe.decodedDuration} s out, ${made} s made at 24 kHz`);
    assert.equal(fishWithHeader.requests.some((request) => request.headers.authorization !== undefined), false, 'no key configured, none sent');
  });

  it('sends the sampling knobs a request carries (OpenAI route and Spark job), and refuses out-of-range ones naming the field', async () => {
    // Fish Speech's extended route carries them as fields, the OpenAI route in `options`.
    const response = await fetch(`${server.url}/v1/audio/speech/extended`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'gpu-fish', voice: 'default', input: 'Seeded speech.', response_format: 'wav', seed: 42, temperature: 0.5, top_p: 0.9, repetition_penalty: 1.3, max_new_tokens: 800 }),
    });
    assert.equal(response.status, 200, await response.clone().text());
    const body = lastTtsBody(fish);
    assert.equal(body['seed'], 42);
    assert.equal(body['temperature'], 0.5);
    assert.equal(body['top_p'], 0.9);
    assert.equal(body['repetition_penalty'], 1.3);
    assert.equal(body['max_new_tokens'], 800);

    const spark = await job('spark-tts', { text: 'Spark on fish.', engine: 'gpu-fish', voice_name: 'narrator', temperature: 0.6, top_p: 0.7 });
    assert.equal(spark.status, 'COMPLETED', JSON.stringify(spark).slice(0, 400));
    const sparkBody = lastTtsBody(fish);
    assert.equal(sparkBody['temperature'], 0.6);
    assert.equal(sparkBody['top_p'], 0.7);
    assert.equal(sparkBody['reference_id'], 'narrator');
    assert.equal(sparkBody['seed'], undefined);

    const calls = ttsCalls(fish).length;
    const unseeded = await speak({ model: 'gpu-fish', voice: 'default', input: 'No seed.', options: { seed: -1, top_p: 0.5 } });
    assert.equal(unseeded.status, 200);
    assert.equal(lastTtsBody(fish)['seed'], undefined, 'seed -1 sends none');
    assert.equal(lastTtsBody(fish)['top_p'], 0.5);
    const tooHot = await speak({ model: 'gpu-fish', voice: 'default', input: 'Too hot.', options: { repetition_penalty: 3 } });
    assert.equal(tooHot.status, 400);
    const error = (await tooHot.json()) as { error: { param: string; message: string } };
    assert.equal(error.error.param, 'repetition_penalty');
    assert.match(error.error.message, /from 0.9 to 2/);
    assert.match(error.error.message, /gpu-fish/);
    assert.equal(ttsCalls(fish).length, calls + 1, 'a refused request never reaches the server');
  });

  it('a voice cloned on Chorus goes inline as references [{audio: base64 WAV, text: transcript}]; reference_audio without a transcript goes with empty text', async () => {
    const reference = await fliteReference('This is the speaker to clone, reading several sentences slowly, so that there is more than enough speech to clone a voice from.', 'awb');
    const form = new FormData();
    form.set('id', 'cloned-sailor');
    form.set('text', 'This is the speaker to clone.');
    form.set('audio', new Blob([reference.wav], { type: 'audio/wav' }), 'reference.wav');
    const added = await fetch(`${server.url}/v1/references/add`, { method: 'POST', body: form });
    assert.equal(added.status, 200, await added.clone().text());

    const response = await speak({ model: 'gpu-fish', voice: 'cloned-sailor', input: 'Spoken in the cloned voice.' });
    assert.equal(response.status, 200, await response.clone().text());
    assert.match(String(response.headers.get('x-chorus-voice-method')), /^zero_shot; engine=gpu-fish/);
    assert.ok(probeAudio(new Uint8Array(await response.arrayBuffer()), 'wav').decodedDuration > 0.5);
    const body = lastTtsBody(fish);
    assert.equal(body['reference_id'], undefined);
    assert.equal(body['use_memory_cache'], 'on');
    const [sent] = body['references'] as { audio: string; text: string }[];
    assert.equal(sent!.text, 'This is the speaker to clone.');
    const wav = Buffer.from(sent!.audio, 'base64');
    const probe = probeAudio(wav, 'wav');
    assert.ok(Math.abs(probe.decodedDuration - reference.samples.length / reference.sampleRate) < 0.05, 'the whole reference, as a WAV file');

    const inline = await job('chatterbox-v2', { operation: 'tts', mode: 'basic', text: 'Cloned from inline audio.', engine: 'gpu-fish', reference_audio: reference.wav.toString('base64'), format: 'wav' });
    assert.equal(inline.status, 'COMPLETED', JSON.stringify(inline).slice(0, 400));
    assert.equal(inline.output!['voice_method'], 'zero_shot');
    const inlineBody = lastTtsBody(fish);
    assert.equal((inlineBody['references'] as { text: string }[])[0]!.text, '');
  });

  it('fish\'s own errors come back with its message: text too long (400), a failed generation (500), a wrong key (401, down at start)', async () => {
    const long = await speak({ model: 'gpu-fish-wav', voice: 'default', input: 'This sentence is a good deal longer than sixty characters in all' });
    assert.equal(long.status, 500);
    const longError = (await long.json()) as { error: { code: string; message: string } };
    assert.equal(longError.error.code, 'engine_failed');
    assert.match(longError.error.message, /gpu-fish-wav' answered 400: Text is too long, max length is 60/);

    fishWithHeader.behaviour.generationError = 'No audio generated, please check the input text.';
    try {
      const failed = await speak({ model: 'gpu-fish-wav', voice: 'default', input: 'Fails.' });
      assert.equal(failed.status, 500);
      assert.match(((await failed.json()) as { error: { message: string } }).error.message, /answered 500: No audio generated, please check the input text\./);
    } finally {
      fishWithHeader.behaviour.generationError = undefined;
    }

    const health = (await (await fetch(`${server.url}/health`)).json()) as { engines: EngineHealth[] };
    const wrongKey = health.engines.find((engine) => engine.id === 'gpu-fish-wrong-key')!;
    assert.equal(wrongKey.ready, false);
    assert.match(String(wrongKey.reason), /answered 401: Invalid token/);
    const refused = await speak({ model: 'gpu-fish-wrong-key', voice: 'default', input: 'Locked out.' });
    assert.equal(refused.status, 503);

    // The stub's other Kui errors, as the real server shapes them.
    const unsupported = await fetch(`${fish.url}/v1/tts`, { method: 'POST', headers: { authorization: `Bearer ${KEY}`, 'content-type': 'text/plain' }, body: 'hello' });
    assert.equal(unsupported.status, 415);
    assert.deepEqual(await unsupported.json(), { statusCode: 415, message: null, error: 'Unsupported Media Type' });
    const mp3Stream = await fetch(`${fish.url}/v1/tts`, { method: 'POST', headers: { authorization: `Bearer ${KEY}`, 'content-type': 'application/json' }, body: JSON.stringify({ text: 'x', format: 'mp3', streaming: true }) });
    assert.equal(mp3Stream.status, 400);
    assert.equal(((await mp3Stream.json()) as { message: string }).message, 'Streaming only supports WAV format');
  });

  it('the Fish chat agent speaks its reply on the fish engine, sentence by sentence', async () => {
    const from = ttsCalls(fish).length;
    const response = await fetch(`${server.url}/v2/fish-speech/run`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ input: { message: 'How is the sea?', engine: 'gpu-fish', voice: 'gpu-fish:narrator', audio_format: 'wav' } }),
    });
    assert.equal(response.status, 200);
    const body = (await response.json()) as { status: string; output?: Record<string, unknown> };
    assert.equal(body.status, 'success', JSON.stringify(body).slice(0, 400));
    assert.equal(body.output!['text'], REPLY);
    assert.equal(body.output!['engine'], 'gpu-fish');
    const probe = probeAudio(Buffer.from(body.output!['audio'] as string, 'base64'), 'wav');
    assert.equal(probe.sampleRate, 44_100);
    assert.ok(probe.decodedDuration > 1);
    const sent = ttsCalls(fish).slice(from).map((call) => JSON.parse(call.body.toString()) as Record<string, unknown>);
    assert.deepEqual(sent.map((entry) => entry['text']), ['The sea is calm today.', 'Shall we sail?']);
    assert.ok(sent.every((entry) => entry['reference_id'] === 'narrator'));
  });
});
