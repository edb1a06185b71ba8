import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { turn } from './conversation-store.case.js';
import { trimTurns, turnChars } from './conversation-store.js';

describe('trimTurns', () => {
  const turns = [turn(1, 'aaaa', 'bbbbbb'), turn(2, 'cc', 'dd'), turn(3, 'e', 'ffff')];

  it('counts the characters of user and assistant as String.length does', () => {
    assert.deepEqual(turns.map(turnChars), [10, 4, 5]);
    assert.equal(turnChars(turn(4, '🎙', '')), 2);
  });

  it('leaves an empty list empty', () => {
    assert.deepEqual(trimTurns([], { maxTurns: 0, maxChars: 0 }), []);
    assert.deepEqual(trimTurns([], { maxTurns: 5, maxChars: 100 }), []);
  });

  it('keeps everything within the limits, as a copy', () => {
    const kept = trimTurns(turns, { maxTurns: 3, maxChars: 19 });
    assert.deepEqual(kept, turns);
    assert.notEqual(kept, turns);
  });

  it('keeps the newest maxTurns', () => {
    assert.deepEqual(trimTurns(turns, { maxTurns: 2, maxChars: 100 }), [turns[1], turns[2]]);
    assert.deepEqual(trimTurns(turns, { maxTurns: 1, maxChars: 100 }), [turns[2]]);
  });

  it('keeps the last turn even with maxTurns 0', () => {
    assert.deepEqual(trimTurns(turns, { maxTurns: 0, maxChars: 100 }), [turns[2]]);
  });

  it('drops the oldest turns until the rest fit maxChars', () => {
    assert.deepEqual(trimTurns(turns, { maxTurns: 10, maxChars: 18 }), [turns[1], turns[2]]);
    assert.deepEqual(trimTurns(turns, { maxTurns: 10, maxChars: 9 }), [turns[1], turns[2]]);
    assert.deepEqual(trimTurns(turns, { maxTurns: 10, maxChars: 8 }), [turns[2]]);
  });

  it('keeps one huge newest turn alone, over maxChars', () => {
    const huge = turn(9, 'x'.repeat(5000), 'y'.repeat(5000));
    assert.deepEqual(trimTurns([...turns, huge], { maxTurns: 10, maxChars: 100 }), [huge]);
    assert.deepEqual(trimTurns([huge], { maxTurns: 1, maxChars: 0 }), [huge]);
  });
});
