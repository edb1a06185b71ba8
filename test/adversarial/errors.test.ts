import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { get as httpGet } from 'node:http';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Logger } from '../../src/util/logger.js';
import { startTestRedis, type TestRedis } from '../support/redis.js';
import { formantSynthReference, wavBytes } from '../support/reference-voices.js';
import { startTestServer, type TestServer } from '../support/server.js';

type OpenAIError = { error: { message: string; type: string; param: string | null; code: string | null } };

/** Names that are properties of every plain object: a table read with `[name]` or `in` finds them. */
const PROTOTYPE_NAMES = ['constructor', '__proto__', 'toString', 'hasOwnProperty'] as const;

/** `[[[…]]]` nested `depth` levels deep around `leaf`. */
function nested(depth: number, leaf = '1'): string {
  return '['.repeat(depth) + leaf + ']'.repeat(depth);
}

/** `{"a":{"a":…}}` nested `depth` levels deep. */
function nestedObject(depth: number): string {
  return '{"a":'.repeat(depth) + '1' + '}'.repeat(depth);
}

describe('adversarial: the OpenAI-compatible API answers 4xx, never 500', () => {
  let server: TestServer;
  before(async () => {
    server = await startTestServer({ CHORUS_RATE_LIMIT_RPS: '0' });
  });
  after(() => server.close());

  const postJson = (path: string, body: string) =>
    fetch(`${server.url}${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
  const openAIError = async (response: Response): Promise<OpenAIError['error']> => {
    const body = (await response.json()) as OpenAIError;
    assert.deepEqual(Object.keys(body.error).sort(), ['code', 'message', 'param', 'type']);
    return body.error;
  };

  it('voice names that are Object.prototype properties are unknown voices (400 voice_not_found naming voice)', async () => {
    for (const path of ['/v1/audio/speech', '/v1/audio/speech/extended']) {
      for (const name of PROTOTYPE_NAMES) {
        for (const voice of [name, { id: name }]) {
          const response = await postJson(path, JSON.stringify({ model: 'tts-1', input: 'Hello.', voice, response_format: 'wav' }));
          const error = await openAIError(response);
          assert.equal(response.status, 400, `${path} ${JSON.stringify(voice)}: ${error.message}`);
          assert.equal(error.code, 'voice_not_found');
          assert.equal(error.param, 'voice');
        }
        const model = await postJson(path, JSON.stringify({ model: name, input: 'Hello.', voice: 'alloy' }));
        assert.equal(model.status, 400);
        assert.equal((await openAIError(model)).code, 'model_not_found');
      }
    }
  });

  it('a reference may be called "constructor"; deleting prototype-named references that do not exist is 404', async () => {
    for (const name of PROTOTYPE_NAMES) {
      const response = await fetch(`${server.url}/v1/references/${name}`, { method: 'DELETE' });
      const error = await openAIError(response);
      assert.equal(response.status, 404, `DELETE ${name}: ${error.message}`);
      assert.equal(error.param, 'reference_id');
    }
    const synth = formantSynthReference({ f0Hz: 180, seconds: 6, sampleRate: 16000 });
    const form = new FormData();
    form.set('id', 'constructor');
    form.set('text', 'A reference with an unlucky name.');
    form.set('audio', new Blob([wavBytes(synth.samples, synth.sampleRate)], { type: 'audio/wav' }));
    const added = await fetch(`${server.url}/v1/references/add`, { method: 'POST', body: form });
    assert.equal(added.status, 200, await added.clone().text());
    const speech = await postJson('/v1/audio/speech', JSON.stringify({ model: 'tts-1', input: 'Hello.', voice: 'constructor', response_format: 'wav' }));
    assert.equal(speech.status, 200, await speech.clone().text());
    assert.equal((await fetch(`${server.url}/v1/references/constructor`, { method: 'DELETE' })).status, 200);
    assert.equal((await fetch(`${server.url}/v1/references/constructor`, { method: 'DELETE' })).status, 404);

    const proto = new FormData();
    proto.set('id', '__proto__');
    proto.set('audio', new Blob([wavBytes(synth.samples, synth.sampleRate)], { type: 'audio/wav' }));
    const refused = await fetch(`${server.url}/v1/references/add`, { method: 'POST', body: proto });
    const error = await openAIError(refused);
    assert.ok(refused.status >= 400 && refused.status < 500, `__proto__ as an id: ${refused.status} ${error.message}`);
    assert.equal(error.param, 'id');
  });

  it('DELETE /v1/references/%25 decodes the id once: an unknown reference named "%" is 404', async () => {
    for (const encoded of ['%25', '%2525', '100%25', '%25E0%25A4%25A']) {
      const response = await fetch(`${server.url}/v1/references/${encoded}`, { method: 'DELETE' });
      const error = await openAIError(response);
      assert.equal(response.status, 404, `${encoded}: ${error.message}`);
      assert.ok(error.message.includes(`'${decodeURIComponent(encoded)}'`), error.message);
    }
  });

  it('JSON nested deeper than the limit is a 400 naming the limit; the server stays up', async () => {
    for (const path of ['/v1/audio/speech', '/v1/audio/speech/extended']) {
      for (const deep of [
        `{"model":"tts-1","voice":"alloy","input":${nested(10_000)}}`,
        `{"model":"tts-1","voice":"alloy","input":${nestedObject(10_000)}}`,
        `{"model":"tts-1","input":"Hello.","voice":"alloy","extra":{"a":${nested(65)}}}`,
      ]) {
        const response = await postJson(path, deep);
        const error = await openAIError(response);
        assert.equal(response.status, 400, `${path}: ${error.message}`);
        assert.match(error.message, /nested more than 64 levels/);
        assert.equal(error.code, 'invalid_json');
      }
    }
    // Brackets inside strings are text, not nesting.
    const text = `Brackets ${'[{'.repeat(200)} are just characters here.`;
    const fine = await postJson('/v1/audio/speech', JSON.stringify({ model: 'tts-1', input: text, voice: 'alloy', response_format: 'wav' }));
    assert.equal(fine.status, 200, await fine.clone().text());
    const health = await fetch(`${server.url}/health`);
    assert.equal(health.status, 200);
  });
});

describe('adversarial: every 5xx is logged with its cause', () => {
  let server: TestServer;
  const lines: { level: string; message: string; fields: Record<string, unknown> }[] = [];
  const record = (level: string) => (message: string, fields: Record<string, unknown> = {}) => void lines.push({ level, message, fields });
  const logger: Logger = { debug: record('debug'), info: record('info'), warn: record('warn'), error: record('error') };

  before(async () => {
    server = await startTestServer({ CHORUS_RATE_LIMIT_RPS: '0' }, { logger });
  });
  after(() => server.close());

  it('a failing voice store makes a 500 on /v1 and on /v2; each is logged with the store\'s own error and stack', async () => {
    // A real internal failure, no fake: the voice database is overwritten under the running server,
    // so the next lookup of a user voice fails inside SQLite.
    writeFileSync(join(server.dataDir, 'voices.sqlite'), Buffer.alloc(8192, 7));
    const requests: [string, unknown][] = [
      ['/v1/audio/speech', { model: 'tts-1', input: 'Hello.', voice: 'somebody' }],
      ['/v2/spark-tts/run', { input: { text: 'Hello.', voice_name: 'somebody' } }],
    ];
    for (const [path, body] of requests) {
      lines.length = 0;
      const response = await fetch(`${server.url}${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
      assert.ok(response.status >= 500, `${path}: ${response.status} ${await response.text()}`);
      const logged = lines.filter((line) => line.level === 'error' && line.fields['path'] === path);
      assert.equal(logged.length, 1, `${path} logged once as an error: ${JSON.stringify(lines)}`);
      const fields = JSON.stringify(logged[0]!.fields);
      assert.equal(logged[0]!.fields['status'], response.status);
      assert.match(fields, /not a database|malformed|SQLITE/i, `the store's own error is in the log: ${fields}`);
      assert.match(fields, /sqlite/i);
      assert.match(fields, /\\n\s+at /, `a stack trace is in the log: ${fields}`);
    }
  });
});

describe('adversarial: failed authentication is rate limited per client address', () => {
  const GOOD = 'good-key';
  /** GET /v1/voices from another loopback address (all of 127/8 is this machine on Linux). */
  const attemptFrom = (localAddress: string, server: TestServer, key: string) =>
    new Promise<{ status: number }>((resolve, reject) => {
      const request = httpGet(`${server.url}/v1/voices`, { localAddress, headers: { authorization: `Bearer ${key}` } }, (response) => {
        response.resume();
        response.on('end', () => resolve({ status: response.statusCode ?? 0 }));
      });
      request.on('error', reject);
    });
  const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
  const attempt = (server: TestServer, api: 'v1' | 'v2', key: string | null) =>
    fetch(`${server.url}${api === 'v1' ? '/v1/voices' : '/v2/chatterbox/health'}`, { headers: key === null ? {} : { authorization: `Bearer ${key}` } });

  describe('one server', () => {
    let server: TestServer;
    before(async () => {
      server = await startTestServer({ CHORUS_API_KEYS: GOOD });
    });
    after(() => server.close());

    it('10 failures a minute are 401; then 429 with Retry-After in each API\'s shape for every request from the address, a valid key too, until it has passed; other addresses are not affected', async () => {
      for (let i = 0; i < 10; i++) {
        const response = await attempt(server, i % 2 === 0 ? 'v1' : 'v2', i % 3 === 0 ? null : `guess-${i}`);
        assert.equal(response.status, 401, `attempt ${i + 1}`);
      }
      const v1 = await attempt(server, 'v1', 'guess-11');
      assert.equal(v1.status, 429);
      assert.ok(Number(v1.headers.get('retry-after')) >= 1, `retry-after ${v1.headers.get('retry-after')}`);
      const error = ((await v1.json()) as OpenAIError).error;
      assert.equal(error.code, 'rate_limit_exceeded');
      assert.match(error.message, /failed authentication attempts.*10 a minute/i);
      const v2 = await attempt(server, 'v2', null);
      assert.equal(v2.status, 429);
      assert.ok(Number(v2.headers.get('retry-after')) >= 1);
      assert.match(((await v2.json()) as { error: string }).error, /failed authentication attempts/i);
      // Answering a valid key now would tell a guesser which guess was right.
      assert.equal((await attempt(server, 'v1', GOOD)).status, 429, 'a blocked address learns nothing about its keys');
      assert.equal((await attempt(server, 'v2', GOOD)).status, 429, 'a blocked address learns nothing about its keys');
      assert.equal((await attemptFrom('127.0.0.2', server, GOOD)).status, 200, 'another address is not blocked');
      assert.equal((await attemptFrom('127.0.0.2', server, 'guess-from-elsewhere')).status, 401, "another address has its own budget");
      const blocked = await attempt(server, 'v1', GOOD);
      await sleep(Number(blocked.headers.get('retry-after')) * 1000);
      assert.equal((await attempt(server, 'v1', GOOD)).status, 200, 'once Retry-After has passed a valid key works again');
    });
  });

  describe('two API processes sharing Redis', () => {
    let redis: TestRedis;
    let first: TestServer;
    let second: TestServer;
    before(async () => {
      redis = await startTestRedis();
      const env = { CHORUS_API_KEYS: GOOD, CHORUS_REDIS_URL: redis.url, CHORUS_REDIS_PREFIX: 'auth-shared', CHORUS_AUTH_FAILURES_PER_MINUTE: '4', CHORUS_WORKERS: '1' };
      first = await startTestServer(env);
      second = await startTestServer(env);
    });
    after(async () => {
      await first?.close();
      await second?.close();
      await redis?.close();
    });

    it('failures counted by one process block the address on the other; CHORUS_AUTH_FAILURES_PER_MINUTE sets the budget', async () => {
      for (let i = 0; i < 4; i++) assert.equal((await attempt(first, 'v2', `guess-${i}`)).status, 401);
      assert.equal((await attempt(second, 'v1', 'guess-5')).status, 429);
      assert.equal((await attempt(second, 'v1', GOOD)).status, 429);
    });
  });

  describe('turned off', () => {
    let server: TestServer;
    before(async () => {
      server = await startTestServer({ CHORUS_API_KEYS: GOOD, CHORUS_AUTH_FAILURES_PER_MINUTE: '0' });
    });
    after(() => server.close());

    it('with CHORUS_AUTH_FAILURES_PER_MINUTE=0 every failure is a 401', async () => {
      for (let i = 0; i < 15; i++) assert.equal((await attempt(server, 'v2', `guess-${i}`)).status, 401);
    });
  });
});
