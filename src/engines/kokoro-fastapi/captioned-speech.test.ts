import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { captionedPieces, WordLocator, wordParts } from './captioned-speech.js';

async function* pieces(text: string, size: number): AsyncGenerator<Uint8Array> {
  const bytes = new TextEncoder().encode(text);
  for (let offset = 0; offset < bytes.length; offset += size) yield bytes.subarray(offset, offset + size);
}

async function collect(text: string, size: number) {
  const out = [];
  for await (const piece of captionedPieces(pieces(text, size), 'kokoro-test')) out.push(piece);
  return out;
}

describe('Kokoro-FastAPI captioned speech', () => {
  const lines =
    `${JSON.stringify({ audio: Buffer.from([1, 0, 2, 0]).toString('base64'), audio_format: 'audio/pcm', timestamps: [{ word: 'Née', start_time: 0, end_time: 0.25 }] })}\n` +
    `${JSON.stringify({ audio: Buffer.from([3, 0]).toString('base64'), audio_format: 'audio/pcm', timestamps: null })}\n`;

  it('reads NDJSON lines cut anywhere, inside a UTF-8 character too', async () => {
    for (const size of [1, 3, 7, lines.length]) {
      const read = await collect(lines, size);
      assert.deepEqual(
        read.map((piece) => [[...piece.audio], piece.audioFormat, piece.words]),
        [
          [[1, 0, 2, 0], 'audio/pcm', [{ word: 'Née', startSec: 0, endSec: 0.25 }]],
          [[3, 0], 'audio/pcm', []],
        ],
        `pieces of ${size} bytes`,
      );
    }
  });

  it('takes a last line without its newline, and refuses one that is not JSON or has no audio', async () => {
    assert.equal((await collect(lines.trimEnd(), 5)).length, 2);
    await assert.rejects(collect(`${lines}{"audio":"AAA`, 4), /kokoro-test' sent a line that is not JSON/);
    await assert.rejects(collect('{"timestamps":[]}\n', 4), /kokoro-test' sent a line without base64 'audio'/);
  });

  it('finds the server\'s words in the text in order and skips the ones it spelled its own way', () => {
    const text = 'Dr. Smith’s 3 cats sat on the mat; the written word.';
    const locator = new WordLocator(text);
    const found = ['Doctor', 'Smith\'s', 'three', 'cats', 'sat', 'on', 'the', 'mat', ';', 'the', 'ten', 'written', 'word', '.'].map((word) => {
      const span = locator.locate(word);
      return span === undefined ? undefined : text.slice(span.start, span.end);
    });
    assert.deepEqual(found, [undefined, 'Smith’s', undefined, 'cats', 'sat', 'on', 'the', 'mat', undefined, 'the', undefined, 'written', 'word', undefined]);
  });

  it('does not jump far ahead for a common word the text does not have here', () => {
    const text = 'It costs 1,234,567 dollars and not one more or one less than two hundred.';
    const locator = new WordLocator(text);
    // "one million two hundred thirty four …": the text's "one" and "two" lie too far ahead.
    const spoken = ['It', 'costs', 'one', 'million', 'two', 'hundred', 'thirty', 'four', 'dollars', 'and'];
    const located = spoken.map((word) => locator.locate(word)).map((span) => (span === undefined ? undefined : text.slice(span.start, span.end)));
    assert.deepEqual(located, ['It', 'costs', undefined, undefined, undefined, undefined, undefined, undefined, 'dollars', 'and']);
  });

  it('turns found words into word parts in ms', () => {
    const parts = wordParts([{ word: 'Hello', startSec: 0.1, endSec: 0.4 }, { word: 'there', startSec: 0.4, endSec: 0.75 }], new WordLocator('Hello there'));
    assert.deepEqual(parts, [
      { type: 'word', textStart: 0, textEnd: 5, startMs: 100, endMs: 400 },
      { type: 'word', textStart: 6, textEnd: 11, startMs: 400, endMs: 750 },
    ]);
  });
});
