import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { loadConfig } from '../src/config/config.js';
import { probeAudio } from './support/ffprobe.js';
import { startTestServer, type TestServer } from './support/server.js';
import { until } from './support/until.js';
import { wavOf, WyomingClient, type ClientEvent } from './support/wyoming-client.js';

/** What one audio stream (audio-start … audio-stop) carried. */
interface HeardAudio {
  readonly rate: number;
  readonly pcm: Buffer;
  readonly chunks: number;
}

function audioOf(events: readonly ClientEvent[]): HeardAudio {
  const start = events.find((event) => event.type === 'audio-start');
  assert.ok(start, `no audio-start among ${events.map((event) => event.type).join(', ')}`);
  assert.equal(start.data['width'], 2);
  assert.equal(start.data['channels'], 1);
  const rate = start.data['rate'] as number;
  assert.ok(Number.isInteger(rate) && rate >= 8000, `rate ${rate}`);
  const chunks = events.filter((event) => event.type === 'audio-chunk');
  for (const chunk of chunks) {
    assert.deepEqual([chunk.data['rate'], chunk.data['width'], chunk.data['channels']], [rate, 2, 1]);
    assert.equal(chunk.header['payload_length'], chunk.payload.length);
    assert.ok(chunk.payload.length > 0 && chunk.payload.length % 2 === 0);
  }
  assert.equal(events.at(-1)?.type, 'audio-stop');
  return { rate, pcm: Buffer.concat(chunks.map((chunk) => chunk.payload)), chunks: chunks.length };
}

function rms(pcm: Buffer): number {
  let sum = 0;
  const samples = pcm.length / 2;
  for (let i = 0; i < samples; i++) sum += pcm.readInt16LE(i * 2) ** 2;
  return Math.sqrt(sum / samples);
}

async function health(server: TestServer): Promise<{ jobs: { active: number; aborted: number } }> {
  return (await (await fetch(`${server.url}/health`)).json()) as { jobs: { active: number; aborted: number } };
}

describe('Wyoming settings', () => {
  it('are off unless CHORUS_WYOMING_PORT is set, and bind HOST unless CHORUS_WYOMING_HOST says otherwise', () => {
    const off = loadConfig({ HOST: '10.1.2.3' });
    assert.equal(off.wyomingPort, undefined);
    assert.equal(off.wyomingHost, '10.1.2.3');
    const on = loadConfig({ CHORUS_WYOMING_PORT: '10200', CHORUS_WYOMING_HOST: '127.0.0.1' });
    assert.equal(on.wyomingPort, 10200);
    assert.equal(on.wyomingHost, '127.0.0.1');
    assert.throws(() => loadConfig({ CHORUS_WYOMING_PORT: '70000' }), /CHORUS_WYOMING_PORT/);
  });

  it('announce by zeroconf only when CHORUS_WYOMING_ZEROCONF asks, on an address other machines can reach', () => {
    const port = { CHORUS_WYOMING_PORT: '10200', CHORUS_WYOMING_HOST: '0.0.0.0' };
    assert.equal(loadConfig(port).wyomingZeroconf, undefined);
    assert.equal(loadConfig({ ...port, CHORUS_WYOMING_ZEROCONF: 'false' }).wyomingZeroconf, undefined);
    assert.equal(loadConfig({ ...port, CHORUS_WYOMING_ZEROCONF: 'true' }).wyomingZeroconf, 'chorus');
    assert.equal(loadConfig({ ...port, CHORUS_WYOMING_ZEROCONF: 'living room' }).wyomingZeroconf, 'living room');
    assert.equal(loadConfig({ CHORUS_WYOMING_PORT: '10200', CHORUS_WYOMING_HOST: '192.168.1.20', CHORUS_WYOMING_ZEROCONF: 'on' }).wyomingZeroconf, 'chorus');
    assert.throws(() => loadConfig({ ...port, CHORUS_WYOMING_ZEROCONF: 'chorus.local' }), /CHORUS_WYOMING_ZEROCONF.*no dots/);
    assert.throws(() => loadConfig({ CHORUS_WYOMING_HOST: '0.0.0.0', CHORUS_WYOMING_ZEROCONF: 'true' }), /needs CHORUS_WYOMING_PORT/);
    // Announcing a loopback address would send Home Assistant to itself.
    assert.throws(() => loadConfig({ CHORUS_WYOMING_PORT: '10200', CHORUS_WYOMING_ZEROCONF: 'true' }), /CHORUS_WYOMING_HOST is 127\.0\.0\.1; use 0\.0\.0\.0/);
  });
});

describe('Wyoming protocol server', () => {
  let server: TestServer;
  let port: number;
  const clients: WyomingClient[] = [];
  const client = async (): Promise<WyomingClient> => {
    const opened = await WyomingClient.connect(port);
    clients.push(opened);
    return opened;
  };

  before(async () => {
    server = await startTestServer({ CHORUS_WYOMING_PORT: '0' });
    assert.ok(server.wyoming, 'the server reports its Wyoming address');
    assert.equal(server.wyoming.host, '127.0.0.1');
    port = server.wyoming.port;
  });
  after(async () => {
    for (const opened of clients) opened.close();
    await server.close();
  });

  it('answers describe with info: a streaming TTS program listing every voice', async () => {
    const wyoming = await client();
    wyoming.send('describe');
    const info = await wyoming.next();
    assert.equal(info.type, 'info');
    assert.equal(typeof info.header['version'], 'string');
    for (const list of ['asr', 'tts', 'handle', 'intent', 'wake', 'mic', 'snd']) assert.ok(Array.isArray(info.data[list]), list);
    const tts = info.data['tts'] as Record<string, unknown>[];
    assert.equal(tts.length, 1);
    const program = tts[0]!;
    assert.equal(program['installed'], true);
    assert.equal(program['supports_synthesize_streaming'], true);
    const voices = program['voices'] as Record<string, unknown>[];
    const names = voices.map((voice) => voice['name']);
    assert.ok(names.includes('default') && names.includes('Aaron') && names.includes('Amanda'), names.join(', '));
    for (const voice of voices) {
      assert.equal(voice['installed'], true);
      assert.ok(typeof voice['description'] === 'string' && voice['description'] !== '');
      const attribution = voice['attribution'] as Record<string, unknown>;
      assert.equal(typeof attribution['name'], 'string');
      assert.equal(typeof attribution['url'], 'string');
      assert.ok(Array.isArray(voice['languages']) && voice['languages'].length > 0);
    }
    assert.deepEqual(voices.find((voice) => voice['name'] === 'Aaron')?.['languages'], ['en-US']);
    assert.equal((voices.find((voice) => voice['name'] === 'Albert')?.['attribution'] as Record<string, unknown>)['name'], 'eSpeak NG');
  });

  it('synthesizes: audio-start, 16-bit mono chunks of at most 1024 samples, audio-stop; the audio is speech of the right length', async () => {
    const wyoming = await client();
    const text = 'Hello from Chorus over the Wyoming protocol. Home Assistant can speak with it now.';
    wyoming.send('synthesize', { text, voice: { name: 'Aaron' } });
    const events = await wyoming.until('audio-stop');
    assert.equal(events[0]?.type, 'audio-start');
    const audio = audioOf(events);
    for (const chunk of events.filter((event) => event.type === 'audio-chunk')) assert.ok(chunk.payload.length <= 2048);
    const seconds = audio.pcm.length / 2 / audio.rate;
    // 14 words at eSpeak's 150–200 words a minute, plus pauses.
    assert.ok(seconds > 3 && seconds < 12, `${seconds} s`);
    assert.ok(rms(audio.pcm) > 300, `rms ${rms(audio.pcm)}`);
    const stop = events.at(-1)!;
    assert.ok(Math.abs((stop.data['timestamp'] as number) - seconds * 1000) < 50, 'audio-stop carries the stream length in ms');
    const probe = probeAudio(wavOf(audio.pcm, audio.rate), 'wav');
    assert.equal(probe.codec, 'pcm_s16le');
    assert.equal(probe.channels, 1);
    assert.equal(probe.sampleRate, audio.rate);
    assert.ok(Math.abs(probe.decodedDuration - seconds) < 0.01);
  });

  it('takes the voice by language when no name is given, and the connection serves request after request', async () => {
    const wyoming = await client();
    wyoming.send('synthesize', { text: 'Guten Tag.', voice: { language: 'de' } });
    const german = audioOf(await wyoming.until('audio-stop'));
    assert.ok(german.pcm.length > 0 && rms(german.pcm) > 300);
    wyoming.send('synthesize', { text: 'And once more.' });
    assert.ok(audioOf(await wyoming.until('audio-stop')).pcm.length > 0);
    wyoming.send('ping', { text: 'still there?' });
    const pong = await wyoming.next();
    assert.deepEqual([pong.type, pong.data['text']], ['pong', 'still there?']);
  });

  it('streams: speaks each sentence as its text arrives, ignores the compatibility synthesize, ends with synthesize-stopped', async () => {
    const wyoming = await client();
    wyoming.send('synthesize-start', { voice: { name: 'Amanda' } });
    wyoming.send('synthesize-chunk', { text: 'The first sentence is here' });
    wyoming.send('synthesize-chunk', { text: '. And the sec' });
    // The first sentence is complete once the second has begun: its audio comes before any more text is sent.
    const first = await wyoming.until('audio-stop');
    assert.ok(audioOf(first).pcm.length > 0);
    wyoming.send('synthesize-chunk', { text: 'ond one follows. Last' });
    wyoming.send('synthesize-chunk', { text: ' words' });
    wyoming.send('synthesize', { text: 'The first sentence is here. And the second one follows. Last words' });
    wyoming.send('synthesize-stop');
    const rest = await wyoming.until('synthesize-stopped');
    const streams: ClientEvent[][] = [];
    for (const event of rest) {
      if (event.type === 'audio-start') streams.push([]);
      if (event.type !== 'synthesize-stopped') streams.at(-1)!.push(event);
    }
    // "And the second one follows." and "Last words", each an audio stream of its own, as wyoming-piper sends them.
    assert.equal(streams.length, 2, rest.map((event) => event.type).join(' '));
    for (const stream of streams) assert.ok(rms(audioOf(stream).pcm) > 300);
    assert.equal(rest.at(-1)?.type, 'synthesize-stopped');
    // The ignored synthesize made no audio: nothing follows.
    wyoming.send('ping');
    assert.equal((await wyoming.next()).type, 'pong');
  });

  it('answers an unknown voice, an unknown event and misplaced stream events with error {text, code}, and goes on', async () => {
    const wyoming = await client();
    wyoming.send('synthesize', { text: 'Hello.', voice: { name: 'Nobody' } });
    const unknownVoice = await wyoming.next();
    assert.equal(unknownVoice.type, 'error');
    assert.equal(unknownVoice.data['code'], 'voice_not_found');
    assert.match(unknownVoice.data['text'] as string, /Nobody/);

    wyoming.send('transcribe', { language: 'en' });
    const unknownEvent = await wyoming.next();
    assert.deepEqual([unknownEvent.type, unknownEvent.data['code']], ['error', 'invalid_request']);
    assert.match(unknownEvent.data['text'] as string, /transcribe/);

    wyoming.send('synthesize-chunk', { text: 'no stream' });
    assert.match((await wyoming.next()).data['text'] as string, /synthesize-start/);
    wyoming.send('synthesize', { text: 42 });
    const notText = await wyoming.next();
    assert.deepEqual([notText.type, notText.data['code']], ['error', 'invalid_request']);

    // A data block that is not JSON, with sound lengths: the stream is still in step.
    const bad = Buffer.from('{not json');
    wyoming.sendRaw(Buffer.concat([Buffer.from(`${JSON.stringify({ type: 'synthesize', data_length: bad.length })}\n`), bad]));
    assert.equal((await wyoming.next()).type, 'error');

    wyoming.send('synthesize', { text: 'x'.repeat(10_001) });
    const tooLong = await wyoming.next();
    assert.equal(tooLong.data['code'], 'text_too_long');

    wyoming.send('describe');
    assert.equal((await wyoming.next()).type, 'info');
  });

  it('fails a stream with an unknown voice once, ignores its chunks, and still answers its stop', async () => {
    const wyoming = await client();
    wyoming.send('synthesize-start', { voice: { name: 'Nobody' } });
    wyoming.send('synthesize-chunk', { text: 'Some text. More text.' });
    wyoming.send('synthesize-stop');
    const events = await wyoming.until('synthesize-stopped');
    assert.deepEqual(
      events.map((event) => event.type),
      ['error', 'synthesize-stopped'],
    );
    assert.equal(events[0]!.data['code'], 'voice_not_found');
  });

  for (const [what, bytes, code] of [
    ['a header that is not JSON', 'this is not json\n', 'invalid_request'],
    ['a header without a type', '{"data": {}}\n', 'invalid_request'],
    ['a data_length beyond the limit', `${JSON.stringify({ type: 'synthesize', data_length: 50 * 1024 * 1024 })}\n`, 'payload_too_large'],
    ['a payload_length beyond the limit', `${JSON.stringify({ type: 'audio-chunk', payload_length: 50 * 1024 * 1024 })}\n`, 'payload_too_large'],
    ['a header line that never ends', `{"type": "describe", "pad": "${'x'.repeat(100 * 1024)}`, 'payload_too_large'],
  ] as const) {
    it(`answers ${what} with an error and closes that connection only`, async () => {
      const bystander = await client();
      const wyoming = await client();
      wyoming.sendRaw(bytes);
      const error = await wyoming.next();
      assert.deepEqual([error.type, error.data['code']], ['error', code]);
      await wyoming.waitClosed();
      bystander.send('describe');
      assert.equal((await bystander.next()).type, 'info');
    });
  }

  it('stops the synthesis when the client disconnects mid-stream', async () => {
    const before = await health(server);
    const wyoming = await client();
    const text = Array.from({ length: 60 }, (_, i) => `This is sentence number ${i + 1} of a long announcement that nobody will hear to the end.`).join(' ');
    wyoming.send('synthesize', { text });
    assert.equal((await wyoming.next()).type, 'audio-start');
    assert.equal((await wyoming.next()).type, 'audio-chunk');
    wyoming.close();
    await until(async () => {
      const now = await health(server);
      return now.jobs.active === 0 && now.jobs.aborted > before.jobs.aborted;
    }, 'the synthesis to be aborted');
    const next = await client();
    next.send('ping');
    assert.equal((await next.next()).type, 'pong');
  });

  it('serves two clients at once, each its own audio', async () => {
    const [one, two] = await Promise.all([client(), client()]);
    one.send('synthesize', { text: 'The first client hears this rather long sentence, spoken slowly and completely.', voice: { name: 'Albert' } });
    two.send('synthesize', { text: 'Second client.', voice: { name: 'Amy' } });
    const [heardOne, heardTwo] = await Promise.all([one.until('audio-stop'), two.until('audio-stop')]);
    const first = audioOf(heardOne);
    const second = audioOf(heardTwo);
    assert.ok(rms(first.pcm) > 300 && rms(second.pcm) > 300);
    // Each got its own text: the long sentence is several times the short one.
    assert.ok(first.pcm.length > 2.5 * second.pcm.length, `${first.pcm.length} vs ${second.pcm.length}`);
  });
});
