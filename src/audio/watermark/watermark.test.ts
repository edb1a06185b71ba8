import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import decodeAudio from 'audio-decode';
import { createEspeakEngine } from '../../engines/espeak/espeak-engine.js';
import type { SpeechEngine } from '../../engine/speech-engine.js';
import { initDsp, resampleBuffer } from '../dsp/index.js';
import { createEncoder } from '../encoders/index.js';
import { concatFloat32 } from '../pcm.js';
import {
  applyWatermark,
  measureWatermarkFilter,
  createWatermarker,
  DEFAULT_WATERMARK_KEY,
  detectWatermark,
  WATERMARK_LATENCY_SEC,
  WATERMARK_THRESHOLD,
} from './watermark.js';

const RATE = 24_000;
const never = new AbortController().signal;


async function speak(engine: SpeechEngine, text: string, voiceId: string, rate = RATE): Promise<Float32Array> {
  const parts: Float32Array[] = [];
  for await (const part of engine.synthesize({ text, voiceId }, never)) if (part.type === 'audio') parts.push(part.samples);
  return resampleBuffer(concatFloat32(parts), engine.capabilities.sampleRate, rate);
}

async function throughMp3(samples: Float32Array, sampleRate: number): Promise<{ samples: Float32Array; sampleRate: number }> {
  const encoder = createEncoder('mp3', { sampleRate, bitrateKbps: 64 }, { ffmpegPath: 'ffmpeg' });
  const bytes: Uint8Array[] = [];
  try {
    bytes.push(await encoder.write(samples), await encoder.end());
  } finally {
    encoder.dispose();
  }
  const decoded = await decodeAudio(Buffer.concat(bytes));
  return { samples: decoded.channelData[0]!, sampleRate: decoded.sampleRate };
}

function noise(length: number, amplitude: number, seed = 1): Float32Array {
  const out = new Float32Array(length);
  let state = seed;
  for (let i = 0; i < length; i++) {
    state = (Math.imul(state, 1103515245) + 12345) >>> 0;
    out[i] = amplitude * (state / 2 ** 31 - 1);
  }
  return out;
}

function runChunked(sampleRate: number, input: Float32Array, sizes: readonly number[]): { out: Float32Array; lags: number[] } {
  const marker = createWatermarker(sampleRate);
  const parts: Float32Array[] = [];
  const lags: number[] = [];
  let fed = 0;
  let emitted = 0;
  for (let c = 0; fed < input.length; c++) {
    const size = sizes[c % sizes.length]!;
    const part = marker.process(input.subarray(fed, fed + size));
    fed = Math.min(input.length, fed + size);
    emitted += part.length;
    lags.push(fed - emitted);
    parts.push(part);
  }
  parts.push(marker.flush());
  marker.dispose();
  return { out: concatFloat32(parts), lags };
}

const score = (samples: Float32Array, sampleRate: number, key?: string): number => detectWatermark(samples, sampleRate, key).score;

describe('watermark', () => {
  let engine: SpeechEngine;
  /** Three voices, 3–5 s each, at 24 kHz. */
  let speech: Float32Array[];
  /** A single word of about a second. */
  let short: Float32Array;

  before(async () => {
    await initDsp();
    engine = await createEspeakEngine();
    speech = [
      await speak(engine, 'The morning train was late again, so everyone on the platform shared an umbrella.', 'Aaron'),
      await speak(engine, 'Fresh snow covered the garden overnight, and the children ran outside to play.', 'Catherine'),
      await speak(engine, 'Please remember to water the tomatoes before you leave for the weekend.', 'Christopher'),
    ];
    short = await speak(engine, 'Good morning.', 'Amy');
  });

  it('streams in chunks of any size to exactly the whole-buffer result, with the filter delay as the only lag', () => {
    const input = speech[0]!;
    const whole = applyWatermark(input, RATE);
    assert.equal(whole.length, input.length);
    const delay = Math.round(WATERMARK_LATENCY_SEC * RATE);
    for (const sizes of [[1, 7, 240], [480], [4096, 13, 30_000], [input.length]]) {
      const { out, lags } = runChunked(RATE, input, sizes);
      assert.equal(out.length, input.length, `length with chunks ${sizes.join(',')}`);
      let worst = 0;
      for (let i = 0; i < out.length; i++) worst = Math.max(worst, Math.abs(out[i]! - whole[i]!));
      assert.ok(worst < 1e-6, `chunks ${sizes.join(',')}: max difference ${worst}`);
      assert.ok(Math.max(...lags) <= delay, `held back at most ${delay} samples, not ${Math.max(...lags)}`);
    }
    assert.equal(applyWatermark(new Float32Array(0), RATE).length, 0);
    assert.equal(applyWatermark(new Float32Array(5), RATE).length, 5);
    const marker = createWatermarker(RATE);
    marker.flush();
    assert.equal(marker.flush().length, 0, 'a second flush emits nothing');
    assert.throws(() => marker.process(new Float32Array(10)), /after flush/);
    marker.dispose();
  });

  it('is found in marked speech and not in the same speech unmarked, including an utterance under a second', (t) => {
    const rows: string[] = [];
    for (const [index, clip] of [...speech, short].entries()) {
      const marked = detectWatermark(applyWatermark(clip, RATE), RATE);
      const unmarked = detectWatermark(clip, RATE);
      rows.push(`${(clip.length / RATE).toFixed(1)} s: marked ${marked.score.toFixed(1)}, unmarked ${unmarked.score.toFixed(1)}`);
      assert.equal(marked.detected, true, `clip ${index}: marked score ${marked.score}`);
      assert.equal(unmarked.detected, false, `clip ${index}: unmarked score ${unmarked.score}`);
      assert.equal(marked.threshold, WATERMARK_THRESHOLD);
      assert.ok(marked.analysedSec > 0.3 && marked.analysedSec <= clip.length / RATE);
    }
    assert.ok(short.length / RATE < 1.5, `the short clip lasts ${short.length / RATE} s`);
    t.diagnostic(rows.join('; '));
  });

  it('survives MP3 at 64 kbit/s', async (t) => {
    const rows: string[] = [];
    for (const clip of [speech[1]!, short]) {
      const marked = await throughMp3(applyWatermark(clip, RATE), RATE);
      const plain = await throughMp3(clip, RATE);
      const found = detectWatermark(marked.samples, marked.sampleRate);
      rows.push(`${(clip.length / RATE).toFixed(1)} s: ${found.score.toFixed(1)} (unmarked ${score(plain.samples, plain.sampleRate).toFixed(1)})`);
      assert.equal(found.detected, true, `marked mp3 scored ${found.score}`);
      assert.equal(detectWatermark(plain.samples, plain.sampleRate).detected, false);
    }
    t.diagnostic(`mp3 64 kbit/s: ${rows.join('; ')}`);
  });

  it('survives resampling to other rates, time offsets and trimming', (t) => {
    const clip = speech[0]!;
    const marked = applyWatermark(clip, RATE);
    const rows: string[] = [];
    for (const rate of [8000, 16_000, 44_100, 48_000]) {
      const moved = resampleBuffer(marked, RATE, rate);
      const z = score(moved, rate);
      rows.push(`${rate} Hz ${z.toFixed(1)}`);
      assert.ok(z >= WATERMARK_THRESHOLD, `resampled to ${rate} Hz: ${z}`);
      assert.ok(score(resampleBuffer(clip, RATE, rate), rate) < WATERMARK_THRESHOLD);
    }
    // Marking at the final rate works as well as marking before resampling.
    assert.ok(score(applyWatermark(resampleBuffer(clip, RATE, 8000), 8000), 8000) >= WATERMARK_THRESHOLD);
    const trimmed = marked.subarray(12_345, marked.length - Math.round(0.3 * RATE));
    const padded = concatFloat32([new Float32Array(777), noise(RATE / 2, 1e-4), trimmed]);
    for (const [label, samples] of [['trimmed', trimmed], ['offset and padded', padded]] as const) {
      const z = score(samples, RATE);
      rows.push(`${label} ${z.toFixed(1)}`);
      assert.ok(z >= WATERMARK_THRESHOLD, `${label}: ${z}`);
    }
    t.diagnostic(rows.join('; '));
  });

  it('does not fire on noise, silence, or another key', () => {
    const white = noise(3 * RATE, 0.3);
    assert.equal(detectWatermark(white, RATE).detected, false);
    assert.equal(detectWatermark(applyWatermark(white, RATE), RATE).detected, true, 'marked noise carries the mark too');
    assert.equal(detectWatermark(applyWatermark(white, RATE), RATE, 'another key').detected, false);
    assert.equal(detectWatermark(applyWatermark(speech[2]!, RATE, 'another key'), RATE).detected, false);
    assert.equal(detectWatermark(applyWatermark(speech[2]!, RATE, 'another key'), RATE, 'another key').detected, true);
    const silent = detectWatermark(new Float32Array(RATE), RATE);
    assert.deepEqual([silent.detected, silent.score, silent.analysedSec], [false, 0, 0]);
    assert.equal(detectWatermark(new Float32Array(100), RATE).detected, false, 'shorter than one frame');
    // Unmarked scores spread like N(0, 1): over many keys their mean is near 0 and their spread near 1.
    const scores = Array.from({ length: 60 }, (_, i) => score(speech[i % 3]!, RATE, `key ${i}`));
    const mean = scores.reduce((a, b) => a + b, 0) / scores.length;
    const sd = Math.sqrt(scores.reduce((a, b) => a + (b - mean) ** 2, 0) / scores.length);
    assert.ok(Math.abs(mean) < 0.6 && sd > 0.6 && sd < 1.4, `mean ${mean}, sd ${sd}`);
    assert.ok(DEFAULT_WATERMARK_KEY.length > 0);
  });

  it('changes the sound only slightly and never clips', (t) => {
    const { maxDb, rmsDb, gainDbAt } = measureWatermarkFilter(RATE, 300, 8000);
    let outside = 0;
    for (const hz of [100, 200, 9000, 11_000]) outside = Math.max(outside, Math.abs(gainDbAt(hz)));
    assert.ok(maxDb < 1.5, `max ripple ${maxDb} dB`);
    assert.ok(outside < 0.1, `outside the marked range the gain stays at 0 dB (${outside} dB)`);

    const snrs = speech.map((clip) => {
      const marked = applyWatermark(clip, RATE);
      let signal = 0;
      let difference = 0;
      for (let i = 0; i < clip.length; i++) {
        signal += clip[i]! ** 2;
        difference += (marked[i]! - clip[i]!) ** 2;
      }
      return 10 * Math.log10(signal / difference);
    });
    assert.ok(Math.min(...snrs) > 15, `SNR ${snrs.join(', ')} dB`);
    t.diagnostic(`ripple max ±${maxDb.toFixed(2)} dB, rms ${rmsDb.toFixed(2)} dB; SNR marked vs unmarked ${snrs.map((s) => s.toFixed(1)).join(' / ')} dB`);

    // Full-scale input: a loud square-ish wave and speech driven to the rails.
    const loud = new Float32Array(RATE);
    for (let i = 0; i < loud.length; i++) loud[i] = Math.max(-1, Math.min(1, 3 * Math.sin((2 * Math.PI * 440 * i) / RATE)));
    const speechPeak = speech[1]!.reduce((peak, x) => Math.max(peak, Math.abs(x)), 0);
    const peakNormalised = speech[1]!.map((x) => x / speechPeak);
    for (const input of [loud, peakNormalised]) {
      let peak = 0;
      for (const x of applyWatermark(input, RATE)) peak = Math.max(peak, Math.abs(x));
      assert.ok(peak <= 1, `peak ${peak}`);
    }
  });
});
