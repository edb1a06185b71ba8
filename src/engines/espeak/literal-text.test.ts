import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { literalEspeakText } from './literal-text.js';

describe('literalEspeakText', () => {
  it('leaves text without markup characters as it is', () => {
    for (const text of ['', 'Hello there.', "It's 9:30 p.m., isn't it?", '你好。', '𝒳 😀 café']) {
      const literal = literalEspeakText(text);
      assert.equal(literal.text, text);
      for (let i = 0; i <= text.length; i++) {
        assert.equal(literal.toSourceStart(i), i);
        assert.equal(literal.toSourceEnd(i), i);
      }
    }
  });

  it("escapes the characters eSpeak's SSML parser reads as markup", () => {
    assert.equal(literalEspeakText('a < b & c > d').text, 'a &lt; b &amp; c &gt; d');
    assert.equal(literalEspeakText('<break time="10000s"/>').text, '&lt;break time="10000s"/&gt;');
    assert.equal(literalEspeakText('&lt;').text, '&amp;lt;', 'an entity the user typed is spoken as typed');
  });

  it('breaks up [[ so eSpeak never reads phoneme mnemonics', () => {
    const literal = literalEspeakText("[[h@l'oU]] and [[[x");
    assert.ok(!literal.text.includes('[['), literal.text);
    assert.equal(literal.text.replaceAll('\u200b', ''), "[[h@l'oU]] and [[[x");
  });

  it('turns control characters (eSpeak reads U+0001 as an embedded command) into spaces', () => {
    assert.equal(literalEspeakText('hello \u000110S world\u0007').text, 'hello  10S world ');
    assert.equal(literalEspeakText('tab\tand\nnewline').text, 'tab\tand\nnewline');
  });

  it('maps every offset of the escaped text back to the character it came from', () => {
    const source = 'x<y & [[z]]';
    const literal = literalEspeakText(source);
    // Every unit of the escaped text points into the source, at the character it spells.
    for (let i = 0; i < literal.text.length; i++) {
      const start = literal.toSourceStart(i);
      const end = literal.toSourceEnd(i + 1);
      assert.ok(start >= 0 && start < source.length && end === start + 1, `unit ${i} (${literal.text[i]}) -> [${start}, ${end})`);
    }
    const y = literal.text.indexOf('y');
    assert.equal(source[literal.toSourceStart(y)], 'y');
    const ampersand = literal.text.indexOf('&amp;');
    for (let i = ampersand; i < ampersand + 5; i++) assert.equal(literal.toSourceStart(i), source.indexOf('&'));
    assert.equal(literal.toSourceStart(literal.text.length), source.length);
    assert.equal(literal.toSourceEnd(literal.text.length), source.length);
    assert.equal(literal.toSourceEnd(0), 0);
  });
});
