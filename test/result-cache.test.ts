import assert from 'node:assert/strict';
import { readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { formantSynthReference, wavBytes } from './support/reference-voices.js';
import { startTestServer, type TestServer } from './support/server.js';

type Job = { status: string; output?: Record<string, any>; error?: string };

describe('result cache across the APIs', () => {
  let server: TestServer;
  const KEY_A = 'cache-key-a';
  const KEY_B = 'cache-key-b';

  before(async () => {
    server = await startTestServer({ CHORUS_API_KEYS: `${KEY_A},${KEY_B}`, CHORUS_RATE_LIMIT_RPS: '0' });
  });
  after(() => server.close());

  const speech = async (body: Record<string, unknown>, key = KEY_A, path = '/v1/audio/speech', extraHeaders: Record<string, string> = {}) => {
    const response = await fetch(`${server.url}${path}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${key}`, ...extraHeaders },
      body: JSON.stringify({ model: 'tts-1', response_format: 'wav', ...body }),
    });
    assert.equal(response.status, 200, await response.clone().text());
    return { cache: response.headers.get('x-cache'), key: response.headers.get('x-chorus-cache-key'), bytes: Buffer.from(await response.arrayBuffer()) };
  };
  const job = async (endpoint: string, input: Record<string, unknown>, key = KEY_A): Promise<Record<string, any>> => {
    const response = await fetch(`${server.url}/v2/${endpoint}/runsync`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${key}` },
      body: JSON.stringify({ input }),
    });
    const body = (await response.json()) as Job;
    assert.equal(body.status, 'COMPLETED', body.error);
    return body.output!;
  };
  const completedSyntheses = async () => ((await (await fetch(`${server.url}/health`)).json()) as { jobs: { completed: number } }).jobs.completed;

  it('OpenAI speech: a repeat is a HIT with the same bytes; any change of the request is a MISS; streams are live', async () => {
    const first = await speech({ voice: 'Amy', input: 'Cache me if you can.' });
    assert.equal(first.cache, 'MISS');
    assert.match(first.key ?? '', /^[0-9a-f]{64}$/);
    const again = await speech({ voice: 'Amy', input: 'Cache me if you can.' });
    assert.equal(again.cache, 'HIT');
    assert.equal(again.key, first.key);
    assert.ok(again.bytes.equals(first.bytes));
    // Normalised text: extra spaces do not make a new entry.
    assert.equal((await speech({ voice: 'Amy', input: '  Cache me   if you can. ' })).cache, 'HIT');
    for (const change of [{ speed: 1.2 }, { voice: 'Albert' }, { response_format: 'mp3' }, { sample_rate: 16000 }, { no_watermark: true }, { pitch_shift: 1 }]) {
      assert.equal((await speech({ voice: 'Amy', input: 'Cache me if you can.', ...change })).cache, 'MISS', JSON.stringify(change));
    }
    // Cache-Control as HTTP caches read it: no-store leaves the cache alone, no-cache refreshes the entry.
    const syntheses = await completedSyntheses();
    const bypass = await speech({ voice: 'Amy', input: 'Cache me if you can.' }, KEY_A, '/v1/audio/speech', { 'cache-control': 'no-store' });
    assert.equal(bypass.cache, 'BYPASS');
    const refreshed = await speech({ voice: 'Amy', input: 'Cache me if you can.' }, KEY_A, '/v1/audio/speech', { 'cache-control': 'max-age=0, no-cache' });
    assert.equal(refreshed.cache, 'MISS');
    assert.equal(await completedSyntheses(), syntheses + 2, 'both were synthesised');
    assert.equal((await speech({ voice: 'Amy', input: 'Cache me if you can.' })).cache, 'HIT');
    const fresh = await speech({ voice: 'Amy', input: 'Stored only on request.' }, KEY_A, '/v1/audio/speech', { 'cache-control': 'no-store' });
    assert.equal(fresh.cache, 'BYPASS');
    assert.equal((await speech({ voice: 'Amy', input: 'Stored only on request.' })).cache, 'MISS', 'no-store stored nothing');
    const streamed = await speech({ voice: 'Amy', input: 'Cache me if you can.', stream: true });
    assert.equal(streamed.cache, null);
    // Timings come from the cache too.
    const timed = async () => {
      const response = await fetch(`${server.url}/v1/audio/speech/extended`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${KEY_A}` },
        body: JSON.stringify({ input: 'Timed words, twice.', voice: 'Amy', timestamps: true }),
      });
      return { cache: response.headers.get('x-cache'), json: (await response.json()) as { word_timings: unknown[]; audio: string } };
    };
    const t1 = await timed();
    const t2 = await timed();
    assert.deepEqual([t1.cache, t2.cache], ['MISS', 'HIT']);
    assert.deepEqual(t2.json.word_timings, t1.json.word_timings);
    assert.equal(t1.json.word_timings.length, 3);
  });

  it('identical concurrent requests are synthesised once and every one is served', async () => {
    const before = await completedSyntheses();
    const results = await Promise.all(Array.from({ length: 6 }, () => speech({ voice: 'Brian', input: 'Six at once, one synthesis.' })));
    assert.equal(results.filter((r) => r.cache === 'MISS').length, 1);
    for (const result of results) assert.ok(result.bytes.equals(results[0]!.bytes));
    assert.equal((await completedSyntheses()) - before, 1);
  });

  it('job APIs: chatterbox-v2 basic tts and Spark-TTS answer repeats from the cache', async () => {
    const input = { operation: 'tts', mode: 'basic', text: 'Repeat after me.', voice_name: 'Amy' };
    const first = await job('chatterbox-v2', input);
    const second = await job('chatterbox-v2', input);
    assert.deepEqual([first['cache_hit'], second['cache_hit']], [false, true]);
    assert.equal(second['cache_key'], first['cache_key']);
    assert.equal(second['audio'], first['audio']);
    const streaming = await job('chatterbox-v2', { ...input, mode: 'streaming' });
    assert.equal(streaming['cache_hit'], undefined, 'streaming jobs are produced live');
    const spark = { text: 'Spark repeats too.', enable_whisperx: true };
    const s1 = await job('spark-tts', spark);
    const s2 = await job('spark-tts', spark);
    assert.deepEqual([s1['cache_hit'], s2['cache_hit']], [false, true]);
    assert.deepEqual(s2['word_timings'], s1['word_timings']);
  });

  it('built-in voices are shared across keys; a key\'s own voice never is', async () => {
    const builtin = { voice: 'Amy', input: 'Shared by every key.' };
    assert.equal((await speech(builtin, KEY_A)).cache, 'MISS');
    assert.equal((await speech(builtin, KEY_B)).cache, 'HIT');
    // Both keys make a voice named "Mine" from different references; the same request must not cross over.
    for (const [key, f0Hz] of [[KEY_A, 120], [KEY_B, 230]] as const) {
      const reference = formantSynthReference({ f0Hz, seconds: 6, sampleRate: 16000 });
      await job('chatterbox-v2', { operation: 'voice_cloning', reference_audio: wavBytes(reference.samples, reference.sampleRate).toString('base64'), voice_name: 'Mine' }, key);
    }
    const a = await speech({ voice: 'Mine', input: 'Whose voice is this?' }, KEY_A);
    const b = await speech({ voice: 'Mine', input: 'Whose voice is this?' }, KEY_B);
    assert.deepEqual([a.cache, b.cache], ['MISS', 'MISS']);
    assert.notEqual(a.key, b.key);
    assert.equal((await speech({ voice: 'Mine', input: 'Whose voice is this?' }, KEY_B)).cache, 'HIT');
  });

  it('a corrupt entry is a miss with a warning in the log, never a failed request', async () => {
    const body = { voice: 'Carl', input: 'Corrupt me.' };
    const first = await speech(body);
    const dir = join(server.dataDir, 'cache');
    const file = readdirSync(dir).find((name) => name.startsWith(first.key!));
    assert.ok(file !== undefined, 'the entry is a file named by its key');
    writeFileSync(join(dir, file), 'garbage');
    const again = await speech(body);
    assert.equal(again.cache, 'MISS');
    assert.equal((await speech(body)).cache, 'HIT');
  });
});

describe('result cache turned off', () => {
  let server: TestServer;
  before(async () => {
    server = await startTestServer({ CACHE_ENABLED: 'false' });
  });
  after(() => server.close());

  it('answers without cache headers or fields', async () => {
    const post = () =>
      fetch(`${server.url}/v1/audio/speech`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ model: 'tts-1', voice: 'Amy', input: 'No cache.' }) });
    for (let i = 0; i < 2; i++) {
      const response = await post();
      assert.equal(response.status, 200);
      assert.equal(response.headers.get('x-cache'), null);
      await response.arrayBuffer();
    }
  });
});
