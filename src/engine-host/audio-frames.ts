/**
 * The engine host's generation replies travel on their own pipe (the child's fd 4) as binary
 * frames, not over Node IPC: IPC serialises each Float32Array through V8 and a JSON-framed channel,
 * about 8 ms per megabyte of audio here, where a raw pipe moves the bytes as they are. All replies
 * of a generation share the pipe, so `done` can never overtake the last chunk.
 *
 * Frame: kind (u8), request id (u32), payload length (u32), payload; little-endian.
 */

export const AUDIO_FD = 4;

const HEADER_BYTES = 9;

export type AudioFrame =
  | { readonly kind: 'chunk'; readonly requestId: number; readonly samples: Float32Array }
  | { readonly kind: 'done'; readonly requestId: number }
  | { readonly kind: 'failed'; readonly requestId: number; readonly message: string };

const KIND_CODES = { chunk: 1, done: 2, failed: 3 } as const;

export function encodeAudioFrame(frame: AudioFrame): Buffer {
  const payload =
    frame.kind === 'chunk'
      ? Buffer.from(frame.samples.buffer, frame.samples.byteOffset, frame.samples.byteLength)
      : frame.kind === 'failed'
        ? Buffer.from(frame.message, 'utf8')
        : Buffer.alloc(0);
  const header = Buffer.allocUnsafe(HEADER_BYTES);
  header.writeUInt8(KIND_CODES[frame.kind], 0);
  header.writeUInt32LE(frame.requestId, 1);
  header.writeUInt32LE(payload.length, 5);
  return Buffer.concat([header, payload]);
}

/** Reassembles frames from a byte stream cut anywhere. */
export class AudioFrameReader {
  #pending: Buffer[] = [];
  #pendingBytes = 0;

  /** The frames completed by `bytes`, in order. */
  push(bytes: Buffer): AudioFrame[] {
    this.#pending.push(bytes);
    this.#pendingBytes += bytes.length;
    const frames: AudioFrame[] = [];
    while (this.#pendingBytes >= HEADER_BYTES) {
      const head = this.#peek(HEADER_BYTES);
      const length = head.readUInt32LE(5);
      if (this.#pendingBytes < HEADER_BYTES + length) break;
      const frame = this.#take(HEADER_BYTES + length);
      const kind = frame.readUInt8(0);
      const requestId = frame.readUInt32LE(1);
      const payload = frame.subarray(HEADER_BYTES);
      if (kind === KIND_CODES.chunk) {
        // A copy on a fresh buffer: aligned for Float32Array, and transferable to the worker threads.
        const samples = new Float32Array(payload.length / 4);
        new Uint8Array(samples.buffer).set(payload);
        frames.push({ kind: 'chunk', requestId, samples });
      } else if (kind === KIND_CODES.done) frames.push({ kind: 'done', requestId });
      else frames.push({ kind: 'failed', requestId, message: payload.toString('utf8') });
    }
    return frames;
  }

  #peek(bytes: number): Buffer {
    if (this.#pending[0]!.length < bytes) this.#pending = [Buffer.concat(this.#pending)];
    return this.#pending[0]!;
  }

  #take(bytes: number): Buffer {
    if (this.#pending[0]!.length < bytes) this.#pending = [Buffer.concat(this.#pending)];
    const first = this.#pending[0]!;
    if (first.length > bytes) this.#pending[0] = first.subarray(bytes);
    else this.#pending.shift();
    this.#pendingBytes -= bytes;
    return first.subarray(0, bytes);
  }
}
