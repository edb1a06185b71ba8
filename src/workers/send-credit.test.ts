import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { SendCredit } from './send-credit.js';

/** Whether `promise` settles within a few turns of the event loop. */
async function settles(promise: Promise<unknown>): Promise<boolean> {
  let settled = false;
  void promise.then(() => (settled = true));
  for (let i = 0; i < 5; i++) await new Promise((resolve) => setImmediate(resolve));
  return settled;
}

describe('SendCredit', () => {
  it('lets a sender go on while credit is left, and waits once it is spent until enough comes back', async () => {
    const credit = new SendCredit(100, new AbortController().signal);
    credit.spend(60);
    assert.equal(await settles(credit.available()), true, '40 bytes left');
    credit.spend(70);
    const waiting = credit.available();
    assert.equal(await settles(waiting), false, '30 bytes over: waits');
    credit.grant(20);
    assert.equal(await settles(waiting), false, 'still 10 bytes over');
    credit.grant(20);
    assert.equal(await settles(waiting), true, 'credit again');
  });

  it('ends a wait at once when the synthesis is aborted', async () => {
    const controller = new AbortController();
    const credit = new SendCredit(10, controller.signal);
    credit.spend(10);
    const waiting = credit.available();
    assert.equal(await settles(waiting), false);
    controller.abort();
    assert.equal(await settles(waiting), true);
    assert.equal(await settles(credit.available()), true, 'no wait after an abort');
  });
});
