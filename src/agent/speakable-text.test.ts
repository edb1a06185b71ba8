import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { speakableText } from './speakable-text.js';

describe('speakableText', () => {
  it('drops Markdown markup and keeps the words', () => {
    assert.equal(speakableText('**Sure!**'), 'Sure!');
    assert.equal(speakableText('## Weather today'), 'Weather today');
    assert.equal(speakableText('- Bring an *umbrella*.'), 'Bring an umbrella.');
    assert.equal(speakableText('See [the forecast](https://example.com/f) or `wttr`.'), 'See the forecast or wttr.');
    assert.equal(speakableText('It is __really__ ~~not~~ cold.'), 'It is really not cold.');
  });

  it('leaves plain text, numbers and underscores inside words alone', () => {
    for (const text of ['Hello there.', 'It costs 3.5 dollars, 2 - 1 = 1.', 'Call snake_case_name now.', '你好。']) assert.equal(speakableText(text), text);
  });
});
