import { mkdirSync, rmSync } from 'node:fs';
import { dirname } from 'node:path';
import sqlite from 'node-sqlite3-wasm';
import { ChorusError } from '../errors.js';
import { claimDatabase } from '../storage/sqlite-file.js';
import { guardStorage } from '../storage/storage-errors.js';
import type { UserVoiceRecord } from './voice-record.js';
import type { VoiceStore } from './voice-store.js';

type Row = Record<string, number | bigint | string | Uint8Array | null>;

const SCHEMA = `
CREATE TABLE IF NOT EXISTS voices (
  voice_id TEXT PRIMARY KEY,
  owner TEXT NOT NULL,
  name TEXT NOT NULL,
  name_key TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  record TEXT NOT NULL,
  UNIQUE (owner, name_key)
);
`;

/**
 * The embedded voice store: one SQLite file under the data directory, every write committed at once.
 * While the directory cannot be used, calls fail with `storage_unavailable` naming it.
 */
export class SqliteVoiceStore implements VoiceStore {
  readonly #db: InstanceType<typeof sqlite.Database>;
  readonly #path: string;
  readonly #dir: string;

  constructor(path: string) {
    mkdirSync(dirname(path), { recursive: true });
    claimDatabase(path, 'voice database');
    this.#path = path;
    this.#dir = dirname(path);
    this.#db = new sqlite.Database(path);
    this.#db.exec('PRAGMA journal_mode = TRUNCATE; PRAGMA synchronous = NORMAL;');
    this.#db.exec(SCHEMA);
  }

  async insert(voice: UserVoiceRecord): Promise<void> {
    try {
      this.#io(() => this.#db.run('INSERT INTO voices (voice_id, owner, name, name_key, created_at, record) VALUES (?, ?, ?, ?, ?, ?)', [
        voice.voiceId,
        voice.owner,
        voice.name,
        nameKey(voice.name),
        voice.createdAt,
        JSON.stringify(voice),
      ]));
    } catch (error) {
      if (!/UNIQUE/i.test(String(error))) throw error;
      throw new ChorusError({ code: 'conflict', param: 'voice_name', message: `A voice named '${voice.name}' already exists; choose another name or delete it first.` });
    }
  }

  async get(owner: string, voiceId: string): Promise<UserVoiceRecord | undefined> {
    return toRecord(this.#io(() => this.#db.get('SELECT record FROM voices WHERE owner = ? AND voice_id = ?', [owner, voiceId.toLowerCase()]) as Row | null));
  }

  async findByName(owner: string, name: string): Promise<UserVoiceRecord | undefined> {
    return toRecord(this.#io(() => this.#db.get('SELECT record FROM voices WHERE owner = ? AND name_key = ?', [owner, nameKey(name)]) as Row | null));
  }

  async list(owner: string): Promise<UserVoiceRecord[]> {
    const rows = this.#io(() => this.#db.all('SELECT record FROM voices WHERE owner = ? ORDER BY created_at, voice_id', [owner]) as Row[]);
    return rows.map((row) => toRecord(row)!);
  }

  async delete(owner: string, voiceId: string): Promise<boolean> {
    return Number(this.#io(() => this.#db.run('DELETE FROM voices WHERE owner = ? AND voice_id = ?', [owner, voiceId.toLowerCase()])).changes) > 0;
  }

  async idTaken(voiceId: string): Promise<boolean> {
    return this.#io(() => this.#db.get('SELECT 1 AS taken FROM voices WHERE voice_id = ?', [voiceId])) !== null;
  }

  async close(): Promise<void> {
    this.#db.close();
    rmSync(`${this.#path}.owner`, { force: true });
  }

  #io<T>(work: () => T): T {
    return guardStorage(this.#dir, work);
  }
}

function nameKey(name: string): string {
  return name.trim().toLowerCase();
}

function toRecord(row: Row | null | undefined): UserVoiceRecord | undefined {
  if (row === null || row === undefined) return undefined;
  return JSON.parse(row['record'] as string) as UserVoiceRecord;
}
