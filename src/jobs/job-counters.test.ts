import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { counterKey, sumCounters } from './job-counters.js';

describe('job counters', () => {
  const stored: [string, number][] = [
    [counterKey('chatterbox', 'aaaa', 'completed'), 3],
    [counterKey('chatterbox', 'bbbb', 'completed'), 5],
    [counterKey('chatterbox', '', 'failed'), 1],
    [counterKey('my:endpoint', 'aaaa', 'failed'), 7],
    // Written before counters had owners.
    ['chatterbox:retried', 2],
    ['nonsense', 9],
  ];

  it('sums one endpoint and owner, one endpoint, or everything', () => {
    assert.deepEqual(sumCounters(stored, 'chatterbox', 'aaaa'), { completed: 3, failed: 0, cancelled: 0, timedOut: 0, retried: 0 });
    assert.deepEqual(sumCounters(stored, 'chatterbox'), { completed: 8, failed: 1, cancelled: 0, timedOut: 0, retried: 2 });
    assert.equal(sumCounters(stored).failed, 8);
  });

  it('reads endpoint ids that hold ":" and counts unowned old keys as the owner ""', () => {
    assert.equal(sumCounters(stored, 'my:endpoint', 'aaaa').failed, 7);
    assert.equal(sumCounters(stored, 'my', 'endpoint').failed, 0);
    assert.deepEqual(sumCounters(stored, 'chatterbox', ''), { completed: 0, failed: 1, cancelled: 0, timedOut: 0, retried: 2 });
  });
});
