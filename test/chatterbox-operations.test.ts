import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { after, before, describe, it } from 'node:test';
import runpodSdk from 'runpod-sdk';
import { findWords } from '../src/text/index.js';
import { probeAudio } from './support/ffprobe.js';
import { assertLocalVoicesShape } from './support/local-voices.js';
import { startTestServer, type TestServer } from './support/server.js';

type Output = Record<string, unknown>;
type Job = { id: string; status: string; output?: Output; error?: string };

const MALE = ['Aaron', 'Adam', 'Adrian', 'Alan', 'Albert', 'Alex', 'Alexander', 'Andrew', 'Anthony', 'Arthur', 'Austin', 'Benjamin', 'Blake', 'Brandon', 'Brian', 'Bruce', 'Bryan', 'Carl', 'Charles', 'Christian', 'Christopher'];
const FEMALE = ['Abigail', 'Amanda', 'Amy', 'Angela', 'Anna', 'Ashley', 'Barbara', 'Betty', 'Beverly', 'Brenda', 'Brittany', 'Carol', 'Carolyn', 'Catherine', 'Christina', 'Christine'];

/** A 1 s 440 Hz 16-bit mono WAV, as a user's reference recording would be. */
function sineWav(sampleRate = 16000, seconds = 1): Buffer {
  const samples = sampleRate * seconds;
  const out = Buffer.alloc(44 + samples * 2);
  out.write('RIFF', 0, 'latin1');
  out.writeUInt32LE(36 + samples * 2, 4);
  out.write('WAVEfmt ', 8, 'latin1');
  out.writeUInt32LE(16, 16);
  out.writeUInt16LE(1, 20);
  out.writeUInt16LE(1, 22);
  out.writeUInt32LE(sampleRate, 24);
  out.writeUInt32LE(sampleRate * 2, 28);
  out.writeUInt16LE(2, 32);
  out.writeUInt16LE(16, 34);
  out.write('data', 36, 'latin1');
  out.writeUInt32LE(samples * 2, 40);
  for (let i = 0; i < samples; i++) out.writeInt16LE(Math.round(8000 * Math.sin((2 * Math.PI * 440 * i) / sampleRate)), 44 + i * 2);
  return out;
}

describe('Chatterbox operations worker (002) with the official runpod-sdk client', () => {
  let server: TestServer;
  let endpoint: NonNullable<ReturnType<ReturnType<typeof runpodSdk>['endpoint']>>;
  let v1: NonNullable<ReturnType<ReturnType<typeof runpodSdk>['endpoint']>>;
  const KEY = 'ops-key-1';

  before(async () => {
    // The streaming test reads /stream in a tight loop, as the JS SDK does; rate limits are not under test here.
    server = await startTestServer({ CHORUS_API_KEYS: KEY });
    const sdk = runpodSdk(KEY, { baseUrl: `${server.url}/v2` });
    endpoint = sdk.endpoint('chatterbox-v2')!;
    v1 = sdk.endpoint('chatterbox')!;
  });
  after(() => server.close());

  const runSync = async (input: Record<string, unknown>): Promise<Job> => (await endpoint.runSync({ input })) as Job;
  const submit = async (input: unknown, path = '/run') => {
    const response = await fetch(`${server.url}/v2/chatterbox-v2${path}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${KEY}` },
      body: JSON.stringify({ input }),
    });
    return { status: response.status, body: (await response.json()) as Record<string, unknown> };
  };
  /**
   * A refused input, as on RunPod: /run answers 200 with the id of a job that is FAILED already,
   * and the job's `error` is the handler's message. (The job API reports no field for a refused
   * input, only the message; `field` says which one the case is about.)
   */
  const expectError = async (input: unknown, field: string, message: RegExp | string) => {
    const { status, body } = await submit(input);
    const context = `${field}: ${JSON.stringify(input).slice(0, 120)} → ${JSON.stringify(body)}`;
    assert.equal(status, 200, context);
    assert.equal(body['status'], 'FAILED', context);
    const job = (await endpoint.status(String(body['id']))) as Job;
    assert.equal(job.status, 'FAILED', context);
    if (typeof message === 'string') assert.equal(job.error, message, context);
    else assert.match(String(job.error), message, context);
  };

  it('tts basic: a 24 kHz WAV whose length is `duration`, with the documented fields', async () => {
    const job = await runSync({ operation: 'tts', mode: 'basic', text: 'Hello! This is a basic text-to-speech test.' });
    assert.equal(job.status, 'COMPLETED', job.error);
    const output = job.output!;
    assert.equal(output['format'], 'wav');
    assert.equal(output['operation'], 'tts');
    assert.equal(output['mode'], 'basic');
    assert.equal(output['voice'], 'default');
    assert.equal(output['sample_rate'], 24000);
    assert.equal(output['metrics'], undefined, 'basic mode reports metrics only when asked');
    const probe = probeAudio(Buffer.from(String(output['audio']), 'base64'), 'wav');
    assert.equal(probe.codec, 'pcm_s16le');
    assert.equal(probe.sampleRate, 24000);
    assert.equal(probe.channels, 1);
    assert.ok(Math.abs(probe.decodedDuration - Number(output['duration'])) < 0.002, `${probe.decodedDuration} vs ${String(output['duration'])}`);
    assert.ok(Number(output['duration']) > 1);
  });

  it('tts basic with sample_rate, voice_name, audio_normalization and print_metrics', async () => {
    const job = await runSync({
      operation: 'tts',
      mode: 'basic',
      text: 'A different rate and a named voice.',
      sample_rate: 16000,
      voice_name: 'Amy',
      audio_normalization: 'peak',
      print_metrics: true,
      exaggeration: 0.7,
      cfg_weight: 0.3,
      temperature: 0.8,
      no_watermark: true,
    });
    assert.equal(job.status, 'COMPLETED', job.error);
    const output = job.output!;
    assert.equal(output['voice'], 'Amy');
    assert.equal(output['sample_rate'], 16000);
    assert.deepEqual(output['ignored_parameters'], ['exaggeration', 'cfg_weight', 'temperature']);
    const metrics = output['metrics'] as Record<string, number>;
    assert.ok(metrics['generation_time_sec']! >= 0);
    assert.equal(metrics['audio_duration_sec'], output['duration']);
    const probe = probeAudio(Buffer.from(String(output['audio']), 'base64'), 'wav');
    assert.equal(probe.sampleRate, 16000);
    assert.ok(Math.abs(probe.decodedDuration - Number(output['duration'])) < 0.002);
  });

  it('tts streaming: /stream yields chunks while the job runs; the final audio is all of them', async () => {
    const text = Array.from({ length: 16 }, (_, i) => `This is sentence number ${i + 1} of the streaming test, spoken in chunks.`).join(' ');
    const { id } = await endpoint.run({ input: { operation: 'tts', mode: 'streaming', text, chunk_size: 10, sample_rate: 16000 } });
    const chunks: Output[] = [];
    let statusAtFirstChunk: string | undefined;
    for await (const element of endpoint.stream(id)) {
      const output = (element as { output: Output }).output;
      if (chunks.length === 0) statusAtFirstChunk = (await endpoint.status(id)).status;
      chunks.push(output);
    }
    assert.ok(chunks.length >= 10, `${chunks.length} chunks`);
    assert.equal(statusAtFirstChunk, 'IN_PROGRESS', 'the first chunk arrived before the job finished');
    const final = (await endpoint.status(id)) as Job;
    assert.equal(final.status, 'COMPLETED');
    const output = final.output!;
    assert.equal(output['mode'], 'streaming');
    assert.equal(output['stream_chunks'], chunks.length);
    const metrics = output['metrics'] as Record<string, number>;
    assert.ok(metrics['first_chunk_latency_sec']! < metrics['generation_time_sec']!, 'metrics are on by default when streaming');

    // Each element is a playable WAV; their samples, in order, are exactly the final audio's.
    let expectedStart = 0;
    const pcm: Buffer[] = [];
    chunks.forEach((chunk, index) => {
      assert.equal(chunk['chunk_index'], index);
      assert.equal(chunk['format'], 'wav');
      assert.equal(chunk['sample_rate'], 16000);
      assert.ok(Math.abs(Number(chunk['start_sec']) - expectedStart) < 0.001);
      expectedStart += Number(chunk['duration_sec']);
      assert.ok(String(chunk['text']).length > 0);
      const wav = Buffer.from(String(chunk['audio']), 'base64');
      assert.equal(wav.toString('latin1', 0, 4), 'RIFF');
      pcm.push(wav.subarray(44));
    });
    assert.match(String(chunks[0]!['text']), /^This is sentence number 1/);
    const firstProbe = probeAudio(Buffer.from(String(chunks[0]!['audio']), 'base64'), 'wav');
    assert.ok(Math.abs(firstProbe.decodedDuration - Number(chunks[0]!['duration_sec'])) < 0.001);
    const audio = Buffer.from(String(output['audio']), 'base64');
    assert.ok(audio.subarray(44).equals(Buffer.concat(pcm)), 'final audio = concatenated chunks');
    const probe = probeAudio(audio, 'wav');
    assert.equal(probe.sampleRate, 16000);
    assert.ok(Math.abs(probe.decodedDuration - Number(output['duration'])) < 0.002);
    assert.ok(Math.abs(expectedStart - Number(output['duration'])) < 0.002);
  });

  it('tts streaming_voice_cloning with a library voice (the Quick Start request); long chunks split under 1 MB', async () => {
    const quick = await runSync({ operation: 'tts', mode: 'streaming_voice_cloning', text: 'Hello, this is a test!', voice_name: 'Catherine', chunk_size: 25, exaggeration: 0.7 });
    assert.equal(quick.status, 'COMPLETED', quick.error);
    assert.equal(quick.output!['voice'], 'Catherine');
    assert.equal(quick.output!['mode'], 'streaming_voice_cloning');
    assert.equal(probeAudio(Buffer.from(String(quick.output!['audio']), 'base64'), 'wav').sampleRate, 24000);

    // 100 words → one engine chunk of up to 500 characters: about 30 s, 2.9 MB at 48 kHz.
    const text = 'word '.repeat(99) + 'end.';
    const { id } = await endpoint.run({ input: { operation: 'tts', mode: 'streaming', text, chunk_size: 100, sample_rate: 48000 } });
    const chunks: Output[] = [];
    for await (const element of endpoint.stream(id)) chunks.push((element as { output: Output }).output);
    assert.ok(chunks.length >= 3, `${chunks.length} elements`);
    for (const chunk of chunks) assert.ok(JSON.stringify(chunk).length < 1_000_000);
    assert.ok(new Set(chunks.map((c) => c['text_chunk_index'])).size < chunks.length, 'one text chunk spread over several elements');
  });

  it('tts return_timestamps: one timing per word of the original text, in order and inside the audio; subtitles ffmpeg reads', async () => {
    const text = 'On 3/4/2024, Dr. Smith paid $42.50 — "really?" — for 2 apples... and left!';
    // The words of the original text as Chorus splits them (each whitespace-separated word whole), each spoken once.
    const expected = findWords(text).map((span) => text.slice(span.start, span.end));
    assert.deepEqual(expected, ['On', '3/4/2024', 'Dr', 'Smith', 'paid', '$42.50', 'really', 'for', '2', 'apples', 'and', 'left']);
    for (const mode of ['basic', 'streaming'] as const) {
      const job = await runSync({ operation: 'tts', mode, text, return_timestamps: true, subtitle_format: 'vtt', subtitle_karaoke: true, chunk_size: 4 });
      assert.equal(job.status, 'COMPLETED', job.error);
      const output = job.output!;
      const words = output['word_timings'] as { word: string; start: number; end: number }[];
      assert.deepEqual(words.map((w) => w.word), expected, mode);
      let previous = 0;
      for (const word of words) {
        assert.ok(word.start >= previous - 0.001 && word.end >= word.start, `${mode}: ${JSON.stringify(word)}`);
        previous = word.start;
      }
      assert.ok(words.at(-1)!.end <= (output['duration'] as number) + 0.001);
      assert.equal(output['subtitles_format'], 'vtt');
      const dir = mkdtempSync(join(tmpdir(), 'chorus-vtt-'));
      try {
        const file = join(dir, 'subs.vtt');
        writeFileSync(file, String(output['subtitles']));
        const srt = (await promisify(execFile)('ffmpeg', ['-v', 'error', '-i', file, '-f', 'srt', '-'], { encoding: 'utf8' })).stdout;
        assert.match(srt, /^1\r?\n00:00:0\d,\d{3} --> /);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    }
    await expectError({ operation: 'tts', mode: 'basic', text: 'Hi.', subtitle_format: 'srt' }, 'subtitle_format', /requires return_timestamps/);
    await expectError({ operation: 'tts', mode: 'basic', text: 'Hi.', return_timestamps: true, subtitle_format: 'sub' }, 'subtitle_format', /ass, srt, vtt/);
  });

  it('list_local_voices: the documented shape, 37 voices, 21 male and 16 female', async () => {
    const job = await runSync({ operation: 'list_local_voices' });
    assert.equal(job.status, 'COMPLETED');
    const output = assertLocalVoicesShape(job.output);
    for (const voice of output.local_voices) {
      assert.equal(voice['type'], 'espeak_builtin');
      assert.equal(voice['duration'], null);
      assert.equal(voice['original_file'], null);
    }
    const names = (gender: string) => output.local_voices.filter((v) => v['gender'] === gender).map((v) => v['speaker_name']).sort();
    assert.deepEqual(names('male'), [...MALE].sort());
    assert.deepEqual(names('female'), [...FEMALE].sort());
    assert.equal(new Set(output.local_voices.map((v) => v['voice_id'])).size, 37, 'ids are unique');
    // Stable: the same ids on the next call.
    const again = assertLocalVoicesShape((await runSync({ operation: 'list_local_voices' })).output);
    assert.deepEqual(again.local_voices, output.local_voices);
  });

  it('a voice by voice_name (any case) and by voice_id from the list', async () => {
    const list = (await runSync({ operation: 'list_local_voices' })).output as { local_voices: { voice_id: string; speaker_name: string }[] };
    const benjamin = list.local_voices.find((v) => v.speaker_name === 'Benjamin')!;
    const byId = await runSync({ operation: 'tts', mode: 'basic', text: 'By id.', voice_id: benjamin.voice_id });
    assert.equal(byId.status, 'COMPLETED', byId.error);
    assert.equal(byId.output!['voice'], 'Benjamin');
    assert.equal(byId.output!['voice_id'], benjamin.voice_id);
    const byName = await runSync({ operation: 'tts', mode: 'basic', text: 'By name.', voice_name: 'benjamin' });
    assert.equal(byName.output!['voice'], 'Benjamin');
    assert.equal(byName.output!['voice_id'], benjamin.voice_id);
  });

  it('unknown operation and unknown voice answer with the documented text', async () => {
    await expectError({ operation: 'invalid_op' }, 'operation', 'Unknown operation: invalid_op');
    await expectError({ operation: 'tts', mode: 'basic', text: 'Hi.', voice_name: 'InvalidName' }, 'voice_name', "Voice 'InvalidName' not found in any library");
    await expectError({ operation: 'tts', mode: 'basic', text: 'Hi.', voice_id: 'deadbeef' }, 'voice_id', "Voice 'deadbeef' not found in any library");
    await expectError({ operation: 'voice_conversion', input_audio: sineWav().toString('base64'), voice_name: 'Nobody' }, 'voice_name', "Voice 'Nobody' not found in any library");
  });

  it('every missing or out-of-range tts parameter is a FAILED job naming the field; input that is not an object is a 400', async () => {
    const tts = (extra: Record<string, unknown>) => ({ operation: 'tts', mode: 'basic', text: 'Hi.', ...extra });
    const cases: [Record<string, unknown>, string, RegExp][] = [
      [{ mode: 'basic', text: 'Hi.' }, 'operation', /Missing required parameter: 'operation'/],
      [{ operation: 'tts', text: 'Hi.' }, 'mode', /Missing required parameter: 'mode'.*basic, streaming, streaming_voice_cloning/],
      [tts({ mode: 'fast' }), 'mode', /'mode' must be one of basic, streaming, streaming_voice_cloning/],
      [{ operation: 'tts', mode: 'basic' }, 'text', /Missing required parameter: 'text'/],
      [tts({ text: '' }), 'text', /'text' must be at least 1/],
      [tts({ text: '   ' }), 'text', /nothing that can be spoken/],
      [tts({ sample_rate: 4000 }), 'sample_rate', /'sample_rate' must be an integer from 8000 to 48000/],
      [tts({ sample_rate: 96000 }), 'sample_rate', /'sample_rate' must be an integer from 8000 to 48000/],
      [tts({ audio_normalization: 'loud' }), 'audio_normalization', /"peak", "rms" or null/],
      [tts({ chunk_size: 0 }), 'chunk_size', /'chunk_size' must be an integer from 1 to 100/],
      [tts({ chunk_size: 101 }), 'chunk_size', /'chunk_size' must be an integer from 1 to 100/],
      [tts({ chunk_size: 2.5 }), 'chunk_size', /'chunk_size' must be an int/],
      [tts({ exaggeration: 1.5 }), 'exaggeration', /'exaggeration' must be a number from 0 to 1/],
      [tts({ exaggeration: -0.1 }), 'exaggeration', /'exaggeration' must be a number from 0 to 1/],
      [tts({ cfg_weight: 2 }), 'cfg_weight', /'cfg_weight' must be a number from 0 to 1/],
      [tts({ temperature: 0.05 }), 'temperature', /'temperature' must be a number from 0.1 to 2/],
      [tts({ temperature: 2.5 }), 'temperature', /'temperature' must be a number from 0.1 to 2/],
      [tts({ max_reference_duration_sec: 0 }), 'max_reference_duration_sec', /'max_reference_duration_sec' must be a number from 1 to 300/],
      [tts({ print_metrics: 'yes' }), 'print_metrics', /'print_metrics' must be a boolean/],
      [tts({ no_watermark: 1 }), 'no_watermark', /'no_watermark' must be a boolean/],
      [tts({ voice_name: 42 }), 'voice_name', /'voice_name' must be a string/],
    ];
    for (const [input, field, message] of cases) await expectError(input, field, message);
    // The document's 5000-character limit refuses the input like any other field (test/adversarial/text.test.ts).
    await expectError(tts({ text: 'a'.repeat(5001) }), 'text', /'text' must be at most 5000 characters, but got 5001/);
    const notObject = await submit('text');
    assert.equal(notObject.status, 400);
  });

  it('reference_audio is decoded and checked at submission', async () => {
    const tts = { operation: 'tts', mode: 'streaming_voice_cloning', text: 'Hi.' };
    await expectError({ ...tts, reference_audio: Buffer.from('this is not audio at all').toString('base64') }, 'reference_audio', /'reference_audio' is not audio/);
    await expectError({ ...tts, reference_audio: '%%% not base64 %%%' }, 'reference_audio', /'reference_audio' is not valid base64/);
    await expectError({ ...tts, reference_audio: '' }, 'reference_audio', /'reference_audio' is empty/);
  });

  it('voice_cloning, voice_conversion and voice_transfer check their fields at submission (test/voice-library.test.ts runs them)', async () => {
    const audio = sineWav().toString('base64');
    await expectError({ operation: 'voice_cloning', voice_name: 'X' }, 'reference_audio', /Missing required parameter: 'reference_audio'/);
    await expectError({ operation: 'voice_cloning', reference_audio: audio }, 'voice_name', /Missing required parameter: 'voice_name'/);
    await expectError({ operation: 'voice_cloning', reference_audio: 'bm90IGF1ZGlv', voice_name: 'X' }, 'reference_audio', /not audio/);
    await expectError({ operation: 'voice_cloning', reference_audio: audio, voice_name: 'X' }, 'reference_audio', /too short: 1\.00 s of audio, at least 5 s is needed/);
    await expectError({ operation: 'voice_conversion', voice_name: 'Amy' }, 'input_audio', /Missing required parameter: 'input_audio'/);
    await expectError({ operation: 'voice_conversion', input_audio: audio }, 'voice_name', /needs a target voice/);
    await expectError({ operation: 'voice_transfer', input_audio: audio, voice_name: 'Amy' }, 'transfer_mode', /'transfer_mode' must be one of embedding, audio/);
    await expectError({ operation: 'voice_transfer', transfer_mode: 'embedding', input_audio: audio }, 'voice_name', /voice_name/);
    await expectError({ operation: 'voice_transfer', transfer_mode: 'audio', input_audio: audio }, 'target_audio', /target_audio/);
  });

  it("the document's curl examples work unchanged but for URL and key", async () => {
    const url = `${server.url}/v2/chatterbox-v2`;
    const dir = mkdtempSync(join(tmpdir(), 'chorus-curl-'));
    // Asynchronously: the server runs in this process, so a blocking child would deadlock it.
    const sh = async (script: string, cwd = dir) => (await promisify(execFile)('bash', ['-c', script], { cwd, encoding: 'utf8', timeout: 20_000 })).stdout;
    try {
      // Section 1, Basic TTS.
      const submitted = JSON.parse(
        await sh(`curl -s -X POST ${url}/run \\
  -H "Authorization: Bearer ${KEY}" \\
  -H "Content-Type: application/json" \\
  -d '{
    "input": {
      "operation": "tts",
      "mode": "basic", 
      "text": "Hello world!"
    }
  }'`),
      ) as { id: string; status: string };
      assert.equal(submitted.status, 'IN_QUEUE');
      // Section 4, Voice Listing (the request body as documented).
      const voices = JSON.parse(
        await sh(`curl -s -X POST ${url}/runsync -H "Authorization: Bearer ${KEY}" -H "Content-Type: application/json" -d '{"input": {"operation": "list_local_voices"}}'`),
      ) as { output: { total_local_voices: number } };
      assert.equal(voices.output.total_local_voices, 37);
      // Code Examples, cURL: the generate_speech script (streaming_voice_cloning, jq, polling /status).
      const script = `
generate_speech() {
    local text="$1"
    local voice_name="\${2:-Amy}"
    job_response=$(curl -s -X POST \\
        ${url}/run \\
        -H "Authorization: Bearer ${KEY}" \\
        -H "Content-Type: application/json" \\
        -d "{
            \\"input\\": {
                \\"operation\\": \\"tts\\",
                \\"mode\\": \\"streaming_voice_cloning\\",
                \\"text\\": \\"$text\\",
                \\"voice_name\\": \\"$voice_name\\",
                \\"chunk_size\\": 25,
                \\"exaggeration\\": 0.7
            }
        }")
    job_id=$(echo "$job_response" | jq -r '.id')
    echo "Job ID: $job_id"
    while true; do
        status_response=$(curl -s -H "Authorization: Bearer ${KEY}" \\
            "${url}/status/$job_id")
        status=$(echo "$status_response" | jq -r '.status')
        if [ "$status" = "COMPLETED" ]; then
            echo "$status_response" | jq -r '.output.audio' | base64 -d > output.wav
            echo "Audio saved to: output.wav"
            break
        elif [ "$status" = "FAILED" ]; then
            echo "Job failed: $(echo "$status_response" | jq -r '.error')"
            exit 1
        fi
        echo "Status: $status"
        sleep 2
    done
}
generate_speech "Hello world!" "Adrian"
`;
      const log = await sh(script, dir);
      assert.match(log, /Audio saved to: output.wav/);
      const probe = probeAudio(readFileSync(join(dir, 'output.wav')), 'wav');
      assert.equal(probe.sampleRate, 24000);
      assert.ok(probe.decodedDuration > 0.3);
      const basic = (await endpoint.status(submitted.id)) as Job;
      if (basic.status === 'COMPLETED') assert.equal(basic.output!['mode'], 'basic');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  describe('the first Chatterbox worker (001) result cache', () => {
    it('a repeat request is served from the cache: cache_hit, same bytes, same cache_key, fast', async () => {
      const input = { text: 'Cache me if you can. This sentence is spoken once.', format: 'wav', voice: 'Amy' };
      const first = (await v1.runSync({ input })) as Job;
      const second = (await v1.runSync({ input })) as Job;
      assert.equal(first.status, 'COMPLETED', first.error);
      assert.equal(second.status, 'COMPLETED', second.error);
      assert.equal(first.output!['cache_hit'], false);
      assert.equal(second.output!['cache_hit'], true);
      assert.equal(second.output!['cache_key'], first.output!['cache_key']);
      assert.equal(second.output!['audio_base64'], first.output!['audio_base64']);
      assert.equal(second.output!['duration_ms'], first.output!['duration_ms']);
      assert.equal(second.output!['chunks_processed'], first.output!['chunks_processed']);
      assert.ok(Number(second.output!['generation_time_ms']) < 500);
      // A different request is a different key.
      const other = (await v1.runSync({ input: { ...input, speed: 1.2 } })) as Job;
      assert.equal(other.output!['cache_hit'], false);
      assert.notEqual(other.output!['cache_key'], first.output!['cache_key']);
    });

    it('identical requests at once are synthesised once', async () => {
      const input = { text: 'Three identical jobs arrive together. '.repeat(10), format: 'mp3' };
      const jobs = await Promise.all([1, 2, 3].map(() => v1.runSync({ input }) as Promise<Job>));
      for (const job of jobs) assert.equal(job.status, 'COMPLETED', job.error);
      assert.equal(jobs.filter((job) => job.output!['cache_hit'] === false).length, 1);
      assert.equal(new Set(jobs.map((job) => job.output!['audio_base64'])).size, 1);
    });
  });
});
