import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { initDsp, resampleBuffer } from '../src/audio/dsp/index.js';
import { createEncoder } from '../src/audio/encoders/index.js';
import { floatToS16leBytes, wavHeader } from '../src/audio/encoders/wav-encoder.js';
import { concatBytes, concatFloat32 } from '../src/audio/pcm.js';
import { applyWatermark } from '../src/audio/watermark/watermark.js';
import { createEspeakEngine } from '../src/engines/espeak/espeak-engine.js';
import { chorusCli } from './support/chorus-cli.js';

const run = promisify(execFile);
const CLI = chorusCli();
const RATE = 16_000;

interface Detection {
  file: string;
  detected: boolean;
  score: number;
  threshold: number;
  analysedSec: number;
  durationSec: number;
  sampleRate: number;
  format: string;
}

async function fails(args: string[]): Promise<{ code: number; stderr: string }> {
  try {
    await run(process.execPath, [...CLI, ...args]);
  } catch (error) {
    const { code, stderr } = error as { code: number; stderr: string };
    return { code, stderr };
  }
  throw new Error(`chorus ${args.join(' ')} succeeded`);
}

describe('chorus watermark detect', () => {
  let dir: string;
  const file = (name: string): string => join(dir, name);

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'chorus-watermark-cli-'));
    await initDsp();
    const engine = await createEspeakEngine();
    const parts: Float32Array[] = [];
    const text = 'A small brown dog waited patiently outside the bakery for its owner to return.';
    for await (const part of engine.synthesize({ text, voiceId: 'Brian' }, new AbortController().signal)) {
      if (part.type === 'audio') parts.push(part.samples);
    }
    const speech = resampleBuffer(concatFloat32(parts), engine.capabilities.sampleRate, RATE);
    const marked = applyWatermark(speech, RATE);
    const wav = (samples: Float32Array): Uint8Array => {
      const data = floatToS16leBytes(samples);
      return concatBytes([wavHeader(RATE, data.length), data]);
    };
    writeFileSync(file('marked.wav'), wav(marked));
    writeFileSync(file('plain.wav'), wav(speech));
    const encoder = createEncoder('mp3', { sampleRate: RATE, bitrateKbps: 64 }, { ffmpegPath: 'ffmpeg' });
    writeFileSync(file('marked.mp3'), concatBytes([await encoder.write(marked), await encoder.end()]));
    encoder.dispose();
    writeFileSync(file('notes.txt'), 'not audio at all');
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('reports a marked WAV as detected and an unmarked one as not, exiting 0 for both', async () => {
    const [marked, plain] = await Promise.all([
      run(process.execPath, [...CLI, 'watermark', 'detect', file('marked.wav')]),
      run(process.execPath, [...CLI, 'watermark', 'detect', file('plain.wav')]),
    ]);
    assert.match(marked.stdout, /^watermark: detected \(score \d+\.\d, threshold 3\.5; [\d.]+ s of [\d.]+ s analysed\)\n$/);
    assert.match(plain.stdout, /^watermark: not detected \(score -?\d+\.\d, threshold 3\.5;/);
  });

  it('answers JSON with --json, for MP3 as well', async () => {
    const { stdout } = await run(process.execPath, [...CLI, 'watermark', 'detect', '--json', file('marked.mp3')]);
    const result = JSON.parse(stdout) as Detection;
    assert.equal(result.detected, true);
    assert.equal(result.format, 'mp3');
    assert.equal(result.sampleRate, RATE);
    assert.ok(result.score > result.threshold && result.analysedSec > 1 && result.durationSec > 3, stdout);
  });

  it('finds the mark in what `chorus say` writes, and not with --no-watermark', async () => {
    const text = 'Every file Chorus writes carries the mark.';
    await Promise.all([
      run(process.execPath, [...CLI, 'say', text, '-o', file('said.mp3')]),
      run(process.execPath, [...CLI, 'say', text, '--no-watermark', '-o', file('unmarked.mp3')]),
    ]);
    const { stdout } = await run(process.execPath, [...CLI, 'watermark', 'detect', '--json', file('said.mp3')]);
    assert.equal((JSON.parse(stdout) as Detection).detected, true, stdout);
    const plain = await run(process.execPath, [...CLI, 'watermark', 'detect', '--json', file('unmarked.mp3')]);
    assert.equal((JSON.parse(plain.stdout) as Detection).detected, false, plain.stdout);
  });

  it('exits 2 with a message for missing files, non-audio and bad usage', async () => {
    const [missing, text, usage] = await Promise.all([
      fails(['watermark', 'detect', file('nowhere.wav')]),
      fails(['watermark', 'detect', file('notes.txt')]),
      fails(['watermark', 'embed', file('plain.wav')]),
    ]);
    assert.equal(missing.code, 2);
    assert.match(missing.stderr, /Cannot read/);
    assert.equal(text.code, 2);
    assert.match(text.stderr, /not audio in a supported format/);
    assert.equal(usage.code, 2);
    assert.match(usage.stderr, /Usage: chorus watermark detect FILE/);
  });
});
