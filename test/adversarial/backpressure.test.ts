// Adversarial: clients that ask for a long stream and never read it. The server must pause their
// synthesis (a bounded window between the engine worker and the response), keep serving others,
// and free everything when they hang up (issue 14, item 3).
import assert from 'node:assert/strict';
import { connect, type Socket } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { probeAudio } from '../support/ffprobe.js';
import { startTestServer, type TestServer } from '../support/server.js';

interface HealthJobs {
  readonly active: number;
  readonly completed: number;
  readonly aborted: number;
  readonly paused?: number;
  readonly unread_bytes?: number;
}

/** 4096 characters (the API's limit) of distinct sentences: about four minutes of speech. */
const LONG_INPUT = Array.from({ length: 200 }, (_, i) => `Sentence number ${i + 1} keeps this stream going for a while.`)
  .join(' ')
  .slice(0, 4096);

const STREAMS: readonly { readonly name: string; readonly path: string; readonly body: Record<string, unknown> }[] = [
  { name: 'audio stream', path: '/v1/audio/speech', body: { stream: true } },
  { name: 'SSE', path: '/v1/audio/speech', body: { stream_format: 'sse' } },
  { name: 'NDJSON timings', path: '/v1/audio/speech/extended', body: { stream: true, timestamps: true } },
];
const PER_KIND = 2;
/** Long enough for the old server to synthesise every text whole; the new one pauses within a second or two. */
const SETTLE_DEADLINE_MS = 90_000;

describe('streams whose clients never read (backpressure)', () => {
  let server: TestServer;
  before(async () => {
    // Without the result cache and rate limit: every stream is a real synthesis.
    server = await startTestServer({ CACHE_ENABLED: 'false', CHORUS_RATE_LIMIT_RPS: '0', CHORUS_STREAM_BUFFER_BYTES: String(256 * 1024) });
  });
  after(() => server.close());

  const health = async (): Promise<HealthJobs> => ((await (await fetch(`${server.url}/health`)).json()) as { jobs: HealthJobs }).jobs;

  /** A raw connection that sends one request and then never reads a byte of the answer. */
  const openNonReading = (path: string, body: Record<string, unknown>): Socket => {
    const payload = JSON.stringify({ model: 'tts-1', voice: 'alloy', input: LONG_INPUT, response_format: 'wav', ...body });
    const { port } = new URL(server.url);
    const socket = connect(Number(port), '127.0.0.1');
    socket.pause();
    socket.on('error', () => undefined);
    socket.write(
      `POST ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(payload)}\r\n\r\n${payload}`,
    );
    return socket;
  };

  const waitFor = async (what: string, done: (jobs: HealthJobs) => boolean, deadlineMs = SETTLE_DEADLINE_MS): Promise<HealthJobs> => {
    const deadline = Date.now() + deadlineMs;
    let jobs = await health();
    while (!done(jobs)) {
      if (Date.now() > deadline) assert.fail(`${what}: still ${JSON.stringify(jobs)} after ${deadlineMs} ms`);
      await new Promise((resolve) => setTimeout(resolve, 100));
      jobs = await health();
    }
    return jobs;
  };

  it('pauses the synthesis of every non-reading stream, keeps serving others, and frees it all when they hang up', async () => {
    const before = await health();
    const sockets = STREAMS.flatMap(({ path, body }) => Array.from({ length: PER_KIND }, () => openNonReading(path, body)));
    const count = sockets.length;
    try {
      // Either every stream is paused waiting for its reader, or (without backpressure) the server
      // synthesised the whole texts for clients that never read them.
      const settled = await waitFor(
        'the non-reading streams neither paused nor finished',
        (jobs) => jobs.paused === count || jobs.completed >= before.completed + count,
      );
      assert.equal(settled.completed, before.completed, 'no stream was synthesised to the end for a client that never read it');
      assert.equal(settled.paused, count, 'every non-reading stream is paused');
      assert.equal(settled.active, before.active + count, 'paused streams are still open jobs');
      // Each paused stream holds at most its window plus the part that crossed it.
      assert.ok(settled.unread_bytes! <= count * (256 * 1024 + 64 * 1024), `${settled.unread_bytes} bytes held for ${count} streams`);

      // A normal request on the same server still answers, with complete audio.
      const response = await fetch(`${server.url}/v1/audio/speech`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ model: 'tts-1', voice: 'alloy', input: 'Still answering while others do not read.', response_format: 'wav' }),
      });
      assert.equal(response.status, 200);
      const probe = probeAudio(Buffer.from(await response.arrayBuffer()), 'wav');
      assert.ok(probe.decodedDuration > 1, `${probe.decodedDuration} s of audio`);
    } finally {
      for (const socket of sockets) socket.destroy();
    }

    const freed = await waitFor('after the clients hung up', (jobs) => jobs.aborted >= before.aborted + count && jobs.active === before.active);
    assert.equal(freed.aborted, before.aborted + count, 'every abandoned stream was aborted, not finished');
    assert.equal(freed.completed, before.completed + 1, 'only the normal request completed');
    assert.equal(freed.paused, 0);
    assert.equal(freed.unread_bytes, 0, 'no audio is held for streams that are gone');
  });
});
