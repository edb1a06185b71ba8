import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startTestServer, type TestServer } from './support/server.js';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('per-key rate limits (burst 5, one request per 2 s)', () => {
  let server: TestServer;
  const KEYS = ['limit-key-1', 'limit-key-2'];

  before(async () => {
    server = await startTestServer({ CHORUS_API_KEYS: KEYS.join(','), CHORUS_RATE_LIMIT_RPS: '0.5', CHORUS_RATE_LIMIT_BURST: '5' });
  });
  after(() => server.close());

  const get = (path: string, key: string) => fetch(`${server.url}${path}`, { headers: { authorization: `Bearer ${key}` } });

  it('/v2: a burst beyond the bucket gets 429 {"error"} with Retry-After; other keys, polling and /health are unaffected; it recovers', async () => {
    const statuses: number[] = [];
    for (let i = 0; i < 5; i++) statuses.push((await get('/v2/chatterbox', KEYS[0]!)).status);
    assert.deepEqual(statuses, [200, 200, 200, 200, 200], 'the whole burst is allowed');
    // The next request or so is refused (a slow machine may have earned one more token meanwhile).
    let limited = await get('/v2/chatterbox', KEYS[0]!);
    if (limited.status === 200) limited = await get('/v2/chatterbox', KEYS[0]!);
    assert.equal(limited.status, 429);
    const retryAfter = Number(limited.headers.get('retry-after'));
    assert.ok(Number.isInteger(retryAfter) && retryAfter >= 1, `Retry-After ${limited.headers.get('retry-after')}`);
    const body = (await limited.json()) as { error: unknown };
    assert.equal(typeof body.error, 'string');
    assert.match(body.error as string, /rate limit/i);

    assert.equal((await get('/v2/chatterbox', KEYS[1]!)).status, 200, 'another key has its own bucket');
    // Job polling is exempt: runpod-sdk's stream() polls in a loop with no delay.
    for (let i = 0; i < 8; i++) {
      assert.equal((await get('/v2/chatterbox/health', KEYS[0]!)).status, 200, 'health polling is not limited');
      assert.equal((await get('/v2/chatterbox/status/unknown-job', KEYS[0]!)).status, 404, 'status polling is not limited');
    }
    assert.equal((await fetch(`${server.url}/health`)).status, 200, '/health is not limited');

    await sleep(retryAfter * 1000);
    assert.equal((await get('/v2/chatterbox', KEYS[0]!)).status, 200, 'recovered after Retry-After');
  });

  it('/v1: 429 in the OpenAI envelope with code rate_limit_exceeded', async () => {
    let limited: Response | undefined;
    for (let i = 0; i < 10 && limited === undefined; i++) {
      const response = await get('/v1/models', KEYS[1]!);
      if (response.status === 429) limited = response;
      else assert.equal(response.status, 200);
    }
    assert.ok(limited, 'a 429 within 10 quick requests');
    assert.ok(Number(limited.headers.get('retry-after')) >= 1);
    const body = (await limited.json()) as { error: { message: string; type: string; param: unknown; code: string } };
    assert.equal(body.error.code, 'rate_limit_exceeded');
    assert.equal(body.error.param, null);
    assert.equal(typeof body.error.type, 'string');
  });
});

describe('rate limits without API keys: per client address; 0 turns them off', () => {
  it('limits by address when keys are off', async () => {
    const server = await startTestServer({ CHORUS_RATE_LIMIT_RPS: '0.2', CHORUS_RATE_LIMIT_BURST: '2' });
    try {
      const statuses: number[] = [];
      for (let i = 0; i < 3; i++) statuses.push((await fetch(`${server.url}/v1/models`)).status);
      assert.deepEqual(statuses, [200, 200, 429]);
    } finally {
      await server.close();
    }
  });

  it('CHORUS_RATE_LIMIT_RPS=0 disables the limit', async () => {
    const server = await startTestServer({ CHORUS_RATE_LIMIT_RPS: '0', CHORUS_RATE_LIMIT_BURST: '1' });
    try {
      for (let i = 0; i < 20; i++) assert.equal((await fetch(`${server.url}/v1/models`)).status, 200);
    } finally {
      await server.close();
    }
  });
});
