import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { buildKokoro } from '../../../test/support/tiny-models/tiny-models.js';
import { OnnxFormatError, readOnnxMetadata } from './onnx-metadata.js';
import { splitForTokenBudget } from './sherpa-engine.js';

describe('readOnnxMetadata', () => {
  let dir: string;
  let modelPath: string;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'chorus-onnx-metadata-'));
    const model = await buildKokoro(dir, { version: 2 });
    modelPath = join(model.dir, 'model.onnx');
  });

  after(() => rm(dir, { recursive: true, force: true }));

  it('reads the metadata entries past the graph', async () => {
    const metadata = await readOnnxMetadata(modelPath);
    assert.equal(metadata.get('style_dim'), '128,1,16');
    assert.equal(metadata.get('version'), '2');
    assert.equal(metadata.get('speaker_names')?.split(',')[1], 'af_heart');
  });

  it('refuses a truncated file and one that is not protobuf', async () => {
    const bytes = await readFile(modelPath);
    const truncated = join(dir, 'truncated.onnx');
    await writeFile(truncated, bytes.subarray(0, bytes.length - 100));
    await assert.rejects(readOnnxMetadata(truncated), OnnxFormatError);
    const text = join(dir, 'text.onnx');
    await writeFile(text, '<html>Not Found</html>');
    await assert.rejects(readOnnxMetadata(text), OnnxFormatError);
  });
});

describe('splitForTokenBudget', () => {
  it('leaves text within the budget whole and splits digits, which eSpeak reads as words', () => {
    assert.deepEqual(splitForTokenBudget('Hello there, world.', 100), ['Hello there, world.']);
    const pieces = splitForTokenBudget('Call 5551234 or 5559876 now please.', 60);
    assert.ok(pieces.length > 1);
    assert.equal(pieces.join(''), 'Call 5551234 or 5559876 now please.');
    const long = splitForTokenBudget('9'.repeat(40), 50);
    assert.ok(long.every((piece) => piece.length <= 5));
    assert.equal(long.join(''), '9'.repeat(40));
  });
});
