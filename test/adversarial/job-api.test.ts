// The job API's contract under bad input, as RunPod has it: /run and /runsync accept any
// well-formed {"input": …}; a handler's refusal of its input is a job that exists and is FAILED
// with the handler's message. HTTP errors are kept for what RunPod itself refuses.
import assert from 'node:assert/strict';
import { rmSync, statSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import runpodSdk from 'runpod-sdk';
import type { JobQueue } from '../../src/jobs/job-queue.js';
import { RedisJobQueue } from '../../src/jobs/redis-job-queue.js';
import { SqliteJobQueue } from '../../src/jobs/sqlite-job-queue.js';
import { startChatServer, type ChatServer } from '../support/chat-server.js';
import { JOB_BACKENDS, stopJobBackends } from '../support/job-backends.js';
import { formantSynthReference, wavBytes } from '../support/reference-voices.js';
import { startTestServer, type TestServer } from '../support/server.js';

after(() => stopJobBackends());

const KEY = 'refusal-key-a';
const OTHER_KEY = 'refusal-key-b';
const PROTOTYPE_NAMES = ['constructor', '__proto__', 'toString', 'hasOwnProperty'] as const;

type Job = { id: string; status: string; error?: string; output?: unknown; delayTime?: number; executionTime?: number };
type Refusal = { readonly input: Record<string, unknown>; readonly error: RegExp | string };

/** A second of voiced audio, base64: enough for fields that need a recording before a voice is looked up. */
const SECOND_OF_AUDIO = (() => {
  const synth = formantSynthReference({ f0Hz: 150, seconds: 1, sampleRate: 16000 });
  return wavBytes(synth.samples, synth.sampleRate).toString('base64');
})();

/** Inputs each endpoint's handler refuses, with the error it refuses them with (a string: exactly). */
function refusals(endpoint: string): Refusal[] {
  const voiceNotFound = (name: string) => `Voice '${name}' not found in any library`;
  switch (endpoint) {
    case 'chatterbox':
      return [
        { input: { text: 'Hi', voice: 'InvalidName' }, error: voiceNotFound('InvalidName') },
        { input: { text: 'Hi', speed: 3 }, error: /'speed' must be a number from 0\.5 to 2/ },
        { input: {}, error: "Missing required parameter: 'text'." },
        ...PROTOTYPE_NAMES.map((name) => ({ input: { text: 'Hi', voice: name }, error: voiceNotFound(name) })),
      ];
    case 'spark-tts':
      return [
        { input: { text: 'Hi', voice_name: 'InvalidName' }, error: voiceNotFound('InvalidName') },
        { input: { text: 'Hi', speed_shift: 9 }, error: /'speed_shift' must be a number from 0\.5 to 2/ },
        ...PROTOTYPE_NAMES.flatMap((name) => [
          { input: { text: 'Hi', voice_name: name }, error: voiceNotFound(name) },
          { input: { text: 'Hi', voice_id: name }, error: voiceNotFound(name) },
        ]),
      ];
    case 'chatterbox-v2':
      return [
        { input: { operation: 'invalid_op' }, error: 'Unknown operation: invalid_op' },
        { input: { operation: 'tts', mode: 'basic', text: 'Hi', voice_name: 'InvalidName' }, error: voiceNotFound('InvalidName') },
        { input: { operation: 'tts', mode: 'fast', text: 'Hi' }, error: /'mode' must be one of basic, streaming, streaming_voice_cloning/ },
        ...PROTOTYPE_NAMES.flatMap((name) => [
          { input: { operation: name }, error: `Unknown operation: ${name}` },
          { input: { operation: 'tts', mode: 'basic', text: 'Hi', voice_name: name }, error: voiceNotFound(name) },
          { input: { operation: 'tts', mode: 'streaming', text: 'Hi', voice_id: name }, error: voiceNotFound(name) },
          { input: { operation: 'voice_conversion', input_audio: SECOND_OF_AUDIO, voice_name: name }, error: voiceNotFound(name) },
          { input: { operation: 'voice_transfer', transfer_mode: 'embedding', input_audio: SECOND_OF_AUDIO, voice_id: name }, error: voiceNotFound(name) },
        ]),
      ];
    case 'fish-speech':
      return [
        { input: { message: 'Hi', voice: 'InvalidName' }, error: voiceNotFound('InvalidName') },
        { input: { message: 'Hi', temperature: 5 }, error: /'temperature' must be a number from 0\.1 to 1/ },
        ...PROTOTYPE_NAMES.map((name) => ({ input: { message: 'Hi', voice: name }, error: voiceNotFound(name) })),
      ];
    default:
      throw new Error(`no refusals for ${endpoint}`);
  }
}

const ENDPOINTS = ['chatterbox', 'spark-tts', 'chatterbox-v2', 'fish-speech'] as const;

function assertError(actual: string | undefined, expected: RegExp | string, context: string): void {
  if (typeof expected === 'string') assert.equal(actual, expected, context);
  else assert.match(actual ?? '', expected, context);
}

/** Webhook receiver on loopback: the body of every POST it gets. */
async function startReceiver(): Promise<{ url: string; bodies: Record<string, unknown>[]; close(): Promise<void> }> {
  const bodies: Record<string, unknown>[] = [];
  const server: Server = createServer((request, response) => {
    let raw = '';
    request.on('data', (chunk: Buffer) => (raw += chunk.toString()));
    request.on('end', () => {
      bodies.push(JSON.parse(raw) as Record<string, unknown>);
      response.writeHead(200).end('ok');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`,
    bodies,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

for (const backend of JOB_BACKENDS) {
  describe(`adversarial: a refused input is a FAILED job, not an HTTP error (${backend.name})`, () => {
    let server: TestServer;
    let chat: ChatServer;
    let receiver: Awaited<ReturnType<typeof startReceiver>>;
    const sdk = () => runpodSdk(KEY, { baseUrl: `${server.url}/v2` });

    before(async () => {
      chat = await startChatServer(() => ({ tokens: ['Fine', ', thanks.'] }));
      receiver = await startReceiver();
      server = await startTestServer({
        ...(await backend.env()),
        CHORUS_API_KEYS: `${KEY},${OTHER_KEY}`,
        CHORUS_RATE_LIMIT_RPS: '0',
        CHORUS_ALLOW_PRIVATE_URLS: 'true',
        CHORUS_LLM_URL: chat.url,
        CHORUS_LLM_MODEL: 'scripted-model',
      });
    });
    after(async () => {
      await server?.close();
      await chat?.close();
      await receiver?.close();
    });

    const post = (path: string, body: unknown, key = KEY) =>
      fetch(`${server.url}/v2${path}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${key}` },
        body: typeof body === 'string' ? body : JSON.stringify(body),
      });

    for (const endpointId of ENDPOINTS) {
      it(`${endpointId}: runpod-sdk run() gets an id, status() shows FAILED with the handler's message; runSync() answers the FAILED job`, async () => {
        const endpoint = sdk().endpoint(endpointId)!;
        for (const { input, error } of refusals(endpointId)) {
          const context = `${endpointId} ${JSON.stringify(input).slice(0, 120)}`;
          if (endpointId !== 'fish-speech') {
            // The agent's /run answers in its own document's envelope (below); its /runsync is RunPod's.
            const submitted = await endpoint.run({ input });
            assert.equal(submitted.status, 'FAILED', context);
            assert.match(submitted.id, /-u1$/, context);
            const status = (await endpoint.status(submitted.id)) as Job;
            assert.equal(status.status, 'FAILED', context);
            assertError(status.error, error, context);
          }
          const sync = (await endpoint.runSync({ input })) as unknown as Job;
          assert.equal(sync.status, 'FAILED', context);
          assert.match(sync.id, /^sync-/, context);
          assertError(sync.error, error, context);
        }
      });
    }

    it("fish-speech /run keeps its document's HTTP 400, now with the id of the FAILED job it made", async () => {
      const response = await post('/fish-speech/run', { input: { message: 'Hi', voice: 'InvalidName' } });
      const body = (await response.json()) as { id: string | null; status: string; error: string; field?: string };
      assert.equal(response.status, 400, JSON.stringify(body));
      assert.equal(body.status, 'error');
      assert.equal(body.error, "Voice 'InvalidName' not found in any library");
      assert.equal(body.field, 'voice');
      assert.ok(body.id !== null, 'the answer names the job');
      const status = (await (await fetch(`${server.url}/v2/fish-speech/status/${body.id}`, { headers: { authorization: KEY } })).json()) as Job;
      assert.equal(status.status, 'FAILED');
      assert.equal(status.error, body.error);
    });

    it('a duplicate voice_cloning name is a FAILED job naming the conflict, not a 409', async () => {
      const synth = formantSynthReference({ f0Hz: 200, seconds: 6, sampleRate: 16000 });
      const form = new FormData();
      form.set('id', 'Taken Name');
      form.set('audio', new Blob([wavBytes(synth.samples, synth.sampleRate)], { type: 'audio/wav' }));
      const added = await fetch(`${server.url}/v1/references/add`, { method: 'POST', body: form, headers: { authorization: `Bearer ${KEY}` } });
      assert.equal(added.status, 200, await added.clone().text());
      const endpoint = sdk().endpoint('chatterbox-v2')!;
      const submitted = await endpoint.run({
        input: { operation: 'voice_cloning', voice_name: 'Taken Name', reference_audio: wavBytes(synth.samples, synth.sampleRate).toString('base64') },
      });
      assert.equal(submitted.status, 'FAILED');
      const status = (await endpoint.status(submitted.id)) as Job;
      assert.equal(status.status, 'FAILED');
      assert.equal(status.error, "A voice named 'Taken Name' already exists; choose another name or delete it first.");
    });

    it('a refused job is delivered to its webhook, counted in /health, and cannot be retried (its input was never kept)', async () => {
      const healthBefore = await sdk().endpoint('chatterbox')!.health();
      const response = await post('/chatterbox/run', { input: { text: 'Hi', voice: 'InvalidName' }, webhook: receiver.url });
      assert.equal(response.status, 200);
      const { id, status } = (await response.json()) as Job;
      assert.equal(status, 'FAILED');
      const deadline = Date.now() + 10_000;
      while (!receiver.bodies.some((body) => body['id'] === id) && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 50));
      const delivered = receiver.bodies.find((body) => body['id'] === id);
      assert.ok(delivered !== undefined, 'the webhook was delivered');
      assert.equal(delivered['status'], 'FAILED');
      assert.equal(delivered['error'], "Voice 'InvalidName' not found in any library");
      const healthAfter = await sdk().endpoint('chatterbox')!.health();
      assert.equal(healthAfter.jobs.failed, healthBefore.jobs.failed + 1);
      assert.equal(healthAfter.jobs.inQueue, healthBefore.jobs.inQueue);
      const retried = await post(`/chatterbox/retry/${id}`, {});
      const body = (await retried.json()) as { error: string };
      assert.equal(retried.status, 400, JSON.stringify(body));
      assert.match(body.error, /refused when it was submitted.*submit a corrected job/);
    });

    it("/health and GET /v2/{id} count the key's own jobs only; the workers are everyone's", async () => {
      const mine = sdk().endpoint('chatterbox')!;
      const theirs = runpodSdk(OTHER_KEY, { baseUrl: `${server.url}/v2` }).endpoint('chatterbox')!;
      await mine.run({ input: { text: 'Hi', voice: 'InvalidName' } });
      assert.equal(((await mine.runSync({ input: { text: 'Counted for my key only.' } })) as unknown as Job).status, 'COMPLETED');
      const long = await mine.run({ input: { text: 'A long text keeps the engine busy for a while. '.repeat(200) } });
      const deadline = Date.now() + 20_000;
      while ((await mine.status(long.id)).status !== 'IN_PROGRESS' && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 50));
      try {
        const own = await mine.health();
        assert.ok(own.jobs.failed >= 1 && own.jobs.completed >= 1 && own.jobs.inProgress >= 1, JSON.stringify(own));
        // Runners report how busy they are once a second (to Redis): wait until the report has the job.
        let other = await theirs.health();
        let described: Record<string, number> = {};
        for (let i = 0; i < 100; i++) {
          other = await theirs.health();
          described = (await (await fetch(`${server.url}/v2/chatterbox`, { headers: { authorization: OTHER_KEY } })).json()) as Record<string, number>;
          if (other.workers.running >= 1 && described['activeWorkers']! >= 1) break;
          await new Promise((resolve) => setTimeout(resolve, 50));
        }
        assert.deepEqual(other.jobs, { completed: 0, failed: 0, inProgress: 0, inQueue: 0, retried: 0 }, 'another key sees none of these jobs');
        assert.ok(other.workers.running >= 1, 'but sees the workers busy');
        assert.equal(described['jobsInProgress'], 0);
        assert.equal(described['jobsInQueue'], 0);
        assert.ok(described['activeWorkers']! >= 1);
      } finally {
        await mine.cancel(long.id);
      }
    });

    it('what RunPod itself refuses stays an HTTP error: no input, malformed or deep JSON, bad policy or webhook, unknown endpoint, bad key', async () => {
      const cases: [string, unknown, number, RegExp][] = [
        ['/chatterbox/run', {}, 400, /Missing required field 'input'/],
        ['/chatterbox/run', { input: 'text' }, 400, /input/],
        ['/chatterbox/run', { input: [1, 2] }, 400, /input/],
        ['/chatterbox/run', '{"input": ', 400, /not valid JSON/],
        ['/chatterbox/run', '', 400, /empty/],
        ['/chatterbox/run', '[1]', 400, /JSON object|input/],
        ['/chatterbox/run', `{"input":{"text":${'['.repeat(10_000)}${']'.repeat(10_000)}}}`, 400, /nested more than 64 levels/],
        ['/chatterbox-v2/runsync', `{"input":{"operation":${'{"a":'.repeat(10_000)}1${'}'.repeat(10_000)}}}`, 400, /nested more than 64 levels/],
        ['/chatterbox/run', { input: { text: 'Hi' }, policy: { ttl: 5 } }, 400, /policy\.ttl/],
        ['/chatterbox/runsync', { input: { text: 'Hi' }, webhook: 'not a url' }, 400, /webhook/],
        ['/nowhere/run', { input: { text: 'Hi' } }, 404, /Endpoint 'nowhere' not found/],
        ['/constructor/run', { input: { text: 'Hi' } }, 404, /Endpoint 'constructor' not found/],
        ['/chatterbox/status/__proto__', {}, 404, /Job '__proto__' not found/],
        ['/fish-speech/runsync', { message: 'Hi' }, 400, /Missing required field 'input'/],
      ];
      for (const [path, body, status, pattern] of cases) {
        const response = await post(path, body);
        const answer = (await response.json()) as { error: string };
        assert.equal(response.status, status, `${path} ${String(typeof body === 'string' ? body : JSON.stringify(body)).slice(0, 80)}: ${answer.error}`);
        assert.match(answer.error, pattern);
      }
      const unauthorized = await post('/chatterbox/run', { input: { text: 'Hi' } }, 'wrong-key');
      assert.equal(unauthorized.status, 401);
    });
  });
}

/** 1 MB of a field no profile knows. */
const PADDING = 'p'.repeat(1024 * 1024);

for (const backend of JOB_BACKENDS) {
  describe(`adversarial: a job stores only the input its endpoint validated (${backend.name})`, () => {
    let chat: ChatServer;
    let env: Record<string, string>;
    let server: TestServer;
    let serverOpen = false;
    /** Job id → the input the job should have stored. */
    const expected = new Map<string, unknown>();

    before(async () => {
      chat = await startChatServer(() => ({ tokens: ['Fine', ', thanks.'] }));
      env = { ...(await backend.env()), CHORUS_RATE_LIMIT_RPS: '0', CHORUS_LLM_URL: chat.url, CHORUS_LLM_MODEL: 'scripted-model' };
      server = await startTestServer(env, { keepDataDir: true });
      serverOpen = true;
    });
    after(async () => {
      if (serverOpen) await server.close();
      await chat?.close();
      if (server !== undefined) rmSync(server.dataDir, { recursive: true, force: true });
    });

    const runsync = async (endpointId: string, input: Record<string, unknown>): Promise<Job> => {
      const response = await fetch(`${server.url}/v2/${endpointId}/runsync?wait=60000`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ input: { ...input, padding: PADDING, nested: { padding: PADDING } } }),
      });
      assert.equal(response.status, 200);
      return (await response.json()) as Job;
    };

    it('padded inputs run to completion from what was stored (each profile, each kind of chatterbox-v2 operation)', async () => {
      const valid: [string, Record<string, unknown>][] = [
        ['chatterbox', { text: 'Padded but fine.', format: 'wav' }],
        ['spark-tts', { text: 'Padded but fine.', speaker_gender: 'female' }],
        ['chatterbox-v2', { operation: 'tts', mode: 'basic', text: 'Padded but fine.', voice_name: 'Amy' }],
        ['chatterbox-v2', { operation: 'tts', mode: 'streaming', text: 'Padded but fine.' }],
        ['chatterbox-v2', { operation: 'list_local_voices' }],
        ['chatterbox-v2', { operation: 'detect_watermark', input_audio: SECOND_OF_AUDIO }],
        ['chatterbox-v2', { operation: 'voice_conversion', input_audio: SECOND_OF_AUDIO, voice_name: 'Amy' }],
        ['chatterbox-v2', { operation: 'voice_transfer', transfer_mode: 'embedding', input_audio: SECOND_OF_AUDIO, voice_id: 'Amy' }],
        ['fish-speech', { message: 'Hi there.', conversation_id: 'padded' }],
      ];
      for (const [endpointId, input] of valid) {
        const job = await runsync(endpointId, input);
        assert.equal(job.status, 'COMPLETED', `${endpointId} ${JSON.stringify(input).slice(0, 100)}: ${job.error}`);
        expected.set(job.id, input);
      }
      const refused = await runsync('chatterbox', { text: 'Hi', speed: 9 });
      assert.equal(refused.status, 'FAILED');
      expected.set(refused.id, null);
    });

    it('the stored records hold the known fields only: no padding, a small database', async () => {
      assert.ok(expected.size > 0, 'the previous case submitted jobs');
      // The embedded queue belongs to one process: the server stops before the test opens it.
      await server.close();
      serverOpen = false;
      let queue: JobQueue;
      if (env['CHORUS_REDIS_URL'] === undefined) {
        const path = join(server.dataDir, 'jobs.sqlite');
        assert.ok(statSync(path).size < 2 * PADDING.length, `jobs.sqlite is ${statSync(path).size} bytes after ${expected.size} jobs padded with 2 MB each`);
        queue = new SqliteJobQueue({ path, maxQueuedJobs: 10 });
      } else {
        queue = new RedisJobQueue({ url: env['CHORUS_REDIS_URL'], prefix: env['CHORUS_REDIS_PREFIX']!, maxQueuedJobs: 10 });
        await (queue as RedisJobQueue).ready();
      }
      try {
        for (const [id, input] of expected) {
          const job = await queue.get(id);
          assert.ok(job !== undefined, id);
          assert.deepEqual(job.input, input, `${job.endpointId}: stored ${JSON.stringify(job.input).slice(0, 200)}`);
        }
      } finally {
        await queue.close();
      }
    });
  });
}
