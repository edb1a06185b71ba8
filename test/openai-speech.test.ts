import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import OpenAI from 'openai';
import { probeAudio, wavDuration } from './support/ffprobe.js';
import { startTestServer, type TestServer } from './support/server.js';

const TEXT = 'Chorus speaks every format. This sentence checks the duration of each file.';

describe('OpenAI-compatible speech API with the official openai client', () => {
  let server: TestServer;
  let client: OpenAI;

  before(async () => {
    server = await startTestServer();
    client = new OpenAI({ apiKey: 'unused', baseURL: `${server.url}/v1`, maxRetries: 0 });
  });
  after(() => server.close());

  async function speak(params: Record<string, unknown>): Promise<{ bytes: Uint8Array; response: Response }> {
    const response = await client.audio.speech.create({ model: 'tts-1', voice: 'alloy', input: TEXT, ...params } as never);
    return { bytes: new Uint8Array(await response.arrayBuffer()), response };
  }

  it('defaults to mp3', async () => {
    const { bytes, response } = await speak({});
    assert.equal(response.headers.get('content-type'), 'audio/mpeg');
    assert.equal(probeAudio(bytes, 'mp3').codec, 'mp3');
  });

  it('serves all six formats; ffprobe agrees on codec, rate, channels and duration (within 2%)', async () => {
    const wav = await speak({ response_format: 'wav' });
    const reference = wavDuration(wav.bytes);
    assert.ok(reference > 2 && reference < 15, `plausible duration, got ${reference}`);
    const expected = {
      wav: { codec: 'pcm_s16le', rate: 24000, mime: 'audio/wav' },
      mp3: { codec: 'mp3', rate: 24000, mime: 'audio/mpeg' },
      opus: { codec: 'opus', rate: 48000, mime: 'audio/ogg' },
      flac: { codec: 'flac', rate: 24000, mime: 'audio/flac' },
      aac: { codec: 'aac', rate: 24000, mime: 'audio/aac' },
      pcm: { codec: 'pcm_s16le', rate: 24000, mime: 'audio/pcm' },
    } as const;
    for (const [format, want] of Object.entries(expected)) {
      const { bytes, response } = await speak({ response_format: format });
      assert.ok(response.headers.get('content-type')?.startsWith(want.mime), `${format} content type`);
      const probe = probeAudio(bytes, format === 'pcm' ? 'raw' : format, format === 'pcm' ? ['-f', 's16le', '-ar', '24000', '-ac', '1'] : []);
      assert.equal(probe.codec, want.codec, `${format} codec`);
      assert.equal(probe.sampleRate, want.rate, `${format} sample rate`);
      assert.equal(probe.channels, 1, `${format} channels`);
      const duration = format === 'aac' ? probe.decodedDuration : probe.duration;
      assert.ok(Math.abs(duration - reference) / reference < 0.02, `${format} duration ${duration} vs ${reference}`);
      assert.ok(Math.abs(probe.decodedDuration - reference) / reference < 0.02, `${format} decoded ${probe.decodedDuration} vs ${reference}`);
    }
  });

  it('resamples to a requested sample_rate', async () => {
    for (const rate of [8000, 16000, 44100, 48000]) {
      const { bytes } = await speak({ response_format: 'wav', sample_rate: rate });
      assert.equal(probeAudio(bytes, 'wav').sampleRate, rate);
    }
  });

  it('speed 2 halves the duration and 0.5 doubles it', async () => {
    const normal = wavDuration((await speak({ response_format: 'wav' })).bytes);
    const fast = wavDuration((await speak({ response_format: 'wav', speed: 2 })).bytes);
    const slow = wavDuration((await speak({ response_format: 'wav', speed: 0.5 })).bytes);
    const fastest = wavDuration((await speak({ response_format: 'wav', speed: 4 })).bytes);
    assert.ok(Math.abs(fast / normal - 0.5) < 0.08, `speed 2: ${fast} vs ${normal}`);
    assert.ok(Math.abs(slow / normal - 2) < 0.3, `speed 0.5: ${slow} vs ${normal}`);
    assert.ok(Math.abs(fastest / normal - 0.25) < 0.05, `speed 4: ${fastest} vs ${normal}`);
  });

  it('streams audio as it is made (stream: true) and the bytes form a valid file', async () => {
    const long = Array.from({ length: 12 }, (_, i) => `This is sentence number ${i + 1} of a long streamed text.`).join(' ');
    const response = await client.audio.speech.create({
      model: 'tts-1', voice: 'nova', input: long, response_format: 'mp3', stream: true,
    } as never);
    const reader = response.body!.getReader();
    const chunks: Uint8Array[] = [];
    for (let next = await reader.read(); !next.done; next = await reader.read()) chunks.push(next.value);
    assert.ok(chunks.length > 3, `several chunks arrived, got ${chunks.length}`);
    const probe = probeAudio(Buffer.concat(chunks), 'mp3');
    assert.equal(probe.codec, 'mp3');
    assert.ok(probe.decodedDuration > 20, `long audio, got ${probe.decodedDuration}`);
  });

  it('stream_format sse sends speech.audio.delta events and one speech.audio.done', async () => {
    const response = await client.audio.speech.create({
      model: 'gpt-4o-mini-tts', voice: 'coral', input: TEXT, response_format: 'wav', stream_format: 'sse',
    });
    assert.equal(response.headers.get('content-type'), 'text/event-stream');
    const text = await response.text();
    const events = text.trim().split('\n\n').map((block) => {
      assert.ok(block.startsWith('data: '), 'each event is one data line');
      return JSON.parse(block.slice(6)) as { type: string; audio?: string; usage?: Record<string, number> };
    });
    const deltas = events.filter((event) => event.type === 'speech.audio.delta');
    const done = events.filter((event) => event.type === 'speech.audio.done');
    assert.ok(deltas.length >= 1);
    assert.equal(done.length, 1);
    assert.equal(events.at(-1)!.type, 'speech.audio.done');
    for (const key of ['input_tokens', 'output_tokens', 'total_tokens']) assert.ok(Number.isInteger(done[0]!.usage![key]));
    const audio = Buffer.concat(deltas.map((event) => Buffer.from(event.audio!, 'base64')));
    const plain = await speak({ voice: 'coral', response_format: 'wav', stream: true });
    const probe = probeAudio(audio, 'wav');
    assert.equal(probe.codec, 'pcm_s16le');
    assert.deepEqual(audio.subarray(0, 44), Buffer.from(plain.bytes.subarray(0, 44)), 'same streamed WAV header');
    const plainDuration = probeAudio(plain.bytes, 'wav').decodedDuration;
    assert.ok(Math.abs(probe.decodedDuration - plainDuration) < 0.01, 'SSE deltas decode to the same audio as the plain stream');
  });

  it('accepts a voice object {id} and every OpenAI voice name', async () => {
    const { bytes } = await speak({ voice: { id: 'Benjamin' }, response_format: 'wav' });
    assert.ok(wavDuration(bytes) > 1);
    for (const voice of ['alloy', 'ash', 'ballad', 'coral', 'echo', 'fable', 'onyx', 'nova', 'sage', 'shimmer', 'verse', 'marin', 'cedar']) {
      const response = await client.audio.speech.create({ model: 'tts-1', voice, input: 'Hi.', response_format: 'pcm' });
      assert.ok((await response.arrayBuffer()).byteLength > 1000, voice);
    }
  });

  it('reports ignored options as a warning header instead of failing', async () => {
    const { response } = await speak({ model: 'gpt-4o-mini-tts', instructions: 'Speak cheerfully.', response_format: 'wav' });
    assert.match(response.headers.get('x-chorus-warnings') ?? '', /instructions/);
  });

  it('speaks Mandarin, detected from the script, with one timing per character', async () => {
    const response = await fetch(`${server.url}/v1/audio/speech/extended`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ input: '你好，世界。今天天气很好。', voice: 'Amy', response_format: 'wav', timestamps: true }),
    });
    assert.equal(response.status, 200);
    const body = (await response.json()) as { audio: string; duration: number; word_timings: { word: string; start: number; end: number }[] };
    const audio = Buffer.from(body.audio, 'base64');
    assert.ok(wavDuration(audio) > 1.5, `duration ${wavDuration(audio)}`);
    assert.equal(body.word_timings.map((w) => w.word).join(''), '你好世界今天天气很好');
  });

  it('returns word timings that are monotonic, inside the audio and cover the text', async () => {
    const input = 'Hello world, this is Chorus. It has 42 voices, and Dr. Smith likes them!';
    for (const extra of [{}, { speed: 1.7 }, { multi_sentence_gap: 0.8 }, { speed: 0.6, sample_rate: 16000 }]) {
      const response = await fetch(`${server.url}/v1/audio/speech/extended`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ input, voice: 'Aaron', response_format: 'wav', timestamps: true, ...extra }),
      });
      const body = (await response.json()) as { audio: string; duration: number; word_timings: { word: string; start: number; end: number; char_start: number }[] };
      const duration = wavDuration(Buffer.from(body.audio, 'base64'));
      assert.ok(Math.abs(duration - body.duration) < 0.01);
      const words = body.word_timings;
      assert.deepEqual(words.map((w) => w.word), ['Hello', 'world', 'this', 'is', 'Chorus', 'It', 'has', '42', 'voices', 'and', 'Dr', 'Smith', 'likes', 'them']);
      for (let i = 0; i < words.length; i++) {
        const word = words[i]!;
        assert.ok(word.start <= word.end && word.end <= duration + 0.01, `${word.word} inside the audio`);
        if (i > 0) assert.ok(word.start >= words[i - 1]!.start, `monotonic at ${word.word} ${JSON.stringify(extra)}`);
        assert.equal(input.slice(word.char_start, word.char_start + word.word.length), word.word);
      }
      assert.ok(words.at(-1)!.start > duration * 0.6, 'timings reach the end of the audio');
    }
  });

  it('lists voices (37 named + default, with gender) and models', async () => {
    const voices = (await (await fetch(`${server.url}/v1/voices`)).json()) as { voices: { voice_id: string; gender: string }[]; languages: string[] };
    assert.equal(voices.voices.length, 38);
    assert.equal(voices.voices.filter((v) => v.gender === 'male' && v.voice_id !== 'default').length, 21);
    assert.equal(voices.voices.filter((v) => v.gender === 'female').length, 16);
    assert.ok(voices.languages.includes('cmn') && voices.languages.includes('en-us') && voices.languages.length > 100);
    const models = await client.models.list();
    assert.ok(models.data.some((model) => model.id === 'tts-1'));
  });

  it('GET /health answers in the documented shape', async () => {
    const health = (await (await fetch(`${server.url}/health`)).json()) as Record<string, unknown>;
    assert.equal(health['status'], 'healthy');
    assert.equal(health['models_loaded'], true);
    assert.equal(health['streaming_enabled'], true);
    assert.equal(typeof health['provider'], 'string');
    assert.equal(health['device'], 'cpu');
  });
});
