import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Validator } from '@seriousme/openapi-schema-validator';
import { Ajv2020 } from 'ajv/dist/2020.js';
import { chromium } from 'playwright-core';
import { PROFILE_KINDS } from '../src/operations/index.js';
import { startChatServer, type ChatServer } from './support/chat-server.js';
import { startTestServer, type TestServer } from './support/server.js';

const KEY = 'openapi-test-key';
/** What the test reads of the page's <audio> (the project's types have no DOM). */
interface MediaElement {
  readonly readyState: number;
  readonly duration: number;
  addEventListener(type: string, listener: () => void, options: { once: boolean }): void;
}

/** Debian's Chromium, headless on a machine without network or GPU (ensure-test-tools installs it). */
const CHROMIUM_FLAGS = ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];

type Schema = Record<string, unknown>;
interface Media { schema: Schema; examples?: Record<string, { summary: string; value: unknown }> }
interface Operation {
  operationId: string;
  parameters?: { name: string; in: string; required: boolean }[];
  requestBody?: { content: Record<string, Media> };
  responses: Record<string, { description: string; content?: Record<string, Media> }>;
  security: Record<string, string[]>[];
}
interface Document {
  openapi: string;
  paths: Record<string, Record<string, Operation>>;
  components: { schemas: Record<string, Schema> };
}

/** Whether Hono's route pattern serves the document's path: `{name}` stands for `:name` or `*`, and `:endpointId` for each endpoint id. */
function serves(pattern: string, path: string): boolean {
  const want = pattern.split('/');
  const have = path.split('/');
  if (want.length !== have.length) return false;
  return want.every((segment, index) => {
    const documented = have[index]!;
    if (segment === '*') return /^\{\w+\}$/.test(documented);
    if (segment === ':endpointId') return PROFILE_KINDS.includes(documented);
    if (segment.startsWith(':')) return documented === `{${segment.slice(1)}}`;
    return segment === documented;
  });
}

describe('OpenAPI document and /docs', () => {
  let server: TestServer;
  let chat: ChatServer;
  let doc: Document;
  const ajv = new Ajv2020({ strict: false, validateFormats: false, allErrors: true });
  const operations = (): [string, string, Operation][] =>
    Object.entries(doc.paths).flatMap(([path, item]) => Object.entries(item).map(([method, op]): [string, string, Operation] => [path, method, op]));
  /** The schema with references to the document's shared schemas put in place. */
  const resolved = (schema: Schema): Schema => {
    const ref = schema['$ref'];
    return typeof ref === 'string' ? doc.components.schemas[ref.split('/').pop()!]! : schema;
  };
  const check = (schema: Schema, value: unknown, what: string): void => {
    const validate = ajv.compile(resolved(schema));
    assert.ok(validate(value), `${what}: ${ajv.errorsText(validate.errors)}\n${JSON.stringify(value).slice(0, 400)}`);
  };
  /** The response's body checked against what the document says of its status and content type. */
  const checkAnswer = async (response: Response, op: Operation, what: string): Promise<unknown> => {
    const documented = op.responses[String(response.status)];
    const text = await response.text();
    assert.ok(documented !== undefined, `${what}: status ${response.status} is not documented: ${text.slice(0, 300)}`);
    const type = (response.headers.get('content-type') ?? '').split(';')[0]!.trim();
    if (documented.content === undefined) return text;
    const media = Object.entries(documented.content).find(([documentedType]) => documentedType.split(';')[0]!.trim() === type);
    assert.ok(media !== undefined, `${what}: content type ${type} is not documented for ${response.status} (${Object.keys(documented.content).join(', ')})`);
    if (type !== 'application/json') return text;
    const body = JSON.parse(text) as unknown;
    check(media[1].schema, body, `${what}: the ${response.status} answer`);
    return body;
  };
  const send = (path: string, init: RequestInit & { key?: string | null } = {}): Promise<Response> => {
    const headers = new Headers(init.headers);
    if (init.key !== null) headers.set('authorization', `Bearer ${init.key ?? KEY}`);
    // Redirects are answers of their own: the document describes each route as it answers.
    return fetch(`${server.url}${path}`, { redirect: 'manual', ...init, headers });
  };

  before(async () => {
    chat = await startChatServer(() => ({ tokens: ['Hello ', 'there. ', 'I can speak.'] }));
    server = await startTestServer({
      CHORUS_API_KEYS: KEY,
      // Off by default once keys are set; on, /metrics is a route the document must have.
      CHORUS_METRICS: 'api-keys',
      CHORUS_RATE_LIMIT_RPS: '0',
      CHORUS_LLM_URL: chat.url,
      CHORUS_LLM_MODEL: 'scripted-model',
    });
    const response = await fetch(`${server.url}/openapi.json`);
    assert.equal(response.status, 200);
    doc = (await response.json()) as Document;
  });
  after(async () => {
    await server?.close();
    await chat?.close();
  });

  it('is a valid OpenAPI 3.1 document', async () => {
    assert.equal(doc.openapi, '3.1.0');
    const result = await new Validator().validate(doc as unknown as Parameters<Validator["validate"]>[0]);
    assert.ok(result.valid, JSON.stringify(result.errors, null, 2)?.slice(0, 3000));
    // Every schema in it compiles as JSON Schema 2020-12.
    for (const [path, method, op] of operations()) {
      for (const media of Object.values(op.requestBody?.content ?? {})) ajv.compile(resolved(media.schema));
      for (const response of Object.values(op.responses)) for (const media of Object.values(response.content ?? {})) ajv.compile(resolved(media.schema));
      assert.ok(op.operationId, `${method} ${path} has an operationId`);
    }
  });

  it('describes every route the app registers, and only those', () => {
    const registered = server.routes.filter((route) => route.method !== 'ALL').map((route) => ({ method: route.method.toLowerCase(), path: route.path }));
    assert.ok(registered.length > 20, 'the app lists its routes');
    const documented = operations().map(([path, method]) => ({ method, path }));
    for (const route of registered) {
      const expected = route.path.includes(':endpointId') ? PROFILE_KINDS.length : 1;
      const found = documented.filter((entry) => entry.method === route.method && serves(route.path, entry.path));
      assert.equal(found.length, expected, `${route.method.toUpperCase()} ${route.path} is registered; documented as: ${found.map((entry) => entry.path).join(', ') || 'nothing'}`);
    }
    for (const entry of documented) {
      assert.ok(
        registered.some((route) => route.method === entry.method && serves(route.path, entry.path)),
        `${entry.method.toUpperCase()} ${entry.path} is documented but the app does not serve it`,
      );
    }
  });

  it('gives each job endpoint its own input schema, chatterbox-v2 one per operation', () => {
    const input = (endpoint: string) => doc.paths[`/v2/${endpoint}/run`]!['post']!.requestBody!.content['application/json']!.schema['properties'] as Record<string, Schema>;
    assert.ok('prompt_speech_url' in (input('spark-tts')['input']!['properties'] as object));
    assert.ok('message' in (input('fish-speech')['input']!['properties'] as object));
    const variants = (input('chatterbox-v2')['input']!['oneOf'] ?? input('chatterbox-v2')['input']!['anyOf']) as Schema[];
    const names = variants.map((variant) => ((variant['properties'] as Record<string, Schema>)['operation']!['const']));
    assert.deepEqual(names.sort(), ['detect_watermark', 'list_local_voices', 'tts', 'voice_cloning', 'voice_conversion', 'voice_transfer']);
    // What every API route asks for when keys are set, and what the open ones do not.
    assert.deepEqual(doc.paths['/v1/audio/speech']!['post']!.security, [{ bearerAuth: [] }]);
    assert.deepEqual(doc.paths['/v2/spark-tts/run']!['post']!.security, [{ bearerAuth: [] }, { runpodKey: [] }]);
    assert.deepEqual(doc.paths['/health']!['get']!.security, []);
    assert.deepEqual(doc.paths['/metrics']!['get']!.security, [{ metricsToken: [] }]);
  });

  it('every documented example matches its schema and is accepted by the server', async () => {
    let sent = 0;
    for (const [path, method, op] of operations()) {
      for (const [type, media] of Object.entries(op.requestBody?.content ?? {})) {
        for (const [name, example] of Object.entries(media.examples ?? {})) {
          const what = `${method.toUpperCase()} ${path} example '${name}'`;
          check(media.schema, example.value, what);
          const response = await send(path, { method: method.toUpperCase(), headers: { 'content-type': type }, body: JSON.stringify(example.value) });
          assert.equal(response.status, 200, `${what}: ${await response.clone().text()}`);
          const body = await checkAnswer(response, op, what);
          if (path.endsWith('/runsync')) assert.equal((body as { status: string }).status, 'COMPLETED', `${what}: ${JSON.stringify(body).slice(0, 300)}`);
          if (path.endsWith('/run') && typeof body === 'object') assert.notEqual((body as { status: string }).status, 'FAILED', `${what}: ${JSON.stringify(body).slice(0, 300)}`);
          if (typeof body === 'string' && response.headers.get('content-type')?.startsWith('application/x-ndjson')) {
            const last = JSON.parse(body.trim().split('\n').pop()!) as { done?: boolean; type?: string };
            assert.ok(last.done === true || last.type === 'done', `${what}: the stream ends with its last message: ${body.slice(-300)}`);
          }
          sent++;
        }
      }
    }
    assert.ok(sent >= 12, `examples sent: ${sent}`);
  });

  it('JSON answers of the routes without parameters match their documented schemas', async () => {
    let checked = 0;
    for (const [path, method, op] of operations()) {
      if (method !== 'get' || path.includes('{') || path === '/docs') continue;
      await checkAnswer(await send(path), op, `GET ${path}`);
      checked++;
    }
    assert.ok(checked >= 10, `checked ${checked}`);
  });

  it('errors come in the documented shape of each API', async () => {
    const speech = doc.paths['/v1/audio/speech']!['post']!;
    const bad = await send('/v1/audio/speech', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ model: 'tts-1', input: 'Hi.', voice: 'alloy', speed: 9 }) });
    assert.equal(bad.status, 400);
    assert.equal(((await checkAnswer(bad, speech, 'bad speed')) as { error: { param: string } }).error.param, 'speed');
    await checkAnswer(await send('/v1/audio/speech', { method: 'POST', key: null, body: '{}' }), speech, 'no key');

    const runsync = doc.paths['/v2/spark-tts/runsync']!['post']!;
    const badWait = await send('/v2/spark-tts/runsync?wait=5', { method: 'POST', body: JSON.stringify({ input: { text: 'Hi.' } }) });
    assert.equal(badWait.status, 400);
    const body = (await checkAnswer(badWait, runsync, 'bad wait')) as { error: string; field: string };
    assert.equal(body.field, 'wait');
    assert.match(body.error, /from 1000 to 300000/);
    await checkAnswer(await send('/v2/spark-tts/runsync', { method: 'POST', key: 'wrong', body: '{}' }), runsync, 'wrong key');
    const status = doc.paths['/v2/spark-tts/status/{jobId}']!['get']!;
    assert.equal((await checkAnswer(await send('/v2/spark-tts/status/no-such-job'), status, 'unknown job')) && 404, 404);
  });

  it('/docs is a page that renders the document, with nothing from outside', async () => {
    const response = await fetch(`${server.url}/docs`);
    assert.equal(response.status, 200);
    assert.match(response.headers.get('content-type') ?? '', /^text\/html/);
    assert.match(response.headers.get('content-security-policy') ?? '', /connect-src 'self'/);
    const html = await response.text();
    assert.match(html, /openapi\.json/);
    assert.doesNotMatch(html, /<script[^>]+src=|<link[^>]+href=|https?:\/\//);
    // The page's script parses.
    const script = /<script>([\s\S]*)<\/script>/.exec(html)?.[1];
    assert.ok(script !== undefined);
    assert.doesNotThrow(() => new Function(script));
  });

  it('/docs in a real headless Chromium: every route is shown, and its form sends requests with the key', async () => {
    const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: CHROMIUM_FLAGS });
    try {
      const page = await browser.newPage();
      const failures: string[] = [];
      page.on('pageerror', (error) => failures.push(error.message));
      await page.goto(`${server.url}/docs`);
      await page.waitForSelector('details.op');
      assert.equal(await page.locator('details.op').count(), operations().length);
      await page.fill('#api-key', KEY);
      await page.dispatchEvent('#api-key', 'change');

      // Speech: the example is sent and the MP3 answer plays in an <audio> element.
      const speech = page.locator('#createSpeech');
      await speech.locator(':scope > summary').click();
      await speech.getByRole('button', { name: 'Send POST /v1/audio/speech' }).click();
      await speech.locator('.answer audio').waitFor();
      assert.match((await speech.locator('.answer b').textContent()) ?? '', /^200/);
      const duration = await speech.locator('.answer audio').evaluate(
        (audio: MediaElement) =>
          new Promise<number>((resolve) => (audio.readyState >= 1 ? resolve(audio.duration) : audio.addEventListener('loadedmetadata', () => resolve(audio.duration), { once: true }))),
      );
      assert.ok(duration > 0.3, `the browser decoded ${duration} s of audio`);

      // A job: the example is queued, then its id and ?wait= go in the status-sync form.
      const run = page.locator('#chatterboxV2Run');
      await run.locator(':scope > summary').click();
      await run.getByRole('button', { name: 'Send POST /v2/chatterbox-v2/run' }).click();
      await run.locator('.answer pre', { hasText: '"id"' }).last().waitFor();
      const queued = JSON.parse((await run.locator('.answer > pre').last().textContent()) ?? '{}') as { id: string; status: string };
      assert.equal(queued.status, 'IN_QUEUE');
      const statusSync = page.locator('#chatterboxV2StatusSync');
      await statusSync.locator(':scope > summary').click();
      await statusSync.getByPlaceholder('path, required').fill(queued.id);
      await statusSync.getByPlaceholder('query').fill('60000');
      await statusSync.getByRole('button', { name: 'Send GET /v2/chatterbox-v2/status-sync/{jobId}' }).click();
      await statusSync.locator('.answer > pre', { hasText: '"status"' }).waitFor({ timeout: 90_000 });
      assert.match((await statusSync.locator('.answer > pre').last().textContent()) ?? '', /"status": "COMPLETED"/);

      // An error is shown as the server wrote it.
      const model = page.locator('#getModel');
      await model.locator(':scope > summary').click();
      await model.getByPlaceholder('path, required').fill('no-such-model');
      await model.getByRole('button', { name: 'Send GET /v1/models/{id}' }).click();
      await model.locator('.answer > pre').waitFor();
      assert.match((await model.locator('.answer b').textContent()) ?? '', /^400/);
      assert.match((await model.locator('.answer > pre').textContent()) ?? '', /model_not_found/);
      assert.deepEqual(failures, []);
    } finally {
      await browser.close();
    }
  });
});
