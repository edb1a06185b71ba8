import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import OpenAI from 'openai';
import { probeAudio } from './support/ffprobe.js';
import { fliteReference } from './support/reference-voices.js';
import { startTestServer, type TestServer } from './support/server.js';
import { buildKokoro, buildPiper, buildPocket } from './support/tiny-models/tiny-models.js';

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

  before(async () => {
    modelsDir = mkdtempSync(join(tmpdir(), 'chorus-models-'));
    await buildKokoro(modelsDir);
    await buildPocket(modelsDir, { referenceWavs: ['bria'] });
    // sherpa-onnx would exit the whole process on this one: the pre-check must refuse it and the server start anyway.
    await buildPiper(modelsDir, { name: 'piper-broken', omitMetadata: ['sample_rate'] });
    server = await startTestServer({ CHORUS_MODELS_DIR: modelsDir, CHORUS_SHERPA_THREADS: '1' });
    client = new OpenAI({ apiKey: 'unused', baseURL: `${server.url}/v1`, maxRetries: 0 });
  });
  after(async () => {
    await server?.close();
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

  it('speaks with Kokoro through the official OpenAI client: `model` picks it, OpenAI voice names map to its speakers', async () => {
    const response = await client.audio.speech.create({ model: 'kokoro-tiny-multi-lang', voice: 'alloy', input: 'Hello there. This is a neural engine.', response_format: 'mp3' });
    assert.equal(response.headers.get('x-chorus-engine'), 'kokoro-tiny-multi-lang');
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
});
