import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ChorusError } from '../errors.js';
import { jsonDepthExceeds, MAX_JSON_DEPTH, parseJsonBody } from './validation.js';

describe('parseJsonBody nesting limit', () => {
  const arrays = (depth: number) => '['.repeat(depth) + ']'.repeat(depth);

  it('accepts exactly MAX_JSON_DEPTH levels and refuses one more, naming the limit', () => {
    assert.deepEqual(parseJsonBody(`{"a":${arrays(MAX_JSON_DEPTH - 1)}}`), { a: JSON.parse(arrays(MAX_JSON_DEPTH - 1)) });
    assert.throws(
      () => parseJsonBody(`{"a":${arrays(MAX_JSON_DEPTH)}}`),
      (error) => ChorusError.isInstance(error) && error.code === 'invalid_request' && error.detail === 'invalid_json' && /more than 64 levels/.test(error.message),
    );
  });

  it('counts siblings once: depth is how far values nest, not how many there are', () => {
    assert.equal(jsonDepthExceeds(`[${Array.from({ length: 1000 }, () => '{"a":[1]}').join(',')}]`, 3), false);
  });

  it('skips brackets inside strings, escaped quotes included', () => {
    const text = JSON.stringify({ text: `say "${'['.repeat(500)}" and \\ then ${'{'.repeat(500)}`, quote: '\\"[[[', end: '\\\\' });
    assert.equal(jsonDepthExceeds(text, 1), false);
    assert.equal(jsonDepthExceeds(`{"a":"\\\\",${'"b":['.repeat(1)}[[1]]]}`, 3), true, 'a string ending in an escaped backslash ends there');
  });

  it('scans a 10,000-deep body without recursion', () => {
    assert.equal(jsonDepthExceeds(arrays(10_000), MAX_JSON_DEPTH), true);
    assert.equal(jsonDepthExceeds('{"a":"unterminated', MAX_JSON_DEPTH), false);
  });
});
