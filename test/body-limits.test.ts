import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startTestServer, type TestServer } from './support/server.js';

const MB = 1024 * 1024;

/** A syntactically valid job body of about `bytes` bytes. */
function jobBody(bytes: number): string {
  const head = '{"input":{"text":"';
  const tail = '"}}';
  return head + 'a'.repeat(bytes - head.length - tail.length) + tail;
}

describe('RunPod body limits (defaults: /run 10 MB, /runsync 20 MB)', () => {
  let server: TestServer;
  before(async () => {
    server = await startTestServer({ CHORUS_WORKERS: '1' });
  });
  after(() => server.close());

  const post = (path: string, body: string) =>
    fetch(`${server.url}/v2/chatterbox/${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body });

  it('an 11 MB /run body is 413 with {"error": ...}', async () => {
    const response = await post('run', jobBody(11 * MB));
    assert.equal(response.status, 413);
    const body = (await response.json()) as { error: unknown };
    assert.equal(typeof body.error, 'string');
    assert.match(body.error as string, /exceeds/);
  });

  it('a 15 MB /runsync body passes the size limit (whatever validation then says)', async () => {
    const response = await post('runsync?wait=1000', jobBody(15 * MB));
    assert.notEqual(response.status, 413);
    assert.ok(response.status === 200 || response.status === 400, `status ${response.status}`);
    const body = (await response.json()) as Record<string, unknown>;
    if (response.status === 200) {
      // Accepted: the job runs; cancel it so it does not hold the engine.
      await fetch(`${server.url}/v2/chatterbox/cancel/${String(body['id'])}`, { method: 'POST' });
    } else {
      assert.equal(typeof body['error'], 'string');
    }
  });

  it('a 9 MB /run body passes the /run limit', async () => {
    const response = await post('run', jobBody(9 * MB));
    assert.notEqual(response.status, 413);
    const body = (await response.json()) as Record<string, unknown>;
    if (response.status === 200) await fetch(`${server.url}/v2/chatterbox/cancel/${String(body['id'])}`, { method: 'POST' });
  });
});
