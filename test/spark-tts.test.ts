import { PutObjectCommand } from '@aws-sdk/client-s3';
import assert from 'node:assert/strict';
import { execFile, execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import runpodSdk from 'runpod-sdk';
import { wavHeader } from '../src/audio/encoders/wav-encoder.js';
import { createS3Client } from '../src/storage/s3-blob-store.js';
import { probeAudio } from './support/ffprobe.js';
import { startTestS3, type TestS3 } from './support/s3.js';
import { startTestServer, type TestServer } from './support/server.js';

const run = promisify(execFile);
const KEY = 'spark-key';

// The request bodies of the three curl examples and the Python example in the Spark-TTS document, verbatim.
const CURL_BASIC = `{
    "input": {
      "text": "Hello, this is a test of Spark-TTS.",
      "speaker_gender": "female"
    }
  }`;
const CURL_CLONE = `{
    "input": {
      "text": "Clone this voice for the new text.",
      "prompt_text": "This is how I sound.",
      "prompt_speech_url": "s3://my-bucket/voices/reference.wav",
      "output_name": "cloned_voice"
    }
  }`;
const CURL_SUBTITLES = `{
    "input": {
      "text": "Generate subtitles for this speech.",
      "enable_whisperx": true,
      "enable_subtitles": true,
      "output_name": "with_subtitles"
    }
  }`;
const PYTHON_PAYLOAD = {
  input: {
    text: 'Hello from Python!',
    speaker_gender: 'female',
    temperature: 0.6,
    output_name: 'python_test',
  },
};

/** A 1 s 16 kHz 16-bit mono sine WAV: a stand-in for a reference recording. */
function referenceWav(seconds = 1, rate = 16_000): Uint8Array {
  const samples = Math.round(seconds * rate);
  const data = new Uint8Array(samples * 2);
  const view = new DataView(data.buffer);
  for (let i = 0; i < samples; i++) view.setInt16(i * 2, Math.round(8000 * Math.sin((2 * Math.PI * 220 * i) / rate)), true);
  const out = new Uint8Array(44 + data.length);
  out.set(wavHeader(rate, data.length));
  out.set(data, 44);
  return out;
}

interface JobView {
  id: string;
  status: string;
  error?: string;
  output?: {
    status: string;
    audio_url: string;
    sample_rate: number;
    duration: number;
    word_timings?: { word: string; start: number; end: number }[];
    subtitles_url?: string;
    warnings?: string[];
  };
}

/** Runs the document's curl command unchanged but for the base URL and key. */
async function curlRunsync(baseUrl: string, body: string): Promise<JobView> {
  const { stdout } = await run('curl', [
    '-s', '-X', 'POST', `${baseUrl}/v2/spark-tts/runsync`,
    '-H', `Authorization: Bearer ${KEY}`,
    '-H', 'Content-Type: application/json',
    '-d', body,
  ]);
  return JSON.parse(stdout) as JobView;
}

async function download(url: string): Promise<{ bytes: Uint8Array; type: string | null }> {
  const response = await fetch(url);
  assert.equal(response.status, 200, url);
  return { bytes: new Uint8Array(await response.arrayBuffer()), type: response.headers.get('content-type') };
}

describe('Spark-TTS profile (000): the document’s examples, runpod-sdk, storage links, reference audio, every bad input', () => {
  let s3: TestS3;
  /** S3 storage, private URLs allowed (for the loopback reference-audio server), a small prompt limit. */
  let server: TestServer;
  /** Local storage, default URL policy. */
  let strict: TestServer;
  let files: Server;
  let filesUrl: string;
  let closedPortUrl: string;
  const scratch = mkdtempSync(join(tmpdir(), 'chorus-spark-'));
  const wav = referenceWav();
  let mp3: Uint8Array;
  let flac: Uint8Array;

  before(async () => {
    writeFileSync(join(scratch, 'ref.wav'), wav);
    execFileSync('ffmpeg', ['-v', 'error', '-i', join(scratch, 'ref.wav'), '-b:a', '64k', join(scratch, 'ref.mp3')]);
    execFileSync('ffmpeg', ['-v', 'error', '-i', join(scratch, 'ref.wav'), join(scratch, 'ref.flac')]);
    mp3 = readFileSync(join(scratch, 'ref.mp3'));
    flac = readFileSync(join(scratch, 'ref.flac'));

    files = createServer((req, res) => {
      const path = req.url ?? '/';
      const send = (status: number, type: string, body: Uint8Array | string) => {
        res.writeHead(status, { 'content-type': type, 'content-length': String(Buffer.byteLength(body)) });
        res.end(body);
      };
      if (path === '/ref.wav') return send(200, 'audio/wav', wav);
      if (path === '/ref.mp3') return send(200, 'audio/mpeg', mp3);
      if (path === '/ref.flac') return send(200, 'audio/flac', flac);
      if (path === '/page.html') return send(200, 'text/html', '<html><body>Not audio</body></html>');
      if (path === '/corrupt.wav') return send(200, 'audio/wav', Buffer.concat([Buffer.from('RIFF\x24\x00\x00\x00WAVEjunk'), Buffer.alloc(64, 7)]));
      if (path === '/big.wav') return send(200, 'audio/wav', referenceWav(5)); // 160 KB > the 100 KB limit
      if (path === '/big-chunked.wav') {
        // No content-length: the limit must hold while streaming.
        res.writeHead(200, { 'content-type': 'audio/wav' });
        const big = referenceWav(5);
        for (let offset = 0; offset < big.length; offset += 16_384) res.write(big.subarray(offset, offset + 16_384));
        return res.end();
      }
      if (path === '/redirect') {
        res.writeHead(302, { location: '/ref.wav' });
        return res.end();
      }
      const loop = /^\/loop\/(\d+)$/.exec(path);
      if (loop) {
        res.writeHead(302, { location: `/loop/${Number(loop[1]) + 1}` });
        return res.end();
      }
      return send(404, 'text/plain', 'not found');
    });
    await new Promise<void>((resolve) => files.listen(0, '127.0.0.1', resolve));
    filesUrl = `http://127.0.0.1:${(files.address() as AddressInfo).port}`;
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    closedPortUrl = `http://127.0.0.1:${(closed.address() as AddressInfo).port}/ref.wav`;
    await new Promise((resolve) => closed.close(resolve));

    s3 = await startTestS3(['chorus-out', 'my-bucket']);
    const client = createS3Client({ endpoint: s3.endpoint, region: 'us-east-1', accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' });
    await client.send(new PutObjectCommand({ Bucket: 'my-bucket', Key: 'voices/reference.wav', Body: wav, ContentType: 'audio/wav' }));
    client.destroy();

    [server, strict] = await Promise.all([
      startTestServer({
        ...s3.env('chorus-out'),
        CHORUS_API_KEYS: KEY,
        CHORUS_ALLOW_PRIVATE_URLS: 'true',
        CHORUS_MAX_PROMPT_AUDIO_BYTES: '100000',
      }),
      startTestServer({ CHORUS_WORKERS: '1' }),
    ]);
  });
  after(async () => {
    await Promise.all([server?.close(), strict?.close()]);
    await s3?.close();
    await new Promise((resolve) => files?.close(resolve));
    rmSync(scratch, { recursive: true, force: true });
  });

  const runsync = async (target: TestServer, input: Record<string, unknown>): Promise<{ status: number; body: JobView & { error?: string; field?: string } }> => {
    const response = await fetch(`${target.url}/v2/spark-tts/runsync`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${KEY}` },
      body: JSON.stringify({ input }),
    });
    return { status: response.status, body: (await response.json()) as JobView & { field?: string } };
  };

  it('curl, basic example: a female voice, a 24 kHz WAV link that ffprobe accepts', async () => {
    const job = await curlRunsync(server.url, CURL_BASIC);
    assert.equal(job.status, 'COMPLETED', JSON.stringify(job));
    assert.match(job.id, /^sync-/);
    const output = job.output!;
    assert.equal(output.status, 'success');
    assert.equal(output.sample_rate, 24_000);
    assert.match(output.audio_url, /\/chorus-out\/output_[0-9a-f-]{36}\.wav\?/);
    assert.equal(output.word_timings, undefined);
    assert.equal(output.subtitles_url, undefined);
    assert.equal(output.warnings, undefined);
    const { bytes, type } = await download(output.audio_url);
    assert.equal(type, 'audio/wav');
    const probe = probeAudio(bytes, 'wav');
    assert.equal(probe.codec, 'pcm_s16le');
    assert.equal(probe.sampleRate, 24_000);
    assert.equal(probe.channels, 1);
    assert.ok(Math.abs(probe.decodedDuration - output.duration) < 0.01, `${probe.decodedDuration} vs ${output.duration}`);
    assert.ok(output.duration > 1 && output.duration < 6);
  });

  it('curl, cloning example: s3://my-bucket/voices/reference.wav is read with the configured credentials; the warning says it is voice matching', async () => {
    const job = await curlRunsync(server.url, CURL_CLONE);
    assert.equal(job.status, 'COMPLETED', JSON.stringify(job));
    const output = job.output!;
    assert.match(output.audio_url, /\/chorus-out\/cloned_voice_[0-9a-f-]{36}\.wav\?/);
    const warnings = output.warnings!.join('\n');
    assert.match(warnings, /prompt_speech_url: reference WAV, 1\.00 s, 16000 Hz, median pitch \d+ Hz; spoken by voice matching from the built-in voice \w+\. Voice matching, not neural cloning/);
    assert.match(warnings, /prompt_text: not needed by voice matching/);
    assert.equal(probeAudio((await download(output.audio_url)).bytes, 'wav').sampleRate, 24_000);
  });

  it('curl, subtitles example: word timings and a valid ASS file that ffmpeg reads', async () => {
    const job = await curlRunsync(server.url, CURL_SUBTITLES);
    assert.equal(job.status, 'COMPLETED', JSON.stringify(job));
    const output = job.output!;
    assert.deepEqual(output.word_timings!.map((w) => w.word), ['Generate', 'subtitles', 'for', 'this', 'speech']);
    let previousEnd = 0;
    for (const word of output.word_timings!) {
      assert.ok(word.start >= previousEnd - 0.001 && word.end > word.start, JSON.stringify(word));
      assert.equal(Math.round(word.start * 1000) / 1000, word.start);
      previousEnd = word.end;
    }
    assert.ok(previousEnd <= output.duration + 0.001);
    assert.match(output.subtitles_url!, /\/chorus-out\/subtitles\/with_subtitles_[0-9a-f-]{36}\.ass\?/);
    const ass = new TextDecoder().decode((await download(output.subtitles_url!)).bytes);
    assert.match(ass, /^\ufeff?\[Script Info\]\n/);
    assert.match(ass, /ScriptType: v4\.00\+/);
    assert.match(ass, /\[V4\+ Styles\]\nFormat: (?:[A-Za-z]+, ){22}Encoding\n/);
    assert.match(ass, /Dialogue: 0,0:00:00\.\d\d,0:00:0\d\.\d\d,Default,,0,0,0,,Generate subtitles for this speech\./);
    const file = join(scratch, 'subs.ass');
    writeFileSync(file, ass);
    const srt = execFileSync('ffmpeg', ['-v', 'error', '-i', file, '-f', 'srt', '-'], { encoding: 'utf8' });
    assert.match(srt, /^1\r?\n00:00:00,\d{3} --> 00:00:0\d,\d{3}\r?\n(?:<font[^>]*>)?Generate subtitles for this speech\./);
  });

  it('subtitle_format srt and vtt (with karaoke) give files ffmpeg reads, timed like word_timings', async () => {
    for (const [format, karaoke] of [['srt', false], ['vtt', true], ['ass', true]] as const) {
      const { body } = await runsync(server, {
        text: 'First line of speech. And a second, longer line follows it.',
        enable_whisperx: true,
        enable_subtitles: true,
        subtitle_format: format,
        subtitle_karaoke: karaoke,
      });
      assert.equal(body.status, 'COMPLETED', JSON.stringify(body));
      const output = body.output as typeof body.output & { subtitles_format?: string };
      assert.equal(output!.subtitles_format, format);
      assert.match(output!.subtitles_url!, new RegExp(`\\.${format}\\?`));
      const file = join(scratch, `subs-${format}.${format}`);
      writeFileSync(file, (await download(output!.subtitles_url!)).bytes);
      const srt = execFileSync('ffmpeg', ['-v', 'error', '-i', file, '-f', 'srt', '-'], { encoding: 'utf8' });
      const first = /^1\r?\n(\d\d):(\d\d):(\d\d),(\d{3}) --> /.exec(srt);
      assert.ok(first !== null, srt);
      const startSec = Number(first[3]) + Number(first[4]) / 1000;
      assert.ok(Math.abs(startSec - output!.word_timings![0]!.start) < 0.011, `${format}: first cue at ${startSec}`);
      assert.match(srt.replace(/<[^>]+>|\{[^}]*\}/g, ''), /First line of speech\./);
      if (karaoke && format === 'ass') assert.match(new TextDecoder().decode((await download(output!.subtitles_url!)).bytes), /\{\\kf\d+\}First/);
    }
  });

  it('the Python example’s payload: temperature is checked and reported as unused', async () => {
    const { status, body } = await runsync(server, PYTHON_PAYLOAD.input);
    assert.equal(status, 200);
    assert.equal(body.status, 'COMPLETED');
    assert.match(body.output!.audio_url, /python_test_/);
    assert.match(body.output!.warnings!.join('\n'), /temperature: accepted and checked, but not used by the embedded engine/);
  });

  it('runpod-sdk runSync with every option; pitch, speed and gap change the audio', async () => {
    const endpoint = runpodSdk(KEY, { baseUrl: `${server.url}/v2` }).endpoint('spark-tts')!;
    const text = 'One sentence here. And another one there.';
    const plain = (await endpoint.runSync({ input: { text } })) as JobView;
    const shaped = (await endpoint.runSync({
      input: {
        text, output_name: 'user_123/speech!', speaker_gender: 'male', pitch_shift: 2.5, speed_shift: 1.2, multi_sentence_gap: 1.5,
        task_token: 'cross_lingual', temperature: 0.5, top_p: 0.9, max_length: 2048, enable_whisperx: true, enable_subtitles: false,
      },
    })) as JobView;
    assert.equal(plain.status, 'COMPLETED');
    assert.equal(shaped.status, 'COMPLETED', JSON.stringify(shaped));
    assert.match(shaped.output!.audio_url, /\/user_123_speech_[0-9a-f-]{36}\.wav\?/);
    assert.match(shaped.output!.warnings!.join('\n'), /task_token, temperature, top_p, max_length: accepted/);
    // A 1.5 s gap instead of 0.3 s outweighs the 1.2x speed-up.
    assert.ok(shaped.output!.duration > plain.output!.duration + 0.5, `${shaped.output!.duration} vs ${plain.output!.duration}`);
    const words = shaped.output!.word_timings!;
    assert.deepEqual(words.map((w) => w.word), ['One', 'sentence', 'here', 'And', 'another', 'one', 'there']);
    assert.ok(Math.abs(words[3]!.start - words[2]!.end - 1.5) < 0.01, 'the 1.5 s sentence gap shows in the timings');
    const probe = probeAudio((await download(shaped.output!.audio_url)).bytes, 'wav');
    assert.ok(Math.abs(probe.decodedDuration - shaped.output!.duration) < 0.01);
  });

  it('reference audio over http from a loopback server (private URLs allowed): WAV, MP3, FLAC and a redirect', async () => {
    for (const [path, format] of [['/ref.wav', 'WAV'], ['/ref.mp3', 'MP3'], ['/ref.flac', 'FLAC'], ['/redirect', 'WAV']] as const) {
      const { body } = await runsync(server, { text: 'Reference given.', prompt_speech_url: `${filesUrl}${path}` });
      assert.equal(body.status, 'COMPLETED', `${path}: ${JSON.stringify(body)}`);
      assert.match(body.output!.warnings![0]!, new RegExp(`^prompt_speech_url: reference ${format}, 1\\.0\\d s`), path);
    }
  });

  it('bad reference audio fails the job with an error naming prompt_speech_url', async () => {
    const cases: [string, RegExp][] = [
      [closedPortUrl, /could not be downloaded: ECONNREFUSED/],
      [`${filesUrl}/missing.wav`, /HTTP 404/],
      [`${filesUrl}/page.html`, /not audio in a supported format \(WAV, MP3, FLAC or Ogg expected\)/],
      [`${filesUrl}/corrupt.wav`, /could not be decoded as WAV|holds no audio samples/],
      [`${filesUrl}/big.wav`, /too large: 160044 bytes, the limit is 100000/],
      [`${filesUrl}/big-chunked.wav`, /too large: more than 100000 bytes/],
      [`${filesUrl}/loop/0`, /redirected more than 3 times/],
      ['https://no-such-host.invalid/ref.wav', /does not resolve/],
      ['s3://my-bucket/voices/missing.wav', /does not exist/],
    ];
    const results = await Promise.all(cases.map(([url]) => runsync(server, { text: 'Hi.', prompt_speech_url: url })));
    results.forEach(({ status, body }, i) => {
      const [url, pattern] = cases[i]!;
      assert.equal(status, 200, url);
      assert.equal(body.status, 'FAILED', `${url}: ${JSON.stringify(body)}`);
      assert.match(body.error!, /^'prompt_speech_url' /, url);
      assert.match(body.error!, pattern, url);
    });
  });

  it('with the default URL policy, private addresses fail the job, http is refused at submission, and s3:// needs S3 configured', async () => {
    const failed = await Promise.all(
      [
        ['https://127.0.0.1:9/ref.wav', /private, loopback or otherwise non-public address \(127\.0\.0\.1 → 127\.0\.0\.1\)/],
        ['https://169.254.169.254/latest/meta-data/', /non-public address/],
        ['https://[::1]/ref.wav', /non-public address/],
        ['https://localhost/ref.wav', /non-public address/],
        ['s3://my-bucket/voices/reference.wav', /S3 is not configured on this server/],
      ].map(async ([url, pattern]) => ({ url, pattern: pattern as RegExp, ...(await runsync(strict, { text: 'Hi.', prompt_speech_url: url })) })),
    );
    for (const { url, pattern, status, body } of failed) {
      assert.equal(status, 200, String(url));
      assert.equal(body.status, 'FAILED', `${String(url)}: ${JSON.stringify(body)}`);
      assert.match(body.error!, /^'prompt_speech_url' /);
      assert.match(body.error!, pattern);
    }
    const http = await runsync(strict, { text: 'Hi.', prompt_speech_url: `${filesUrl}/ref.wav` });
    assert.equal(http.status, 200);
    assert.equal(http.body.status, 'FAILED');
    assert.match(http.body.error!, /^'prompt_speech_url' must be an https:\/\/ or s3:\/\/ URL.*CHORUS_ALLOW_PRIVATE_URLS/);
  });

  it('local storage: the audio_url is a signed link served by Chorus; tampering is 403', async () => {
    const { body } = await runsync(strict, { text: 'Kept on local disk.', output_name: 'local' });
    assert.equal(body.status, 'COMPLETED', JSON.stringify(body));
    const url = body.output!.audio_url;
    assert.match(url, new RegExp(`^${strict.url}/files/local_[0-9a-f-]{36}\\.wav\\?expires=\\d+&sig=[0-9a-f]{64}$`));
    const { bytes, type } = await download(url);
    assert.equal(type, 'audio/wav');
    assert.equal(probeAudio(bytes, 'wav').sampleRate, 24_000);
    const tampered = await fetch(url.replace(/expires=(\d+)/, (_, n: string) => `expires=${Number(n) + 60}`));
    assert.equal(tampered.status, 403);
    assert.match(((await tampered.json()) as { error: string }).error, /signature/);
  });

  it('bad input is a FAILED job whose error names the field', async () => {
    const cases: [Record<string, unknown>, string, RegExp][] = [
      [{}, 'text', /Missing required parameter: 'text'/],
      [{ text: '' }, 'text', /at least 1/],
      [{ text: 42 }, 'text', /must be a string/],
      [{ text: 'x', speaker_gender: 'other' }, 'speaker_gender', /male, female/],
      [{ text: 'x', pitch_shift: 12.5 }, 'pitch_shift', /-12 to 12/],
      [{ text: 'x', pitch_shift: '2' }, 'pitch_shift', /must be a number/],
      [{ text: 'x', speed_shift: 0.4 }, 'speed_shift', /0\.5 to 2/],
      [{ text: 'x', speed_shift: 2.1 }, 'speed_shift', /0\.5 to 2/],
      [{ text: 'x', multi_sentence_gap: -0.1 }, 'multi_sentence_gap', /0 to 2/],
      [{ text: 'x', multi_sentence_gap: 2.5 }, 'multi_sentence_gap', /0 to 2/],
      [{ text: 'x', task_token: 'translate' }, 'task_token', /zero_shot, cross_lingual, continue/],
      [{ text: 'x', temperature: 0 }, 'temperature', /0\.1 to 1/],
      [{ text: 'x', temperature: 1.5 }, 'temperature', /0\.1 to 1/],
      [{ text: 'x', top_p: 0.05 }, 'top_p', /0\.1 to 1/],
      [{ text: 'x', max_length: 100 }, 'max_length', /integer from 256 to 8192/],
      [{ text: 'x', max_length: 9000 }, 'max_length', /integer from 256 to 8192/],
      [{ text: 'x', max_length: 300.5 }, 'max_length', /'max_length' must be an int/],
      [{ text: 'x', enable_whisperx: 'yes' }, 'enable_whisperx', /must be a boolean/],
      [{ text: 'x', enable_subtitles: 1 }, 'enable_subtitles', /must be a boolean/],
      [{ text: 'x', enable_subtitles: true }, 'enable_subtitles', /requires enable_whisperx/],
      [{ text: 'x', enable_subtitles: true, enable_whisperx: false }, 'enable_subtitles', /requires enable_whisperx/],
      [{ text: 'x', enable_subtitles: true, enable_whisperx: true, subtitle_format: 'sub' }, 'subtitle_format', /ass, srt, vtt/],
      [{ text: 'x', enable_whisperx: true, subtitle_format: 'srt' }, 'subtitle_format', /requires|applies to subtitles/],
      [{ text: 'x', subtitle_karaoke: true }, 'subtitle_karaoke', /applies to subtitles/],
      [{ text: 'x', output_name: 5 }, 'output_name', /must be a string/],
      [{ text: 'x', prompt_text: ['a'] }, 'prompt_text', /must be a string/],
      [{ text: 'x', prompt_speech_url: 'ftp://example.com/a.wav' }, 'prompt_speech_url', /https:\/\/ or s3:\/\//],
      [{ text: 'x', prompt_speech_url: 'reference.wav' }, 'prompt_speech_url', /https:\/\/ or s3:\/\//],
      [{ text: 'x', prompt_speech_url: 's3://bucket-only' }, 'prompt_speech_url', /s3:\/\/bucket\/key/],
    ];
    // As on RunPod, /runsync answers 200 with the FAILED job; the job API reports the message only.
    for (const [input, field, message] of cases) {
      const { status, body } = await runsync(server, input);
      assert.equal(status, 200, JSON.stringify(input));
      assert.equal(body.status, 'FAILED', `${field}: ${JSON.stringify(input)}`);
      assert.match(body.error!, message, JSON.stringify(input));
    }
  });
});
