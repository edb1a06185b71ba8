import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import type sqlite from 'node-sqlite3-wasm';
import { ChorusError } from '../errors.js';
import { processIsAlive } from '../util/process-alive.js';

/**
 * Takes ownership of an embedded SQLite file for this process. node-sqlite3-wasm locks with a
 * `<file>.lock` directory that a killed process leaves behind; a pid file tells a stale lock (its
 * owner is gone: remove it) from a live one (another process uses the file: refuse).
 */
export function claimDatabase(path: string, what: string): void {
  const ownerFile = `${path}.owner`;
  let owner: number | undefined;
  try {
    owner = Number.parseInt(readFileSync(ownerFile, 'utf8'), 10);
  } catch {
    owner = undefined;
  }
  if (owner !== undefined && Number.isInteger(owner) && owner !== process.pid && processIsAlive(owner)) {
    throw new ChorusError({
      code: 'engine_unavailable',
      message: `Another Chorus process (pid ${owner}) uses the ${what} ${path}; give each process its own CHORUS_DATA_DIR.`,
    });
  }
  rmSync(`${path}.lock`, { recursive: true, force: true });
  writeFileSync(ownerFile, String(process.pid));
}


/**
 * `work` in one write transaction. A BEGIN that failed (the disk refused the lock) leaves nothing to
 * roll back, and a failed ROLLBACK must not hide why the work failed: the first error is thrown.
 */
export function inTransaction(db: InstanceType<typeof sqlite.Database>, work: () => void): void {
  db.exec('BEGIN IMMEDIATE');
  try {
    work();
    db.exec('COMMIT');
  } catch (error) {
    if (db.inTransaction) {
      try {
        db.exec('ROLLBACK');
      } catch {
        // SQLite rolls back by itself when the file can be used again.
      }
    }
    throw error;
  }
}
