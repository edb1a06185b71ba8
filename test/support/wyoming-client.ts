import { connect, type Socket } from 'node:net';
import { wavHeader } from '../../src/audio/encoders/wav-encoder.js';

/**
 * A Wyoming client written from the protocol's description (OHF-Voice/wyoming README and
 * `event.py`), not from Chorus's server: one JSON header line with `type`, `data_length` and
 * `payload_length`, then that many bytes of data JSON, then that many bytes of payload.
 */
export interface ClientEvent {
  readonly type: string;
  readonly data: Record<string, unknown>;
  readonly payload: Buffer;
  /** The header line as received, to check its fields. */
  readonly header: Record<string, unknown>;
}

export class WyomingClient {
  readonly socket: Socket;
  #buffer = Buffer.alloc(0);
  #events: ClientEvent[] = [];
  #waiter: (() => void) | undefined;
  #closed = false;

  private constructor(socket: Socket) {
    this.socket = socket;
    socket.on('data', (chunk: Buffer) => {
      this.#buffer = Buffer.concat([this.#buffer, chunk]);
      this.#parse();
      this.#wake();
    });
    socket.on('close', () => {
      this.#closed = true;
      this.#wake();
    });
    socket.on('error', () => undefined);
  }

  static connect(port: number, host = '127.0.0.1'): Promise<WyomingClient> {
    return new Promise((resolve, reject) => {
      const socket = connect({ port, host }, () => resolve(new WyomingClient(socket)));
      socket.once('error', reject);
    });
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** Writes an event the way wyoming's `write_event` does: data in its own block. */
  send(type: string, data?: Record<string, unknown>, payload?: Buffer): void {
    const header: Record<string, unknown> = { type, version: '1.5.3' };
    const dataBytes = data === undefined ? undefined : Buffer.from(JSON.stringify(data), 'utf8');
    if (dataBytes !== undefined) header['data_length'] = dataBytes.length;
    if (payload !== undefined) header['payload_length'] = payload.length;
    this.socket.write(Buffer.concat([Buffer.from(JSON.stringify(header) + '\n'), dataBytes ?? Buffer.alloc(0), payload ?? Buffer.alloc(0)]));
  }

  sendRaw(bytes: string | Buffer): void {
    this.socket.write(bytes);
  }

  /** The next event; fails if the connection closes or nothing comes within `timeoutMs`. */
  async next(timeoutMs = 30_000): Promise<ClientEvent> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const event = this.#events.shift();
      if (event !== undefined) return event;
      if (this.#closed) throw new Error('connection closed before the next event');
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`no event within ${timeoutMs} ms`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.#waiter = () => {
          clearTimeout(timer);
          resolve();
        };
      });
    }
  }

  /** Events up to and including the first of type `last`. */
  async until(last: string, timeoutMs = 60_000): Promise<ClientEvent[]> {
    const events: ClientEvent[] = [];
    for (;;) {
      const event = await this.next(timeoutMs);
      events.push(event);
      if (event.type === last) return events;
    }
  }

  /** Resolves once the server has closed the connection. */
  async waitClosed(timeoutMs = 10_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!this.#closed) {
      if (Date.now() > deadline) throw new Error('the server did not close the connection');
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  }

  close(): void {
    this.socket.destroy();
  }

  #wake(): void {
    const waiter = this.#waiter;
    this.#waiter = undefined;
    waiter?.();
  }

  #parse(): void {
    for (;;) {
      const newline = this.#buffer.indexOf(0x0a);
      if (newline === -1) return;
      const header = JSON.parse(this.#buffer.subarray(0, newline).toString('utf8')) as Record<string, unknown>;
      const dataLength = typeof header['data_length'] === 'number' ? header['data_length'] : 0;
      const payloadLength = typeof header['payload_length'] === 'number' ? header['payload_length'] : 0;
      if (this.#buffer.length < newline + 1 + dataLength + payloadLength) return;
      const dataStart = newline + 1;
      const data = {
        ...((header['data'] as Record<string, unknown> | undefined) ?? {}),
        ...(dataLength > 0 ? (JSON.parse(this.#buffer.subarray(dataStart, dataStart + dataLength).toString('utf8')) as Record<string, unknown>) : {}),
      };
      const payload = Buffer.from(this.#buffer.subarray(dataStart + dataLength, dataStart + dataLength + payloadLength));
      this.#buffer = this.#buffer.subarray(dataStart + dataLength + payloadLength);
      this.#events.push({ type: String(header['type']), data, payload, header });
    }
  }
}

/** A 16-bit mono WAV around raw PCM, as a Wyoming client saves what it heard. */
export function wavOf(pcm: Buffer, rate: number): Buffer {
  return Buffer.concat([wavHeader(rate, pcm.length), pcm]);
}
