import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { loadConfig } from '../src/config/config.js';
import { probeAudio } from './support/ffprobe.js';
import { startChorusProcess, type ChorusProcess } from './support/process.js';
import { startTestServer, type TestServer } from './support/server.js';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
/** `chorus serve` as a child process (as an operator runs it), on a data directory that outlives it. */
const startServerProcess = (dataDir: string): Promise<ChorusProcess> => startChorusProcess({ CHORUS_DATA_DIR: dataDir });

type Status = Record<string, unknown> & { id: string; status: string };

describe('crash recovery: kill -9 with jobs queued and running, restart on the same data directory', () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'chorus-crash-'));
  let first: ChorusProcess | undefined;
  let second: ChorusProcess | undefined;

  after(async () => {
    for (const server of [first, second]) if (server !== undefined) await server.kill();
    rmSync(dataDir, { recursive: true, force: true });
  });

  const run = async (url: string, text: string): Promise<string> => {
    const response = await fetch(`${url}/v2/chatterbox/run`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ input: { text, format: 'wav' } }),
    });
    assert.equal(response.status, 200);
    return ((await response.json()) as { id: string }).id;
  };
  const status = async (url: string, id: string, wait = 0): Promise<Status> => {
    // ffprobe (assertAudio) blocks this process for seconds, long enough for the server to close an idle
    // kept-alive connection; one turn of the event loop lets fetch see that before it sends on it.
    await new Promise((resolve) => setImmediate(resolve));
    const response = await fetch(`${url}/v2/chatterbox/${wait > 0 ? `status-sync/${id}?wait=${wait}` : `status/${id}`}`);
    assert.equal(response.status, 200, `status of ${id}`);
    return (await response.json()) as Status;
  };
  const assertAudio = (job: Status): void => {
    assert.equal(job.status, 'COMPLETED', JSON.stringify({ id: job.id, status: job.status, error: job['error'] }));
    const output = job['output'] as { audio_base64: string; duration_ms: number };
    const probe = probeAudio(Buffer.from(output.audio_base64, 'base64'), 'wav');
    assert.equal(probe.codec, 'pcm_s16le');
    assert.ok(probe.decodedDuration > 0.5, `${job.id}: ${probe.decodedDuration} s`);
    assert.ok(Math.abs(probe.decodedDuration * 1000 - output.duration_ms) < 100);
  };

  it('every job completes after the restart and a job finished before the crash is still readable', async () => {
    first = await startServerProcess(dataDir);
    const doneId = await run(first.url, 'This job finished before the crash.');
    const done = await status(first.url, doneId, 30_000);
    assertAudio(done);

    const text = (n: number) => Array.from({ length: 12 }, (_, i) => `Job ${n}, sentence ${i + 1}, keeps the engine busy.`).join(' ');
    const ids: string[] = [];
    for (let n = 1; n <= 8; n++) ids.push(await run(first.url, text(n)));
    // Kill as soon as the runner has something in hand, while the rest still wait.
    let states: string[] = [];
    for (let i = 0; i < 200; i++) {
      states = await Promise.all(ids.map(async (id) => (await status(first!.url, id)).status));
      if (states.includes('IN_PROGRESS')) break;
      await sleep(20);
    }
    assert.ok(states.includes('IN_PROGRESS'), `one job running at the kill: ${states.join(',')}`);
    assert.ok(states.includes('IN_QUEUE'), `some jobs queued at the kill: ${states.join(',')}`);
    const interrupted = ids.filter((_, i) => states[i] === 'IN_PROGRESS');
    await first.kill();

    second = await startServerProcess(dataDir);
    const again = await status(second.url, doneId);
    assert.deepEqual(again, done, 'the finished job reads the same after the restart');

    for (const id of ids) assertAudio(await status(second.url, id, 60_000));
    for (const id of interrupted) {
      const job = await status(second.url, id);
      // A job running at the kill either ran again (retries ≥ 1) or had just finished before the kill.
      assert.ok(Number(job['retries'] ?? 0) >= 1 || job.status === 'COMPLETED');
    }
    const health = (await (await fetch(`${second.url}/v2/chatterbox/health`)).json()) as { jobs: { inQueue: number; inProgress: number } };
    assert.equal(health.jobs.inQueue + health.jobs.inProgress, 0);
  });
});

describe('result retention is configurable (/run and /runsync separately)', () => {
  let server: TestServer;
  before(async () => {
    server = await startTestServer({ CHORUS_WORKERS: '1', CHORUS_RUN_RETENTION_MS: '2000', CHORUS_RUNSYNC_RETENTION_MS: '500' });
  });
  after(() => server.close());

  const statusCode = async (id: string) => (await fetch(`${server.url}/v2/chatterbox/status/${id}`)).status;

  it('defaults are 30 min after /run and 1 min after /runsync', () => {
    const config = loadConfig({});
    assert.equal(config.runRetentionMs, 30 * 60 * 1000);
    assert.equal(config.runsyncRetentionMs, 60 * 1000);
  });

  it('a /runsync result is gone (404) after CHORUS_RUNSYNC_RETENTION_MS, a /run result after CHORUS_RUN_RETENTION_MS', async () => {
    const sync = (await (
      await fetch(`${server.url}/v2/chatterbox/runsync`, { method: 'POST', body: JSON.stringify({ input: { text: 'Kept briefly.' } }) })
    ).json()) as Status;
    assert.equal(sync.status, 'COMPLETED');
    const runId = ((await (await fetch(`${server.url}/v2/chatterbox/run`, { method: 'POST', body: JSON.stringify({ input: { text: 'Kept longer.' } }) })).json()) as Status).id;
    const runDone = (await (await fetch(`${server.url}/v2/chatterbox/status-sync/${runId}?wait=30000`)).json()) as Status;
    assert.equal(runDone.status, 'COMPLETED');
    const runSeenDoneAt = Date.now();

    await sleep(700);
    assert.equal(await statusCode(sync.id), 404, '/runsync result expired');
    assert.equal(await statusCode(runId), 200, '/run result still kept');

    await sleep(Math.max(0, runSeenDoneAt + 2100 - Date.now()));
    assert.equal(await statusCode(runId), 404, '/run result expired');
  });
});
