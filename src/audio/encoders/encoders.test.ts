import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { promisify } from 'node:util';
import { ChorusError } from '../../errors.js';
import { floatToInt16 } from '../pcm.js';
import { AacEncoder } from './aac-encoder.js';
import type { AudioFormat } from './audio-encoder.js';
import { availableFormats, createEncoder, getFormatInfo, isAudioFormat } from './index.js';
import { lameFrameLayout, mp3SamplesPerFrame } from './mp3-encoder.js';
import { oggCrc32 } from './ogg-writer.js';

const run = promisify(execFile);
const FFMPEG = 'ffmpeg';
const FFPROBE = 'ffprobe';
const dir = mkdtempSync(join(tmpdir(), 'chorus-encoders-'));
after(() => rmSync(dir, { recursive: true, force: true }));

/** 220 Hz tone with 3 Hz amplitude modulation and a little noise (deterministic). */
function signal(rate: number, seconds: number): Float32Array {
  const n = Math.round(rate * seconds);
  const x = new Float32Array(n);
  let seed = 12345;
  for (let i = 0; i < n; i++) {
    seed = (seed * 1103515245 + 12345) & 0x7fffffff;
    const t = i / rate;
    x[i] = 0.5 * Math.sin(2 * Math.PI * 220 * t) * (0.6 + 0.4 * Math.sin(2 * Math.PI * 3 * t)) + 0.01 * (seed / 0x3fffffff - 1);
  }
  return x;
}

async function encode(format: AudioFormat, rate: number, x: Float32Array, buffered: boolean): Promise<Buffer> {
  const options = buffered ? { sampleRate: rate, totalSamples: x.length } : { sampleRate: rate };
  const encoder = createEncoder(format, options, { ffmpegPath: FFMPEG });
  const parts: Uint8Array[] = [];
  try {
    for (let o = 0; o < x.length; o += 777) parts.push(await encoder.write(x.subarray(o, Math.min(x.length, o + 777))));
    parts.push(await encoder.end());
  } finally {
    encoder.dispose();
  }
  return Buffer.concat(parts);
}

interface Probe {
  codec: string;
  sampleRate: number;
  channels: number;
  duration: number | undefined;
}

function inputArgs(format: AudioFormat, rate: number): string[] {
  return format === 'pcm' ? ['-f', 's16le', '-ar', String(rate), '-ac', '1'] : [];
}

async function probe(file: string, format: AudioFormat, rate: number): Promise<Probe> {
  const { stdout } = await run(FFPROBE, ['-v', 'error', ...inputArgs(format, rate), '-show_streams', '-show_format', '-of', 'json', file]);
  const json = JSON.parse(stdout) as {
    streams: { codec_name: string; sample_rate: string; channels: number; duration?: string }[];
    format: { duration?: string };
  };
  const stream = json.streams[0];
  assert.ok(stream, 'ffprobe found no stream');
  const raw = stream.duration ?? json.format.duration;
  const duration = raw === undefined || raw === 'N/A' ? undefined : Number(raw);
  return { codec: stream.codec_name, sampleRate: Number(stream.sample_rate), channels: stream.channels, duration };
}

/** Decodes with ffmpeg to s16le mono at the file's own rate. */
async function decode(file: string, format: AudioFormat, rate: number): Promise<Int16Array> {
  const { stdout } = await run(FFMPEG, ['-v', 'error', ...inputArgs(format, rate), '-i', file, '-f', 's16le', '-ac', '1', 'pipe:1'], {
    encoding: 'buffer',
    maxBuffer: 64 * 1024 * 1024,
  });
  const copy = Uint8Array.from(stdout);
  return new Int16Array(copy.buffer, 0, copy.length >> 1);
}

const CODEC: Record<AudioFormat, string> = {
  wav: 'pcm_s16le',
  pcm: 'pcm_s16le',
  flac: 'flac',
  mp3: 'mp3',
  opus: 'opus',
  aac: 'aac',
};

const RATES: Record<AudioFormat, number[]> = {
  wav: [24000, 16000, 11025],
  pcm: [24000, 11025],
  flac: [24000, 44100, 11025],
  mp3: [24000, 44100, 11025],
  opus: [24000, 16000],
  aac: [24000, 44100, 11025],
};

const within = (actual: number, expected: number, tolerance = 0.02): boolean =>
  Math.abs(actual - expected) <= expected * tolerance;

for (const format of ['wav', 'pcm', 'flac', 'mp3', 'opus', 'aac'] as AudioFormat[]) {
  describe(`${format} encoder`, { concurrency: 4 }, () => {
    const info = getFormatInfo(format);
    for (const rate of RATES[format]) {
      assert.equal(info.resolveSampleRate(rate), rate, `${rate} must be a native ${format} rate`);
      for (const seconds of [1, 7]) {
        for (const buffered of [true, false]) {
          const name = `${rate} Hz, ${seconds} s, ${buffered ? 'buffered' : 'streamed'}`;
          test(name, async (t) => {
            const x = signal(rate, seconds);
            const bytes = await encode(format, rate, x, buffered);
            const file = join(dir, `${format}-${rate}-${seconds}-${buffered ? 'b' : 's'}.${info.fileExtension}`);
            writeFileSync(file, bytes);
            const p = await probe(file, format, rate);
            const decodedRate = info.decodedSampleRate(rate);
            assert.equal(p.codec, CODEC[format]);
            assert.equal(p.sampleRate, decodedRate);
            assert.equal(p.channels, 1);
            const decoded = await decode(file, format, rate);
            const expectedSeconds = x.length / rate;
            const decodedSeconds = decoded.length / decodedRate;

            switch (format) {
              case 'wav':
              case 'pcm':
              case 'flac': {
                // Lossless: bit-exact against the s16 conversion of the input.
                assert.deepEqual(decoded, floatToInt16(x));
                if (format === 'flac' && !buffered) {
                  // STREAMINFO total = 0 (unknown): ffprobe 5.1 reports no duration at all.
                  if (p.duration === undefined) t.diagnostic(`flac streamed ${name}: ffprobe duration N/A (total samples unknown); decoded length exact`);
                  else assert.ok(within(p.duration, expectedSeconds), `duration ${p.duration}`);
                } else {
                  assert.ok(p.duration !== undefined && within(p.duration, expectedSeconds), `duration ${p.duration}`);
                }
                if (format === 'wav') {
                  const size = bytes.readUInt32LE(40);
                  assert.equal(size, buffered ? x.length * 2 : 0xffffffff);
                }
                break;
              }
              case 'opus': {
                // Pre-skip and the end-trimming granule give the exact length at 48 kHz.
                assert.equal(decoded.length, (x.length * 48000) / rate);
                assert.ok(p.duration !== undefined && within(p.duration, expectedSeconds), `duration ${p.duration}`);
                break;
              }
              case 'mp3': {
                const spf = mp3SamplesPerFrame(rate);
                const layout = lameFrameLayout(x.length, spf);
                const rawSeconds = (layout.frames * spf) / rate;
                assert.ok(p.duration !== undefined, 'mp3 duration');
                if (buffered) {
                  // The Info/LAME tag makes ffmpeg trim delay and padding: exact sample count.
                  assert.equal(decoded.length, x.length);
                  // ffprobe 5.1 reports frames × spf (it does not subtract the tag's padding).
                  assert.ok(within(p.duration, expectedSeconds) || Math.abs(p.duration - rawSeconds) < 0.002, `duration ${p.duration}`);
                  if (!within(p.duration, expectedSeconds)) {
                    t.diagnostic(`mp3 ${name}: ffprobe duration ${p.duration} (raw frames) vs exact ${expectedSeconds}; decoded ${decoded.length} samples = exact`);
                  }
                } else {
                  // No tag: every frame decodes in full (LAME delay 576 + padding stay in).
                  assert.equal(decoded.length, layout.frames * spf);
                  assert.ok(Math.abs(p.duration - rawSeconds) < 0.002, `duration ${p.duration} vs ${rawSeconds}`);
                }
                break;
              }
              case 'aac': {
                // Raw ADTS cannot signal the encoder's 1024-sample priming or end padding.
                const { stdout } = await run(FFPROBE, ['-v', 'error', '-count_packets', '-show_entries', 'stream=nb_read_packets', '-of', 'csv=p=0', file]);
                const packets = Number(stdout.trim());
                assert.equal(decoded.length, packets * 1024);
                assert.ok(decoded.length >= x.length + 1024, `decoded ${decoded.length}`);
                assert.ok(decoded.length <= x.length + 3 * 1024, `decoded ${decoded.length}`);
                const packetSeconds = (packets * 1024) / rate;
                if (!within(packetSeconds, expectedSeconds)) {
                  t.diagnostic(`aac ${name}: ${packets} packets = ${packetSeconds.toFixed(3)} s (priming + padding) vs ${expectedSeconds} s`);
                }
                t.diagnostic(`aac ${name}: ffprobe plain duration estimate ${p.duration ?? 'N/A'} s for ${expectedSeconds} s`);
                break;
              }
            }
            assert.ok(decodedSeconds > 0);
          });
        }
      }
    }
  });
}

describe('format info', () => {
  test('isAudioFormat and content types', () => {
    assert.ok(isAudioFormat('mp3'));
    assert.ok(!isAudioFormat('ogg'));
    assert.ok(!isAudioFormat(3));
    assert.equal(getFormatInfo('mp3').mimeType, 'audio/mpeg');
    assert.match(getFormatInfo('opus').mimeType, /^audio\/ogg/);
    assert.equal(getFormatInfo('aac').mimeType, 'audio/aac');
    assert.equal(getFormatInfo('flac').mimeType, 'audio/flac');
    assert.equal(getFormatInfo('wav').mimeType, 'audio/wav');
    assert.equal(getFormatInfo('pcm').mimeType, 'audio/pcm');
  });

  test('resolveSampleRate', () => {
    assert.equal(getFormatInfo('mp3').resolveSampleRate(22000), 22050);
    assert.equal(getFormatInfo('mp3').resolveSampleRate(96000), 48000);
    assert.equal(getFormatInfo('opus').resolveSampleRate(22050), 24000);
    assert.equal(getFormatInfo('opus').resolveSampleRate(10000), 12000); // tie: the higher one
    assert.equal(getFormatInfo('opus').resolveSampleRate(44100), 48000);
    assert.equal(getFormatInfo('opus').decodedSampleRate(16000), 48000);
    assert.equal(getFormatInfo('aac').resolveSampleRate(23000), 22050);
    assert.equal(getFormatInfo('wav').resolveSampleRate(96000), 48000);
    assert.equal(getFormatInfo('flac').resolveSampleRate(11025), 11025);
    assert.equal(getFormatInfo('pcm').resolveSampleRate(12345), 12345);
  });

  test('ogg crc-32 check value', () => {
    // CRC-32/MPEG-2 without the final inversion and init 0 ("CRC-32/BZIP2" family, Ogg variant).
    assert.equal(oggCrc32(new TextEncoder().encode('123456789')), 0x89a1897f);
  });

  test('createEncoder rejects a rate the format cannot take', () => {
    assert.throws(
      () => createEncoder('mp3', { sampleRate: 20000 }, { ffmpegPath: FFMPEG }),
      (error: unknown) => ChorusError.isInstance(error) && error.code === 'unsupported_format',
    );
  });
});

describe('aac availability', () => {
  const missing = join(dir, 'no-such-ffmpeg');

  test('availableFormats excludes aac without ffmpeg and includes it with ffmpeg', async () => {
    assert.deepEqual(await availableFormats({ ffmpegPath: missing }), ['mp3', 'opus', 'flac', 'wav', 'pcm']);
    assert.deepEqual(await availableFormats({ ffmpegPath: FFMPEG }), ['mp3', 'opus', 'aac', 'flac', 'wav', 'pcm']);
  });

  test('createEncoder(aac) without ffmpeg throws unsupported_format', () => {
    for (const path of [missing, join(dir, 'another-missing-ffmpeg')]) {
      assert.throws(
        () => createEncoder('aac', { sampleRate: 24000 }, { ffmpegPath: path }),
        (error: unknown) =>
          ChorusError.isInstance(error) &&
          error.code === 'unsupported_format' &&
          error.param === 'response_format' &&
          /aac needs ffmpeg/.test(error.message) &&
          /mp3, opus, flac, wav, pcm/.test(error.message),
      );
    }
  });

  test('a failing ffmpeg rejects end() with engine_failed', async () => {
    const encoder = new AacEncoder({ sampleRate: 24000, ffmpegPath: '/bin/false' });
    try {
      await assert.rejects(
        (async () => {
          await encoder.write(signal(24000, 0.1)).catch(() => undefined);
          await encoder.end();
        })(),
        (error: unknown) => ChorusError.isInstance(error) && error.code === 'engine_failed',
      );
    } finally {
      encoder.dispose();
    }
  });

  test('dispose kills ffmpeg mid-stream', async () => {
    const encoder = createEncoder('aac', { sampleRate: 24000 }, { ffmpegPath: FFMPEG });
    await encoder.write(signal(24000, 0.5));
    encoder.dispose();
    encoder.dispose();
  });
});
