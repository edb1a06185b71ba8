// Streaming and non-streaming give the same audio (issue 14): the same text, voice and options make the
// same duration (within 1%) and the same words whether the answer is one file, a byte stream, SSE
// events, or a chatterbox-v2 job in basic or streaming mode. Real server on loopback, ffprobe for lengths.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import runpodSdk from 'runpod-sdk';
import { probeAudio } from '../support/ffprobe.js';
import { startTestServer, type TestServer } from '../support/server.js';

/** A first sentence longer than a stream's short first chunk, so a delivery-dependent plan would show. */
const LONG_FIRST =
  'When the first sentence of a request runs on for well over a hundred and twenty characters, with clauses, commas and all, a stream used to cut it early. Then a short one. And 3 more at 9:30 p.m.!';
const SHORT = 'Hello there. How are you today? I am fine, thank you very much.';

interface Case {
  readonly name: string;
  readonly body: Record<string, unknown>;
}

const CASES: readonly Case[] = [
  { name: 'long first sentence, alloy, pcm', body: { input: LONG_FIRST, voice: 'alloy', response_format: 'pcm' } },
  { name: 'long first sentence, Benjamin, wav, speed 0.7', body: { input: LONG_FIRST, voice: 'Benjamin', response_format: 'wav', speed: 0.7 } },
  { name: 'short sentences, Amy, wav, speed 1.6', body: { input: SHORT, voice: 'Amy', response_format: 'wav', speed: 1.6 } },
  { name: 'short sentences, nova, pcm, multi_sentence_gap 0.4', body: { input: SHORT, voice: 'nova', response_format: 'pcm', multi_sentence_gap: 0.4 } },
  { name: 'long first sentence, default, wav, multi_sentence_gap 0', body: { input: LONG_FIRST, voice: 'default', response_format: 'wav', multi_sentence_gap: 0 } },
  { name: 'long first sentence, onyx, pcm, chunk_length 100', body: { input: LONG_FIRST, voice: 'onyx', response_format: 'pcm', chunk_length: 100 } },
];

function seconds(bytes: Uint8Array, format: unknown): number {
  if (format === 'pcm') return probeAudio(bytes, 'pcm', ['-f', 's16le', '-ar', '24000', '-ac', '1']).decodedDuration;
  return probeAudio(bytes, 'wav').decodedDuration;
}

function assertClose(actual: number, expected: number, what: string): void {
  assert.ok(Math.abs(actual - expected) <= 0.01 * expected, `${what}: ${actual.toFixed(3)} s vs ${expected.toFixed(3)} s whole`);
}

describe('stream parity: every delivery gives the same audio', () => {
  let server: TestServer;
  before(async () => {
    server = await startTestServer({ CHORUS_RATE_LIMIT_RPS: '0', CACHE_ENABLED: 'false' });
  });
  after(() => server?.close());

  const post = async (path: string, body: unknown): Promise<Response> => {
    const response = await fetch(`${server.url}${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
    assert.equal(response.status, 200, `${path}: ${response.status}`);
    return response;
  };
  const bytesOf = async (response: Response) => new Uint8Array(await response.arrayBuffer());

  for (const { name, body: fields } of CASES) {
    // OpenAI's route where the request is OpenAI's; Fish Speech's extended one for its own fields (and timestamps).
    const extendedOnly = 'multi_sentence_gap' in fields || 'chunk_length' in fields;
    const path = extendedOnly ? '/v1/audio/speech/extended' : '/v1/audio/speech';
    const body = extendedOnly ? fields : { model: 'tts-1', ...fields };
    it(`${path}, ${name}: whole = stream = SSE, and the same words`, async () => {
      const whole = seconds(await bytesOf(await post(path, body)), body['response_format']);
      const streamed = seconds(await bytesOf(await post(path, { ...body, stream: true })), body['response_format']);
      const events = (await (await post(path, { ...body, stream_format: 'sse' })).text()).split('\n\n').filter((event) => event.startsWith('data: '));
      const deltas = events.map((event) => JSON.parse(event.slice(6)) as { type: string; audio?: string }).filter((event) => event.type === 'speech.audio.delta');
      const sse = seconds(Buffer.concat(deltas.map((delta) => Buffer.from(delta.audio!, 'base64'))), body['response_format']);
      assertClose(streamed, whole, 'stream: true');
      assertClose(sse, whole, 'stream_format: sse');

      const timed = (await (await post('/v1/audio/speech/extended', { ...fields, timestamps: true })).json()) as { word_timings: { word: string }[]; duration: number };
      const lines = (await (await post('/v1/audio/speech/extended', { ...fields, timestamps: true, stream: true })).text()).trim().split('\n').map((line) => JSON.parse(line) as { type: string; words?: { word: string }[]; duration?: number });
      const streamedWords = lines.flatMap((line) => (line.type === 'words' ? line.words!.map((w) => w.word) : []));
      assert.deepEqual(streamedWords, timed.word_timings.map((w) => w.word));
      assertClose(lines.at(-1)!.duration!, timed.duration, 'timestamps, streamed');
    });
  }

  it('where the text is cut into chunks is not heard: chunk_length 100 and 300 give the same duration and words', async () => {
    const input = `${LONG_FIRST} ${SHORT} ${LONG_FIRST} ${SHORT}`;
    const timed = async (chunkLength: number) =>
      (await (await post('/v1/audio/speech/extended', { input, chunk_length: chunkLength, timestamps: true, response_format: 'wav' })).json()) as { duration: number; word_timings: { word: string }[] };
    const small = await timed(100);
    const large = await timed(300);
    assertClose(small.duration, large.duration, 'chunks of 100 characters vs 300');
    assert.deepEqual(small.word_timings.map((w) => w.word), large.word_timings.map((w) => w.word));
  });

  it('chatterbox-v2 tts: basic and streaming modes give the same duration and words', async () => {
    const endpoint = runpodSdk('unused', { baseUrl: `${server.url}/v2` }).endpoint('chatterbox-v2')!;
    // Longer than one streamed chunk (chunk_size 50 words = 300 characters) and than a short first chunk.
    const text = `${LONG_FIRST} ${SHORT} ${LONG_FIRST}`;
    for (const extra of [{}, { chunk_size: 15, voice_name: 'Amy', sample_rate: 16_000 }]) {
      const run = async (mode: string) => {
        const job = (await endpoint.runSync({ input: { operation: 'tts', mode, text, return_timestamps: true, ...extra } }, 60_000)) as { status: string; error?: string; output: { duration: number; audio: string; word_timings: { word: string }[] } };
        assert.equal(job.status, 'COMPLETED', job.error);
        return { duration: probeAudio(Buffer.from(job.output.audio, 'base64'), 'wav').decodedDuration, words: job.output.word_timings.map((w) => w.word) };
      };
      const basic = await run('basic');
      const streaming = await run('streaming');
      assertClose(streaming.duration, basic.duration, `streaming mode ${JSON.stringify(extra)}`);
      assert.deepEqual(streaming.words, basic.words);
    }
  });
});
