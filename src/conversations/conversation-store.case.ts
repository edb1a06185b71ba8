/**
 * The behaviour every ConversationStore must have, run against each implementation (SQLite, Redis):
 * owner and conversation scoping, trimming exactly as trimTurns does, and idle expiry in real time
 * (so Redis's own PEXPIRE is exercised, not a fake clock).
 */
import assert from 'node:assert/strict';
import { it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { trimTurns, type ConversationLimits, type ConversationStore, type ConversationTurn } from './conversation-store.js';

const LIMITS: ConversationLimits = { maxTurns: 50, maxChars: 100_000, idleMs: 60_000 };

export function turn(n: number, user = `question ${n}`, assistant = `answer ${n}`): ConversationTurn {
  return { user, assistant, at: 1_700_000_000_000 + n };
}

export function conversationStoreConformance(open: () => Promise<ConversationStore>): void {
  const withStore = async (use: (store: ConversationStore) => Promise<void>): Promise<void> => {
    const store = await open();
    try {
      await use(store);
    } finally {
      await store.close();
    }
  };

  it('returns the appended turns oldest first, with exactly their fields', () =>
    withStore(async (store) => {
      assert.deepEqual(await store.history('owner-a', 'c1'), []);
      // An extra property on the caller's object is not part of the turn and is not stored.
      await store.append('owner-a', 'c1', { ...turn(1), extra: 'dropped' } as ConversationTurn, LIMITS);
      await store.append('owner-a', 'c1', turn(2, 'Grüße 🎙', ''), LIMITS);
      assert.deepEqual(await store.history('owner-a', 'c1'), [turn(1), turn(2, 'Grüße 🎙', '')]);
    }));

  it('keeps owners apart: the same conversation id of another owner is a different one', () =>
    withStore(async (store) => {
      await store.append('owner-a', 'c1', turn(1), LIMITS);
      assert.deepEqual(await store.history('owner-b', 'c1'), []);
      await store.append('owner-b', 'c1', turn(2), LIMITS);
      assert.deepEqual(await store.history('owner-b', 'c1'), [turn(2)]);
      assert.deepEqual(await store.history('owner-a', 'c1'), [turn(1)]);
    }));

  it("keeps one owner's conversations apart", () =>
    withStore(async (store) => {
      await store.append('owner-a', 'c1', turn(1), LIMITS);
      await store.append('owner-a', 'c2', turn(2), LIMITS);
      await store.append('owner-a', 'c1', turn(3), LIMITS);
      assert.deepEqual(await store.history('owner-a', 'c1'), [turn(1), turn(3)]);
      assert.deepEqual(await store.history('owner-a', 'c2'), [turn(2)]);
    }));

  it('trims to maxTurns, keeping the newest', () =>
    withStore(async (store) => {
      const limits = { ...LIMITS, maxTurns: 3 };
      let expected: ConversationTurn[] = [];
      for (let n = 1; n <= 5; n++) {
        await store.append('owner-a', 'c1', turn(n), limits);
        expected = trimTurns([...expected, turn(n)], limits);
        assert.deepEqual(await store.history('owner-a', 'c1'), expected, `after turn ${n}`);
      }
      assert.deepEqual(expected, [turn(3), turn(4), turn(5)]);
    }));

  it('trims to maxChars, dropping the oldest, and keeps the newest turn even when it alone is over', () =>
    withStore(async (store) => {
      // Each turn below counts 10 characters (the 🎙 is two UTF-16 units, as String.length counts).
      const ten = (n: number): ConversationTurn => turn(n, `q${n}🎙`, `a${n}xxxx`);
      const limits = { ...LIMITS, maxChars: 20 };
      const sequence = [ten(1), ten(2), ten(3), ten(4), turn(5, 'u'.repeat(40), 'v'.repeat(40)), ten(6)];
      const after: ConversationTurn[][] = [];
      let expected: ConversationTurn[] = [];
      for (const next of sequence) {
        await store.append('owner-a', 'c1', next, limits);
        expected = trimTurns([...expected, next], limits);
        assert.deepEqual(await store.history('owner-a', 'c1'), expected, `after turn at ${next.at}`);
        after.push(expected);
      }
      assert.deepEqual(after[1], [ten(1), ten(2)], 'exactly maxChars still fits');
      assert.deepEqual(after[2], [ten(2), ten(3)]);
      assert.deepEqual(after[4], [sequence[4]]);
      assert.deepEqual(after[5], [ten(6)]);
    }));

  it('forgets a conversation idle for idleMs, and an append restarts the clock', () =>
    withStore(async (store) => {
      const limits = { ...LIMITS, idleMs: 300 };
      await store.append('owner-a', 'idle', turn(1), limits);
      await sleep(500);
      assert.deepEqual(await store.history('owner-a', 'idle'), []);
      await store.append('owner-a', 'idle', turn(2), limits);
      assert.deepEqual(await store.history('owner-a', 'idle'), [turn(2)], 'an append after expiry starts afresh');

      // Wide margins: a slow machine may stretch each wait by up to 400 ms and the turns still stay.
      const kept = { ...LIMITS, idleMs: 1000 };
      const started = Date.now();
      await store.append('owner-a', 'kept', turn(1), kept);
      await sleep(600);
      await store.append('owner-a', 'kept', turn(2), kept);
      await sleep(600);
      const history = await store.history('owner-a', 'kept');
      const elapsed = Date.now() - started;
      assert.ok(elapsed > kept.idleMs, `checked after the first turn's deadline (${elapsed} ms)`);
      assert.deepEqual(history, [turn(1), turn(2)]);
    }));

  it('takes any conversation id (spaces, colons, unicode, 200 characters) without collisions', () =>
    withStore(async (store) => {
      const odd = `a b:c:${'ü🎙 :'.repeat(50)}`.slice(0, 200);
      assert.equal(odd.length, 200);
      await store.append('owner-a', odd, turn(1), LIMITS);
      await store.append('owner-a', 'a b', turn(2), LIMITS);
      await store.append('owner-b', odd, turn(3), LIMITS);
      await store.append('owner-a', `owner-b:${odd}`, turn(4), LIMITS);
      assert.deepEqual(await store.history('owner-a', odd), [turn(1)]);
      assert.deepEqual(await store.history('owner-a', 'a b'), [turn(2)]);
      assert.deepEqual(await store.history('owner-b', odd), [turn(3)]);
      assert.deepEqual(await store.history('owner-a', `owner-b:${odd}`), [turn(4)]);
      assert.deepEqual(await store.history('owner-c', odd), []);
    }));
}
