import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { assText, assTime, buildAss, groupCues } from './ass.js';

describe('ASS subtitles', () => {
  it('times are H:MM:SS.cc, rounded to centiseconds with carry', () => {
    assert.equal(assTime(0), '0:00:00.00');
    assert.equal(assTime(59.996), '0:01:00.00');
    assert.equal(assTime(3723.456), '1:02:03.46');
    assert.equal(assTime(-1), '0:00:00.00');
  });

  it('text cannot open override blocks; newlines become \\N; commas stay', () => {
    assert.equal(assText('a, {b} \\c\nd'), 'a, (b) \u29f5c\\Nd');
  });

  it('cues break after sentences, long pauses and full lines, and keep the text’s punctuation', () => {
    const text = 'Hello, world. Again {now}';
    const words = [
      { word: 'Hello', start: 0, end: 0.4, charStart: 0, charEnd: 5 },
      { word: 'world', start: 0.4, end: 0.9, charStart: 7, charEnd: 12 },
      { word: 'Again', start: 1.2, end: 1.5, charStart: 14, charEnd: 19 },
      { word: 'now', start: 1.5, end: 1.8, charStart: 21, charEnd: 24 },
    ];
    assert.deepEqual(groupCues(words, { text }).map((cue) => cue.map((w) => w.word)), [['Hello,', 'world.'], ['Again', '{now}']]);
    const ass = buildAss(words, { text });
    assert.ok(ass.startsWith('\ufeff[Script Info]\n'));
    assert.match(ass, /\nDialogue: 0,0:00:00\.00,0:00:00\.90,Default,,0,0,0,,Hello, world\.\n/);
    assert.match(ass, /\nDialogue: 0,0:00:01\.20,0:00:01\.80,Default,,0,0,0,,Again \(now\)\n$/);
    const long = Array.from({ length: 20 }, (_, i) => ({ word: `word${i}`, start: i * 0.3, end: i * 0.3 + 0.25 }));
    for (const cue of groupCues(long)) assert.ok(cue.map((w) => w.word).join(' ').length <= 42);
    assert.equal(groupCues([{ word: 'a', start: 0, end: 0.1 }, { word: 'b', start: 2, end: 2.1 }]).length, 2);
  });
});
