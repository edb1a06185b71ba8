import { openSync, readSync, closeSync } from 'node:fs';
import Bunzip from 'seek-bzip';

/** One bzip2 block decodes to at most 900 kB before run-length expansion; most are about that. */
const INITIAL_BLOCK_BUFFER = 1 << 20;
const READ_SIZE = 1 << 20;

/**
 * The decompressed bytes of a `.bz2` file, one bzip2 block at a time. seek-bzip decodes
 * synchronously, so decoding block by block and yielding between blocks keeps the event loop
 * (progress output, Ctrl-C) alive and lets the consumer apply backpressure. Pure JavaScript: no
 * system `bzip2` or `tar` is needed anywhere Chorus runs. Concatenated streams (pbzip2) are read
 * in turn; bytes after the last complete stream that are not another stream are ignored.
 */
export async function* bunzip2File(path: string, signal?: AbortSignal): AsyncGenerator<Buffer> {
  const input = new FileBytes(path);
  const output = new GrowableBytes();
  try {
    let bunzip = new Bunzip(input, output);
    for (;;) {
      signal?.throwIfAborted();
      if (bunzip._init_block()) {
        bunzip._read_bunzip();
        yield output.take();
        continue;
      }
      const streamCrc = bunzip.reader.read(32) >>> 0;
      if (streamCrc !== bunzip.streamCRC >>> 0) throw new Error('bzip2 data is corrupt (stream checksum mismatch)');
      if (input.eof() || !input.startsAnotherStream()) return;
      bunzip = new Bunzip(input, output);
    }
  } catch (error) {
    if (signal?.aborted) throw error;
    throw new Error(`Cannot decompress ${path}: ${(error as Error).message}`, { cause: error });
  } finally {
    input.close();
  }
}

class FileBytes {
  private readonly fd: number;
  private readonly buffer = Buffer.allocUnsafe(READ_SIZE);
  private length = 0;
  private position = 0;
  private ended = false;

  constructor(path: string) {
    this.fd = openSync(path, 'r');
  }

  readByte(): number {
    if (this.position >= this.length && !this.fill()) throw new Error('bzip2 data ends early (the file is truncated)');
    return this.buffer[this.position++]!;
  }

  read(target: Uint8Array, offset: number, length: number): number {
    for (let i = 0; i < length; i++) target[offset + i] = this.readByte();
    return length;
  }

  eof(): boolean {
    return this.position >= this.length && !this.fill();
  }

  /** `BZh` + a level digit next, without consuming it. */
  startsAnotherStream(): boolean {
    if (this.length - this.position < 4) {
      this.buffer.copy(this.buffer, 0, this.position, this.length);
      this.length -= this.position;
      this.position = 0;
      while (this.length < 4 && !this.ended) this.fillMore();
    }
    const head = this.buffer.subarray(this.position, this.position + 4);
    return head.length === 4 && head.toString('latin1', 0, 3) === 'BZh' && head[3]! >= 0x31 && head[3]! <= 0x39;
  }

  close(): void {
    closeSync(this.fd);
  }

  private fill(): boolean {
    this.position = 0;
    this.length = 0;
    if (this.ended) return false;
    this.fillMore();
    return this.length > 0;
  }

  private fillMore(): void {
    const read = readSync(this.fd, this.buffer, this.length, this.buffer.length - this.length, null);
    if (read === 0) this.ended = true;
    this.length += read;
  }
}

class GrowableBytes {
  private buffer = Buffer.allocUnsafe(INITIAL_BLOCK_BUFFER);
  private length = 0;

  writeByte(byte: number): void {
    if (this.length === this.buffer.length) {
      const larger = Buffer.allocUnsafe(this.buffer.length * 2);
      this.buffer.copy(larger, 0, 0, this.length);
      this.buffer = larger;
    }
    this.buffer[this.length++] = byte;
  }

  /** The block just decoded, as its own buffer (the consumer may hold it while the next is decoded). */
  take(): Buffer {
    const block = Buffer.from(this.buffer.subarray(0, this.length));
    this.length = 0;
    return block;
  }
}
