import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { chunkText } from './chunk-text.js';
import type { ChunkOptions } from './chunk-text.js';
import type { Span } from './span.js';

function chunks(input: string, options: ChunkOptions): string[] {
  const spans = chunkText(input, options);
  assertInvariants(input, spans, options);
  return spans.map((s) => s.text);
}

function assertInvariants(input: string, spans: Span[], options: ChunkOptions): void {
  let previousEnd = 0;
  spans.forEach((span, i) => {
    assert.equal(span.text, input.slice(span.start, span.end));
    assert.ok(span.text.length > 0, 'non-empty');
    assert.equal(span.text, span.text.trim(), 'trimmed');
    const limit = i === 0 && options.firstChunkMaxChars !== undefined ? options.firstChunkMaxChars : options.maxChars;
    assert.ok(span.text.length <= Math.min(limit, options.maxChars), `chunk ${i} (${span.text.length}) within limit`);
    assert.ok(span.start >= previousEnd, 'ordered');
    assert.equal(input.slice(previousEnd, span.start).trim(), '', 'nothing lost between chunks');
    // never inside a surrogate pair
    const first = span.text.charCodeAt(0);
    assert.ok(!(first >= 0xdc00 && first <= 0xdfff), 'does not start with a low surrogate');
    previousEnd = span.end;
  });
  assert.equal(input.slice(previousEnd).trim(), '');
}

describe('chunkText', () => {
  it('returns nothing for empty or blank text', () => {
    assert.deepEqual(chunkText('', { maxChars: 10 }), []);
    assert.deepEqual(chunkText('  \n ', { maxChars: 10, firstChunkMaxChars: 5 }), []);
  });

  it('rejects bad limits', () => {
    assert.throws(() => chunkText('a', { maxChars: 0 }), RangeError);
    assert.throws(() => chunkText('a', { maxChars: Number.NaN }), RangeError);
    assert.throws(() => chunkText('a', { maxChars: 5, firstChunkMaxChars: 0 }), RangeError);
  });

  it('keeps short text in one chunk', () => {
    const spans = chunkText('  Hello there. How are you?  ', { maxChars: 100 });
    assert.deepEqual(spans, [{ start: 2, end: 27, text: 'Hello there. How are you?' }]);
  });

  it('groups whole sentences without exceeding the limit', () => {
    const s = 'One two three. Four five six. Seven eight nine. Ten.';
    assert.deepEqual(chunks(s, { maxChars: 30 }), ['One two three. Four five six.', 'Seven eight nine. Ten.']);
    assert.deepEqual(chunks(s, { maxChars: 15 }), ['One two three.', 'Four five six.', 'Seven eight', 'nine. Ten.']);
  });

  it('splits long sentences at clause punctuation first', () => {
    const s = 'This sentence is long, it has a few clauses; and it goes on: until the end.';
    assert.deepEqual(chunks(s, { maxChars: 30 }), [
      'This sentence is long,',
      'it has a few clauses;',
      'and it goes on: until the end.',
    ]);
    assert.deepEqual(chunks('Wait—this is a dash—split here please', { maxChars: 25 }), [
      'Wait—this is a dash—',
      'split here please',
    ]);
  });

  it('does not split numbers at commas or colons', () => {
    assert.deepEqual(chunks('We counted 1,000,000 stars at 12:30 tonight', { maxChars: 25 }), [
      'We counted 1,000,000',
      'stars at 12:30 tonight',
    ]);
  });

  it('splits at whitespace, never inside a word when a space exists', () => {
    const words = 'alpha beta gamma delta epsilon zeta eta theta iota kappa'.split(' ');
    const out = chunks(words.join(' '), { maxChars: 12 });
    for (const chunk of out) for (const w of chunk.split(' ')) assert.ok(words.includes(w), w);
  });

  it('hard-splits a word longer than the limit', () => {
    assert.deepEqual(chunks('abcdefghij klm', { maxChars: 4 }), ['abcd', 'efgh', 'ij', 'klm']);
  });

  it('never splits a surrogate pair or separates a combining mark', () => {
    const s = '𝒳𝒳𝒳𝒳𝒳';
    const out = chunks(s, { maxChars: 3 });
    assert.deepEqual(out, ['𝒳', '𝒳', '𝒳', '𝒳', '𝒳']);
    assert.deepEqual(chunks('e\u0301e\u0301e\u0301', { maxChars: 3 }), ['e\u0301', 'e\u0301', 'e\u0301']);
    // limit 1 cannot hold a pair: the pair is kept whole
    assert.deepEqual(chunkText('𝒳a', { maxChars: 1 }).map((c) => c.text), ['𝒳', 'a']);
  });

  it('splits CJK sentences at CJK commas, then between characters', () => {
    const s = '今天天气很好，我们一起去公园散步吧，然后去吃饭。';
    assert.deepEqual(chunks(s, { maxChars: 10 }), ['今天天气很好，', '我们一起去公园散步吧', '，然后去吃饭。']);
    const noPunct = '我们一起去公园散步然后去吃饭再回家';
    const out = chunks(noPunct, { maxChars: 5 });
    assert.equal(out.join(''), noPunct);
    assert.ok(out.every((c) => c.length <= 5));
  });

  it('groups CJK sentences', () => {
    assert.deepEqual(chunks('你好。今天天气很好！我们去公园吧？', { maxChars: 10 }), ['你好。今天天气很好！', '我们去公园吧？']);
  });

  it('prefers a CJK boundary over cutting inside an embedded Latin word', () => {
    assert.deepEqual(chunks('我喜欢Typescript语言', { maxChars: 8 }), ['我喜欢', 'Typescript'.slice(0, 8), 'pt语言']);
  });

  it('makes a short first chunk at a sentence boundary: the whole sentences that fit', () => {
    const s = 'Hi there. This is the second sentence. And a third one here.';
    assert.deepEqual(chunks(s, { maxChars: 200, firstChunkMaxChars: 30 }), [
      'Hi there.',
      'This is the second sentence. And a third one here.',
    ]);
    assert.deepEqual(chunks(s, { maxChars: 200, firstChunkMaxChars: 40 }), [
      'Hi there. This is the second sentence.',
      'And a third one here.',
    ]);
    // A text that fits in the first chunk is one chunk.
    assert.deepEqual(chunks(s, { maxChars: 200, firstChunkMaxChars: 100 }), [s]);
  });

  it('makes a short first chunk at a clause boundary when the first sentence is long', () => {
    const s = 'Well, when the first sentence is rather long, we still want to start speaking early, okay? Yes.';
    assert.deepEqual(chunks(s, { maxChars: 200, firstChunkMaxChars: 50 }), [
      'Well, when the first sentence is rather long,',
      'we still want to start speaking early, okay? Yes.',
    ]);
    assert.deepEqual(chunks('one two three four five six seven', { maxChars: 100, firstChunkMaxChars: 10 }), [
      'one two',
      'three four five six seven',
    ]);
  });

  it('clamps firstChunkMaxChars to maxChars', () => {
    assert.deepEqual(chunks('aaa bbb ccc. ddd.', { maxChars: 8, firstChunkMaxChars: 100 }), ['aaa bbb', 'ccc.', 'ddd.']);
  });

  it('handles mixed text and emoji', () => {
    const s = 'Hello 世界。Next sentence 😀 is here. Done!';
    assert.deepEqual(chunks(s, { maxChars: 20 }), ['Hello 世界。', 'Next sentence 😀 is', 'here. Done!']);
  });

  it('handles punctuation-only text', () => {
    assert.deepEqual(chunks('?!?! ... !!!', { maxChars: 5 }), ['?!?!', '...', '!!!']);
  });

  it('is linear on large input', () => {
    const unit =
      'Dr. Smith went to Washington, and then, after a long and winding journey through the countryside, ' +
      'he arrived at 3 p.m. today! 你好，今天天气很好，我们去公园吧？Averyveryveryveryverylongwordwithoutanyspaces. ';
    const big = unit.repeat(Math.ceil(200_000 / unit.length));
    const t0 = performance.now();
    const spans = chunkText(big, { maxChars: 120, firstChunkMaxChars: 40 });
    const ms = performance.now() - t0;
    assert.ok(ms < 500, `took ${ms} ms`);
    assertInvariants(big, spans, { maxChars: 120, firstChunkMaxChars: 40 });

    const noSpaces = 'x'.repeat(200_000);
    const t1 = performance.now();
    const hard = chunkText(noSpaces, { maxChars: 300 });
    assert.ok(performance.now() - t1 < 500);
    assert.equal(hard.length, Math.ceil(200_000 / 300));

    const cjk = '我们一起去公园散步'.repeat(25_000);
    const t2 = performance.now();
    chunkText(cjk, { maxChars: 200 });
    assert.ok(performance.now() - t2 < 1000);
  });
});
