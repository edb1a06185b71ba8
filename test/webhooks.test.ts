import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Webhook } from 'standardwebhooks';
import type { JobRecord } from '../src/jobs/job.js';
import { jsonInMemory } from '../src/jobs/job-output.js';
import { decodeSecret, loadWebhookSecret, signWebhook, WebhookSender } from '../src/jobs/webhook-sender.js';
import { createLogger } from '../src/util/logger.js';
import { JOB_BACKENDS, stopJobBackends } from './support/job-backends.js';
import { startTestServer, type TestServer } from './support/server.js';

const SECRET = `whsec_${randomBytes(32).toString('base64')}`;
const RETRY_DELAY_MS = 200;

interface Attempt {
  readonly path: string;
  readonly headers: IncomingHttpHeaders;
  readonly body: string;
  readonly status: number;
  readonly verified: boolean;
}

/**
 * A webhook receiver on 127.0.0.1 that checks every signature with the reference implementation
 * (`standardwebhooks`), answers 500 to the first attempt of each message and 200 to the next.
 */
class Receiver {
  readonly attempts: Attempt[] = [];
  readonly #server: Server;
  readonly #seen = new Set<string>();
  url = '';

  constructor() {
    const verifier = new Webhook(SECRET);
    this.#server = createServer((request, response) => {
      const chunks: Buffer[] = [];
      request.on('data', (chunk: Buffer) => chunks.push(chunk));
      request.on('end', () => {
        const body = Buffer.concat(chunks).toString('utf8');
        const path = request.url ?? '';
        if (!path.startsWith('/hook/')) {
          response.writeHead(404).end('not here');
          return;
        }
        let verified = false;
        try {
          verifier.verify(body, request.headers as Record<string, string>);
          verified = true;
        } catch {
          verified = false;
        }
        const id = String(request.headers['webhook-id']);
        const status = !verified ? 401 : this.#seen.has(id) ? 200 : 500;
        this.#seen.add(id);
        this.attempts.push({ path, headers: request.headers, body, status, verified });
        response.writeHead(status, { 'content-type': 'text/plain' }).end(status === 200 ? 'ok' : 'try again');
      });
    });
  }

  async start(): Promise<void> {
    await new Promise<void>((resolve) => this.#server.listen(0, '127.0.0.1', resolve));
    this.url = `http://127.0.0.1:${(this.#server.address() as AddressInfo).port}`;
  }

  close(): Promise<void> {
    return new Promise((resolve) => this.#server.close(() => resolve()));
  }

  for(jobId: string): Attempt[] {
    return this.attempts.filter((attempt) => (JSON.parse(attempt.body) as { id: string }).id === jobId);
  }

  /** Waits for the job's successful delivery, then a while longer to catch any extra delivery. */
  async delivered(jobId: string, timeoutMs = 30_000): Promise<Attempt[]> {
    const deadline = Date.now() + timeoutMs;
    while (!this.for(jobId).some((attempt) => attempt.status === 200)) {
      if (Date.now() > deadline) assert.fail(`no successful webhook for ${jobId}; attempts: ${JSON.stringify(this.for(jobId).map((a) => a.status))}`);
      await sleep(50);
    }
    await sleep(RETRY_DELAY_MS * 3);
    return this.for(jobId);
  }
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

after(() => stopJobBackends());

for (const backend of JOB_BACKENDS) {
  describe(`webhooks: signed (Standard Webhooks), retried, once per terminal state, ${backend.name}`, () => {
    let server: TestServer;
    const receiver = new Receiver();

    before(async () => {
      await receiver.start();
      server = await startTestServer({
        ...(await backend.env()),
        CHORUS_ALLOW_PRIVATE_URLS: 'true',
        CHORUS_WEBHOOK_SECRET: SECRET,
        CHORUS_WEBHOOK_RETRY_DELAY_MS: String(RETRY_DELAY_MS),
        CHORUS_WORKERS: '1',
      });
    });
    after(async () => {
      await server.close();
      await receiver.close();
    });

    const run = async (endpoint: string, body: unknown): Promise<{ id: string; status: string }> => {
      const response = await fetch(`${server.url}/v2/${endpoint}/run`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
      assert.equal(response.status, 200, await response.clone().text());
      return (await response.json()) as { id: string; status: string };
    };
    const status = async (endpoint: string, id: string) => (await (await fetch(`${server.url}/v2/${endpoint}/status/${id}`)).json()) as Record<string, unknown>;

    /** Exactly one 2xx, every attempt signed and verified, one message id, the body equal to /status. */
    const assertOneDelivery = async (endpoint: string, jobId: string, expectedStatus: string): Promise<void> => {
      const attempts = await receiver.delivered(jobId);
      assert.deepEqual(
        attempts.map((attempt) => attempt.status),
        [500, 200],
        'first attempt refused with 500, the retry accepted, nothing after',
      );
      assert.ok(attempts.every((attempt) => attempt.verified), 'every attempt carries a valid signature');
      assert.equal(new Set(attempts.map((attempt) => attempt.headers['webhook-id'])).size, 1, 'one webhook-id across retries');
      assert.match(String(attempts[0]!.headers['webhook-id']), /^msg_/);
      assert.equal(attempts[0]!.headers['content-type'], 'application/json');
      const delivered = JSON.parse(attempts[1]!.body) as Record<string, unknown>;
      assert.equal(delivered['status'], expectedStatus);
      assert.deepEqual(delivered, await status(endpoint, jobId), 'the webhook body is the /status object');
    };

    it('COMPLETED jobs: delivered exactly once each after one refused attempt; body equals /status', async () => {
      const jobs = await Promise.all(
        [1, 2, 3].map((n) => run('chatterbox', { input: { text: `Webhook job number ${n}.`, format: 'wav' }, webhook: `${receiver.url}/hook/${n}` })),
      );
      for (const job of jobs) await assertOneDelivery('chatterbox', job.id, 'COMPLETED');
      const first = JSON.parse(receiver.for(jobs[0]!.id)[1]!.body) as { output: { audio_base64: string } };
      assert.ok(first.output.audio_base64.length > 1000, 'the output travels with the webhook');
    });

    it('FAILED jobs are delivered too', async () => {
      // The reference audio URL answers 404, so the job fails while running.
      const job = await run('spark-tts', {
        input: { text: 'This will fail.', prompt_speech_url: `${receiver.url}/missing.wav` },
        webhook: `${receiver.url}/hook/failed`,
      });
      await assertOneDelivery('spark-tts', job.id, 'FAILED');
      assert.match(String((await status('spark-tts', job.id))['error']), /404/);
    });

    it('a queued job cancelled through the API is delivered once as CANCELLED', async () => {
      // One engine thread runs two jobs at once: two long ones keep the third waiting.
      const busy = await Promise.all([1, 2].map(() => run('chatterbox', { input: { text: 'Keeping the worker busy for a while. '.repeat(120) } })));
      const queued = await run('chatterbox', { input: { text: 'Never spoken.' }, webhook: `${receiver.url}/hook/cancelled` });
      assert.equal((await status('chatterbox', queued.id))['status'], 'IN_QUEUE');
      const cancelled = (await (await fetch(`${server.url}/v2/chatterbox/cancel/${queued.id}`, { method: 'POST' })).json()) as { status: string };
      assert.equal(cancelled.status, 'CANCELLED');
      await assertOneDelivery('chatterbox', queued.id, 'CANCELLED');
      for (const job of busy) await fetch(`${server.url}/v2/chatterbox/cancel/${job.id}`, { method: 'POST' });
    });

    it('a running job cancelled through the API is delivered once as CANCELLED (by the cancel, not again by its worker)', async () => {
      const job = await run('chatterbox', { input: { text: 'A long job that will be cancelled while it runs. '.repeat(60) }, webhook: `${receiver.url}/hook/running-cancelled` });
      for (let i = 0; i < 200 && (await status('chatterbox', job.id))['status'] !== 'IN_PROGRESS'; i++) await new Promise((resolve) => setTimeout(resolve, 25));
      const cancelled = (await (await fetch(`${server.url}/v2/chatterbox/cancel/${job.id}`, { method: 'POST' })).json()) as { status: string };
      assert.equal(cancelled.status, 'CANCELLED');
      // The worker's handler ends after the abort; a second delivery would come from it.
      await new Promise((resolve) => setTimeout(resolve, 500));
      await assertOneDelivery('chatterbox', job.id, 'CANCELLED');
    });

    it('a job without a webhook sends nothing', async () => {
      const before = receiver.attempts.length;
      const done = (await (await fetch(`${server.url}/v2/chatterbox/runsync`, { method: 'POST', body: JSON.stringify({ input: { text: 'Quiet.' } }) })).json()) as { status: string };
      assert.equal(done.status, 'COMPLETED');
      await sleep(RETRY_DELAY_MS);
      assert.equal(receiver.attempts.length, before);
    });
  });
}

describe('webhooks: address policy', () => {
  let server: TestServer;
  before(async () => {
    server = await startTestServer({ CHORUS_WEBHOOK_SECRET: SECRET });
  });
  after(() => server.close());

  it('a webhook to a private or loopback address is refused at submission with 400 naming webhook', async () => {
    for (const webhook of ['http://127.0.0.1:9/hook', 'https://127.0.0.1/hook', 'https://10.1.2.3/hook', 'https://[::1]/hook', 'https://169.254.169.254/latest']) {
      for (const path of ['run', 'runsync']) {
        const response = await fetch(`${server.url}/v2/chatterbox/${path}`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ input: { text: 'hi' }, webhook }),
        });
        assert.equal(response.status, 400, `${path} ${webhook}`);
        const body = (await response.json()) as { error: string; field?: string };
        assert.equal(body.field, 'webhook');
        assert.match(body.error, /webhook/);
      }
    }
  });

  it('the address is checked again at delivery: a URL that became private is not contacted', async () => {
    let contacted = 0;
    const target = createServer((_request, response) => {
      contacted++;
      response.end('ok');
    });
    await new Promise<void>((resolve) => target.listen(0, '127.0.0.1', resolve));
    const port = (target.address() as AddressInfo).port;
    const sender = new WebhookSender({ secret: SECRET, bodyOf: async (job) => Buffer.from(JSON.stringify({ id: job.id })), allowPrivate: false, logger: createLogger('silent'), retryDelayMs: 10 });
    const result = await sender.deliver(fakeJob(`https://127.0.0.1:${port}/hook`));
    assert.equal(result?.delivered, false);
    assert.match(String(result?.lastError), /private, loopback/);
    assert.equal(contacted, 0);
    await sender.close();
    await new Promise((resolve) => target.close(resolve));
  });
});

describe('webhooks: signing and the secret', () => {
  it('signatures match the reference implementation', () => {
    const body = JSON.stringify({ id: 'job-1', status: 'COMPLETED' });
    const timestamp = Math.floor(Date.now() / 1000);
    const ours = signWebhook(decodeSecret(SECRET), 'msg_1', timestamp, body);
    assert.equal(ours, new Webhook(SECRET).sign('msg_1', new Date(timestamp * 1000), body));
  });

  it('the same terminal state is delivered once even when reported twice', async () => {
    const received: string[] = [];
    const target = createServer((request, response) => {
      received.push(String(request.headers['webhook-id']));
      request.resume();
      response.end('ok');
    });
    await new Promise<void>((resolve) => target.listen(0, '127.0.0.1', resolve));
    const url = `http://127.0.0.1:${(target.address() as AddressInfo).port}/hook`;
    const sender = new WebhookSender({ secret: SECRET, bodyOf: async (job) => Buffer.from(JSON.stringify({ id: job.id })), allowPrivate: true, logger: createLogger('silent') });
    const job = fakeJob(url);
    const first = sender.deliver(job);
    assert.equal(sender.deliver(job), undefined);
    assert.equal((await first)?.delivered, true);
    // After /retry the job ends again: a new terminal state, a new message.
    assert.equal((await sender.deliver({ ...job, finishedAt: job.finishedAt! + 1000 }))?.delivered, true);
    assert.equal(received.length, 2);
    assert.notEqual(received[0], received[1]);
    await sender.close();
    await new Promise((resolve) => target.close(resolve));
  });

  it('without CHORUS_WEBHOOK_SECRET a secret is generated once and kept in the data directory', () => {
    const dir = mkdtempSync(join(tmpdir(), 'chorus-secret-'));
    try {
      const first = loadWebhookSecret(undefined, dir);
      assert.equal(first.source, 'generated');
      assert.match(first.secret, /^whsec_[A-Za-z0-9+/]{43}=$/);
      assert.equal(statSync(first.path).mode & 0o777, 0o600);
      const second = loadWebhookSecret(undefined, dir);
      assert.equal(second.source, 'file');
      assert.equal(second.secret, first.secret);
      assert.equal(readFileSync(first.path, 'utf8').trim(), first.secret);
      assert.equal(loadWebhookSecret(SECRET, dir).secret, SECRET);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

function fakeJob(webhook: string): JobRecord {
  const now = Date.now();
  return {
    id: `job-${randomBytes(4).toString('hex')}`,
    endpointId: 'chatterbox',
    owner: '',
    input: {},
    policy: { executionTimeoutMs: 60_000, ttlMs: 60_000, lowPriority: false },
    webhook,
    sync: false,
    retentionMs: 60_000,
    state: 'completed',
    createdAt: now,
    startedAt: now,
    finishedAt: now,
    output: jsonInMemory(Buffer.from(JSON.stringify({ ok: true }))),
    retries: 0,
  };
}
