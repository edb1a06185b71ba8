import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { findWords, normalizeText, type Span } from '../text/index.js';
import type { WordTiming } from './speech-request.js';
import { WordTimeline } from './word-timeline.js';

/** An engine word event at `word` of `chunk` (the first occurrence at or after `from`), timed in ms. */
function at(chunk: string, word: string, startMs: number, endMs: number, from = 0) {
  const textStart = chunk.indexOf(word, from);
  assert.ok(textStart >= 0, `${word} in ${chunk}`);
  return { textStart, textEnd: textStart + word.length, startMs, endMs };
}

function span(text: string, start: number, end: number): Span {
  return { start, end, text: text.slice(start, end) };
}

const plain = { leadingTrimMs: 0, stretch: 1 };
const summary = (timings: readonly WordTiming[]) => timings.map((t) => `${t.word}@${t.start.toFixed(3)}-${t.end.toFixed(3)}`);

describe('WordTimeline', () => {
  it('gives each word of the text one timing, merging the events the engine made inside it', () => {
    const text = 'He left at 9:30 p.m. sharp.';
    const timeline = new WordTimeline(text, normalizeText(text));
    // eSpeak reads "9:30" as "nine thirty" and "p.m." as "p" "m": two events each.
    const events = [at(text, 'He', 0, 100), at(text, 'left', 100, 300), at(text, 'at', 300, 400), at(text, '9', 400, 600), at(text, '30', 600, 900), at(text, 'p', 900, 1000, 16), at(text, 'm', 1000, 1100, 18), at(text, 'sharp', 1100, 1500)];
    const timings = [...timeline.addChunk(span(text, 0, text.length), events, { ...plain, startSec: 0, endSec: 1.6 }), ...timeline.finish()];
    assert.deepEqual(summary(timings), ['He@0.000-0.100', 'left@0.100-0.300', 'at@0.300-0.400', '9:30@0.400-0.900', 'p.m@0.900-1.100', 'sharp@1.100-1.500']);
    assert.deepEqual(timings.map((t) => [t.charStart, t.charEnd]), findWords(text).map((w) => [w.start, w.end]));
  });

  it('shares one event among the words it covers, by length (kana an engine reads as one word)', () => {
    const text = 'こんにちは';
    const timeline = new WordTimeline(text, normalizeText(text));
    const timings = timeline.addChunk(span(text, 0, 5), [at(text, 'こんにちは', 0, 1000)], { ...plain, startSec: 0, endSec: 1 });
    assert.deepEqual(summary(timings), ['こ@0.000-0.200', 'ん@0.200-0.400', 'に@0.400-0.600', 'ち@0.600-0.800', 'は@0.800-1.000']);
  });

  it('times words the engine skipped at the start of a chunk with the first event', () => {
    const text = 'Zzxq said hello';
    const timeline = new WordTimeline(text, normalizeText(text));
    const timings = timeline.addChunk(span(text, 0, text.length), [at(text, 'said', 0, 400), at(text, 'hello', 400, 800)], { ...plain, startSec: 0, endSec: 0.8 });
    assert.deepEqual(summary(timings), ['Zzxq@0.000-0.200', 'said@0.200-0.400', 'hello@0.400-0.800']);
  });

  it('holds back a word cut by a chunk boundary and times it once, over both chunks', () => {
    const text = 'Wait—this works';
    const timeline = new WordTimeline(text, normalizeText(text));
    const first = span(text, 0, 5); // "Wait—"
    const second = span(text, 5, text.length); // "this works"
    assert.deepEqual(timeline.addChunk(first, [at(first.text, 'Wait', 0, 400)], { ...plain, startSec: 0, endSec: 0.45 }), []);
    const timings = timeline.addChunk(second, [at(second.text, 'this', 0, 300), at(second.text, 'works', 300, 700)], { ...plain, startSec: 0.45, endSec: 1.2 });
    assert.deepEqual(summary(timings), ['Wait—this@0.000-0.750', 'works@0.750-1.150']);
    assert.deepEqual(timeline.finish(), []);
  });

  it('times a word from the events of every chunk it spans; words of a chunk without events share its span', () => {
    const text = 'abcdefgh ijk';
    const timeline = new WordTimeline(text, normalizeText(text));
    assert.deepEqual(timeline.addChunk(span(text, 0, 4), [at('abcd', 'abcd', 0, 500)], { ...plain, startSec: 0, endSec: 0.5 }), []);
    assert.deepEqual(summary(timeline.addChunk(span(text, 4, 8), [], { ...plain, startSec: 0.5, endSec: 1 })), ['abcdefgh@0.000-1.000']);
    assert.deepEqual(summary(timeline.addChunk(span(text, 9, 12), [], { ...plain, startSec: 1, endSec: 1.5 })), ['ijk@1.000-1.500']);
    assert.deepEqual(timeline.finish(), []);
    const silent = new WordTimeline(text, normalizeText(text));
    assert.deepEqual(summary(silent.addChunk(span(text, 0, text.length), [], { ...plain, startSec: 2, endSec: 3 })), ['abcdefgh@2.000-2.727', 'ijk@2.727-3.000']);
  });

  it('points into the original text through normalisation, and applies the leading trim and stretch', () => {
    const text = '**Hi** 😀 there';
    const normalized = normalizeText(text);
    assert.equal(normalized.text, 'Hi there');
    const timeline = new WordTimeline(text, normalized);
    const timings = timeline.addChunk(span(normalized.text, 0, normalized.text.length), [at(normalized.text, 'Hi', 100, 300), at(normalized.text, 'there', 300, 700)], {
      startSec: 1,
      endSec: 2,
      leadingTrimMs: 100,
      stretch: 2,
    });
    assert.deepEqual(summary(timings), ['Hi@1.000-1.100', 'there@1.100-1.300']);
    assert.deepEqual(timings.map((t) => text.slice(t.charStart, t.charEnd)), ['Hi', 'there']);
  });
});
