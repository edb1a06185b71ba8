import { createReadStream, mkdirSync, readdirSync, rmSync } from 'node:fs';
import { rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { JsonBytes } from './job.js';

/** A job's output as the JSON it is stored as: serialised here, once, when it is written. */
export function encodeOutput(value: unknown): Uint8Array {
  return Buffer.from(JSON.stringify(value ?? null), 'utf8');
}

/** JSON bytes held in memory (a small output, or one read from Redis). */
export function jsonInMemory(bytes: Uint8Array): JsonBytes {
  return {
    byteLength: bytes.byteLength,
    async *chunks() {
      yield bytes;
    },
  };
}

/** All the bytes in one buffer. */
export async function readJsonBytes(json: JsonBytes): Promise<Buffer> {
  const pieces: Uint8Array[] = [];
  for await (const piece of json.chunks()) pieces.push(piece);
  return Buffer.concat(pieces, json.byteLength);
}

/** The value, for the few readers that need it (the chat agent's summary, tests); answers splice the bytes instead. */
export async function parseOutput(output: JsonBytes | undefined): Promise<unknown> {
  if (output === undefined) return undefined;
  return JSON.parse((await readJsonBytes(output)).toString('utf8')) as unknown;
}

/** Pieces of a big output file read at once; fewer, larger reads cost the event loop less. */
const FILE_READ_BYTES = 1024 * 1024;

/**
 * Outputs of the embedded queue too big to keep in its database: node-sqlite3-wasm reads and writes
 * a value in one synchronous call, which for tens of MB holds the event loop for a second. A file
 * is written and read asynchronously and streamed to the client piece by piece. One file per job,
 * named by its id; the database row says the output is here and how long it is.
 */
export class OutputFiles {
  readonly #dir: string;

  constructor(dir: string) {
    this.#dir = dir;
    mkdirSync(dir, { recursive: true });
  }

  /** Written whole under a temporary name first, so a reader never sees half a file. */
  async write(jobId: string, bytes: Uint8Array): Promise<void> {
    const path = this.#path(jobId);
    await writeFile(`${path}.partial`, bytes);
    await rename(`${path}.partial`, path);
  }

  /**
   * The file as JSON bytes. It is opened only when read, and closed when the reading ends or is
   * abandoned. A file removed meanwhile (its job expired or was retried) ends the read with an error.
   */
  output(jobId: string, byteLength: number): JsonBytes {
    const path = this.#path(jobId);
    return {
      byteLength,
      async *chunks() {
        yield* createReadStream(path, { highWaterMark: FILE_READ_BYTES });
      },
    };
  }

  async remove(jobId: string): Promise<void> {
    await rm(this.#path(jobId), { force: true });
  }

  /** Removes every file but those of `keep` (after a crash: files whose job never recorded them, or is gone). */
  removeAllBut(keep: ReadonlySet<string>): void {
    for (const name of readdirSync(this.#dir)) {
      if (!keep.has(name.replace(/\.json$/, ''))) rmSync(join(this.#dir, name), { force: true });
    }
  }

  #path(jobId: string): string {
    return join(this.#dir, `${jobId}.json`);
  }
}
