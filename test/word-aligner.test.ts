// The forced aligner on speech from another synthesizer (flite), whose phone durations give the true
// word starts: the aligner only knows the text and hears a voice it has never rendered itself.
import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import { alignWords } from '../src/alignment/forced-aligner.js';
import type { SpeechEngine } from '../src/engine/speech-engine.js';
import { createEspeakEngine } from '../src/engines/espeak/espeak-engine.js';
import { fliteTimedReference, type FliteVoice } from './support/reference-voices.js';

const WORDS = (
  'The old lighthouse keeper climbed the stairs every evening and lit the lamp for the fishing boats ' +
  'that came home late across the bay when the wind turned cold'
).split(' ');

describe('forced aligner on flite speech', () => {
  let engine: SpeechEngine;
  before(async () => {
    engine = await createEspeakEngine();
  });

  for (const voice of ['slt', 'rms'] as FliteVoice[]) {
    it(`times the words of flite's ${voice} voice within 40 ms on average`, async (t) => {
      const reference = await fliteTimedReference(WORDS, voice);
      const aligned = await alignWords(engine, reference.samples, reference.sampleRate, reference.text);
      assert.deepEqual(
        aligned.map((w) => w.word),
        WORDS,
      );
      const errors = aligned.map((w, i) => Math.abs(w.start - reference.wordStarts[i]!));
      const mean = errors.reduce((a, b) => a + b, 0) / errors.length;
      t.diagnostic(`mean ${(mean * 1000).toFixed(1)} ms, worst ${(Math.max(...errors) * 1000).toFixed(0)} ms over ${errors.length} words`);
      assert.ok(mean < 0.04, `mean word-start error ${(mean * 1000).toFixed(1)} ms`);
    });
  }

  it('is far off when the text does not match the speech (the check above can fail)', async () => {
    const reference = await fliteTimedReference(WORDS, 'slt');
    const wrong = [...WORDS].reverse();
    const aligned = await alignWords(engine, reference.samples, reference.sampleRate, `${wrong.join(' ')}.`);
    const truth = new Map<string, number>();
    WORDS.forEach((word, i) => truth.set(word, truth.has(word) ? truth.get(word)! : reference.wordStarts[i]!));
    const errors = aligned.map((w) => Math.abs(w.start - truth.get(w.word)!));
    const mean = errors.reduce((a, b) => a + b, 0) / errors.length;
    assert.ok(mean > 0.3, `mean error ${(mean * 1000).toFixed(0)} ms with the words reversed`);
  });
});
