import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { findWords, hasSpeakableText, wordIndexAt } from './words.js';

function words(text: string): string[] {
  const spans = findWords(text);
  for (const s of spans) assert.equal(s.text, text.slice(s.start, s.end));
  for (let i = 1; i < spans.length; i++) assert.ok((spans[i]?.start ?? 0) >= (spans[i - 1]?.end ?? 0));
  return spans.map((s) => s.text);
}

describe('findWords', () => {
  it('finds nothing in empty, blank or punctuation-only text', () => {
    assert.deepEqual(findWords(''), []);
    assert.deepEqual(findWords('  \n '), []);
    assert.deepEqual(findWords('?!... — "" () 😀 👍🏽 🇫🇷 ©'), []);
  });

  it('splits Latin text into words without their surrounding punctuation', () => {
    assert.deepEqual(words('Dr. Smith went to Washington. He arrived at 3 p.m. today!'), [
      'Dr', 'Smith', 'went', 'to', 'Washington', 'He', 'arrived', 'at', '3', 'p.m', 'today',
    ]);
    const [first] = findWords('  Hello, world');
    assert.deepEqual(first, { start: 2, end: 7, text: 'Hello' });
  });

  it('keeps inner apostrophes and hyphens', () => {
    assert.deepEqual(words("don't e-mail rock'n'roll l’homme well‐known"), [
      "don't", 'e-mail', "rock'n'roll", 'l’homme', 'well‐known',
    ]);
    assert.deepEqual(words("'quoted' dogs' -dash- a - b"), ['quoted', 'dogs', 'dash', 'a', 'b']);
  });

  it('keeps numbers with decimal and thousands separators whole', () => {
    assert.deepEqual(words('3.14 and 1,000,000 or 12:30, end. 5.'), ['3.14', 'and', '1,000,000', 'or', '12:30', 'end', '5']);
  });

  it('makes each whitespace-separated word of the text one word, whatever is inside it', () => {
    assert.deepEqual(words("He left at 9:30 p.m. with $100, 3.5% of AT&T's e-mail (U.S.A.) on x86_64, didn't he?"), [
      'He', 'left', 'at', '9:30', 'p.m', 'with', '$100', '3.5%', 'of', "AT&T's", 'e-mail', 'U.S.A', 'on', 'x86_64', "didn't", 'he',
    ]);
    assert.deepEqual(words('a.b one,two and/or Wait—this C++ #1 @user 30° and&'), ['a.b', 'one,two', 'and/or', 'Wait—this', 'C++', '#1', '@user', '30°', 'and&']);
  });

  it('drops the punctuation, quotes, brackets and markup around a word', () => {
    assert.deepEqual(words('(hello) “Hello,” [[Main **bold** `code` ...wait <b> _em_ ¿qué?'), ['hello', 'Hello', 'Main', 'bold', 'code', 'wait', 'b', 'em', 'qué']);
    const [word] = findWords('  “Hello,” she said');
    assert.deepEqual(word, { start: 3, end: 8, text: 'Hello' });
  });

  it('is not a word without a letter or digit, even with symbols that are spoken', () => {
    assert.deepEqual(words('& + $ % -- … 😀 — ©'), []);
  });

  it('keeps combining marks and accented letters inside words', () => {
    assert.deepEqual(words('Café cafe\u0301 naïve नमस्ते'), ['Café', 'cafe\u0301', 'naïve', 'नमस्ते']);
  });

  it('treats each CJK character as a word', () => {
    assert.deepEqual(words('你好。今天！'), ['你', '好', '今', '天']);
    assert.deepEqual(words('ラーメンを食べる'), ['ラ', 'ー', 'メ', 'ン', 'を', '食', 'べ', 'る']);
    assert.deepEqual(words('か\u3099'), ['か\u3099']);
  });

  it('handles mixed scripts', () => {
    assert.deepEqual(words('Hello 世界。Next 2024年 sentence.'), ['Hello', '世', '界', 'Next', '2024', '年', 'sentence']);
    assert.deepEqual(words('Hello世界 我喜欢Typescript语言「好的。」'), ['Hello', '世', '界', '我', '喜', '欢', 'Typescript', '语', '言', '好', '的']);
    assert.deepEqual(words('안녕하세요 세계 Привет мир'), ['안녕하세요', '세계', 'Привет', 'мир']);
  });

  it('handles surrogate pairs', () => {
    const text = '𝒳yz 𠀀𠀁 a😀b 😀c😀';
    const spans = findWords(text);
    assert.deepEqual(spans.map((s) => s.text), ['𝒳yz', '𠀀', '𠀁', 'a😀b', 'c']);
    assert.deepEqual(spans[1], { start: 5, end: 7, text: '𠀀' });
  });

  it('does not hang on large input (a quadratic scan would take minutes)', () => {
    for (const big of ['x'.repeat(200_000), '!'.repeat(100_000) + 'a', `${'.'.repeat(100_000)}a${'.'.repeat(100_000)}`, '我a'.repeat(100_000), 'word, '.repeat(40_000)]) {
      const t0 = performance.now();
      findWords(big);
      assert.ok(performance.now() - t0 < 5000, `${big.slice(0, 10)}…: ${performance.now() - t0} ms`);
    }
  });
});

describe('wordIndexAt', () => {
  const text = 'Hi, there  world';
  const spans = findWords(text); // Hi [0,2) there [4,9) world [11,16)

  it('finds the word containing an offset', () => {
    assert.equal(wordIndexAt(spans, 0), 0);
    assert.equal(wordIndexAt(spans, 1), 0);
    assert.equal(wordIndexAt(spans, 4), 1);
    assert.equal(wordIndexAt(spans, 8), 1);
    assert.equal(wordIndexAt(spans, 15), 2);
  });

  it('returns the next word for offsets between words', () => {
    assert.equal(wordIndexAt(spans, 2), 1);
    assert.equal(wordIndexAt(spans, 3), 1);
    assert.equal(wordIndexAt(spans, 10), 2);
    assert.equal(wordIndexAt(spans, -5), 0);
  });

  it('returns -1 past the last word or with no words', () => {
    assert.equal(wordIndexAt(spans, 16), -1);
    assert.equal(wordIndexAt(spans, 100), -1);
    assert.equal(wordIndexAt([], 0), -1);
  });

  it('agrees with a linear scan', () => {
    const big = 'Hello, 世界! One two-three 3.14. '.repeat(50);
    const ws = findWords(big);
    for (let o = -1; o <= big.length + 1; o++) {
      const expected = ws.findIndex((w) => w.end > o);
      assert.equal(wordIndexAt(ws, o), expected, `offset ${o}`);
    }
  });
});

describe('hasSpeakableText', () => {
  it('is true when the normalised text has a letter or digit', () => {
    for (const text of ['a', ' 42 ', 'Hello 😀', '**bold**', '你好', '$5', '<break time="1s"/>']) assert.equal(hasSpeakableText(text), true, text);
  });

  it('is false for emoji, punctuation, symbols, markup, format characters and spaces only', () => {
    for (const text of ['', '   ', '😀👍🎉', '🇫🇷', '?!… — ...', '**  __', '\u200b\u200d', '# ', '© ® ™']) assert.equal(hasSpeakableText(text), false, JSON.stringify(text));
  });
});
