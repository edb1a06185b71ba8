// A remote engine of kind `kokoro-fastapi`: Chorus in front of remsky/Kokoro-FastAPI, here its
// protocol as a stub on loopback (real speech from flite). Speech comes from /dev/captioned_speech as
// NDJSON with the server's word timestamps, which Chorus uses instead of its aligner; voices come
// from /v1/audio/voices. The failure behaviour every kind shares is tested in remote-engines.test.ts.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import OpenAI from 'openai';
import { probeAudio, wavDuration } from './support/ffprobe.js';
import { KOKORO_STUB_VOICES, startKokoroFastapiStub, type KokoroStub } from './support/remote-stubs/kokoro-fastapi-stub.js';
import { startTestServer, type TestServer } from './support/server.js';
import { closedPort } from './support/ports.js';
import { until } from './support/until.js';

const KEY = 'kokoro-secret';

interface WordTiming {
  word: string;
  start: number;
  end: number;
  char_start?: number;
}

describe('Remote engine kind kokoro-fastapi (Kokoro-FastAPI on loopback)', () => {
  let stub: KokoroStub;
  let server: TestServer;
  let client: OpenAI;

  before(async () => {
    stub = await startKokoroFastapiStub({ apiKey: KEY, pieceBytes: 1000 });
    const deadPort = await closedPort();
    server = await startTestServer({
      CHORUS_REMOTE_ENGINES: JSON.stringify([
        { id: 'kokoro-gpu', kind: 'kokoro-fastapi', url: stub.url, apiKey: KEY, voices: ['af_bella(2)+af_sky', 'af_nowhere'] },
        { id: 'kokoro-absent', kind: 'kokoro-fastapi', url: `http://127.0.0.1:${deadPort}`, probeIntervalMs: 60_000 },
      ]),
    });
    client = new OpenAI({ apiKey: 'unused', baseURL: `${server.url}/v1`, maxRetries: 0 });
  });
  after(async () => {
    await server?.close();
    await stub?.close();
  });

  const captionCalls = (from: number) => stub.requests.slice(from).filter((request) => request.url === '/dev/captioned_speech');
  const sentBody = (request: { body: Buffer }) => JSON.parse(request.body.toString()) as Record<string, unknown>;
  const speak = (body: Record<string, unknown>, path = '/v1/audio/speech') =>
    fetch(`${server.url}${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ model: 'kokoro-gpu', voice: 'af_heart', ...body }) });

  it('speaks through /dev/captioned_speech with the official OpenAI client: fields, key, voice and speed reach the server', async () => {
    const from = stub.requests.length;
    const response = await client.audio.speech.create({ model: 'kokoro-gpu', voice: 'af_bella', input: 'Hello from the graphics card.', response_format: 'mp3', speed: 1.25 });
    assert.equal(response.headers.get('x-chorus-engine'), 'kokoro-gpu');
    const probe = probeAudio(new Uint8Array(await response.arrayBuffer()), 'mp3');
    assert.equal(probe.codec, 'mp3');
    assert.ok(probe.duration > 0.4, `duration ${probe.duration}`);
    const [sent] = captionCalls(from);
    assert.ok(sent !== undefined, 'the stub got a captioned request');
    assert.equal(sent.headers.authorization, `Bearer ${KEY}`);
    assert.equal(sent.headers['content-type'], 'application/json');
    assert.deepEqual(sentBody(sent), {
      model: 'kokoro',
      input: 'Hello from the graphics card.',
      voice: 'af_bella',
      response_format: 'pcm',
      stream: true,
      return_timestamps: true,
      speed: 1.25,
    });
  });

  it('serves wav, flac, opus and a pcm stream, resampled from 24 kHz where asked', async () => {
    for (const [format, codec] of [['wav', 'pcm_s16le'], ['flac', 'flac'], ['opus', 'opus']] as const) {
      const response = await speak({ input: 'Formats from Kokoro.', response_format: format, sample_rate: 16000 });
      assert.equal(response.status, 200, await response.clone().text());
      const probe = probeAudio(new Uint8Array(await response.arrayBuffer()), format === 'opus' ? 'ogg' : format);
      assert.equal(probe.codec, codec);
      assert.ok(probe.decodedDuration > 0.5, `${format} duration ${probe.decodedDuration}`);
    }
    const streamed = await speak({ input: 'Streamed as it arrives. Sentence by sentence.', response_format: 'pcm', stream: true });
    assert.equal(streamed.status, 200);
    const pcm = new Uint8Array(await streamed.arrayBuffer());
    assert.ok(pcm.length / 2 / 24000 > 1, `pcm ${pcm.length} bytes`);
  });

  it('applies speed in the server (no time-stretch in Chorus): twice the speed, half the audio', async () => {
    const input = 'The same sentence at two speeds.';
    const durationAt = async (speed: number): Promise<number> => {
      const response = await speak({ input, response_format: 'wav', speed });
      assert.equal(response.status, 200);
      return wavDuration(new Uint8Array(await response.arrayBuffer()));
    };
    const from = stub.requests.length;
    const normal = await durationAt(1);
    const fast = await durationAt(2);
    assert.deepEqual(captionCalls(from).map((request) => sentBody(request)['speed']), [1, 2]);
    assert.ok(Math.abs(fast / normal - 0.5) < 0.05, `${fast} s at speed 2 against ${normal} s at 1`);
  });

  it('returns the server\'s word timings on /extended, not the aligner\'s, across chunks and with words the server spelled its own way', async () => {
    // Long enough for two engine calls (the first chunk is short); "3" is spoken and reported as "three".
    const input = 'The cat sat on 3 mats near the door. Then it walked to the garden, where the morning sun was warm and the grass was still wet from the rain.';
    const from = stub.captions.length;
    const response = await speak({ input, response_format: 'wav', timestamps: true }, '/v1/audio/speech/extended');
    assert.equal(response.status, 200, await response.clone().text());
    assert.doesNotMatch(String(response.headers.get('x-chorus-warnings')), /forced alignment/);
    const body = (await response.json()) as { audio: string; word_timings: WordTiming[] };
    const calls = stub.captions.slice(from);
    assert.ok(calls.length >= 2, `${calls.length} engine calls`);

    // What the server reported, moved to where each call's audio sits in the output.
    const expected: { word: string; start: number; end: number }[] = [];
    let offset = 0;
    for (const call of calls) {
      for (const stamp of call.timestamps) expected.push({ word: stamp.word, start: offset + stamp.start_time, end: offset + stamp.end_time });
      offset += call.durationSec;
    }
    const words = body.word_timings;
    assert.deepEqual(
      words.map((word) => word.word),
      ['The', 'cat', 'sat', 'on', '3', 'mats', 'near', 'the', 'door', 'Then', 'it', 'walked', 'to', 'the', 'garden', 'where', 'the', 'morning', 'sun', 'was', 'warm', 'and', 'the', 'grass', 'was', 'still', 'wet', 'from', 'the', 'rain'],
    );
    let next = 0;
    for (const word of words) {
      assert.equal(input.slice(word.char_start, word.char_start! + word.word.length), word.word);
      if (word.word === '3') continue;
      const index = expected.findIndex((stamp, at) => at >= next && stamp.word === word.word);
      assert.ok(index >= 0, `the server timed '${word.word}'`);
      next = index + 1;
      assert.ok(Math.abs(word.start - expected[index]!.start) < 0.002, `'${word.word}' starts at ${word.start}, the server said ${expected[index]!.start}`);
    }
    // The word the server called "three" takes its time from its neighbours: after "on", before "mats".
    const three = words.find((word) => word.word === '3')!;
    const on = words.find((word) => word.word === 'on')!;
    const mats = words.find((word) => word.word === 'mats')!;
    assert.ok(three.start >= on.start && three.end <= mats.start + 0.002, JSON.stringify({ on, three, mats }));
    assert.ok(words.at(-1)!.end <= wavDuration(Buffer.from(body.audio, 'base64')) + 0.01);
  });

  it('gives a Spark job with enable_whisperx the server\'s timings; a language goes as Kokoro\'s lang_code', async () => {
    const from = stub.captions.length;
    const fromRequests = stub.requests.length;
    const response = await fetch(`${server.url}/v2/spark-tts/runsync`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ input: { text: 'One two three four.', engine: 'kokoro-gpu', voice_name: 'bf_emma', enable_whisperx: true } }),
    });
    const body = (await response.json()) as { status: string; output?: { word_timings?: WordTiming[] } };
    assert.equal(body.status, 'COMPLETED', JSON.stringify(body));
    const [call] = stub.captions.slice(from);
    const sent = sentBody(captionCalls(fromRequests)[0]!);
    assert.equal(sent['voice'], 'bf_emma');
    assert.equal(sent['lang_code'], undefined, 'no language asked: the server takes it from the voice');
    const british = await speak({ input: 'Colour.', voice: 'af_heart', language: 'en-GB', response_format: 'wav' });
    assert.equal(british.status, 200, await british.clone().text());
    assert.equal(sentBody(captionCalls(fromRequests).at(-1)!)['lang_code'], 'b');
    const reported = call!.timestamps.filter((stamp) => stamp.word !== '.');
    const words = body.output!.word_timings!;
    assert.deepEqual(words.map((word) => word.word.replace('.', '')), reported.map((stamp) => stamp.word));
    // Spark trims the silence before the speech, which moves every word earlier by the same amount
    // (the first one's start stops at 0); the server's spacing (even, as no aligner would time real
    // speech) is kept exactly.
    for (let i = 1; i < words.length; i++) {
      const moved = words[i]!.start - reported[i]!.start_time;
      assert.ok(Math.abs(moved - (words[1]!.start - reported[1]!.start_time)) < 0.002, `'${words[i]!.word}' moved by ${moved} s`);
      const length = words[i]!.end - words[i]!.start;
      assert.ok(Math.abs(length - (reported[i]!.end_time - reported[i]!.start_time)) < 0.002, `'${words[i]!.word}' lasts ${length} s`);
    }
  });

  it('lists the server\'s voices with Kokoro\'s aliases, passes a voice combination named in the setting through, and reports the server refusing a voice', async () => {
    const listed = (await (await fetch(`${server.url}/v1/voices`)).json()) as { voices: { voice_id: string; engine: string; gender: string; aliases?: string[] }[] };
    const remote = listed.voices.filter((voice) => voice.engine === 'kokoro-gpu');
    assert.deepEqual(remote.map((voice) => voice.voice_id.replace('kokoro-gpu:', '')).sort(), [...KOKORO_STUB_VOICES, 'af_bella(2)+af_sky', 'af_nowhere'].sort());
    const alloy = remote.find((voice) => voice.voice_id.endsWith('af_alloy'))!;
    assert.equal(alloy.gender, 'female');
    assert.ok(alloy.aliases?.includes('alloy'), JSON.stringify(alloy));

    const from = stub.requests.length;
    const aliased = await speak({ input: 'An OpenAI voice name.', voice: 'alloy', response_format: 'wav' });
    assert.equal(aliased.status, 200);
    const mixed = await speak({ input: 'Two voices in one.', voice: 'af_bella(2)+af_sky', response_format: 'wav' });
    assert.equal(mixed.status, 200, await mixed.clone().text());
    assert.deepEqual(captionCalls(from).map((request) => sentBody(request)['voice']), ['af_alloy', 'af_bella(2)+af_sky']);

    const refused = await speak({ input: 'Nobody by that name.', voice: 'af_nowhere', response_format: 'wav' });
    assert.equal(refused.status, 500);
    const error = (await refused.json()) as { error: { code: string; message: string } };
    assert.equal(error.error.code, 'engine_failed');
    assert.match(error.error.message, /kokoro-gpu' answered 400: Voice 'af_nowhere' not found\. Available voices: af_alloy/);
  });

  it('a stream that ends inside a JSON line fails the request with what was wrong; the server stays in service', async () => {
    stub.breakLine = true;
    const broken = await speak({ input: 'This answer breaks off halfway through its line.', response_format: 'wav' });
    assert.equal(broken.status, 500);
    const error = (await broken.json()) as { error: { code: string; message: string } };
    assert.equal(error.error.code, 'engine_failed');
    assert.match(error.error.message, /kokoro-gpu' sent a line that is not JSON/);
    assert.equal((await speak({ input: 'Fine again.', response_format: 'wav' })).status, 200);
  });

  it('a client that hangs up mid-stream closes the NDJSON stream at the server', async () => {
    const from = stub.requests.length;
    const response = await speak({ input: 'A long answer that the client will not wait for. '.repeat(8), response_format: 'pcm', stream: true }, '/v1/audio/speech');
    const reader = response.body!.getReader();
    await reader.read();
    await reader.cancel();
    await until(async () => captionCalls(from).some((request) => request.closedEarly), 'Chorus to close the server\'s answer');
  });

  it('a server down at start still offers Kokoro\'s voices and fails fast with 503', async () => {
    const listed = (await (await fetch(`${server.url}/v1/voices`)).json()) as { voices: { voice_id: string; engine: string }[] };
    const voices = listed.voices.filter((voice) => voice.engine === 'kokoro-absent').map((voice) => voice.voice_id.replace('kokoro-absent:', ''));
    assert.ok(voices.includes('af_heart') && voices.includes('bm_george') && voices.includes('zf_xiaobei'), voices.join(', '));
    const response = await speak({ model: 'kokoro-absent', input: 'Hello?', response_format: 'wav' });
    assert.equal(response.status, 503);
    assert.equal(((await response.json()) as { error: { code: string } }).error.code, 'engine_unavailable');
  });
});
