import { mkdirSync, rmSync } from 'node:fs';
import { dirname } from 'node:path';
import sqlite from 'node-sqlite3-wasm';
import { claimDatabase, inTransaction } from '../storage/sqlite-file.js';
import { guardStorage } from '../storage/storage-errors.js';
import { trimTurns, type ConversationLimits, type ConversationStore, type ConversationTurn } from './conversation-store.js';

type Row = Record<string, number | bigint | string | Uint8Array | null>;

const SCHEMA = `
CREATE TABLE IF NOT EXISTS conversations (
  owner TEXT NOT NULL,
  conversation_id TEXT NOT NULL,
  turns TEXT NOT NULL,
  expires_at INTEGER NOT NULL,
  PRIMARY KEY (owner, conversation_id)
);
CREATE INDEX IF NOT EXISTS conversations_expiry ON conversations (expires_at);
`;

/**
 * The embedded conversation store: one SQLite file under the data directory, one row per
 * conversation holding its turns as JSON. Nothing sweeps in the background; each append deletes the
 * rows that expired, so the file stays as large as the live conversations.
 */
export class SqliteConversationStore implements ConversationStore {
  readonly #db: InstanceType<typeof sqlite.Database>;
  readonly #path: string;
  readonly #dir: string;
  readonly #now: () => number;

  constructor(path: string, options: { now?: () => number } = {}) {
    mkdirSync(dirname(path), { recursive: true });
    claimDatabase(path, 'conversation database');
    this.#path = path;
    this.#dir = dirname(path);
    this.#now = options.now ?? Date.now;
    this.#db = new sqlite.Database(path);
    this.#db.exec('PRAGMA journal_mode = TRUNCATE; PRAGMA synchronous = NORMAL;');
    this.#db.exec(SCHEMA);
  }

  async history(owner: string, conversationId: string): Promise<ConversationTurn[]> {
    const row = guardStorage(this.#dir, () => this.#db.get('SELECT turns FROM conversations WHERE owner = ? AND conversation_id = ? AND expires_at > ?', [owner, conversationId, this.#now()]) as Row | null);
    return row === null ? [] : (JSON.parse(row['turns'] as string) as ConversationTurn[]);
  }

  async append(owner: string, conversationId: string, turn: ConversationTurn, limits: ConversationLimits): Promise<void> {
    const now = this.#now();
    guardStorage(this.#dir, () => inTransaction(this.#db, () => {
      // Expired rows go first, so the read below never revives an expired conversation.
      this.#db.run('DELETE FROM conversations WHERE expires_at <= ?', [now]);
      const row = this.#db.get('SELECT turns FROM conversations WHERE owner = ? AND conversation_id = ?', [owner, conversationId]) as Row | null;
      const turns = row === null ? [] : (JSON.parse(row['turns'] as string) as ConversationTurn[]);
      // Only the interface's fields are kept, whatever else the caller's object carries.
      turns.push({ user: turn.user, assistant: turn.assistant, at: turn.at });
      this.#db.run('INSERT OR REPLACE INTO conversations (owner, conversation_id, turns, expires_at) VALUES (?, ?, ?, ?)', [
        owner,
        conversationId,
        JSON.stringify(trimTurns(turns, limits)),
        now + limits.idleMs,
      ]);
    }));
  }

  async close(): Promise<void> {
    this.#db.close();
    rmSync(`${this.#path}.owner`, { force: true });
  }
}
