import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { detectScriptLanguage } from './detect-language.js';

describe('detectScriptLanguage', () => {
  it('returns undefined without letters', () => {
    for (const s of ['', '   ', '123 456', '?!... 😀 👍🏽', '— ()']) assert.equal(detectScriptLanguage(s), undefined, s);
  });

  it('returns undefined for Latin-script text', () => {
    for (const s of ['Hello world', 'Bonjour le monde', 'Grüß Gott', 'Dr. Smith went to Washington.']) {
      assert.equal(detectScriptLanguage(s), undefined, s);
    }
  });

  it('detects Chinese and Japanese', () => {
    assert.equal(detectScriptLanguage('你好。今天天气很好！我们去公园吧？'), 'cmn');
    assert.equal(detectScriptLanguage('今日はいい天気ですね。'), 'ja');
    assert.equal(detectScriptLanguage('ラーメンを食べる'), 'ja');
    assert.equal(detectScriptLanguage('カタカナ'), 'ja');
    // a stray kana in long Chinese text does not make it Japanese
    assert.equal(detectScriptLanguage('我们今天去公园散步然后去吃饭再回家看电视的'.repeat(5) + 'の'), 'cmn');
  });

  it('detects other scripts', () => {
    const cases: [string, string][] = [
      ['안녕하세요, 세계!', 'ko'],
      ['Привет, мир! Как дела?', 'ru'],
      ['مرحبا بالعالم', 'ar'],
      ['नमस्ते दुनिया', 'hi'],
      ['Γειά σου Κόσμε', 'el'],
      ['שלום עולם', 'he'],
      ['สวัสดีชาวโลก', 'th'],
      ['გამარჯობა მსოფლიო', 'ka'],
      ['Բարեւ աշխարհ', 'hy'],
      ['ওহে বিশ্ব', 'bn'],
      ['வணக்கம் உலகம்', 'ta'],
    ];
    for (const [text, code] of cases) assert.equal(detectScriptLanguage(text), code, text);
  });

  it('needs more than half of the letters', () => {
    assert.equal(detectScriptLanguage('Hello 世界'), undefined); // 5 Latin vs 2 Han
    assert.equal(detectScriptLanguage('Hi 你好世界'), 'cmn');
    assert.equal(detectScriptLanguage('abc где'), undefined); // 3 vs 3
    assert.equal(detectScriptLanguage('ab где'), 'ru');
  });

  it('ignores digits, punctuation and emoji in the count', () => {
    assert.equal(detectScriptLanguage('2024年 😀😀😀 !!! 123456789'), 'cmn');
  });

  it('handles long text quickly', () => {
    const big = 'Привет, мир! '.repeat(100_000);
    const t0 = performance.now();
    assert.equal(detectScriptLanguage(big), 'ru');
    assert.ok(performance.now() - t0 < 500);
  });
});
