import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { sentenceStream } from './sentence-stream.js';

async function* pieces(parts: readonly string[], log?: string[]): AsyncIterable<string> {
  for (const part of parts) {
    log?.push(`piece:${part}`);
    yield part;
  }
}

async function collect(parts: readonly string[], log?: string[]): Promise<string[]> {
  const sentences: string[] = [];
  for await (const sentence of sentenceStream(pieces(parts, log))) {
    log?.push(`sentence:${sentence}`);
    sentences.push(sentence);
  }
  return sentences;
}

describe('sentenceStream', () => {
  it('yields each sentence once the next has begun, before the text ends', async () => {
    const log: string[] = [];
    const sentences = await collect(['Hel', 'lo there', '. How', ' are', ' you?', ' Fine', '.'], log);
    assert.deepEqual(sentences, ['Hello there.', 'How are you?', 'Fine.']);
    // The first sentence comes out right after the piece that starts the second one, not at the end.
    assert.ok(log.indexOf('sentence:Hello there.') < log.indexOf('piece: are'), log.join(' | '));
  });

  it('yields a sentence with its last piece when no continuation could undo its end', async () => {
    const log: string[] = [];
    const sentences = await collect(['Hello', ' there', '.', ' How', ' are you', '?', ' Fine', '.'], log);
    assert.deepEqual(sentences, ['Hello there.', 'How are you?', 'Fine.']);
    assert.equal(log[log.indexOf('piece:.') + 1], 'sentence:Hello there.', log.join(' | '));
    assert.equal(log[log.indexOf('piece:?') + 1], 'sentence:How are you?', log.join(' | '));
  });

  it('waits for the next piece after an abbreviation, an initial, a number or a quote', async () => {
    for (const [first, rest] of [
      ['Ask Dr.', ' Smith.'],
      ['It costs 3.', '5 dollars.'],
      ['By J.', ' R. Tolkien.'],
      ['He said "go."', ' Then left.'],
      ['Wait...', ' what?'],
    ] as const) {
      const log: string[] = [];
      await collect([first, rest], log);
      assert.equal(log[1], `piece:${rest}`, `${first} | ${log.join(' | ')}`);
    }
  });

  it('does not split at abbreviations or decimals, whatever the piece boundaries', async () => {
    assert.deepEqual(await collect(['Dr', '. Smith paid 3', '.5 dollars', '. Then he left.']), ['Dr. Smith paid 3.5 dollars.', 'Then he left.']);
  });

  it('yields a last sentence without a terminator, and nothing for empty input', async () => {
    assert.deepEqual(await collect(['One. Two without an end']), ['One.', 'Two without an end']);
    assert.deepEqual(await collect([]), []);
    assert.deepEqual(await collect(['  ', '\n']), []);
  });
});
