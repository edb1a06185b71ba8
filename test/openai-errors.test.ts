import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import OpenAI from 'openai';
import { startTestServer, type TestServer } from './support/server.js';

interface ErrorBody {
  error: { message: string; type: string; param: string | null; code: string | null };
}

describe('OpenAI API: bad input gets the documented status and an error naming the field', () => {
  let server: TestServer;
  before(async () => {
    server = await startTestServer({ CHORUS_API_KEYS: 'key-one,key-two', CHORUS_MAX_REQUEST_BYTES: '65536' });
  });
  after(() => server.close());

  async function post(body: unknown, options: { raw?: boolean; key?: string | null; path?: string } = {}) {
    const headers: Record<string, string> = { 'content-type': 'application/json' };
    if (options.key !== null) headers['authorization'] = `Bearer ${options.key ?? 'key-one'}`;
    const response = await fetch(`${server.url}${options.path ?? '/v1/audio/speech'}`, {
      method: 'POST',
      headers,
      body: options.raw ? (body as string) : JSON.stringify(body),
    });
    const text = await response.text();
    return { status: response.status, body: JSON.parse(text) as ErrorBody, headers: response.headers };
  }

  const valid = { model: 'tts-1', input: 'Hello there.', voice: 'alloy' };
  const cases: { name: string; body: unknown; raw?: boolean; path?: string; status: number; param: string | null; code?: string; mentions?: RegExp }[] = [
    { name: 'empty input', body: { ...valid, input: '' }, status: 400, param: 'input', mentions: /at least 1/ },
    { name: 'input over 4096 characters', body: { ...valid, input: 'a'.repeat(4097) }, status: 400, param: 'input', code: 'string_above_max_length', mentions: /4096/ },
    { name: 'missing input', body: { model: 'tts-1', voice: 'alloy' }, status: 400, param: 'input', code: 'missing_required_parameter' },
    { name: 'missing voice', body: { model: 'tts-1', input: 'Hi' }, status: 400, param: 'voice', code: 'missing_required_parameter' },
    { name: 'unknown voice', body: { ...valid, voice: 'Zorg' }, status: 400, param: 'voice', code: 'voice_not_found', mentions: /Aaron/ },
    { name: 'unknown voice id object', body: { ...valid, voice: { id: 'nobody' } }, status: 400, param: 'voice', code: 'voice_not_found' },
    { name: 'unknown format', body: { ...valid, response_format: 'ogg' }, status: 400, param: 'response_format', mentions: /mp3, opus, aac, flac, wav, pcm/ },
    { name: 'speed too low', body: { ...valid, speed: 0.1 }, status: 400, param: 'speed', mentions: /0\.25 to 4/ },
    { name: 'speed too high', body: { ...valid, speed: 5 }, status: 400, param: 'speed', mentions: /0\.25 to 4/ },
    { name: 'speed of the wrong type', body: { ...valid, speed: 'fast' }, status: 400, param: 'speed', code: 'invalid_type', mentions: /number/ },
    { name: 'input of the wrong type', body: { ...valid, input: 42 }, status: 400, param: 'input', code: 'invalid_type' },
    { name: 'pitch out of range', body: { ...valid, pitch_shift: 13 }, status: 400, param: 'pitch_shift', mentions: /-12 to 12/ },
    { name: 'sample rate out of range', body: { ...valid, sample_rate: 96000 }, status: 400, param: 'sample_rate', mentions: /8000 to 48000/ },
    { name: 'unknown model', body: { ...valid, model: 'whisper-1' }, status: 400, param: 'model', mentions: /tts-1/ },
    { name: 'unknown language', body: { ...valid, language: 'klingon' }, status: 400, param: 'language' },
    { name: 'malformed JSON', body: '{"model": "tts-1", "input": ', raw: true, status: 400, param: null, code: 'invalid_json' },
    { name: 'a JSON array instead of an object', body: [1, 2], status: 400, param: null, code: 'invalid_json' },
    { name: 'extended: temperature out of range', body: { input: 'Hi', temperature: 1.5 }, path: '/v1/audio/speech/extended', status: 400, param: 'temperature', mentions: /0\.1 to 1/ },
    { name: 'extended: chunk_length out of range', body: { input: 'Hi', chunk_length: 50 }, path: '/v1/audio/speech/extended', status: 400, param: 'chunk_length', mentions: /100 to 300/ },
    { name: 'body over the size limit', body: { ...valid, input: 'a'.repeat(70000) }, status: 413, param: null },
  ];

  for (const testCase of cases) {
    it(`${testCase.name} → ${testCase.status}`, async () => {
      const { status, body } = await post(testCase.body, { raw: testCase.raw ?? false, ...(testCase.path ? { path: testCase.path } : {}) });
      assert.equal(status, testCase.status);
      assert.deepEqual(Object.keys(body.error).sort(), ['code', 'message', 'param', 'type']);
      assert.equal(body.error.param, testCase.param);
      assert.equal(body.error.type, 'invalid_request_error');
      if (testCase.code) assert.equal(body.error.code, testCase.code);
      if (testCase.mentions) assert.match(body.error.message, testCase.mentions);
    });
  }

  it('4096 characters are accepted', async () => {
    const response = await fetch(`${server.url}/v1/audio/speech`, {
      method: 'POST',
      headers: { authorization: 'Bearer key-two', 'content-type': 'application/json' },
      body: JSON.stringify({ ...valid, input: 'word '.repeat(819) + 'a', response_format: 'pcm' }),
    });
    assert.equal(response.status, 200);
    assert.ok((await response.arrayBuffer()).byteLength > 100_000);
  });

  it('a missing or wrong key gets 401 invalid_api_key; /health needs no key', async () => {
    for (const key of [null, 'wrong-key']) {
      const { status, body } = await post(valid, { key });
      assert.equal(status, 401);
      assert.equal(body.error.code, 'invalid_api_key');
      assert.equal(body.error.param, null);
    }
    const health = await fetch(`${server.url}/health`);
    assert.equal(health.status, 200);
    const voices = await fetch(`${server.url}/v1/voices`);
    assert.equal(voices.status, 401);
  });

  it('the openai client raises the matching error classes', async () => {
    const client = new OpenAI({ apiKey: 'key-one', baseURL: `${server.url}/v1`, maxRetries: 0 });
    await assert.rejects(client.audio.speech.create({ model: 'tts-1', voice: 'alloy', input: 'Hi', speed: 9 }), (error: unknown) => {
      assert.ok(error instanceof OpenAI.BadRequestError);
      assert.equal(error.param, 'speed');
      return true;
    });
    const wrong = new OpenAI({ apiKey: 'nope', baseURL: `${server.url}/v1`, maxRetries: 0 });
    await assert.rejects(wrong.audio.speech.create({ model: 'tts-1', voice: 'alloy', input: 'Hi' }), OpenAI.AuthenticationError);
  });

  it('the server stays up and answers correctly after all of the above', async () => {
    const response = await fetch(`${server.url}/v1/audio/speech`, {
      method: 'POST',
      headers: { authorization: 'Bearer key-one', 'content-type': 'application/json' },
      body: JSON.stringify({ ...valid, response_format: 'wav' }),
    });
    assert.equal(response.status, 200);
    assert.equal(Buffer.from(await response.arrayBuffer()).subarray(0, 4).toString(), 'RIFF');
  });
});

describe('aac without ffmpeg', () => {
  let server: TestServer;
  before(async () => {
    server = await startTestServer({ CHORUS_FFMPEG_PATH: '/nonexistent/ffmpeg' });
  });
  after(() => server.close());

  it('answers 400 naming the formats that are available', async () => {
    const response = await fetch(`${server.url}/v1/audio/speech`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'tts-1', voice: 'alloy', input: 'Hi', response_format: 'aac' }),
    });
    assert.equal(response.status, 400);
    const body = (await response.json()) as ErrorBody;
    assert.equal(body.error.param, 'response_format');
    assert.match(body.error.message, /mp3, opus, flac, wav, pcm/);
    const health = (await (await fetch(`${server.url}/health`)).json()) as { formats: string[] };
    assert.ok(!health.formats.includes('aac'));
  });
});
