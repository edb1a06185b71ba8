// Chatterbox-TTS-Server (devnen) as a remote engine: its /tts protocol as a stub on loopback (real
// speech from flite): predefined voices listed from the server, the OpenAI and Chatterbox APIs on
// it with Chatterbox's knobs reaching /tts, library voices cloned on Chorus uploaded once to
// /upload_reference and spoken in clone mode (and uploaded again when the server lost them), the
// server's own errors, and a server with no model loaded reported down until it has one again.
// What every remote kind shares (timeouts, queueing, cancel) is tested in remote-engines.test.ts.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import OpenAI from 'openai';
import { probeAudio } from './support/ffprobe.js';
import { fliteReference } from './support/reference-voices.js';
import { startChatterboxServerStub, type ChatterboxServerStub } from './support/remote-stubs/chatterbox-server-stub.js';
import { startTestServer, type TestServer } from './support/server.js';
import { until } from './support/until.js';

const KEY = 'chatterbox-proxy-secret';

interface EngineHealth {
  id: string;
  ready: boolean;
  state?: string;
  reason?: string;
}

interface JobAnswer {
  status: string;
  output?: Record<string, unknown>;
  error?: unknown;
}

const bodyOf = (request: { body: Buffer }): Record<string, unknown> => JSON.parse(request.body.toString('utf8')) as Record<string, unknown>;

describe('Remote engine: Chatterbox-TTS-Server', () => {
  let remote: ChatterboxServerStub;
  let server: TestServer;
  let client: OpenAI;

  before(async () => {
    remote = await startChatterboxServerStub({ apiKey: KEY });
    const common = { kind: 'chatterbox-server', url: remote.stub.url, apiKey: KEY, probeIntervalMs: 100 };
    server = await startTestServer({
      CHORUS_REMOTE_ENGINES: JSON.stringify([
        { ...common, id: 'gpu-chatterbox', failureThreshold: 2 },
        { ...common, id: 'gpu-chatterbox-ml', model: 'chatterbox-multilingual', voices: ['Ghost.wav'] },
      ]),
    });
    client = new OpenAI({ apiKey: 'unused', baseURL: `${server.url}/v1`, maxRetries: 0 });
  });
  after(async () => {
    await server?.close();
    await remote?.stub.close();
  });

  const health = async (id: string): Promise<EngineHealth> => {
    const body = (await (await fetch(`${server.url}/health`)).json()) as { engines: EngineHealth[] };
    const engine = body.engines.find((entry) => entry.id === id);
    assert.ok(engine !== undefined, `${id} in /health`);
    return engine;
  };
  const runsync = async (endpoint: string, input: Record<string, unknown>): Promise<JobAnswer> => {
    const response = await fetch(`${server.url}/v2/${endpoint}/runsync`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ input }) });
    return (await response.json()) as JobAnswer;
  };
  const speak = (body: Record<string, unknown>) =>
    fetch(`${server.url}/v1/audio/speech`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ model: 'gpu-chatterbox', voice: 'Emily', response_format: 'wav', ...body }) });

  it('lists the server\'s predefined voices by filename, with their names and stems accepted', async () => {
    const listed = (await (await fetch(`${server.url}/v1/voices`)).json()) as { voices: { voice_id: string; name: string; engine: string; aliases?: string[] }[] };
    const mine = listed.voices.filter((voice) => voice.engine === 'gpu-chatterbox');
    assert.deepEqual(
      mine.map((voice) => voice.voice_id),
      ['gpu-chatterbox:Emily.wav', 'gpu-chatterbox:Michael.wav', 'gpu-chatterbox:Olivia.wav'],
    );
    assert.deepEqual(mine.map((voice) => voice.name), ['Emily', 'Michael', 'Olivia']);
    assert.deepEqual(mine[0]!.aliases, ['Emily']);
    // Listed from the server, plus the configured `voices` it does not have.
    assert.deepEqual(
      listed.voices.filter((voice) => voice.engine === 'gpu-chatterbox-ml').map((voice) => voice.voice_id),
      ['gpu-chatterbox-ml:Emily.wav', 'gpu-chatterbox-ml:Michael.wav', 'gpu-chatterbox-ml:Olivia.wav', 'gpu-chatterbox-ml:Ghost.wav'],
    );
    assert.equal((await health('gpu-chatterbox')).ready, true);
  });

  it('speaks through /tts in a predefined voice with the official OpenAI client: mp3, wav and opus out of one whole WAV', async () => {
    const before = remote.calls('/tts').length;
    for (const format of ['mp3', 'wav', 'opus'] as const) {
      const response = await client.audio.speech.create({ model: 'gpu-chatterbox', voice: 'Michael', input: `Hello from the Chatterbox server in ${format}.`, response_format: format });
      assert.equal(response.headers.get('x-chorus-engine'), 'gpu-chatterbox');
      const probe = probeAudio(new Uint8Array(await response.arrayBuffer()), format === 'opus' ? 'ogg' : format);
      assert.equal(probe.codec, format === 'wav' ? 'pcm_s16le' : format);
      assert.ok(probe.duration > 1, `${format} duration ${probe.duration}`);
    }
    const sent = remote.calls('/tts').slice(before);
    assert.equal(sent.length, 3);
    assert.equal(sent[0]!.headers.authorization, `Bearer ${KEY}`);
    assert.equal(sent[0]!.headers['content-type'], 'application/json');
    const body = bodyOf(sent[0]!);
    assert.deepEqual(body, { text: 'Hello from the Chatterbox server in mp3.', voice_mode: 'predefined', predefined_voice_id: 'Michael.wav', output_format: 'wav' });
  });

  it('sends speed as speed_factor and the engine options as /tts fields, checked against their ranges first', async () => {
    const before = remote.calls('/tts').length;
    const response = await speak({ input: 'Faster and more excited.', speed: 1.5, options: { exaggeration: 0.9, cfg_weight: 0.3, temperature: 0.6, seed: 42 } });
    assert.equal(response.status, 200, await response.clone().text());
    assert.ok(probeAudio(new Uint8Array(await response.arrayBuffer()), 'wav').duration > 0.5);
    const body = bodyOf(remote.calls('/tts')[before]!);
    assert.equal(body['speed_factor'], 1.5);
    assert.equal(body['seed'], 42);
    assert.equal(body['temperature'], 0.6);
    assert.equal(body['exaggeration'], 0.9);
    assert.equal(body['cfg_weight'], 0.3);
    assert.equal(body['predefined_voice_id'], 'Emily.wav');

    const refused = await speak({ input: 'Too much.', options: { exaggeration: 7 } });
    assert.equal(refused.status, 400);
    const error = (await refused.json()) as { error: { param: string; message: string } };
    assert.equal(error.error.param, 'exaggeration');
    assert.match(error.error.message, /from 0 to 3 for the gpu-chatterbox engine/);
  });

  it('serves a Chatterbox tts job (basic) on the remote, its exaggeration, cfg_weight and temperature reaching /tts', async () => {
    const before = remote.calls('/tts').length;
    const answer = await runsync('chatterbox-v2', {
      operation: 'tts',
      mode: 'basic',
      text: 'A Chatterbox job spoken on the graphics card.',
      engine: 'gpu-chatterbox',
      voice_name: 'Olivia',
      exaggeration: 0.7,
      cfg_weight: 0.4,
      temperature: 0.9,
    });
    assert.equal(answer.status, 'COMPLETED', JSON.stringify(answer).slice(0, 500));
    assert.equal(answer.output!['engine'], 'gpu-chatterbox');
    assert.equal(answer.output!['ignored_parameters'], undefined, 'the remote takes every knob');
    const probe = probeAudio(Buffer.from(String(answer.output!['audio']), 'base64'), 'wav');
    assert.ok(probe.duration > 1, `duration ${probe.duration}`);
    const body = bodyOf(remote.calls('/tts')[before]!);
    assert.equal(body['predefined_voice_id'], 'Olivia.wav');
    assert.equal(body['exaggeration'], 0.7);
    assert.equal(body['cfg_weight'], 0.4);
    assert.equal(body['temperature'], 0.9);
  });

  it('clones on the remote: voice_cloning uploads the reference once, every tts with the voice speaks it in clone mode', async () => {
    const reference = await fliteReference('This is the reference speaker, reading a few sentences so that there is enough speech to clone from.', 'awb');
    const uploadsBefore = remote.calls('/upload_reference').length;
    const ttsBefore = remote.calls('/tts').length;
    const cloned = await runsync('chatterbox-v2', { operation: 'voice_cloning', engine: 'gpu-chatterbox', voice_name: 'Remote Clone', reference_audio: reference.wav.toString('base64') });
    assert.equal(cloned.status, 'COMPLETED', JSON.stringify(cloned).slice(0, 500));
    const info = cloned.output!['voice_info'] as Record<string, unknown>;
    assert.equal(info['method'], 'zero_shot');
    assert.equal(info['engine'], 'gpu-chatterbox');
    assert.ok(probeAudio(Buffer.from(String(cloned.output!['sample_audio']), 'base64'), 'wav').duration > 1);

    for (const text of ['First sentence in the cloned voice.', 'Second sentence in the cloned voice.']) {
      const spoken = await runsync('chatterbox-v2', { operation: 'tts', mode: 'basic', text, voice_name: 'Remote Clone' });
      assert.equal(spoken.status, 'COMPLETED', JSON.stringify(spoken).slice(0, 500));
      assert.equal(spoken.output!['voice_method'], 'zero_shot');
      assert.equal(spoken.output!['engine'], 'gpu-chatterbox');
    }
    const openai = await speak({ voice: 'Remote Clone', input: 'And once more through the OpenAI route.' });
    assert.equal(openai.status, 200, await openai.clone().text());

    const uploads = remote.calls('/upload_reference').slice(uploadsBefore);
    assert.equal(uploads.length, 1, 'one upload for the sample, two jobs and a speech request');
    assert.match(String(uploads[0]!.headers['content-type']), /^multipart\/form-data; boundary=/);
    assert.equal(uploads[0]!.headers.authorization, `Bearer ${KEY}`);
    const [filename] = [...remote.referenceFiles.keys()];
    assert.match(filename!, /^chorus-[0-9a-f]{16}\.wav$/);
    const stored = probeAudio(remote.referenceFiles.get(filename!)!, 'wav');
    assert.ok(stored.duration > 4 && stored.duration < 30.1, `reference of ${stored.duration} s`);

    const clones = remote.calls('/tts').slice(ttsBefore).map(bodyOf);
    assert.equal(clones.length, 4);
    for (const body of clones) {
      assert.equal(body['voice_mode'], 'clone');
      assert.equal(body['reference_audio_filename'], filename);
      assert.equal(body['predefined_voice_id'], undefined);
    }
  });

  it('uploads the reference again when the server has lost it (404 on clone mode), then speaks', async () => {
    const reference = await fliteReference('Another reference speaker, with a few sentences of speech, enough to clone a voice from.', 'rms');
    const cloned = await runsync('chatterbox-v2', { operation: 'voice_cloning', engine: 'gpu-chatterbox', voice_name: 'Forgotten Clone', reference_audio: reference.wav.toString('base64') });
    assert.equal(cloned.status, 'COMPLETED', JSON.stringify(cloned).slice(0, 500));
    remote.referenceFiles.clear();
    const uploadsBefore = remote.calls('/upload_reference').length;
    const spoken = await runsync('chatterbox-v2', { operation: 'tts', mode: 'basic', text: 'Spoken after the server forgot the voice.', voice_name: 'Forgotten Clone' });
    assert.equal(spoken.status, 'COMPLETED', JSON.stringify(spoken).slice(0, 500));
    assert.equal(remote.calls('/upload_reference').length, uploadsBefore + 1);
    assert.equal(remote.referenceFiles.size, 1);
  });

  it('an inline reference_audio on tts is cloned through an upload too', async () => {
    const reference = await fliteReference('A one-off reference for a single request, long enough to clone.', 'slt');
    const uploadsBefore = remote.calls('/upload_reference').length;
    const spoken = await runsync('chatterbox-v2', { operation: 'tts', mode: 'basic', text: 'One request in a one-off voice.', engine: 'gpu-chatterbox', reference_audio: reference.wav.toString('base64') });
    assert.equal(spoken.status, 'COMPLETED', JSON.stringify(spoken).slice(0, 500));
    assert.equal(remote.calls('/upload_reference').length, uploadsBefore + 1);
    assert.equal(bodyOf(remote.calls('/tts').at(-1)!)['voice_mode'], 'clone');
  });

  it('passes the language on a multilingual server; English-only servers refuse another language', async () => {
    const before = remote.calls('/tts').length;
    const spoken = await speak({ model: 'gpu-chatterbox-ml', input: 'Bonjour tout le monde.', language: 'fr' });
    assert.equal(spoken.status, 200, await spoken.clone().text());
    assert.equal(bodyOf(remote.calls('/tts')[before]!)['language'], 'fr');
    const refused = await speak({ input: 'Bonjour.', language: 'fr' });
    assert.equal(refused.status, 400);
    assert.match(((await refused.json()) as { error: { message: string } }).error.message, /Unknown language 'fr' for the gpu-chatterbox engine/);
  });

  it('the server\'s own refusals (a voice file it does not have: 404 detail) fail the request with its words, the engine stays up', async () => {
    for (let attempt = 0; attempt < 3; attempt++) {
      const response = await speak({ model: 'gpu-chatterbox-ml', voice: 'Ghost', input: 'Nobody here.' });
      assert.equal(response.status, 500);
      const error = (await response.json()) as { error: { code: string; message: string } };
      assert.equal(error.error.code, 'engine_failed');
      assert.match(error.error.message, /gpu-chatterbox-ml.*answered 404: Predefined voice file 'Ghost\.wav' not found\./);
    }
    assert.equal((await health('gpu-chatterbox-ml')).ready, true);
  });

  it('a server with no model loaded (503) is the engine\'s failure: reported down, fast 503s, back once model-info says loaded', async () => {
    remote.modelLoaded = false;
    try {
      for (let attempt = 0; attempt < 2; attempt++) {
        const response = await speak({ input: 'No model.' });
        assert.equal(response.status, 500);
        assert.match(((await response.json()) as { error: { message: string } }).error.message, /answered 503: TTS engine model is not currently loaded/);
      }
      const down = await health('gpu-chatterbox');
      assert.equal(down.ready, false);
      assert.equal(down.state, 'down');
      const calls = remote.calls('/tts').length;
      const fast = await speak({ input: 'Fail fast.' });
      assert.equal(fast.status, 503);
      assert.equal(((await fast.json()) as { error: { code: string } }).error.code, 'engine_unavailable');
      assert.equal(remote.calls('/tts').length, calls, 'a down engine is not called');
      // The server answers its probes, but without a model it stays down.
      const probes = remote.calls('/api/model-info').length;
      await until(async () => remote.calls('/api/model-info').length >= probes + 2, 'two health probes');
      assert.equal((await health('gpu-chatterbox')).ready, false);
      assert.match(String((await health('gpu-chatterbox')).reason), /no model loaded/);
    } finally {
      remote.modelLoaded = true;
    }
    await until(async () => (await health('gpu-chatterbox')).ready, 'the probe to find the model loaded');
    const back = await speak({ input: 'Back again.' });
    assert.equal(back.status, 200, await back.clone().text());
  });
});
