import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import sqlite from 'node-sqlite3-wasm';
import { conversationStoreConformance, turn } from './conversation-store.case.js';
import { SqliteConversationStore } from './sqlite-conversation-store.js';

describe('SqliteConversationStore', () => {
  const dirs: string[] = [];
  after(() => dirs.forEach((dir) => rmSync(dir, { recursive: true, force: true })));
  const fresh = (): string => {
    const dir = mkdtempSync(join(tmpdir(), 'chorus-conversations-'));
    dirs.push(dir);
    return join(dir, 'conversations.sqlite');
  };
  const limits = { maxTurns: 10, maxChars: 10_000, idleMs: 1000 };

  conversationStoreConformance(async () => new SqliteConversationStore(fresh()));

  it('keeps conversations across a reopen (a restart does not forget them)', async () => {
    const path = fresh();
    const first = new SqliteConversationStore(path);
    await first.append('owner-a', 'c1', turn(1), { ...limits, idleMs: 60_000 });
    await first.close();
    const second = new SqliteConversationStore(path);
    try {
      assert.deepEqual(await second.history('owner-a', 'c1'), [turn(1)]);
    } finally {
      await second.close();
    }
  });

  it('deletes expired rows on a later append, so the file does not grow forever', async () => {
    const path = fresh();
    let clock = 1_000_000;
    const store = new SqliteConversationStore(path, { now: () => clock });
    await store.append('owner-a', 'old', turn(1), limits);
    await store.append('owner-a', 'alive', turn(2), { ...limits, idleMs: 5000 });
    clock += limits.idleMs;
    assert.deepEqual(await store.history('owner-a', 'old'), [], 'expired at exactly idleMs');
    assert.deepEqual(await store.history('owner-a', 'alive'), [turn(2)]);
    await store.append('owner-b', 'new', turn(3), limits);
    await store.close();

    const db = new sqlite.Database(path);
    try {
      const rows = db.all('SELECT owner, conversation_id FROM conversations ORDER BY conversation_id') as { owner: string; conversation_id: string }[];
      assert.deepEqual(rows.map((row) => `${row.owner}/${row.conversation_id}`), ['owner-a/alive', 'owner-b/new']);
    } finally {
      db.close();
    }
  });
});
