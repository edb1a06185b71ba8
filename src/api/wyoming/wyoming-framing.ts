import { ChorusError } from '../../errors.js';
import { MAX_JSON_DEPTH, jsonDepthExceeds } from '../../validation/validation.js';

/**
 * The Wyoming wire format (OHF-Voice/wyoming `event.py`): a JSON header line
 * `{"type", "data"?, "data_length"?, "payload_length"?, "version"}` ending in `\n`, then exactly
 * `data_length` bytes of JSON merged over the header's `data`, then exactly `payload_length` bytes of
 * payload (PCM).
 */
export interface WyomingEvent {
  readonly type: string;
  readonly data: Readonly<Record<string, unknown>>;
  readonly payload?: Uint8Array;
}

/** The wyoming package version whose events Chorus speaks; peers read it but do not check it. */
export const WYOMING_VERSION = '1.8.0';

export interface FrameLimits {
  /** Longest header line, bytes. */
  readonly maxHeaderBytes: number;
  /** Largest data block, bytes. */
  readonly maxDataBytes: number;
  /** Largest payload, bytes. */
  readonly maxPayloadBytes: number;
}

const NEWLINE = 0x0a;
const MAX_TYPE_CHARS = 128;

export function encodeEvent(type: string, data?: Readonly<Record<string, unknown>>, payload?: Uint8Array): Buffer {
  const header: Record<string, unknown> = { type, version: WYOMING_VERSION };
  // As the reference writer does: data goes in its own block when there is any, so the header stays one short line.
  const dataBytes = data !== undefined && Object.keys(data).length > 0 ? Buffer.from(JSON.stringify(data), 'utf8') : undefined;
  if (dataBytes !== undefined) header['data_length'] = dataBytes.byteLength;
  if (payload !== undefined && payload.byteLength > 0) header['payload_length'] = payload.byteLength;
  const parts: Uint8Array[] = [Buffer.from(`${JSON.stringify(header)}\n`, 'utf8')];
  if (dataBytes !== undefined) parts.push(dataBytes);
  if (payload !== undefined && payload.byteLength > 0) parts.push(payload);
  return Buffer.concat(parts);
}

/**
 * What a connection's bytes became: an event, or a bad event the stream survived (its lengths were
 * sound, only its data was not), which the connection answers with an `error` and goes on.
 */
export type ReadItem = { readonly event: WyomingEvent } | { readonly rejected: ChorusError };

/**
 * Thrown when the stream cannot be read on: a header that is not JSON or not an event, or a length
 * beyond the limits. The byte count of what follows is then unknown, so the connection must end.
 */
export class FramingError extends ChorusError {}

interface PendingEvent {
  readonly type: string;
  readonly data: Record<string, unknown>;
  readonly dataLength: number;
  readonly payloadLength: number;
}

/** Turns a connection's bytes, however they are split, into events, within `limits`. */
export class EventReader {
  readonly #limits: FrameLimits;
  #buffered: Buffer[] = [];
  #bufferedBytes = 0;
  #pending: PendingEvent | undefined;

  constructor(limits: FrameLimits) {
    this.#limits = limits;
  }

  /** Every event `chunk` completes; throws FramingError when the stream is beyond repair. */
  push(chunk: Buffer): ReadItem[] {
    this.#buffered.push(chunk);
    this.#bufferedBytes += chunk.byteLength;
    const items: ReadItem[] = [];
    for (;;) {
      if (this.#pending === undefined) {
        const line = this.#takeLine();
        if (line === undefined) break;
        if (line.trim() === '') continue;
        this.#pending = this.#header(line);
      }
      const { dataLength, payloadLength } = this.#pending;
      if (this.#bufferedBytes < dataLength + payloadLength) break;
      const bytes = this.#take(dataLength + payloadLength);
      const pending = this.#pending;
      this.#pending = undefined;
      items.push(this.#complete(pending, bytes.subarray(0, dataLength), bytes.subarray(dataLength)));
    }
    return items;
  }

  #takeLine(): string | undefined {
    const joined = this.#joined();
    const end = joined.indexOf(NEWLINE);
    if (end === -1) {
      if (joined.byteLength > this.#limits.maxHeaderBytes) {
        throw framing(`The event header line exceeds ${this.#limits.maxHeaderBytes} bytes without a newline.`, 'payload_too_large');
      }
      return undefined;
    }
    if (end > this.#limits.maxHeaderBytes) throw framing(`The event header line exceeds ${this.#limits.maxHeaderBytes} bytes.`, 'payload_too_large');
    this.#take(end + 1);
    return joined.subarray(0, end).toString('utf8');
  }

  #header(line: string): PendingEvent {
    const header = parseObject(line);
    if (header === undefined) throw framing('The event header is not a JSON object: each event starts with one line of JSON such as {"type": "describe"}.');
    const type = header['type'];
    if (typeof type !== 'string' || type === '' || type.length > MAX_TYPE_CHARS) {
      throw framing(`The event header needs 'type': a string of 1 to ${MAX_TYPE_CHARS} characters.`);
    }
    const inline = header['data'];
    if (inline !== undefined && inline !== null && (typeof inline !== 'object' || Array.isArray(inline))) {
      throw framing(`The header's 'data' must be a JSON object.`);
    }
    return {
      type,
      data: { ...((inline ?? {}) as Record<string, unknown>) },
      dataLength: length(header, 'data_length', this.#limits.maxDataBytes),
      payloadLength: length(header, 'payload_length', this.#limits.maxPayloadBytes),
    };
  }

  #complete(pending: PendingEvent, dataBytes: Buffer, payload: Buffer): ReadItem {
    let data = pending.data;
    if (dataBytes.byteLength > 0) {
      const block = parseObject(dataBytes.toString('utf8'));
      if (block === undefined) {
        return { rejected: new ChorusError({ code: 'invalid_request', param: 'data', message: `The data block of the '${pending.type}' event is not a JSON object.` }) };
      }
      data = { ...data, ...block };
    }
    return { event: { type: pending.type, data, ...(payload.byteLength > 0 ? { payload: new Uint8Array(payload) } : {}) } };
  }

  #joined(): Buffer {
    if (this.#buffered.length > 1) this.#buffered = [Buffer.concat(this.#buffered)];
    return this.#buffered[0] ?? Buffer.alloc(0);
  }

  #take(bytes: number): Buffer {
    const joined = this.#joined();
    const taken = joined.subarray(0, bytes);
    const rest = joined.subarray(bytes);
    this.#buffered = rest.byteLength > 0 ? [rest] : [];
    this.#bufferedBytes = rest.byteLength;
    return taken;
  }
}

function framing(message: string, code: 'invalid_request' | 'payload_too_large' = 'invalid_request'): FramingError {
  return new FramingError({ code, message });
}

/** A JSON object, or undefined for anything else (malformed, an array, nested past MAX_JSON_DEPTH). */
function parseObject(text: string): Record<string, unknown> | undefined {
  if (jsonDepthExceeds(text, MAX_JSON_DEPTH)) return undefined;
  try {
    const value: unknown = JSON.parse(text);
    return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

function length(header: Record<string, unknown>, field: 'data_length' | 'payload_length', max: number): number {
  const value = header[field];
  if (value === undefined || value === null) return 0;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 0) throw framing(`'${field}' must be a whole number of bytes, 0 or more.`);
  if (value > max) throw framing(`'${field}' is ${value} bytes; at most ${max} are accepted.`, 'payload_too_large');
  return value;
}
