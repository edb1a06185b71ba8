// The intelligibility tooling itself: pocketsphinx forced alignment must recognise the right text in
// speech from two unrelated synthesizers, tell it apart from a wrong text, and be able to say "no".
// Measured scores are printed as test diagnostics (see CONTENT_MARGIN_PER_FRAME for the full table).
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import type { SpeechEngine } from '../src/engine/speech-engine.js';
import { createEspeakEngine } from '../src/engines/espeak/espeak-engine.js';
import {
  alignText,
  alignmentWords,
  CONTENT_MARGIN_PER_FRAME,
  contentCheck,
  MIN_RIGHT_VS_PHONE_LOOP,
  voicedFraction,
  type AlignmentResult,
} from './support/forced-alignment.js';
import { fliteReference, formantSynthReference, readWav16, wavBytes } from './support/reference-voices.js';

const execFileAsync = promisify(execFile);

// Every word is in cmudict-en-us.dict; the two sentences have similar lengths.
const SENTENCE = 'The quick brown fox jumps over the lazy dog.';
const WRONG = 'She sells sea shells by the sea shore every morning.';

interface Audio {
  samples: Float32Array;
  sampleRate: number;
}

async function speakEspeak(engine: SpeechEngine, text: string, voiceId = 'default'): Promise<Audio> {
  const chunks: Float32Array[] = [];
  let sampleRate = engine.capabilities.sampleRate;
  for await (const part of engine.synthesize({ text, voiceId }, new AbortController().signal)) {
    if (part.type === 'audio') {
      chunks.push(part.samples);
      sampleRate = part.sampleRate;
    }
  }
  const samples = new Float32Array(chunks.reduce((sum, chunk) => sum + chunk.length, 0));
  let offset = 0;
  for (const chunk of chunks) {
    samples.set(chunk, offset);
    offset += chunk.length;
  }
  return { samples, sampleRate };
}

/** Pitch shift without rubberband: resample-style shift (asetrate, moves formants too), duration restored with atempo. */
async function naivePitchShift(audio: Audio, semitones: number): Promise<Audio> {
  const ratio = 2 ** (semitones / 12);
  const filter = `asetrate=${Math.round(audio.sampleRate * ratio)},aresample=${audio.sampleRate},atempo=${1 / ratio}`;
  const child = execFileAsync(
    'ffmpeg',
    ['-v', 'error', '-f', 'f32le', '-ar', String(audio.sampleRate), '-ac', '1', '-i', 'pipe:0', '-af', filter, '-f', 'f32le', 'pipe:1'],
    { encoding: 'buffer', maxBuffer: 1 << 30 },
  );
  child.child.stdin?.end(Buffer.from(audio.samples.buffer, audio.samples.byteOffset, audio.samples.byteLength));
  const { stdout } = await child;
  const bytes = new Uint8Array(stdout.length);
  bytes.set(stdout);
  return { samples: new Float32Array(bytes.buffer, 0, Math.floor(bytes.length / 4)), sampleRate: audio.sampleRate };
}

function assertWellAligned(result: AlignmentResult, text: string, durationSec: number): void {
  assert.equal(result.aligned, true);
  assert.ok(result.scorePerFrame !== undefined && result.scorePerFrame < 0);
  assert.deepEqual(
    result.words.map((word) => word.word),
    alignmentWords(text),
  );
  let previousEnd = 0;
  for (const word of result.words) {
    assert.ok(word.startSec >= previousEnd - 1e-9 && word.endSec > word.startSec, `${word.word} ${word.startSec}-${word.endSec}`);
    previousEnd = word.endSec;
  }
  assert.ok(previousEnd <= durationSec + 0.02, `last word ends ${previousEnd} s, audio is ${durationSec} s`);
}

const fmt = (score: number | undefined) => (score === undefined ? 'not aligned' : score.toFixed(1));
const describeCheck = (check: Awaited<ReturnType<typeof contentCheck>>) =>
  `right ${fmt(check.right.scorePerFrame)}, wrong ${fmt(check.wrong.scorePerFrame)}, phone loop ${fmt(check.phoneLoopScorePerFrame)} per frame; ` +
  `voiced ${check.voicedFraction.toFixed(2)}; separates ${check.separates}`;

/** Deterministic white noise (a small LCG), so the test cannot pass or fail by chance. */
function whiteNoise(length: number, amplitude: number): Float32Array {
  let state = 12345;
  return Float32Array.from({ length }, () => {
    state = (state * 1103515245 + 12345) % 2147483648;
    return (state / 2147483648 - 0.5) * 2 * amplitude;
  });
}

describe('forced alignment content check (pocketsphinx)', () => {
  let engine: SpeechEngine;
  let espeak: Audio;
  before(async () => {
    engine = await createEspeakEngine();
    espeak = await speakEspeak(engine, SENTENCE);
  });

  it('normalises text to dictionary words and names out-of-vocabulary words', async () => {
    assert.deepEqual(alignmentWords("“Don't stop,” she said — well-known 'quotes'!"), ["don't", 'stop', 'she', 'said', 'well', 'known', 'quotes']);
    await assert.rejects(alignText(espeak.samples, espeak.sampleRate, 'the zorblax jumps'), /"zorblax" is not in the pocketsphinx dictionary/);
    await assert.rejects(alignText(espeak.samples, espeak.sampleRate, 'it jumps 42 times'), /"42" is not in the pocketsphinx dictionary/);
    await assert.rejects(alignText(espeak.samples, espeak.sampleRate, ' ... '), /no words to align/);
  });

  it('aligns eSpeak speech with its text and separates it from a wrong sentence', async (t) => {
    const check = await contentCheck(espeak.samples, espeak.sampleRate, SENTENCE, WRONG);
    t.diagnostic(`eSpeak default: ${describeCheck(check)}`);
    assertWellAligned(check.right, SENTENCE, espeak.samples.length / espeak.sampleRate);
    assert.equal(check.separates, true);
    assert.ok((check.right.scorePerFrame ?? 0) - (check.wrong.scorePerFrame ?? -Infinity) >= CONTENT_MARGIN_PER_FRAME);
    assert.ok((check.right.scorePerFrame ?? 0) - (check.phoneLoopScorePerFrame ?? Infinity) >= MIN_RIGHT_VS_PHONE_LOOP);
  });

  it('aligns a flite recording (another synthesizer, 16 kHz and 8 kHz) and separates it', async (t) => {
    for (const voice of ['slt', 'kal'] as const) {
      const flite = await fliteReference(SENTENCE, voice);
      assert.equal(flite.sampleRate, voice === 'kal' ? 8000 : 16000);
      assert.equal(flite.wav.toString('ascii', 0, 4), 'RIFF');
      const check = await contentCheck(flite.samples, flite.sampleRate, SENTENCE, WRONG);
      t.diagnostic(`flite ${voice}: ${describeCheck(check)}`);
      assertWellAligned(check.right, SENTENCE, flite.samples.length / flite.sampleRate);
      assert.equal(check.separates, true, voice);
    }
  });

  it('can fail: the wrong words, silence and noise do not pass, too little audio does not align', async (t) => {
    // The "right" text is the wrong one for this audio: the check must not pass.
    const swapped = await contentCheck(espeak.samples, espeak.sampleRate, WRONG, SENTENCE);
    t.diagnostic(`eSpeak, texts swapped: ${describeCheck(swapped)}`);
    assert.equal(swapped.separates, false);
    assert.ok((swapped.right.scorePerFrame ?? -Infinity) < (swapped.wrong.scorePerFrame ?? 0));
    // Any audio long enough "aligns" with any text, and on silence or noise some texts fit better than
    // others by luck; the level, voicing and phone-loop guards keep that from passing.
    const silence = await contentCheck(new Float32Array(3 * 16000), 16000, SENTENCE, WRONG);
    assert.equal(silence.right.aligned, true);
    assert.equal(silence.separates, false);
    const noise = await contentCheck(whiteNoise(3 * 16000, 0.2), 16000, SENTENCE, WRONG);
    t.diagnostic(`white noise: ${describeCheck(noise)}`);
    assert.equal(noise.separates, false);
    assert.ok(noise.voicedFraction < 0.05);
    // 0.2 s cannot hold nine words.
    const tooShort = await alignText(espeak.samples.subarray(0, Math.round(0.2 * espeak.sampleRate)), espeak.sampleRate, SENTENCE);
    assert.deepEqual(tooShort, { aligned: false, scorePerFrame: undefined, words: [] });
  });

  it('reports how a naive ±4 semitone pitch shift (asetrate+atempo) moves the scores', async (t) => {
    // Measured over 5 sentences × 2 voices, formant-moving shifts of eSpeak are not reliably separable
    // (right − wrong from −6 upwards), so this only requires the right text to still align.
    for (const semitones of [4, -4]) {
      const shifted = await naivePitchShift(espeak, semitones);
      const check = await contentCheck(shifted.samples, shifted.sampleRate, SENTENCE, WRONG);
      t.diagnostic(`eSpeak ${semitones > 0 ? '+' : ''}${semitones} st: ${describeCheck(check)}`);
      assert.equal(check.right.aligned, true);
      assert.ok(Math.abs(shifted.samples.length / shifted.sampleRate - espeak.samples.length / espeak.sampleRate) < 0.1);
    }
  });
});

describe('reference voices', () => {
  it('formant synth has the requested length and rate, is deterministic and audible', () => {
    const a = formantSynthReference({ f0Hz: 120, seconds: 2.5, sampleRate: 16000 });
    const b = formantSynthReference({ f0Hz: 120, seconds: 2.5, sampleRate: 16000 });
    assert.equal(a.sampleRate, 16000);
    assert.equal(a.samples.length, 40000);
    assert.deepEqual(a.samples, b.samples);
    let peak = 0;
    for (const sample of a.samples) peak = Math.max(peak, Math.abs(sample));
    assert.ok(Math.abs(peak - 0.7) < 1e-6);
    const c = formantSynthReference({ f0Hz: 220, seconds: 1, sampleRate: 24000, formantsHz: [300, 2300, 3000], vibratoSemitones: 0 });
    assert.equal(c.samples.length, 24000);
    assert.ok(c.samples.every(Number.isFinite));
    // Voiced throughout (the syllable gaps are below the voicing guard's activity floor).
    assert.ok(voicedFraction(a.samples, a.sampleRate) > 0.9);
  });

  it('wavBytes writes 16-bit PCM that reads back', () => {
    const samples = Float32Array.from([0, 0.5, -0.5, 1, -1, 2]);
    const wav = wavBytes(samples, 22050);
    assert.equal(wav.length, 44 + samples.length * 2);
    const back = readWav16(wav);
    assert.equal(back.sampleRate, 22050);
    assert.deepEqual(
      Array.from(back.samples, (s) => Math.round(s * 1000) / 1000),
      [0, 0.5, -0.5, 1, -1, 1],
    );
  });
});
