import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startTestServer, type TestServer } from './support/server.js';

describe('concurrency, cancellation and isolation', () => {
  let server: TestServer;
  before(async () => {
    // Without the result cache: "the same request made alone" must really be synthesised again.
    server = await startTestServer({ CACHE_ENABLED: 'false' });
  });
  after(() => server.close());

  const speak = async (body: Record<string, unknown>, signal?: AbortSignal) => {
    const response = await fetch(`${server.url}/v1/audio/speech`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'tts-1', response_format: 'wav', ...body }),
      ...(signal ? { signal } : {}),
    });
    assert.equal(response.status, 200);
    return Buffer.from(await response.arrayBuffer());
  };

  // eSpeak's waveform can differ by a few samples between two identical calls (it carries
  // pitch-flutter state between utterances), so "the same audio" is checked as: the same words at
  // the same times, the same length to within a pitch period, and the same loudness.
  const timed = async (body: Record<string, unknown>) => {
    const response = await fetch(`${server.url}/v1/audio/speech/extended`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ response_format: 'wav', timestamps: true, ...body }),
    });
    assert.equal(response.status, 200);
    const json = (await response.json()) as { audio: string; word_timings: { word: string; start: number }[] };
    const pcm = new Int16Array(Buffer.from(json.audio, 'base64').buffer.slice(44));
    let energy = 0;
    for (const sample of pcm) energy += sample * sample;
    return { samples: pcm.length, rms: Math.sqrt(energy / pcm.length), words: json.word_timings };
  };

  it('20 concurrent different requests each return exactly the audio of the same request made alone', async () => {
    const voices = ['Aaron', 'Abigail', 'Brian', 'Carol', 'default', 'Anna', 'Bruce', 'Betty', 'Alan', 'Amy'];
    const requests = Array.from({ length: 20 }, (_, i) => ({
      voice: voices[i % voices.length],
      input: `Request number ${i + 1} says something different. ${'More words. '.repeat(i % 4)}`,
      speed: 0.8 + (i % 5) * 0.2,
    }));
    const alone: Awaited<ReturnType<typeof timed>>[] = [];
    for (const request of requests) alone.push(await timed(request));
    const together = await Promise.all(requests.map((request) => timed(request)));
    for (let i = 0; i < requests.length; i++) {
      const a = alone[i]!;
      const b = together[i]!;
      assert.ok(Math.abs(a.samples - b.samples) < 480, `request ${i + 1}: ${a.samples} vs ${b.samples} samples`);
      assert.ok(Math.abs(a.rms - b.rms) / a.rms < 0.02, `request ${i + 1}: loudness ${a.rms} vs ${b.rms}`);
      assert.deepEqual(b.words.map((w) => w.word), a.words.map((w) => w.word), `request ${i + 1}: same words`);
      for (let w = 0; w < a.words.length; w++) assert.ok(Math.abs(a.words[w]!.start - b.words[w]!.start) < 0.02, `request ${i + 1}: same timing`);
      if (i > 0) assert.notEqual(a.samples, alone[i - 1]!.samples, 'different requests differ');
    }
  });

  it('a client that disconnects mid-stream stops the synthesis', async () => {
    const health = async () => ((await (await fetch(`${server.url}/health`)).json()) as { jobs: { active: number; aborted: number } }).jobs;
    const before = await health();
    const controller = new AbortController();
    const text = Array.from({ length: 400 }, (_, i) => `Sentence ${i} keeps the engine busy for a while.`).join(' ');
    const response = await fetch(`${server.url}/v1/audio/speech`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'tts-1', voice: 'alloy', input: text.slice(0, 4096), response_format: 'mp3', stream: true }),
      signal: controller.signal,
    });
    const reader = response.body!.getReader();
    const first = await reader.read();
    assert.ok(!first.done && first.value.length > 0, 'audio started');
    controller.abort();
    let jobs = await health();
    for (let i = 0; i < 100 && (jobs.aborted === before.aborted || jobs.active > 0); i++) {
      await new Promise((resolve) => setTimeout(resolve, 50));
      jobs = await health();
    }
    assert.equal(jobs.aborted, before.aborted + 1, 'the job was aborted, not finished');
    assert.equal(jobs.active, 0);
    // And the server goes on serving.
    assert.ok((await speak({ voice: 'alloy', input: 'Still here.' })).length > 1000);
  });
});
