import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { normalizeText } from './normalize-text.js';

/** Every kept character maps onto the identical original character; changed ones map onto something sensible. */
function assertMapping(original: string): string {
  const r = normalizeText(original);
  let previous = -1;
  for (let i = 0; i < r.text.length; i++) {
    const o = r.toOriginal(i);
    assert.ok(o >= 0 && o < original.length, `offset ${i} maps into the original`);
    assert.ok(o >= previous, `mapping is monotonic at ${i}`);
    previous = o;
    const ch = r.text[i];
    const src = original[o];
    if (ch !== src) {
      // Only spaces (from other whitespace) and NFC-changed clusters may differ.
      const isSpace = ch === ' ' && /\s|\u0085/u.test(src ?? '');
      const isNfc = original.slice(o, r.toOriginalEnd(i + 1)).normalize('NFC').includes(ch ?? '\u0000');
      assert.ok(isSpace || isNfc, `char ${i} ${JSON.stringify(ch)} vs ${JSON.stringify(src)}`);
    }
    assert.ok(r.toOriginalEnd(i + 1) > o, 'end is after start');
  }
  assert.equal(r.toOriginal(r.text.length), original.length);
  return r.text;
}

function strictIdentity(original: string, text: string, toOriginal: (i: number) => number, skip: Set<number>): void {
  for (let i = 0; i < text.length; i++) {
    if (skip.has(i)) continue;
    assert.equal(original[toOriginal(i)], text[i], `index ${i}`);
  }
}

describe('normalizeText', () => {
  it('handles the empty string and blank input', () => {
    for (const s of ['', '   ', '\n\t\u00a0\u3000', '\u200b\u200d\ufeff']) {
      const r = normalizeText(s);
      assert.equal(r.text, '');
      assert.equal(r.toOriginal(0), s.length);
      assert.equal(r.toOriginalEnd(0), s.length);
    }
  });

  it('leaves plain text alone with an identity mapping', () => {
    const s = 'Dr. Smith went to Washington. He arrived at 3 p.m. today!';
    const r = normalizeText(s);
    assert.equal(r.text, s);
    for (let i = 0; i <= s.length; i++) assert.equal(r.toOriginal(i), i);
    assert.equal(r.toOriginalEnd(s.length), s.length);
  });

  it('collapses all whitespace runs and trims', () => {
    const s = '  Hello,\r\n\n\tworld\u00a0\u00a0again\u3000end\u2028x\u0085y  ';
    const r = normalizeText(s);
    assert.equal(r.text, 'Hello, world again end x y');
    assertMapping(s);
    // a collapsed run maps onto its first whitespace character
    assert.equal(r.toOriginal(6), s.indexOf('\r'));
  });

  it('prefers a real space as the source of a collapsed run', () => {
    const s = 'a\n b';
    const r = normalizeText(s);
    assert.equal(r.text, 'a b');
    assert.equal(s[r.toOriginal(1)], ' ');
  });

  it('removes control and zero-width characters without breaking words apart', () => {
    const s = 'zero\u200bwidth \u0007bell soft\u00adhyphen \u200eltr\u200f \ufeffbom a\u200c\u200db';
    const text = assertMapping(s);
    assert.equal(text, 'zerowidth bell softhyphen ltr bom ab');
    const r = normalizeText(s);
    strictIdentity(s, r.text, r.toOriginal, new Set());
  });

  it('removes spaces around dropped characters only once', () => {
    assert.equal(normalizeText('a \u200b b').text, 'a b');
    assert.equal(normalizeText('a 😀 b').text, 'a b');
    assert.equal(normalizeText('😀 hi 😀').text, 'hi');
    assert.equal(normalizeText('Great 😀. Yes 👍🏽, ok 🎉!').text, 'Great. Yes, ok!');
    assert.equal(normalizeText('a . b , c').text, 'a . b , c');
  });

  it('applies NFC and maps composed characters to the cluster start', () => {
    const s = 'Cafe\u0301 na\u0308ive \u2126 \u1100\u1161\u11a8';
    const r = normalizeText(s);
    assert.equal(r.text, 'Café näive Ω 각');
    assert.equal(r.text, r.text.normalize('NFC'));
    assert.equal(r.toOriginal(3), 3); // é <- e + U+0301
    assert.equal(r.toOriginalEnd(4), 5); // end of the é cluster
    assert.equal(r.toOriginal(r.text.indexOf('각')), s.indexOf('\u1100'));
    assertMapping(s);
  });

  it('keeps already-composed and non-Latin text unchanged', () => {
    for (const s of ['Café', '你好。今天天气很好！', 'こんにちは、世界', 'Привет, мир', 'नमस्ते दुनिया', 'مرحبا بالعالم', '안녕하세요']) {
      const r = normalizeText(s);
      assert.equal(r.text, s);
      strictIdentity(s, r.text, r.toOriginal, new Set());
    }
  });

  it('removes emoji, including sequences, flags, skin tones and keycaps', () => {
    const s = 'ok 👍🏽 family 👨‍👩‍👧 flag 🇫🇷 🏴󠁧󠁢󠁥󠁮󠁧󠁿 heart ❤️ ❤ star ⭐ key 1️⃣ end';
    const r = normalizeText(s);
    assert.equal(r.text, 'ok family flag heart star key 1 end');
    strictIdentity(s, r.text, r.toOriginal, new Set());
  });

  it('keeps text-style symbols unless they ask for emoji presentation', () => {
    assert.equal(normalizeText('© 2024 Acme™ ©️').text, '© 2024 Acme™');
    assert.equal(normalizeText('〰 ㊗').text, '〰 ㊗');
  });

  it('keeps valid surrogate pairs and drops lone surrogates', () => {
    const s = '𝒳 \ud800x \udc00y 𠀀字';
    const r = normalizeText(s);
    assert.equal(r.text, '𝒳 x y 𠀀字');
    strictIdentity(s, r.text, r.toOriginal, new Set());
    assert.equal(r.toOriginalEnd(2), 2); // end of the pair
  });

  it('strips inline markdown', () => {
    const cases: [string, string][] = [
      ['**bold** text', 'bold text'],
      ['some __strong__ words', 'some strong words'],
      ['an *emphasised* word and _this_ too', 'an emphasised word and this too'],
      ['***both*** here', 'both here'],
      ['run `npm test` now', 'run npm test now'],
      ['see [the docs](https://example.com/docs "Docs") please', 'see the docs please'],
      ['![a cat](cat.png) sits', 'a cat sits'],
      ['visit https://www.example.com/page today', 'visit example.com/page today'],
      ['or <https://example.org>', 'or example.org'],
    ];
    for (const [input, expected] of cases) {
      assert.equal(normalizeText(input).text, expected, input);
      assertMapping(input);
    }
  });

  it('does not treat arithmetic or identifiers as emphasis', () => {
    for (const s of ['2*3*4 = 24', 'a * b * c', 'snake_case_name', 'file__name__x', '5 * 3']) {
      assert.equal(normalizeText(s).text, s);
    }
  });

  it('strips block markdown at line starts only', () => {
    const s = '# Title\n\n> quoted text\n- first item\n* second item\n+ third\n• fourth\n---\n```js\ncode();\n```\n1. numbered stays\na - b > c # d';
    const r = normalizeText(s);
    assert.equal(
      r.text,
      'Title quoted text first item second item third fourth code(); 1. numbered stays a - b > c # d',
    );
    assertMapping(s);
    strictIdentity(s, r.text, r.toOriginal, new Set([...r.text].flatMap((c, i) => (c === ' ' ? [i] : []))));
  });

  it('keeps hashtags, negative numbers and lone punctuation', () => {
    assert.equal(normalizeText('#1 -5 degrees').text, '#1 -5 degrees');
    assert.equal(normalizeText('!!! ?? ...').text, '!!! ?? ...');
  });

  it('maps word ends past dropped markup', () => {
    const s = 'say **hi** now';
    const r = normalizeText(s);
    assert.equal(r.text, 'say hi now');
    const start = r.text.indexOf('hi');
    assert.equal(r.toOriginal(start), s.indexOf('hi'));
    assert.equal(r.toOriginalEnd(start + 2), s.indexOf('hi') + 2);
  });

  it('clamps out-of-range offsets', () => {
    const r = normalizeText(' abc ');
    assert.equal(r.toOriginal(-3), 1);
    assert.equal(r.toOriginal(99), 5);
    assert.equal(r.toOriginal(Number.NaN), 5);
  });

  it('maps every kept character exactly on a mixed sample', () => {
    const s =
      '  **Hello** 世界。\n\nNext\u200b sentence… ‘quoted’ — dash 😀 e\u0301 \t [link](http://x.y) 𝒳 _x_ `y`\n> end';
    const r = normalizeText(s);
    for (let i = 0; i < r.text.length; i++) {
      const o = r.toOriginal(i);
      if (r.text[i] === ' ' || r.text[i] === 'é') continue;
      assert.equal(s[o], r.text[i], `index ${i}`);
    }
    assertMapping(s);
  });

  it('is fast on a large input', () => {
    const unit = 'The **quick** brown fox, jumps over 3.14 lazy dogs! 你好，世界。 😀 e\u0301\n\n';
    const big = unit.repeat(Math.ceil(1_000_000 / unit.length));
    const t0 = performance.now();
    const r = normalizeText(big);
    const ms = performance.now() - t0;
    assert.ok(r.text.length > 800_000);
    assert.ok(ms < 3000, `took ${ms} ms`);
  });
});
