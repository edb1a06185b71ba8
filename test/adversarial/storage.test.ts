// Storage failing under a running server: a data directory that stops being writable, a Redis that
// stops answering. The server stays up, answers in each API's error shape within a deadline, loses
// nothing, and works again once the storage does.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import OpenAI from 'openai';
import { probeAudio } from '../support/ffprobe.js';
import { startChorusProcess, type ChorusProcess } from '../support/process.js';
import { startTestRedis, type TestRedis } from '../support/redis.js';
import { fliteReference } from '../support/reference-voices.js';

type Body = Record<string, any>;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const LONG_TEXT = Array.from({ length: 80 }, (_, i) => `Sentence number ${i + 1} keeps the engine busy for a while.`).join(' ').slice(0, 5000);
const post = (url: string, path: string, body: unknown): Promise<Response> =>
  fetch(`${url}${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });

/** Collects a child's stderr and resolves when a line matches (rejects if it exits first or after `timeoutMs`). */
function logWatcher(server: ChorusProcess): { log: () => string; waitFor(pattern: RegExp, timeoutMs: number): Promise<void> } {
  let log = '';
  server.child.stderr!.on('data', (chunk: Buffer) => (log += chunk.toString()));
  return {
    log: () => log,
    async waitFor(pattern, timeoutMs) {
      const deadline = Date.now() + timeoutMs;
      while (!pattern.test(log)) {
        if (server.child.exitCode !== null || server.child.signalCode !== null) throw new Error(`the server exited (${server.child.exitCode ?? server.child.signalCode}); log: ${log.slice(-3000)}`);
        if (Date.now() > deadline) throw new Error(`no log line ${pattern} in ${timeoutMs} ms; log: ${log.slice(-3000)}`);
        await sleep(50);
      }
    },
  };
}

describe('the data directory stops being writable under a running server', () => {
  // root ignores file modes, so as root the directory is made immutable instead (chattr +i: writes,
  // new files and SQLite's lock directory fail with EPERM, as a read-only mount would refuse them);
  // the server runs as the test runner, wherever the checkout is.
  const asRoot = process.getuid?.() === 0;
  const dataDir = mkdtempSync(join(tmpdir(), 'chorus-readonly-'));
  const readOnly = (): void => void execFileSync(asRoot ? 'chattr' : 'chmod', ['-R', asRoot ? '+i' : 'a-w', dataDir]);
  const writable = (): void => void execFileSync(asRoot ? 'chattr' : 'chmod', ['-R', asRoot ? '-i' : 'u+w', dataDir]);
  let server: ChorusProcess;
  let watcher: ReturnType<typeof logWatcher>;

  before(async () => {
    server = await startChorusProcess({ CHORUS_DATA_DIR: dataDir, CHORUS_LOG_LEVEL: 'warn' });
    watcher = logWatcher(server);
  });
  after(async () => {
    await server?.kill();
    writable();
    rmSync(dataDir, { recursive: true, force: true });
  });

  const assertStorageUnavailable = async (response: Response, shape: 'openai' | 'job'): Promise<void> => {
    const body = (await response.json()) as Body;
    assert.equal(response.status, 503, JSON.stringify(body));
    assert.ok(response.headers.get('retry-after'), 'retry-after');
    const message: string = shape === 'openai' ? body['error']['message'] : body['error'];
    if (shape === 'openai') assert.equal(body['error']['code'], 'storage_unavailable');
    assert.ok(message.includes(dataDir), `names the directory: ${message}`);
    assert.match(message, /retry/i);
    assert.doesNotMatch(message, /SQLite3Error|\n\s+at /);
  };

  it('while it is read-only: speech is still served (cache skipped), writes answer 503 storage_unavailable naming it, the server stays up', async () => {
    readOnly();
    // The result cache has not made its folder yet: it cannot, and the answer comes without it.
    const speech = await post(server.url, '/v1/audio/speech', { model: 'tts-1', voice: 'alloy', input: 'Served without a cache.', response_format: 'wav' });
    assert.equal(speech.status, 200, await speech.clone().text());
    assert.equal(speech.headers.get('x-cache'), 'MISS');
    assert.ok(probeAudio(Buffer.from(await speech.arrayBuffer()), 'wav').decodedDuration > 0.5);

    await assertStorageUnavailable(await post(server.url, '/v2/chatterbox-v2/run', { input: { operation: 'tts', mode: 'basic', text: 'Not now.' } }), 'job');
    await assertStorageUnavailable(await post(server.url, '/v2/chatterbox/runsync', { input: { text: 'Not now either.' } }), 'job');
    const reference = await fliteReference('This is my voice, recorded for the library. It is long enough to be measured properly.', 'slt');
    const form = new FormData();
    form.set('id', 'readonly-voice');
    form.set('text', 'This is my voice.');
    form.set('audio', new Blob([reference.wav], { type: 'audio/wav' }));
    await assertStorageUnavailable(await fetch(`${server.url}/v1/references/add`, { method: 'POST', body: form }), 'openai');
    assert.equal((await fetch(`${server.url}/health`)).status, 200);

    writable();
    const again = (await (await post(server.url, '/v2/chatterbox/runsync', { input: { text: 'Writable again.' } })).json()) as Body;
    assert.equal(again['status'], 'COMPLETED', JSON.stringify(again).slice(0, 300));
  });

  it('a job whose end cannot be recorded is kept and completes once the directory is writable again; the process never exits', async () => {
    writable();
    const submitted = (await (await post(server.url, '/v2/chatterbox-v2/run', { input: { operation: 'tts', mode: 'basic', text: LONG_TEXT } })).json()) as Body;
    const id = submitted['id'] as string;
    for (let i = 0; ; i++) {
      const job = (await (await fetch(`${server.url}/v2/chatterbox-v2/status/${id}`)).json()) as Body;
      if (job['status'] === 'IN_PROGRESS') break;
      assert.ok(i < 400 && job['status'] === 'IN_QUEUE', `job ${id} is ${job['status']}`);
      await sleep(25);
    }
    readOnly();
    // The synthesis ends while the directory is read-only: its result cannot be written anywhere.
    await watcher.waitFor(/could not record the end of job/, 60_000);
    assert.equal((await fetch(`${server.url}/health`)).status, 200, 'the server is up');
    await assertStorageUnavailable(await fetch(`${server.url}/v2/chatterbox-v2/status/${id}`), 'job');
    await sleep(1500);
    assert.equal(server.child.exitCode, null, 'still running');

    writable();
    const done = (await (await fetch(`${server.url}/v2/chatterbox-v2/status-sync/${id}?wait=60000`)).json()) as Body;
    assert.equal(done['status'], 'COMPLETED', JSON.stringify(done).slice(0, 300));
    assert.equal(done['output']['cache_hit'], false);
    assert.ok(probeAudio(Buffer.from(done['output']['audio'], 'base64'), 'wav').decodedDuration > 10);
    assert.doesNotMatch(watcher.log(), /unhandled|uncaught/i);
  });
});

describe('Redis stops answering (SIGSTOP) under a running server', () => {
  let redis: TestRedis;
  let server: ChorusProcess;
  const dataDir = mkdtempSync(join(tmpdir(), 'chorus-redis-paused-'));

  before(async () => {
    redis = await startTestRedis();
    // Rate limiting on: its buckets are in Redis too.
    server = await startChorusProcess({ CHORUS_REDIS_URL: redis.url, CHORUS_DATA_DIR: dataDir, CHORUS_RATE_LIMIT_RPS: '1000', CHORUS_RATE_LIMIT_BURST: '1000' });
  });
  after(async () => {
    redis?.resume();
    await server?.kill();
    await redis?.close();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('every path that needs Redis answers within the same deadline, 503 without the address; all works again after SIGCONT', async () => {
    const reference = await fliteReference('This is my voice, recorded for the library. It is long enough to be measured properly.', 'slt');
    const form = new FormData();
    form.set('id', 'paused-voice');
    form.set('text', 'This is my voice.');
    form.set('audio', new Blob([reference.wav], { type: 'audio/wav' }));
    const added = await fetch(`${server.url}/v1/references/add`, { method: 'POST', body: form });
    assert.equal(added.status, 200, await added.text());
    const openai = new OpenAI({ baseURL: `${server.url}/v1`, apiKey: 'unused', maxRetries: 0, timeout: 60_000 });
    const speak = (voice: string, input: string) => openai.audio.speech.create({ model: 'tts-1', voice, input, response_format: 'wav' });
    assert.ok((await (await speak('paused-voice', 'Before the pause.')).arrayBuffer()).byteLength > 1000);

    redis.pause();
    // Bounded even when something hangs until Redis runs again (the assertions below then fail).
    const resumeLater = setTimeout(() => redis.resume(), 20_000);
    try {
      const timed = async <T>(work: () => Promise<T>): Promise<{ value: T | Error; ms: number }> => {
        const started = Date.now();
        const value = await work().catch((error: Error) => error);
        return { value, ms: Date.now() - started };
      };
      const [library, builtin, voices, job] = await Promise.all([
        timed(() => speak('paused-voice', 'During the pause.')),
        timed(() => speak('alloy', 'A built-in voice during the pause.')),
        timed(() => fetch(`${server.url}/v1/voices`)),
        timed(() => post(server.url, '/v2/chatterbox/run', { input: { text: 'Queued during the pause?' } })),
      ]);
      // The deadline is 5 s; the rest is margin for a loaded machine.
      for (const [name, result] of Object.entries({ library, voices, job })) assert.ok(result.ms < 9000, `${name} answered after ${result.ms} ms`);
      assert.ok(builtin.ms < 20_000, `the built-in voice answered after ${builtin.ms} ms`);

      assert.ok(library.value instanceof OpenAI.APIError, String(library.value));
      assert.equal(library.value.status, 503);
      assert.equal((library.value.error as Body)['code'], 'store_unavailable');
      // Without the library the built-in voices still speak; only the cache (in Redis) is skipped.
      assert.ok(!(builtin.value instanceof Error), String(builtin.value));
      assert.ok((await builtin.value.arrayBuffer()).byteLength > 1000);

      const voicesResponse = voices.value as Response;
      const voicesBody = (await voicesResponse.json()) as Body;
      assert.equal(voicesResponse.status, 503);
      const jobResponse = job.value as Response;
      const jobBody = (await jobResponse.json()) as Body;
      assert.equal(jobResponse.status, 503);
      for (const message of [(library.value.error as Body)['message'], voicesBody['error']['message'], jobBody['error']]) {
        assert.match(message, /Redis \(CHORUS_REDIS_URL\) cannot be reached/);
        assert.ok(!message.includes(String(redis.port)) && !message.includes('127.0.0.1'), `no address in: ${message}`);
      }
    } finally {
      clearTimeout(resumeLater);
      redis.resume();
    }

    let spoken: ArrayBuffer | undefined;
    for (let attempt = 0; attempt < 50 && spoken === undefined; attempt++) {
      spoken = await speak('paused-voice', 'After the pause.').then((r) => r.arrayBuffer(), () => undefined);
      if (spoken === undefined) await sleep(200);
    }
    assert.ok(spoken !== undefined && spoken.byteLength > 1000);
    const done = (await (await post(server.url, '/v2/chatterbox/runsync', { input: { text: 'After the pause.' } })).json()) as Body;
    assert.equal(done['status'], 'COMPLETED');
  });
});
