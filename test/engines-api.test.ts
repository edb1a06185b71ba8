import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import OpenAI from 'openai';
import { probeAudio } from './support/ffprobe.js';
import { startTestServer, type TestServer } from './support/server.js';

/** Engine selection as clients see it: `model`, `/v1/models`, `<engine>:<voice>`, and the job APIs' `engine` input. */
describe('Engine selection through the APIs', () => {
  let server: TestServer;
  let client: OpenAI;

  before(async () => {
    server = await startTestServer();
    client = new OpenAI({ apiKey: 'unused', baseURL: `${server.url}/v1`, maxRetries: 0 });
  });
  after(() => server.close());

  it('lists every engine and the names of the default engine in OpenAI\'s list shape, and one model by id', async () => {
    const ids: string[] = [];
    for await (const model of client.models.list()) {
      ids.push(model.id);
      assert.equal(model.object, 'model');
      assert.equal(typeof model.created, 'number');
      assert.equal(model.owned_by, 'chorus');
    }
    for (const id of ['espeak', 'tts-1', 'tts-1-hd', 'gpt-4o-mini-tts']) assert.ok(ids.includes(id), `${id} in ${ids.join(', ')}`);
    const espeak = (await client.models.retrieve('espeak')) as unknown as Record<string, unknown>;
    assert.equal(espeak['ready'], true);
    assert.equal(espeak['default'], true);
    assert.ok((espeak['voices'] as number) > 30);
    assert.ok((espeak['languages'] as string[]).includes('en-US'));
    const capabilities = espeak['capabilities'] as Record<string, unknown>;
    assert.equal(capabilities['word_timings'], 'engine');
    assert.equal(capabilities['cloning'], 'none');
    const alias = (await client.models.retrieve('tts-1')) as unknown as Record<string, unknown>;
    assert.equal(alias['alias_of'], 'espeak');
    await assert.rejects(client.models.retrieve('no-such-model'), (error: unknown) => {
      assert.ok(error instanceof OpenAI.BadRequestError);
      assert.equal(error.param, 'model');
      assert.equal(error.code, 'model_not_found');
      return true;
    });
  });

  it('picks the engine with `model`, takes `<engine>:<voice>` and BCP-47 languages, and refuses an unknown model naming what exists', async () => {
    const response = await client.audio.speech.create({ model: 'espeak', voice: 'espeak:Aaron', input: 'Hello from the engine by name.', response_format: 'wav', language: 'en-GB' } as never);
    assert.equal(response.headers.get('x-chorus-engine'), 'espeak');
    assert.equal(probeAudio(new Uint8Array(await response.arrayBuffer()), 'wav').codec, 'pcm_s16le');
    await assert.rejects(client.audio.speech.create({ model: 'kokoro-none', voice: 'alloy', input: 'Hi.' }), (error: unknown) => {
      assert.ok(error instanceof OpenAI.BadRequestError);
      assert.equal(error.param, 'model');
      assert.match(error.message, /Available models: .*espeak.*tts-1/);
      return true;
    });
    const ignored = await client.audio.speech.create({ model: 'tts-1', voice: 'alloy', input: 'Hi.', options: { exaggeration: 0.5 } } as never);
    assert.match(String(ignored.headers.get('x-chorus-warnings')), /exaggeration/, 'a knob eSpeak does not declare is reported ignored');
    await ignored.arrayBuffer();
  });

  it('shows each voice\'s engine in /v1/voices', async () => {
    const body = (await (await fetch(`${server.url}/v1/voices`)).json()) as { voices: { voice_id: string; engine: string }[] };
    assert.ok(body.voices.length > 30);
    assert.ok(body.voices.every((voice) => voice.engine === 'espeak'));
    assert.ok(body.voices.some((voice) => voice.voice_id === 'Aaron'), 'the default engine keeps bare names');
  });

  it('takes `engine` (and `model`) on the job APIs; an unknown engine is a FAILED job naming it', async () => {
    const runsync = async (endpoint: string, input: Record<string, unknown>) =>
      (await (await fetch(`${server.url}/v2/${endpoint}/runsync`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ input }) })).json()) as {
        status: string;
        error?: string;
        output?: Record<string, unknown>;
      };
    const spoken = await runsync('chatterbox', { text: 'Spoken by the engine named in the input.', engine: 'espeak', format: 'wav' });
    assert.equal(spoken.status, 'COMPLETED', JSON.stringify(spoken));
    const synonym = await runsync('spark-tts', { text: 'Model as a synonym.', model: 'espeak' });
    assert.equal(synonym.status, 'COMPLETED', JSON.stringify(synonym));
    for (const [endpoint, input, field] of [
      ['chatterbox', { text: 'Nobody speaks.', engine: 'kokoro-none' }, 'engine'],
      ['spark-tts', { text: 'Nobody speaks.', model: 'kokoro-none' }, 'model'],
      ['chatterbox-v2', { operation: 'tts', mode: 'basic', text: 'Nobody speaks.', engine: 'kokoro-none' }, 'engine'],
    ] as const) {
      const refused = await runsync(endpoint, input);
      assert.equal(refused.status, 'FAILED', `${endpoint}: ${JSON.stringify(refused)}`);
      assert.match(String(refused.error), /Engine 'kokoro-none' is not loaded here\. Available engines: espeak/);
      assert.ok(String(refused.error).length > 0, field);
    }
  });
});
