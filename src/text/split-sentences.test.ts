import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { endsSentenceForSure, splitSentences } from './split-sentences.js';
import type { Span } from './span.js';

function texts(input: string): string[] {
  const spans = splitSentences(input);
  assertInvariants(input, spans);
  return spans.map((s) => s.text);
}

/** Offsets match the text, spans are trimmed, non-empty, ordered and cover all non-space content. */
function assertInvariants(input: string, spans: Span[]): void {
  let previousEnd = 0;
  for (const span of spans) {
    assert.equal(span.text, input.slice(span.start, span.end));
    assert.ok(span.text.length > 0);
    assert.equal(span.text, span.text.trim());
    assert.ok(span.start >= previousEnd);
    assert.equal(input.slice(previousEnd, span.start).trim(), '', 'nothing but space between spans');
    previousEnd = span.end;
  }
  assert.equal(input.slice(previousEnd).trim(), '');
}

describe('splitSentences', () => {
  it('returns nothing for empty or blank text', () => {
    assert.deepEqual(splitSentences(''), []);
    assert.deepEqual(splitSentences('   \n\n\t '), []);
  });

  it('keeps text without terminators as one sentence', () => {
    assert.deepEqual(texts('  hello world  '), ['hello world']);
    const [span] = splitSentences('  hello world  ');
    assert.deepEqual(span, { start: 2, end: 13, text: 'hello world' });
  });

  it('keeps punctuation-only text as one span', () => {
    assert.deepEqual(texts('?!?! ... !!!'), ['?!?! ... !!!']);
    assert.deepEqual(texts('... Hello there.'), ['... Hello there.']);
  });

  it('splits on basic terminators', () => {
    assert.deepEqual(texts('One. Two! Three? Four… Five‽ Six'), ['One.', 'Two!', 'Three?', 'Four…', 'Five‽', 'Six']);
    assert.deepEqual(texts('Really?! Yes... Okay.'), ['Really?!', 'Yes...', 'Okay.']);
  });

  it('handles the abbreviation example', () => {
    assert.deepEqual(texts('Dr. Smith went to Washington. He arrived at 3 p.m. today!'), [
      'Dr. Smith went to Washington.',
      'He arrived at 3 p.m. today!',
    ]);
  });

  it('does not split after common abbreviations', () => {
    for (const s of [
      'Mr. and Mrs. Jones met Ms. Lee.',
      'Prof. Brown lives on Baker St. near the park.',
      'It was cats vs. dogs all day.',
      'Bring fruit, e.g. apples, i.e. the red ones.',
      'Martin Luther King Jr. spoke.',
      'See Fig. 3 for details.',
      'He is No. 5 in the U.S. Army.',
      'We met at 10 a.m. on Monday.',
    ]) {
      assert.deepEqual(texts(s), [s], s);
    }
  });

  it('splits after etc./a.m. when a capitalised sentence follows', () => {
    assert.deepEqual(texts('Bring pens, paper, etc. The shop opens at 9 a.m. Be there.'), [
      'Bring pens, paper, etc.',
      'The shop opens at 9 a.m.',
      'Be there.',
    ]);
    assert.deepEqual(texts('Apples, pears, etc. are fine.'), ['Apples, pears, etc. are fine.']);
  });

  it('does not split after initials', () => {
    assert.deepEqual(texts('J. R. R. Tolkien wrote it. I read it.'), ['J. R. R. Tolkien wrote it.', 'I read it.']);
  });

  it('does not split "No." unless a number follows', () => {
    assert.deepEqual(texts('He said No. Then he left.'), ['He said No.', 'Then he left.']);
  });

  it('does not split decimals, versions or domains', () => {
    assert.deepEqual(texts('Pi is 3.14 and v1.2.3 is on example.com now. Next.'), [
      'Pi is 3.14 and v1.2.3 is on example.com now.',
      'Next.',
    ]);
  });

  it('keeps list numbers with their item', () => {
    assert.deepEqual(texts('1. First thing. 2. Second thing.'), ['1. First thing.', '2. Second thing.']);
    assert.deepEqual(texts('It was 1990. Then came 1991.'), ['It was 1990.', 'Then came 1991.']);
  });

  it('keeps an ellipsis followed by lower case inside the sentence', () => {
    assert.deepEqual(texts('Well... maybe not. Wait… what? No… Never.'), [
      'Well... maybe not.',
      'Wait… what?',
      'No…',
      'Never.',
    ]);
  });

  it('keeps closing quotes and brackets with the sentence', () => {
    assert.deepEqual(texts('He said "Stop!" Then he ran. (It was late.) She left.'), [
      'He said "Stop!"',
      'Then he ran.',
      '(It was late.)',
      'She left.',
    ]);
    assert.deepEqual(texts('“Why?” she asked. ‘Fine.’ OK.'), ['“Why?” she asked.', '‘Fine.’', 'OK.']);
  });

  it('splits Chinese without spaces', () => {
    assert.deepEqual(texts('你好。今天天气很好！我们去公园吧？'), ['你好。', '今天天气很好！', '我们去公园吧？']);
    assert.deepEqual(texts('他说：「好的。」然后走了；我们也走了．'), ['他说：「好的。」', '然后走了；', '我们也走了．']);
  });

  it('splits Japanese', () => {
    assert.deepEqual(texts('こんにちは。元気ですか？はい、元気です！『本当？』うん｡'), [
      'こんにちは。',
      '元気ですか？',
      'はい、元気です！',
      '『本当？』',
      'うん｡',
    ]);
  });

  it('does not split full-width decimals', () => {
    assert.deepEqual(texts('円周率は３．１４です。'), ['円周率は３．１４です。']);
  });

  it('splits mixed Latin and CJK text', () => {
    assert.deepEqual(texts('Hello 世界。Next sentence.'), ['Hello 世界。', 'Next sentence.']);
    assert.deepEqual(texts('好的!我们走吧?OK'), ['好的!', '我们走吧?', 'OK']);
    assert.deepEqual(texts('English first. 然后中文。'), ['English first.', '然后中文。']);
  });

  it('splits on paragraph breaks', () => {
    assert.deepEqual(texts('Heading\n\nBody text without a period\r\n \r\nLast'), [
      'Heading',
      'Body text without a period',
      'Last',
    ]);
    assert.deepEqual(texts('line one\nline two'), ['line one\nline two']);
  });

  it('copes with emoji and surrogate pairs', () => {
    assert.deepEqual(texts('Great 😀! 𝒳 is a letter. Done'), ['Great 😀!', '𝒳 is a letter.', 'Done']);
  });

  it('is fast on large input', () => {
    const unit = 'Dr. Smith went to Washington. He arrived at 3 p.m. today! 你好。今天天气很好！\n\n';
    const big = unit.repeat(Math.ceil(1_000_000 / unit.length));
    const t0 = performance.now();
    const spans = splitSentences(big);
    const ms = performance.now() - t0;
    assert.ok(spans.length > 50_000);
    assert.ok(ms < 2000, `took ${ms} ms`);
    const noLetters = '1. 2. 3. '.repeat(30_000);
    const t1 = performance.now();
    splitSentences(noLetters);
    assert.ok(performance.now() - t1 < 2000);
  });
});

describe('endsSentenceForSure', () => {
  it('is true only for ends that no continuation can undo', () => {
    for (const text of ['Hello there.', 'Really?', 'Stop!', 'Why?!', '你好。', 'It is late now.  ']) assert.equal(endsSentenceForSure(text), true, text);
    for (const text of ['Hello there', 'Ask Dr.', 'It costs 3.', 'By J.', 'Wait...', 'He said "go."', 'And so on etc.', 'The U.S.', 'See p.', '?', '   ', 'Live in the US.']) {
      assert.equal(endsSentenceForSure(text), false, text);
    }
  });

  it('agrees with splitSentences: whatever follows a sure end, the sentence ends there', () => {
    for (const text of ['Hello there.', 'Really?', 'Stop!', 'It is late now.']) {
      for (const next of [' and more.', ' 5 apples.', ' Then.', ' dr. who.']) {
        assert.equal(splitSentences(text + next)[0]?.text, text.trim(), `${text}${next}`);
      }
    }
  });
});
