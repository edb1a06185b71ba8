import { ChorusError } from '../errors.js';

/** errno codes that mean the disk refuses for now (permissions, read-only mount, full, failing), not a bug. */
const REFUSALS = new Set(['EACCES', 'EPERM', 'EROFS', 'ENOSPC', 'EDQUOT', 'EIO']);
/**
 * What node-sqlite3-wasm reports when a file operation under it fails: its lock is a directory made
 * beside the database, so even a read fails ("disk I/O error") once the directory is read-only.
 */
const SQLITE_REFUSALS = /disk I\/O error|unable to open database file|attempt to write a readonly database|database or disk is full/i;

/** True for failures of the disk itself, which go away when the directory is writable again. */
export function isStorageFailure(error: unknown): boolean {
  const code = (error as NodeJS.ErrnoException | null | undefined)?.code;
  if (typeof code === 'string' && REFUSALS.has(code)) return true;
  return error instanceof Error && error.name === 'SQLite3Error' && SQLITE_REFUSALS.test(error.message);
}

/** The 503 a client gets: which directory, why in a word, and that retrying later is right. Never a stack. */
export function storageUnavailable(dir: string, cause: unknown): ChorusError {
  const code = (cause as NodeJS.ErrnoException | null | undefined)?.code;
  const reason = typeof code === 'string' ? code : cause instanceof Error ? cause.message : 'I/O error';
  return new ChorusError({
    code: 'storage_unavailable',
    retryable: true,
    cause,
    message: `Chorus cannot use its data directory ${dir} (${reason}): it is read-only, full or failing. Nothing was changed; retry once it is writable again.`,
  });
}

/** `error` as `storage_unavailable` naming `dir` when it is a storage failure; anything else unchanged. */
export function asStorageError(dir: string, error: unknown): unknown {
  return isStorageFailure(error) ? storageUnavailable(dir, error) : error;
}

/** Runs synchronous file or database work, turning a storage failure into `storage_unavailable`. */
export function guardStorage<T>(dir: string, work: () => T): T {
  try {
    return work();
  } catch (error) {
    throw asStorageError(dir, error);
  }
}
