import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { chunkText, detectScriptLanguage, findWords, normalizeText, splitSentences, wordIndexAt } from './index.js';

describe('text pipeline', () => {
  it('maps words of normalised chunks back to the original text', () => {
    const original = '# Intro\n\n**Dr. Smith** went to Washington 😀. He arrived at 3\u00a0p.m. today!\n\n你好。今天天气很好！';
    const normalized = normalizeText(original);
    assert.equal(normalized.text, 'Intro Dr. Smith went to Washington. He arrived at 3 p.m. today! 你好。今天天气很好！');
    assert.equal(splitSentences(normalized.text).length, 4);
    const chunks = chunkText(normalized.text, { maxChars: 40, firstChunkMaxChars: 20 });
    const spoken: string[] = [];
    for (const chunk of chunks) {
      for (const word of findWords(chunk.text)) {
        const start = normalized.toOriginal(chunk.start + word.start);
        const end = normalized.toOriginalEnd(chunk.start + word.end);
        spoken.push(original.slice(start, end));
      }
    }
    assert.deepEqual(spoken, findWords(normalized.text).map((w) => w.text));
    assert.ok(spoken.includes('Washington'));
    const words = findWords(normalized.text);
    assert.equal(words[wordIndexAt(words, normalized.text.indexOf('Smith') + 2)]?.text, 'Smith');
    assert.equal(detectScriptLanguage(normalized.text), undefined);
  });
});
