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

  it('does not split at abbreviations or decimals, whatever the piece boundaries', async () => {
    assert.deepEqual(await collect(['Dr', '. Smith paid 3', '.5 dollars', '. Then he left.']), ['Dr. Smith paid 3.5 dollars.', 'Then he left.']);
  });

  it('yields a last sentence without a terminator, and nothing for empty input', async () => {
    assert.deepEqual(await collect(['One. Two without an end']), ['One.', 'Two without an end']);
    assert.deepEqual(await collect([]), []);
    assert.deepEqual(await collect(['  ', '\n']), []);
  });
});
