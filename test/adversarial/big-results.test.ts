// Adversarial: clients polling a job with a big result. The output is serialised once, when the job
// ends; /status, /status-sync, /runsync and webhooks splice those stored bytes into their answer
// without parsing or re-stringifying them, so polls cannot hold up other requests (issue 14, item 5).
import assert from 'node:assert/strict';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import runpodSdk from 'runpod-sdk';
import { Webhook } from 'standardwebhooks';
import { probeAudio } from '../support/ffprobe.js';
import { JOB_BACKENDS, stopJobBackends } from '../support/job-backends.js';
import { startTestServer, type TestServer } from '../support/server.js';

const SECRET = `whsec_${Buffer.alloc(32, 7).toString('base64')}`;
/** About 90 s of speech: a wav result of several MB, far above what any envelope or health answer parses. */
const TEXT = Array.from({ length: 30 }, (_, i) => `Result sentence ${i + 1} makes the stored answer a little bigger.`).join(' ');
const BIG_JSON_CHARS = 1_000_000;
const POLLERS = 4;
const POLLS_EACH = 4;

/** Records every webhook delivery's raw bytes; verification happens later, outside the watched window. */
class RawReceiver {
  readonly deliveries: { readonly headers: IncomingHttpHeaders; readonly body: Buffer }[] = [];
  readonly #server: Server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      this.deliveries.push({ headers: request.headers, body: Buffer.concat(chunks) });
      response.writeHead(200).end('ok');
    });
  });
  url = '';

  async start(): Promise<void> {
    await new Promise<void>((resolve) => this.#server.listen(0, '127.0.0.1', resolve));
    this.url = `http://127.0.0.1:${(this.#server.address() as AddressInfo).port}/hook`;
  }

  close(): Promise<void> {
    return new Promise((resolve) => this.#server.close(() => resolve()));
  }
}

/**
 * Notes the largest text JSON.parse reads and JSON.stringify writes in this process (the server
 * runs in it) while `work` runs.
 */
async function watchJson<T>(work: () => Promise<T>): Promise<{ value: T; largestParsed: number; largestStringified: number }> {
  const { parse, stringify } = JSON;
  let largestParsed = 0;
  let largestStringified = 0;
  JSON.parse = function (text: string, reviver?: Parameters<typeof parse>[1]) {
    largestParsed = Math.max(largestParsed, String(text).length);
    return parse(text, reviver);
  } as typeof JSON.parse;
  JSON.stringify = function (...args: Parameters<typeof stringify>) {
    const text = stringify(...args);
    largestStringified = Math.max(largestStringified, text?.length ?? 0);
    return text;
  } as typeof JSON.stringify;
  try {
    return { value: await work(), largestParsed, largestStringified };
  } finally {
    JSON.parse = parse;
    JSON.stringify = stringify;
  }
}

for (const backend of JOB_BACKENDS) {
  describe(`big job results (${backend.name})`, () => {
    let server: TestServer;
    let receiver: RawReceiver;
    before(async () => {
      receiver = new RawReceiver();
      await receiver.start();
      server = await startTestServer({
        ...(await backend.env()),
        CHORUS_ALLOW_PRIVATE_URLS: 'true',
        CHORUS_WEBHOOK_SECRET: SECRET,
        CHORUS_RATE_LIMIT_RPS: '0',
      });
    });
    after(async () => {
      await server.close();
      await receiver.close();
      await stopJobBackends();
    });

    const post = async (path: string, body: unknown): Promise<Record<string, unknown>> => {
      const response = await fetch(`${server.url}/v2/chatterbox${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
      assert.equal(response.status, 200);
      return (await response.json()) as Record<string, unknown>;
    };
    const rawStatus = async (path: string): Promise<Buffer> => {
      const response = await fetch(`${server.url}/v2/chatterbox${path}`, { signal: AbortSignal.timeout(60_000) });
      assert.equal(response.status, 200);
      assert.equal(response.headers.get('content-type'), 'application/json');
      const body = Buffer.from(await response.arrayBuffer());
      assert.equal(Number(response.headers.get('content-length')), body.length);
      return body;
    };

    it('is answered byte-identical to every poller, to runpod-sdk and to the webhook, without being parsed or re-stringified', async () => {
      const { id } = (await post('/run', { input: { text: TEXT, format: 'wav' }, webhook: receiver.url })) as { id: string };
      const finished = JSON.parse((await rawStatus(`/status-sync/${id}?wait=120000`)).toString('utf8')) as { status: string };
      assert.equal(finished.status, 'COMPLETED');
      const webhookDeadline = Date.now() + 30_000;
      while (receiver.deliveries.length === 0 && Date.now() < webhookDeadline) await new Promise((resolve) => setTimeout(resolve, 50));

      // Four clients poll the result over and over while /health is asked: it answers meanwhile.
      const watched = await watchJson(async () => {
        const polls = Array.from({ length: POLLERS }, async () => {
          const bodies: Buffer[] = [];
          for (let i = 0; i < POLLS_EACH; i++) bodies.push(await rawStatus(i % 2 === 0 ? `/status/${id}` : `/status-sync/${id}`));
          return bodies;
        });
        const health = await fetch(`${server.url}/health`, { signal: AbortSignal.timeout(60_000) });
        assert.equal(health.status, 200, '/health answers while the result is polled');
        await health.arrayBuffer();
        return (await Promise.all(polls)).flat();
      });
      const bodies = watched.value;
      assert.ok(bodies[0]!.length > 4 * BIG_JSON_CHARS, `a big result: ${bodies[0]!.length} bytes`);
      assert.ok(
        watched.largestParsed < BIG_JSON_CHARS && watched.largestStringified < BIG_JSON_CHARS,
        `no poll parsed or stringified the output (largest parsed ${watched.largestParsed}, stringified ${watched.largestStringified} characters)`,
      );
      for (const body of bodies) assert.ok(body.equals(bodies[0]!), 'every poll gets the same bytes');

      // The spliced body is exactly the JSON the old envelope gave: same keys, same order, canonical.
      const text = bodies[0]!.toString('utf8');
      const job = JSON.parse(text) as { id: string; status: string; output: { audio_base64: string; duration_ms: number }; workerId?: string };
      assert.equal(JSON.stringify(job), text);
      assert.deepEqual(Object.keys(job), ['id', 'status', 'delayTime', 'executionTime', 'output', 'workerId']);
      const probe = probeAudio(Buffer.from(job.output.audio_base64, 'base64'), 'wav');
      assert.ok(Math.abs(probe.decodedDuration * 1000 - job.output.duration_ms) < 50, `${probe.decodedDuration} s vs ${job.output.duration_ms} ms`);

      // The official client reads the same object (and adds its own started/completed/succeeded flags).
      const sdk = runpodSdk('unused', { baseUrl: `${server.url}/v2` }).endpoint('chatterbox')!;
      const { started, completed, succeeded, ...viaSdk } = (await sdk.status(id)) as unknown as Record<string, unknown>;
      assert.deepEqual([started, completed, succeeded], [true, true, true]);
      assert.deepEqual(viaSdk, job);

      // The webhook's body is the /status object, byte for byte, and its signature holds.
      assert.equal(receiver.deliveries.length, 1, 'one webhook delivery');
      const delivery = receiver.deliveries[0]!;
      assert.ok(delivery.body.equals(bodies[0]!), 'the webhook carries the same bytes as /status');
      new Webhook(SECRET).verify(delivery.body.toString('utf8'), delivery.headers as Record<string, string>);
    });

    it('answers /runsync with the stored bytes spliced into the envelope', async () => {
      const response = await fetch(`${server.url}/v2/chatterbox/runsync`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ input: { text: TEXT, format: 'wav', speed: 1.25 } }),
        signal: AbortSignal.timeout(120_000),
      });
      assert.equal(response.status, 200);
      const text = Buffer.from(await response.arrayBuffer()).toString('utf8');
      assert.equal(Number(response.headers.get('content-length')), Buffer.byteLength(text));
      const job = JSON.parse(text) as { id: string; status: string; output: { audio_base64: string; duration_ms: number } };
      assert.equal(job.status, 'COMPLETED');
      assert.equal(JSON.stringify(job), text);
      assert.ok(text.length > BIG_JSON_CHARS);
      const status = await rawStatus(`/status/${job.id}`);
      assert.equal(status.toString('utf8'), text, '/status gives the same bytes as /runsync did');
    });
  });
}
