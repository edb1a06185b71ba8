import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { after, before, describe, it } from 'node:test';
import OpenAI from 'openai';
import { trackPitch, voicedPitchStats } from '../src/audio/analysis/pitch.js';
import { contentCheck } from './support/forced-alignment.js';
import { probeAudio } from './support/ffprobe.js';
import { fliteReference, formantSynthReference, readWav16, wavBytes } from './support/reference-voices.js';
import { startTestServer, type TestServer } from './support/server.js';

type Output = Record<string, any>;
type Job = { id: string; status: string; output?: Output; error?: string };

const KEY_A = 'voice-key-a';
const KEY_B = 'voice-key-b';
const SPOKEN = 'the quick brown fox jumps over the lazy dog and then runs back home';
const WRONG = 'please call stella and ask her to bring these things with her from the store';
const TTS_TEXT = 'This is my new voice speaking a few plain sentences. It should sound higher or lower, like the reference.';

function medianPitch(samples: Float32Array, sampleRate: number): number {
  const stats = voicedPitchStats(trackPitch(samples, sampleRate));
  assert.ok(stats !== undefined, 'the audio has voiced speech');
  return stats.medianHz;
}

function wavOf(base64: string): { samples: Float32Array; sampleRate: number; bytes: Buffer } {
  const bytes = Buffer.from(base64, 'base64');
  return { ...readWav16(bytes), bytes };
}

function within(actual: number, expected: number, tolerance: number, what: string): void {
  const error = Math.abs(actual - expected) / expected;
  assert.ok(error <= tolerance, `${what}: ${actual.toFixed(1)} vs ${expected.toFixed(1)} (${(error * 100).toFixed(1)}% off, allowed ${tolerance * 100}%)`);
}

describe('Voice library: cloning, listing, conversion, transfer and references through every API', () => {
  let server: TestServer;
  let femaleRef: { wav: Buffer; medianHz: number };
  let maleRef: { wav: Buffer; medianHz: number };
  let espeakInput: { wav: Buffer; samples: Float32Array; sampleRate: number };

  const call = async (path: string, init: RequestInit & { key?: string } = {}): Promise<Response> =>
    fetch(`${server.url}${path}`, { ...init, headers: { authorization: `Bearer ${init.key ?? KEY_A}`, ...(init.headers ?? {}) } });

  /** /runsync, then /status until the job ends (conversion can outlast runsync's wait). */
  const runJob = async (input: Record<string, unknown>, key = KEY_A): Promise<{ status: number; job: Job }> => {
    const response = await call('/v2/chatterbox-v2/runsync', {
      key,
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ input }),
    });
    let job = (await response.json()) as Job;
    while (response.status === 200 && (job.status === 'IN_QUEUE' || job.status === 'IN_PROGRESS')) {
      await new Promise((resolve) => setTimeout(resolve, 200));
      job = (await (await call(`/v2/chatterbox-v2/status/${job.id}`, { key })).json()) as Job;
    }
    return { status: response.status, job };
  };
  const completed = async (input: Record<string, unknown>, key = KEY_A): Promise<Output> => {
    const { status, job } = await runJob(input, key);
    assert.equal(status, 200, JSON.stringify(job));
    assert.equal(job.status, 'COMPLETED', job.error);
    return job.output!;
  };
  /**
   * Refused input is a job that is FAILED at once, as on RunPod (/run answers 200 with its id). The
   * job shows only the message, so `status` (the HTTP status this refusal had before, and has where it is an HTTP error) and
   * `param` say what the case is about.
   */
  const refused = async (input: Record<string, unknown>, status: number, param: string, pattern: RegExp, key = KEY_A): Promise<void> => {
    const response = await call('/v2/chatterbox-v2/run', { key, method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ input }) });
    const body = (await response.json()) as { id: string; status: string };
    const context = `${status} ${param}: ${JSON.stringify(body)}`;
    assert.equal(response.status, 200, context);
    assert.equal(body.status, 'FAILED', context);
    const job = (await (await call(`/v2/chatterbox-v2/status/${body.id}`, { key })).json()) as Job;
    assert.equal(job.status, 'FAILED', context);
    assert.match(job.error ?? '', pattern, context);
  };

  before(async () => {
    server = await startTestServer({ CHORUS_API_KEYS: `${KEY_A},${KEY_B}`, CHORUS_RATE_LIMIT_RPS: '0' }, { keepDataDir: true });
    // References from other synthesizers: a formant synthesizer with a known 215 Hz median, and flite's male voice.
    const synth = formantSynthReference({ f0Hz: 215, seconds: 9, sampleRate: 22050 });
    femaleRef = { wav: wavBytes(synth.samples, synth.sampleRate), medianHz: medianPitch(synth.samples, synth.sampleRate) };
    within(femaleRef.medianHz, 215, 0.03, 'the pitch tracker on the formant synthesizer');
    const flite = await fliteReference(`${SPOKEN}. ${WRONG}. ${SPOKEN}.`, 'rms');
    maleRef = { wav: flite.wav, medianHz: medianPitch(flite.samples, flite.sampleRate) };
    const speech = await call('/v1/audio/speech', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'tts-1', voice: 'Albert', input: SPOKEN, response_format: 'wav', no_watermark: true }),
    });
    assert.equal(speech.status, 200);
    const wav = Buffer.from(await speech.arrayBuffer());
    espeakInput = { wav, ...readWav16(wav) };
  });
  after(() => server.close());

  it('voice_cloning makes a library voice and answers in the documented shape, saying it is voice matching', async () => {
    const output = await completed({
      operation: 'voice_cloning',
      reference_audio: femaleRef.wav.toString('base64'),
      voice_name: 'MyCustomVoice',
      voice_description: 'My personal voice for TTS',
      save_to_library: true,
    });
    assert.equal(output['success'], true);
    assert.equal(output['saved_to_library'], true);
    assert.equal(output['operation'], 'voice_cloning');
    assert.equal(output['sample_rate'], 24000);
    assert.match(output['message'], /Voice 'MyCustomVoice' cloned successfully/);
    assert.match(output['note'], /Voice matching, not neural cloning/);
    const info = output['voice_info'];
    assert.equal(info.voice_name, 'MyCustomVoice');
    assert.match(info.voice_id, /^[0-9a-f]{8}$/);
    assert.equal(info.description, 'My personal voice for TTS');
    assert.equal(info.type, 'user_cloned_voice');
    assert.equal(info.sample_rate, 22050);
    assert.ok(Math.abs(info.duration - 9) < 0.05, String(info.duration));
    assert.match(info.created_at, /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d$/);
    assert.equal(info.gender, 'female');
    assert.equal(info.method, 'voice_matching');
    assert.deepEqual(output['usage_instructions'].tts_basic, { operation: 'tts', mode: 'basic', text: 'Your text here', voice_name: 'MyCustomVoice' });
    assert.equal(output['usage_instructions'].tts_streaming.mode, 'streaming_voice_cloning');
    const sample = wavOf(output['sample_audio']);
    const probe = probeAudio(sample.bytes, 'wav');
    assert.equal(probe.sampleRate, 24000);
    within(medianPitch(sample.samples, sample.sampleRate), femaleRef.medianHz, 0.1, 'sample audio median pitch');
  });

  it('the cloned voice speaks at the reference pitch through the job API and the openai client, by name and by {id}', async () => {
    const male = await completed({ operation: 'voice_cloning', reference_audio: maleRef.wav.toString('base64'), voice_name: 'Deep Voice' });
    assert.equal(male['voice_info'].gender, 'male');
    for (const [name, reference] of [['MyCustomVoice', femaleRef], ['Deep Voice', maleRef]] as const) {
      const output = await completed({ operation: 'tts', mode: 'basic', text: TTS_TEXT, voice_name: name });
      assert.equal(output['voice'], name);
      assert.equal(output['voice_method'], 'voice_matching');
      const wav = wavOf(output['audio']);
      within(medianPitch(wav.samples, wav.sampleRate), reference.medianHz, 0.1, `job API, ${name}`);
    }
    const client = new OpenAI({ apiKey: KEY_A, baseURL: `${server.url}/v1` });
    const byName = Buffer.from(await (await client.audio.speech.create({ model: 'tts-1', voice: 'MyCustomVoice', input: TTS_TEXT, response_format: 'wav' })).arrayBuffer());
    const decoded = readWav16(byName);
    within(medianPitch(decoded.samples, decoded.sampleRate), femaleRef.medianHz, 0.1, 'openai client, by name');
    const id = male['voice_info'].voice_id as string;
    const byId = await client.audio.speech.create({ model: 'tts-1', voice: { id } as unknown as 'alloy', input: TTS_TEXT, response_format: 'wav' });
    assert.equal(byId.headers.get('x-chorus-voice'), 'Deep Voice');
    const decodedById = readWav16(Buffer.from(await byId.arrayBuffer()));
    within(medianPitch(decodedById.samples, decodedById.sampleRate), maleRef.medianHz, 0.1, 'openai client, by {id}');
    // The streaming mode speaks the same voice.
    const streamed = await completed({ operation: 'tts', mode: 'streaming_voice_cloning', text: TTS_TEXT, voice_id: id, chunk_size: 10 });
    assert.equal(streamed['voice'], 'Deep Voice');
    // The other job profiles name voices too: Spark-TTS's voice prompt and the first Chatterbox worker's `voice`.
    const spark = (await (
      await call('/v2/spark-tts/runsync', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ input: { text: TTS_TEXT, voice_name: 'MyCustomVoice' } }) })
    ).json()) as Job;
    assert.equal(spark.status, 'COMPLETED', spark.error);
    const sparkAudio = readWav16(Buffer.from(await (await fetch(spark.output!['audio_url'])).arrayBuffer()));
    within(medianPitch(sparkAudio.samples, sparkAudio.sampleRate), femaleRef.medianHz, 0.1, 'spark-tts, voice_name');
    const first = (await (
      await call('/v2/chatterbox/runsync', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ input: { text: TTS_TEXT, voice: 'Deep Voice', format: 'wav' } }) })
    ).json()) as Job;
    assert.equal(first.status, 'COMPLETED', first.error);
    const firstAudio = wavOf(first.output!['audio_base64']);
    within(medianPitch(firstAudio.samples, firstAudio.sampleRate), maleRef.medianHz, 0.1, 'chatterbox, voice');
  });

  it('reference_audio on tts matches a voice for one request without storing it', async () => {
    const output = await completed({ operation: 'tts', mode: 'basic', text: TTS_TEXT, reference_audio: femaleRef.wav.toString('base64') });
    const wav = wavOf(output['audio']);
    within(medianPitch(wav.samples, wav.sampleRate), femaleRef.medianHz, 0.1, 'inline reference');
    const list = await completed({ operation: 'list_local_voices' });
    assert.equal(list['total_local_voices'], 37 + 2);
  });

  it('both listing APIs show the key\'s voices next to the 37 built-ins, with gender statistics', async () => {
    const list = await completed({ operation: 'list_local_voices' });
    assert.equal(list['total_local_voices'], 39);
    assert.deepEqual(list['stats'].gender_distribution, { male: 22, female: 17 });
    const mine = list['local_voices'].find((voice: Output) => voice['speaker_name'] === 'MyCustomVoice');
    assert.equal(mine.type, 'user_cloned_voice');
    assert.match(mine.voice_id, /^[0-9a-f]{8}$/);
    const voices = (await (await call('/v1/voices')).json()) as { voices: Output[] };
    const listed = voices.voices.find((voice) => voice['name'] === 'MyCustomVoice');
    assert.equal(listed?.['voice_id'], mine.voice_id);
    assert.equal(listed?.['method'], 'voice_matching');
  });

  it('references API: add (multipart id, text, audio), list, speak with it, delete', async () => {
    const form = new FormData();
    form.set('id', 'alice');
    form.set('text', 'The reference transcript.');
    form.set('audio', new Blob([femaleRef.wav], { type: 'audio/wav' }), 'alice.wav');
    const added = await call('/v1/references/add', { method: 'POST', body: form });
    const addedBody = (await added.json()) as Output;
    assert.equal(added.status, 200, JSON.stringify(addedBody));
    assert.equal(addedBody['success'], true);
    assert.equal(addedBody['reference_id'], 'alice');

    const listed = (await (await call('/v1/references')).json()) as Output;
    assert.ok(listed['reference_ids'].includes('alice'));
    assert.equal(listed['references'].find((r: Output) => r['id'] === 'alice').text, 'The reference transcript.');
    const fishList = (await (await call('/v1/references/list')).json()) as Output;
    assert.deepEqual(fishList['reference_ids'], listed['reference_ids']);

    // Made through the OpenAI-style API, usable through the job API.
    const output = await completed({ operation: 'tts', mode: 'basic', text: 'Hello from the references API.', voice_name: 'alice' });
    assert.equal(output['voice'], 'alice');

    const duplicate = await call('/v1/references/add', { method: 'POST', body: form });
    assert.equal(duplicate.status, 409);
    assert.equal(((await duplicate.json()) as Output)['error'].param, 'id');

    const deleted = await call('/v1/references/alice', { method: 'DELETE' });
    assert.equal(deleted.status, 200);
    assert.equal(((await deleted.json()) as Output)['reference_id'], 'alice');
    await refused({ operation: 'tts', mode: 'basic', text: 'Gone.', voice_name: 'alice' }, 400, 'voice_name', /^Voice 'alice' not found in any library$/);
    const again = await call('/v1/references/alice', { method: 'DELETE' });
    assert.equal(again.status, 404);
  });

  it('references API refuses bad uploads in the OpenAI error shape', async () => {
    const post = async (form: FormData | string, headers: Record<string, string> = {}) => {
      const response = await call('/v1/references/add', { method: 'POST', body: form, headers });
      return { status: response.status, error: ((await response.json()) as Output)['error'] as Output };
    };
    const form = (fields: Record<string, string | Blob>) => {
      const data = new FormData();
      for (const [key, value] of Object.entries(fields)) data.set(key, value);
      return data;
    };
    const audio = new Blob([femaleRef.wav], { type: 'audio/wav' });
    let result = await post(form({ text: 'x', audio }));
    assert.equal(result.status, 400);
    assert.equal(result.error['param'], 'id');
    result = await post(form({ id: 'bob', text: 'x' }));
    assert.equal(result.status, 400);
    assert.equal(result.error['param'], 'audio');
    result = await post(form({ id: 'bad/id', audio }));
    assert.equal(result.error['param'], 'id');
    result = await post(form({ id: 'bob', audio: new Blob([Buffer.from('not audio at all')]) }));
    assert.equal(result.status, 400);
    assert.match(result.error['message'], /'audio' is not audio/);
    result = await post(form({ id: 'bob', audio: new Blob([wavBytes(new Float32Array(16000 * 2).map((_, i) => 0.3 * Math.sin(i / 5)), 16000)]) }));
    assert.equal(result.status, 400);
    assert.match(result.error['message'], /'audio' is too short: 2\.00 s of audio, at least 5 s is needed/);
    result = await post(form({ id: 'Amy', audio }));
    assert.equal(result.status, 409);
    assert.match(result.error['message'], /built-in voice/);
    result = await post(form({ id: 'big', audio: new Blob([Buffer.alloc(11 * 1024 * 1024)]) }));
    assert.equal(result.status, 413);
    result = await post(JSON.stringify({ id: 'json' }), { 'content-type': 'application/json' });
    assert.equal(result.status, 400);
    assert.match(result.error['message'], /multipart\/form-data/);
    const builtin = await call('/v1/references/Amy', { method: 'DELETE' });
    assert.equal(builtin.status, 403);
    // Nothing half-made is left behind.
    const listed = (await (await call('/v1/references')).json()) as Output;
    assert.ok(!listed['reference_ids'].includes('bob'));
  });

  it('voice_cloning refuses bad input with the field and the reason', async () => {
    const good = femaleRef.wav.toString('base64');
    await refused({ operation: 'voice_cloning', reference_audio: '%%% not base64 %%%', voice_name: 'X1' }, 400, 'reference_audio', /not valid base64/);
    await refused({ operation: 'voice_cloning', reference_audio: Buffer.from('plain text, not audio').toString('base64'), voice_name: 'X1' }, 400, 'reference_audio', /is not audio/);
    const short = wavBytes(new Float32Array(16000 * 3).map((_, i) => 0.3 * Math.sin(i / 7)), 16000).toString('base64');
    await refused({ operation: 'voice_cloning', reference_audio: short, voice_name: 'X1' }, 400, 'reference_audio', /too short: 3\.00 s of audio, at least 5 s/);
    const long = wavBytes(new Float32Array(8000 * 61).map((_, i) => 0.3 * Math.sin(i / 7)), 8000).toString('base64');
    await refused({ operation: 'voice_cloning', reference_audio: long, voice_name: 'X1' }, 400, 'reference_audio', /too long: 61\.0 s of audio, at most 60 s/);
    await refused({ operation: 'voice_cloning', reference_audio: good, voice_name: 'mycustomvoice' }, 409, 'voice_name', /already exists/);
    await refused({ operation: 'voice_cloning', reference_audio: good, voice_name: 'Benjamin' }, 409, 'voice_name', /built-in voice/);
    await refused({ operation: 'voice_cloning', reference_audio: good }, 400, 'voice_name', /voice_name/);
    await refused({ operation: 'tts', mode: 'basic', text: 'Hi.', voice_name: 'Nobody' }, 400, 'voice_name', /^Voice 'Nobody' not found in any library$/);
    await refused({ operation: 'voice_conversion', input_audio: espeakInput.wav.toString('base64'), voice_id: 'ffffffff' }, 400, 'voice_id', /not found in any library/);
    const huge = Buffer.alloc(10 * 1024 * 1024 + 10).toString('base64');
    const response = await call('/v2/chatterbox-v2/run', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ input: { operation: 'voice_conversion', input_audio: huge, voice_name: 'Amy' } }),
    });
    assert.equal(response.status, 413);
  });

  it('voice_conversion keeps timing and words and moves the pitch to the target (built-in and cloned voices)', async () => {
    const amySpeech = await call('/v1/audio/speech', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'tts-1', voice: 'Amy', input: `${SPOKEN}. ${WRONG}.`, response_format: 'wav', no_watermark: true }),
    });
    const amy = readWav16(Buffer.from(await amySpeech.arrayBuffer()));
    const amyMedian = medianPitch(amy.samples, amy.sampleRate);
    const inputSec = espeakInput.samples.length / espeakInput.sampleRate;
    for (const [target, expectedHz] of [[{ voice_name: 'Amy' }, amyMedian], [{ voice_name: 'MyCustomVoice' }, femaleRef.medianHz]] as const) {
      const output = await completed({ operation: 'voice_conversion', input_audio: espeakInput.wav.toString('base64'), ...target, no_watermark: true });
      assert.equal(output['operation'], 'voice_conversion');
      assert.equal(output['format'], 'wav');
      assert.equal(output['sample_rate'], 24000);
      const converted = wavOf(output['audio']);
      assert.equal(probeAudio(converted.bytes, 'wav').sampleRate, 24000);
      const outSec = converted.samples.length / converted.sampleRate;
      assert.ok(Math.abs(outSec - inputSec) / inputSec <= 0.01, `duration ${outSec} vs ${inputSec}`);
      assert.ok(Math.abs(output['duration'] - outSec) < 0.01);
      within(medianPitch(converted.samples, converted.sampleRate), expectedHz, 0.1, `converted to ${target.voice_name}`);
      const check = await contentCheck(converted.samples, converted.sampleRate, SPOKEN, WRONG);
      assert.ok(check.separates, `words still recognisable: right ${check.right.scorePerFrame}, wrong ${check.wrong.scorePerFrame}`);
    }
    // target_speaker: the target is a recording.
    const output = await completed({ operation: 'voice_conversion', input_audio: espeakInput.wav.toString('base64'), target_speaker: femaleRef.wav.toString('base64') });
    const converted = wavOf(output['audio']);
    within(medianPitch(converted.samples, converted.sampleRate), femaleRef.medianHz, 0.1, 'converted to target_speaker');
  });

  it('converted audio gets word timings by forced alignment of its text, close to the source speech\'s own', async () => {
    const timed = (await (
      await call('/v1/audio/speech/extended', {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ voice: 'Albert', input: SPOKEN, response_format: 'wav', no_watermark: true, timestamps: true }),
      })
    ).json()) as { audio: string; word_timings: { word: string; start: number; end: number }[] };
    const output = await completed({ operation: 'voice_conversion', input_audio: timed.audio, voice_name: 'Amy', text: SPOKEN, return_timestamps: true });
    const words = output['word_timings'] as { word: string; start: number; end: number }[];
    assert.equal(output['word_timings_method'], 'forced_alignment');
    assert.deepEqual(words.map((w) => w.word), timed.word_timings.map((w) => w.word));
    const errors = words.map((w, i) => Math.abs(w.start - timed.word_timings[i]!.start));
    const mean = errors.reduce((a, b) => a + b, 0) / errors.length;
    assert.ok(mean < 0.06, `mean word-start error ${(mean * 1000).toFixed(0)} ms`);
    for (let i = 1; i < words.length; i++) assert.ok(words[i]!.start >= words[i - 1]!.start);
    assert.ok(words.at(-1)!.end <= output['duration'] + 0.001);
    await refused({ operation: 'voice_conversion', input_audio: timed.audio, voice_name: 'Amy', return_timestamps: true }, 400, 'text', /needs 'text'/);
  });

  it('voice_transfer in embedding and audio modes reports transfer_info and input_duration', async () => {
    const embedding = await completed({ operation: 'voice_transfer', transfer_mode: 'embedding', input_audio: espeakInput.wav.toString('base64'), voice_name: 'Deep Voice', no_watermark: true });
    assert.deepEqual(embedding['transfer_info'], { transfer_mode: 'embedding', target_voice: 'Deep Voice', source: 'voice_library' });
    assert.ok(Math.abs(embedding['input_duration'] - espeakInput.samples.length / espeakInput.sampleRate) < 0.01);
    assert.equal(embedding['operation'], 'voice_transfer');
    const audio = await completed({ operation: 'voice_transfer', transfer_mode: 'audio', input_audio: espeakInput.wav.toString('base64'), target_audio: maleRef.wav.toString('base64') });
    assert.deepEqual(audio['transfer_info'], { transfer_mode: 'audio', target_voice: 'target_audio', source: 'target_audio' });
    const wav = wavOf(audio['audio']);
    within(medianPitch(wav.samples, wav.sampleRate), maleRef.medianHz, 0.1, 'transferred to the target audio');
    await refused({ operation: 'voice_transfer', transfer_mode: 'audio', input_audio: espeakInput.wav.toString('base64') }, 400, 'target_audio', /target_audio/);
  });

  it('generated and converted audio carries the watermark unless no_watermark is set; detect_watermark reports it', async () => {
    const marked = await completed({ operation: 'tts', mode: 'basic', text: TTS_TEXT, voice_name: 'Amy' });
    const unmarked = await completed({ operation: 'tts', mode: 'basic', text: TTS_TEXT, voice_name: 'Amy', no_watermark: true });
    const converted = await completed({ operation: 'voice_conversion', input_audio: espeakInput.wav.toString('base64'), voice_name: 'Amy' });
    const detect = (audio: string) => completed({ operation: 'detect_watermark', input_audio: audio });
    assert.equal((await detect(marked['audio'])).watermark_detected, true);
    assert.equal((await detect(converted['audio'])).watermark_detected, true);
    // Re-encoded as MP3 at 64 kbit/s, the mark survives.
    const mp3 = await new Promise<Buffer>((resolve, reject) => {
      const child = spawn('ffmpeg', ['-v', 'error', '-i', 'pipe:0', '-codec:a', 'libmp3lame', '-b:a', '64k', '-f', 'mp3', 'pipe:1']);
      const out: Buffer[] = [];
      child.stdout.on('data', (chunk: Buffer) => out.push(chunk));
      child.on('error', reject);
      child.on('close', (code) => (code === 0 ? resolve(Buffer.concat(out)) : reject(new Error(`ffmpeg exited ${code}`))));
      child.stdin.end(Buffer.from(marked['audio'], 'base64'));
    });
    assert.equal((await detect(mp3.toString('base64'))).watermark_detected, true);
    const plain = await detect(unmarked['audio']);
    assert.equal(plain.watermark_detected, false);
    assert.equal(plain.operation, 'detect_watermark');
    assert.equal(typeof plain.score, 'number');
  });

  it('a voice of one key is invisible to another key', async () => {
    await refused({ operation: 'tts', mode: 'basic', text: 'Hi.', voice_name: 'MyCustomVoice' }, 400, 'voice_name', /not found in any library/, KEY_B);
    const list = await completed({ operation: 'list_local_voices' }, KEY_B);
    assert.equal(list['total_local_voices'], 37);
    const voices = (await (await call('/v1/voices', { key: KEY_B })).json()) as { voices: Output[] };
    assert.ok(!voices.voices.some((voice) => voice['name'] === 'MyCustomVoice'));
    const speech = await call('/v1/audio/speech', {
      key: KEY_B,
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'tts-1', voice: 'MyCustomVoice', input: 'Hi.' }),
    });
    assert.equal(speech.status, 400);
    assert.equal(((await speech.json()) as Output)['error'].code, 'voice_not_found');
    const removal = await call('/v1/references/MyCustomVoice', { key: KEY_B, method: 'DELETE' });
    assert.equal(removal.status, 404);
    // Key B may use the same name for its own voice.
    const own = await completed({ operation: 'voice_cloning', reference_audio: maleRef.wav.toString('base64'), voice_name: 'MyCustomVoice' }, KEY_B);
    assert.equal(own['voice_info'].gender, 'male');
  });

  it('the library survives a restart', async () => {
    const dataDir = server.dataDir;
    await server.close();
    server = await startTestServer({ CHORUS_API_KEYS: `${KEY_A},${KEY_B}`, CHORUS_RATE_LIMIT_RPS: '0' }, { dataDir });
    const list = await completed({ operation: 'list_local_voices' });
    assert.ok(list['local_voices'].some((voice: Output) => voice['speaker_name'] === 'MyCustomVoice'));
    const output = await completed({ operation: 'tts', mode: 'basic', text: TTS_TEXT, voice_name: 'MyCustomVoice' });
    const wav = wavOf(output['audio']);
    within(medianPitch(wav.samples, wav.sampleRate), femaleRef.medianHz, 0.1, 'after restart');
  });
});
