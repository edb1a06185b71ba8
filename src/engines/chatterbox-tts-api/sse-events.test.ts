import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { sseData } from './sse-events.js';

async function collect(pieces: readonly Uint8Array[]): Promise<string[]> {
  const events: string[] = [];
  for await (const data of sseData((async function* () {
    yield* pieces;
  })())) {
    events.push(data);
  }
  return events;
}

const encode = (text: string): Uint8Array => new TextEncoder().encode(text);

describe('sseData', () => {
  const stream = 'data: {"type":"speech.audio.info"}\n\n: a comment\nevent: ignored\ndata: {"audio":"AAEC"}\r\n\r\ndata: first line\ndata:second line\r\rdata: é €\n\n';
  const expected = ['{"type":"speech.audio.info"}', '{"audio":"AAEC"}', 'first line\nsecond line', 'é €'];

  it('reads each event whole, whatever the line endings', async () => {
    assert.deepEqual(await collect([encode(stream)]), expected);
  });

  it('reads the same events when the body is cut at any byte, in two pieces or one byte at a time', async () => {
    const bytes = encode(stream);
    for (let cut = 1; cut < bytes.length; cut++) {
      assert.deepEqual(await collect([bytes.subarray(0, cut), bytes.subarray(cut)]), expected, `cut at byte ${cut}`);
    }
    assert.deepEqual(await collect([...bytes].map((byte) => Uint8Array.of(byte))), expected);
  });

  it('drops an event the stream ended before completing', async () => {
    assert.deepEqual(await collect([encode('data: whole\n\ndata: cut off\n')]), ['whole']);
  });
});
