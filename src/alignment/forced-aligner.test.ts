import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import type { SpeechEngine } from '../engine/speech-engine.js';
import { createEspeakEngine } from '../engines/espeak/espeak-engine.js';
import type { WordTiming } from '../pipeline/speech-request.js';
import { renderPcm, type RenderedPcm } from '../pipeline/render-pcm.js';
import { findWords } from '../text/index.js';
import { alignWords, type AlignedWord } from './forced-aligner.js';

const TEXT =
  'On 3 May 2024, the ferry left pier 7 at 6:45 a.m. with 212 passengers aboard. ' +
  'Nobody expected the fog! Still, the captain — calm as ever — said: "We will be there by noon." ' +
  'And they were, give or take ten minutes.';

function render(engine: SpeechEngine, voiceId: string, speed: number, sentenceGapSec?: number): Promise<RenderedPcm> {
  const request = {
    text: TEXT,
    voiceId,
    speed,
    pitchSemitones: 0,
    sampleRate: 22_050,
    normalization: 'none' as const,
    maxChunkChars: 400,
    delivery: 'buffered' as const,
    watermark: false,
    ...(sentenceGapSec === undefined ? {} : { sentenceGapSec }),
  };
  // The pipeline's own word timings come with it: exact, from the engine's events.
  return renderPcm({ engine, ffmpegPath: 'ffmpeg' }, request, new AbortController().signal);
}

function assertWellFormed(aligned: readonly AlignedWord[], text: string, duration: number): void {
  assert.deepEqual(
    aligned.map((w) => w.word),
    findWords(text).map((w) => w.text),
  );
  let previous = 0;
  for (const word of aligned) {
    assert.ok(word.start >= previous - 1e-9, `${word.word} starts at ${word.start} before ${previous}`);
    assert.ok(word.end >= word.start && word.end <= duration + 1e-9, `${word.word} ${word.start}-${word.end} of ${duration}`);
    assert.equal(text.slice(word.charStart, word.charEnd), word.word);
    previous = word.start;
  }
}

/** Mean absolute word-start error against the engine's own timings, in seconds. */
function meanStartError(aligned: readonly AlignedWord[], truth: readonly WordTiming[]): number {
  const starts = new Map(truth.map((w) => [w.charStart, w.start]));
  const errors = aligned.flatMap((w) => {
    const start = starts.get(w.charStart);
    return start === undefined ? [] : [Math.abs(w.start - start)];
  });
  assert.ok(errors.length >= aligned.length * 0.8, `${errors.length} of ${aligned.length} words have a reference timing`);
  return errors.reduce((a, b) => a + b, 0) / errors.length;
}

describe('forced aligner', () => {
  let engine: SpeechEngine;
  before(async () => {
    engine = await createEspeakEngine();
  });

  // The reference is spoken by the default voice at normal speed; the audio by other voices, faster,
  // slower and with longer sentence gaps, so the warping has real work to do.
  for (const [voice, speed, gap] of [
    ['Albert', 1, undefined],
    ['Amy', 0.8, undefined],
    ['Brian', 1.3, 0.8],
  ] as const) {
    it(`times ${voice}'s words at speed ${speed}${gap === undefined ? '' : ` with ${gap} s gaps`} within 40 ms on average`, async () => {
      const audio = await render(engine, voice, speed, gap);
      const duration = audio.samples.length / audio.sampleRate;
      const aligned = await alignWords(engine, audio.samples, audio.sampleRate, TEXT);
      assertWellFormed(aligned, TEXT, duration);
      const error = meanStartError(aligned, audio.words);
      assert.ok(error < 0.04, `mean word-start error ${(error * 1000).toFixed(1)} ms`);
    });
  }

  it('keeps the timings right when the audio starts and ends with long silence', async () => {
    const audio = await render(engine, 'Amy', 1);
    const pad = Math.round(1.5 * audio.sampleRate);
    const padded = new Float32Array(audio.samples.length + 2 * pad);
    padded.set(audio.samples, pad);
    const aligned = await alignWords(engine, padded, audio.sampleRate, TEXT);
    assertWellFormed(aligned, TEXT, padded.length / audio.sampleRate);
    const shifted = audio.words.map((w) => ({ ...w, start: w.start + 1.5, end: w.end + 1.5 }));
    const error = meanStartError(aligned, shifted);
    assert.ok(error < 0.04, `mean word-start error ${(error * 1000).toFixed(1)} ms`);
  });

  it('gives silence well-formed timings instead of failing', async () => {
    const silence = new Float32Array(16_000 * 3);
    const aligned = await alignWords(engine, silence, 16_000, 'Nothing was said here.');
    assertWellFormed(aligned, 'Nothing was said here.', 3);
  });

  it('returns no words for empty text and zero timings for empty audio', async () => {
    assert.deepEqual(await alignWords(engine, new Float32Array(16_000), 16_000, ' … '), []);
    const empty = await alignWords(engine, new Float32Array(0), 16_000, 'Two words');
    assert.deepEqual(
      empty.map((w) => [w.word, w.start, w.end]),
      [
        ['Two', 0, 0],
        ['words', 0, 0],
      ],
    );
  });

  it('stops when its signal is aborted', async () => {
    const audio = await render(engine, 'Albert', 1);
    const controller = new AbortController();
    controller.abort();
    await assert.rejects(alignWords(engine, audio.samples, audio.sampleRate, TEXT, { signal: controller.signal }), { name: 'AbortError' });
  });
});
