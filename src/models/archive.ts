import { once } from 'node:events';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, open, readdir } from 'node:fs/promises';
import { join, posix } from 'node:path';
import { createGunzip } from 'node:zlib';
import tarStream from 'tar-stream';
import { ChorusError } from '../errors.js';
import { bunzip2File } from './bunzip2.js';

export type ArchiveFormat = 'tar.bz2' | 'tar.gz' | 'tar';

/** Told by the first bytes, not the file name: a download's name says nothing reliable. */
export async function archiveFormat(path: string): Promise<ArchiveFormat> {
  const handle = await open(path, 'r');
  try {
    const head = Buffer.alloc(262);
    const { bytesRead } = await handle.read(head, 0, head.length, 0);
    if (bytesRead >= 4 && head.toString('latin1', 0, 3) === 'BZh') return 'tar.bz2';
    if (bytesRead >= 2 && head[0] === 0x1f && head[1] === 0x8b) return 'tar.gz';
    if (bytesRead >= 262 && head.toString('latin1', 257, 262) === 'ustar') return 'tar';
  } finally {
    await handle.close();
  }
  throw new ChorusError({ code: 'invalid_request', param: 'PATH', message: `${path} is not a .tar.bz2, .tar.gz or .tar archive.` });
}

/**
 * Unpacks a tar archive into `destination` (an empty directory), in Node alone. Refuses the whole
 * archive, before anything is used, when an entry would land outside `destination` (absolute paths,
 * `..`) or is a link or device: a model needs only files and directories, and a link is the usual
 * way to make a later entry write through it to somewhere else. `onBytes` gets the unpacked bytes
 * written so far.
 */
export async function extractArchive(path: string, destination: string, options: { signal?: AbortSignal; onBytes?: (bytes: number) => void } = {}): Promise<void> {
  const format = await archiveFormat(path);
  const source: AsyncIterable<Buffer> =
    format === 'tar.bz2' ? bunzip2File(path, options.signal) : format === 'tar.gz' ? createReadStream(path).pipe(createGunzip()) : createReadStream(path);
  const extract = tarStream.extract();
  // Stops the feeding when an entry is refused: a destroyed extractor never drains again.
  const stopFeeding = new AbortController();
  const feeding = (async () => {
    try {
      for await (const chunk of source) {
        if (stopFeeding.signal.aborted) return;
        if (!extract.write(chunk)) await once(extract, 'drain', { signal: stopFeeding.signal });
      }
      extract.end();
    } catch (error) {
      if (!stopFeeding.signal.aborted) extract.destroy(error as Error);
    }
  })();
  let written = 0;
  try {
    for await (const entry of extract) {
      options.signal?.throwIfAborted();
      const target = join(destination, safeEntryPath(entry.header.name, path));
      switch (entry.header.type) {
        case 'directory':
          await mkdir(target, { recursive: true });
          entry.resume();
          break;
        case 'file':
        case 'contiguous-file': {
          await mkdir(join(target, '..'), { recursive: true });
          await writeEntry(entry, target, (bytes) => {
            written += bytes;
            options.onBytes?.(written);
          });
          break;
        }
        default:
          throw unsafe(path, `entry '${entry.header.name}' is a ${entry.header.type ?? 'special file'}; only files and directories are accepted`);
      }
    }
  } catch (error) {
    stopFeeding.abort();
    extract.destroy();
    await feeding;
    throw error;
  }
  await feeding;
}

async function writeEntry(entry: AsyncIterable<Buffer>, target: string, onBytes: (bytes: number) => void): Promise<void> {
  const file = createWriteStream(target, { mode: 0o644 });
  try {
    for await (const chunk of entry) {
      onBytes(chunk.length);
      if (!file.write(chunk)) await once(file, 'drain');
    }
  } finally {
    await new Promise<void>((resolve, reject) => file.end((error?: Error | null) => (error ? reject(error) : resolve())));
  }
}

function safeEntryPath(name: string, archive: string): string {
  if (name.includes('\0') || name.includes('\\')) throw unsafe(archive, `entry '${name}' has a NUL or backslash in its name`);
  if (name.startsWith('/')) throw unsafe(archive, `entry '${name}' has an absolute path`);
  const normalized = posix.normalize(name);
  if (normalized === '..' || normalized.startsWith('../') || name.split('/').includes('..')) {
    throw unsafe(archive, `entry '${name}' would land outside the model directory`);
  }
  return normalized;
}

function unsafe(archive: string, reason: string): ChorusError {
  return new ChorusError({ code: 'invalid_request', param: 'PATH', detail: 'unsafe_archive', message: `Refused the archive ${archive}: ${reason}. Nothing was installed.` });
}

/**
 * The directory holding the model: `directory` itself, or its only entry when that is a directory
 * (sherpa-onnx tarballs unpack to `<name>/`).
 */
export async function modelRoot(directory: string): Promise<{ root: string; topName: string | undefined }> {
  const entries = (await readdir(directory, { withFileTypes: true })).filter((entry) => entry.name !== '.DS_Store');
  if (entries.length === 1 && entries[0]!.isDirectory()) return { root: join(directory, entries[0]!.name), topName: entries[0]!.name };
  return { root: directory, topName: undefined };
}
