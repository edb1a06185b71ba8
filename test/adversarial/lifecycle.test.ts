// Process lifecycle under adversarial conditions: a second server on a data directory in use, SIGTERM
// with requests and jobs in flight, a client that sends its headers one byte at a time.
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { probeAudio } from '../support/ffprobe.js';
import { spawnChorus, startChorusProcess, type ChorusProcess } from '../support/process.js';
import { startChatServer, type ChatServer } from '../support/chat-server.js';

type Job = Record<string, unknown> & { id: string; status: string };
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const LONG_TEXT = Array.from({ length: 80 }, (_, i) => `Sentence number ${i + 1} keeps the engine busy for a while.`).join(' ').slice(0, 5000);

/** How a child process ended, or a rejection (and SIGKILL) when it is still alive after `timeoutMs`. */
function exitOf(child: ChildProcess, timeoutMs: number): Promise<{ code: number | null; signal: NodeJS.Signals | null; stderr: string }> {
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  return new Promise((resolve, reject) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve({ code: child.exitCode, signal: child.signalCode, stderr });
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`still running after ${timeoutMs} ms; stderr: ${stderr.slice(-2000)}`));
    }, timeoutMs);
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stderr });
    });
  });
}

const post = (url: string, path: string, body: unknown, signal?: AbortSignal): Promise<Response> =>
  fetch(`${url}${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body), ...(signal === undefined ? {} : { signal }) });
const status = async (url: string, id: string, wait = 0): Promise<Job> => {
  const response = await fetch(`${url}/v2/chatterbox/${wait > 0 ? `status-sync/${id}?wait=${wait}` : `status/${id}`}`);
  assert.equal(response.status, 200, `status of ${id}`);
  return (await response.json()) as Job;
};

/** True when nothing accepts a TCP connection on the URL's port. */
function refusesConnections(url: string): Promise<boolean> {
  const { port, hostname } = new URL(url);
  return new Promise((resolve) => {
    const socket = connect(Number(port), hostname);
    socket.once('connect', () => {
      socket.destroy();
      resolve(false);
    });
    socket.once('error', (error: NodeJS.ErrnoException) => resolve(error.code === 'ECONNREFUSED'));
  });
}

describe('a second server on a data directory in use', () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'chorus-twice-'));
  let first: ChorusProcess | undefined;
  after(async () => {
    await first?.kill();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('exits non-zero at once with the reason, and the first server is not disturbed', async () => {
    first = await startChorusProcess({ CHORUS_DATA_DIR: dataDir });
    const second = spawnChorus({ CHORUS_DATA_DIR: dataDir });
    // Start-up alone takes seconds on a loaded machine; a refusal must not take longer than that.
    const { code, stderr } = await exitOf(second, 30_000);
    assert.notEqual(code, 0);
    assert.match(stderr, new RegExp(`Another Chorus process \\(pid ${first.pid}\\) uses .*CHORUS_DATA_DIR`));
    assert.doesNotMatch(stderr, /\n\s+at /, 'a message, not a stack trace');

    const job = (await (await post(first.url, '/v2/chatterbox/runsync', { input: { text: 'Still here.' } })).json()) as Job;
    assert.equal(job.status, 'COMPLETED');
  });
});

describe('SIGTERM with requests and jobs in flight', () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'chorus-sigterm-'));
  const servers: ChorusProcess[] = [];
  after(async () => {
    for (const server of servers) await server.kill();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('stops accepting, answers the waiting /runsync, ends the stream cleanly, keeps queued jobs for the next start, exits 0 within the grace', async () => {
    const graceMs = 2000;
    const first = await startChorusProcess({ CHORUS_DATA_DIR: dataDir, CHORUS_SHUTDOWN_GRACE_MS: String(graceMs) });
    servers.push(first);
    const exited = exitOf(first.child, graceMs + 15_000);

    // One engine thread, two job slots: the /runsync job and the first /run job run, the others wait.
    const runsync = post(first.url, '/v2/chatterbox/runsync', { input: { text: LONG_TEXT, format: 'wav' } });
    await sleep(300);
    const queuedIds: string[] = [];
    // The first takes the second slot and must still be running at SIGTERM; the rest only wait, so short texts do.
    for (let n = 0; n < 4; n++) {
      const text = n === 0 ? `${n}. ${LONG_TEXT}` : `Queued job number ${n}, waiting for the next start.`;
      queuedIds.push(((await (await post(first.url, '/v2/chatterbox/run', { input: { text } })).json()) as Job).id);
    }
    const before = await Promise.all(queuedIds.map(async (id) => (await status(first.url, id)).status));
    assert.ok(before.filter((s) => s === 'IN_QUEUE').length >= 2, `jobs waiting at SIGTERM: ${before.join(',')}`);

    const stream = await post(first.url, '/v1/audio/speech', { model: 'tts-1', voice: 'alloy', input: LONG_TEXT.slice(0, 4096), response_format: 'wav', stream: true });
    assert.equal(stream.status, 200);
    const reader = stream.body!.getReader();
    const chunks: Uint8Array[] = [];
    const firstChunk = await reader.read();
    assert.ok(!firstChunk.done);
    chunks.push(firstChunk.value);

    const signalledAt = Date.now();
    first.child.kill('SIGTERM');

    // New connections are refused while the server drains.
    let refused = false;
    for (let i = 0; i < 40 && !refused; i++) {
      refused = await refusesConnections(first.url);
      if (!refused) await sleep(50);
    }
    assert.ok(refused, 'the listener is closed');

    // The waiting /runsync gets an answer: its result, or the job as it is when the grace runs out.
    const answer = await runsync;
    assert.equal(answer.status, 200);
    const job = (await answer.json()) as Job;
    assert.match(job.status, /^(COMPLETED|IN_PROGRESS)$/, JSON.stringify(job).slice(0, 300));

    // The stream ends with the chunked terminator (a reset would make read() throw), on whole samples.
    for (;;) {
      const next = await reader.read();
      if (next.done) break;
      chunks.push(next.value);
    }
    const wav = Buffer.concat(chunks);
    assert.equal(wav.subarray(0, 4).toString('latin1'), 'RIFF');
    assert.equal((wav.length - 44) % 2, 0, 'whole 16-bit samples');
    assert.ok(probeAudio(wav, 'wav').decodedDuration > 0);

    const { code } = await exited;
    assert.equal(code, 0);
    assert.ok(Date.now() - signalledAt < graceMs + 10_000, `exited ${Date.now() - signalledAt} ms after SIGTERM`);

    // The next start runs what was queued (never started: no retries) and what was cut off.
    const second = await startChorusProcess({ CHORUS_DATA_DIR: dataDir });
    servers.push(second);
    const waiting = queuedIds.filter((_, i) => before[i] === 'IN_QUEUE');
    for (const id of waiting) {
      const done = await status(second.url, id, 90_000);
      assert.equal(done.status, 'COMPLETED', id);
      assert.equal(Number(done['retries'] ?? 0), 0, `${id} stayed queued`);
    }
    const cut = await status(second.url, job.id, 90_000);
    assert.equal(cut.status, 'COMPLETED');
  });

  it('a second SIGTERM ends a draining server at once', async () => {
    const server = await startChorusProcess({ CHORUS_DATA_DIR: mkdtempSync(join(tmpdir(), 'chorus-sigterm2-')), CHORUS_SHUTDOWN_GRACE_MS: '60000' });
    servers.push(server);
    const exited = exitOf(server.child, 20_000);
    const runsync = post(server.url, '/v2/chatterbox/runsync', { input: { text: LONG_TEXT } }).catch((error: unknown) => error);
    await sleep(500);
    server.child.kill('SIGTERM');
    await sleep(500);
    assert.equal(server.child.exitCode, null, 'still draining after the first signal');
    server.child.kill('SIGTERM');
    const { code, stderr } = await exited;
    assert.notEqual(code, 0, 'an interrupted shutdown is not a clean exit');
    assert.match(stderr, /second signal/i);
    await runsync;
  });
});

describe('slow clients: header and request timeouts', () => {
  let server: ChorusProcess;
  let chat: ChatServer;
  after(async () => {
    await server?.kill();
    await chat?.close();
  });

  it('a client that sends its headers byte by byte is cut off after CHORUS_HEADERS_TIMEOUT_MS; others are served meanwhile', async () => {
    // A chat model that never answers keeps the agent's job, its long-poll and its stream open.
    chat = await startChatServer(() => ({ tokens: ['Never'], stallAfter: 0 }));
    server = await startChorusProcess({
      CHORUS_DATA_DIR: mkdtempSync(join(tmpdir(), 'chorus-slow-')),
      CHORUS_HEADERS_TIMEOUT_MS: '1000',
      CHORUS_REQUEST_TIMEOUT_MS: '1500',
      CHORUS_LLM_URL: chat.url,
      CHORUS_LLM_MODEL: 'silent',
      CHORUS_LLM_TIMEOUT_MS: '4000',
    });
    const { port } = new URL(server.url);
    const socket = connect(Number(port), '127.0.0.1');
    await new Promise((resolve) => socket.once('connect', resolve));
    let received = '';
    socket.on('data', (chunk: Buffer) => (received += chunk.toString()));
    const closed = new Promise<number>((resolve) => socket.once('close', () => resolve(Date.now())));
    socket.on('error', () => undefined);
    const openedAt = Date.now();
    socket.write('GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n');
    const drip = setInterval(() => socket.writable && socket.write('x'), 100);
    try {
      assert.equal((await fetch(`${server.url}/health`)).status, 200, 'another client is served meanwhile');
      const closedAt = await Promise.race([closed, sleep(8000).then(() => undefined)]);
      assert.ok(closedAt !== undefined, 'the slow client was cut off');
      assert.ok(closedAt - openedAt >= 900, `not before the timeout (${closedAt - openedAt} ms)`);
      assert.match(received, /^HTTP\/1\.1 408/);
    } finally {
      clearInterval(drip);
      socket.destroy();
    }
  });

  it('an idle kept-alive connection outlives the header timeout and the clients’ own idle timeouts', async () => {
    // A server that closes idle connections before its clients do races them: a request sent into a
    // connection as it closes is lost ("other side closed"). Clients give up idle ones after 4 s (undici) to 60 s.
    const { port } = new URL(server.url);
    const socket = connect(Number(port), '127.0.0.1');
    socket.on('error', () => undefined);
    let received = '';
    socket.on('data', (chunk: Buffer) => (received += chunk.toString()));
    const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
    const request = 'GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n';
    try {
      socket.write(request);
      for (let i = 0; i < 200 && !received.includes('"status"'); i++) await sleep(25);
      assert.match(received, /^HTTP\/1\.1 200/);
      received = '';
      const idle = await Promise.race([closed.then(() => 'closed'), sleep(6000).then(() => 'open')]);
      assert.equal(idle, 'open', 'still open after 6 s idle');
      socket.write(request);
      for (let i = 0; i < 200 && !received.includes('"status"'); i++) await sleep(25);
      assert.match(received, /^HTTP\/1\.1 200/);
    } finally {
      socket.destroy();
    }
  });

  it('a long-poll and a streamed answer last longer than CHORUS_REQUEST_TIMEOUT_MS without being cut', async () => {
    const started = Date.now();
    const runsync = await post(server.url, '/v2/fish-speech/runsync?wait=3000', { input: { message: 'Hello?' } });
    assert.equal(runsync.status, 200);
    assert.equal(((await runsync.json()) as Job).status, 'IN_PROGRESS');
    assert.ok(Date.now() - started >= 2500, 'the long-poll waited');

    const streamed = await post(server.url, '/v2/fish-speech/run', { input: { message: 'Hello again?', stream: true } });
    assert.equal(streamed.status, 200);
    const lines = (await streamed.text()).trim().split('\n').map((line) => JSON.parse(line) as Record<string, unknown>);
    assert.equal(lines.at(-1)?.['status'], 'error');
    assert.match(String(lines.at(-1)?.['error']), /4000 ms/);
  });
});
