import type { Writable } from 'node:stream';
import type { Context } from 'hono';
import type { SpeechPart } from '../pipeline/speech-request.js';
import { ChorusError } from '../errors.js';

type StartPart = Extract<SpeechPart, { type: 'start' }>;

/**
 * Pulls the first part so that a request that fails before any audio exists still gets a proper
 * error status; later failures can only end the stream.
 */
export async function openSpeechStream(parts: AsyncIterable<SpeechPart>): Promise<{ start: StartPart; rest: AsyncIterator<SpeechPart> }> {
  const iterator = parts[Symbol.asyncIterator]();
  const first = await iterator.next();
  if (first.done || first.value.type !== 'start') {
    throw new ChorusError({ code: 'engine_failed', message: 'The engine produced no audio stream.' });
  }
  return { start: first.value, rest: iterator };
}

export function audioHeaders(start: StartPart, engineId: string): Record<string, string> {
  const headers: Record<string, string> = {
    'content-type': start.mimeType,
    'x-sample-rate': String(start.decodedSampleRate),
    'x-chorus-engine': engineId,
  };
  if (start.warnings.length > 0) {
    // Header values must be ASCII on one line.
    headers['x-chorus-warnings'] = start.warnings.map((w) => `${w.setting}: ${w.message}`).join(' | ').replace(/[^\x20-\x7e]/g, '?');
  }
  return headers;
}

/**
 * How a streamed answer reports a failure after its 200 and headers have left. A format with room
 * for it (SSE, NDJSON) ends with a last message saying what went wrong; a bare audio body cannot
 * carry one, so its connection is cut before the body is finished, which every HTTP client reports
 * as an incomplete body (never a clean end, and never error text appended to the audio).
 */
export interface LateFailure<T> {
  /** The last chunk, naming the error; absent when the body has no place for it. */
  readonly render?: (error: ChorusError) => T;
  /** Sees every late failure (the route logs it). */
  readonly report: (error: unknown) => void;
  /** Ends the connection without finishing the body; false when there is none to cut (in-process requests). */
  readonly cut: () => boolean;
}

/**
 * A byte stream for the HTTP edge. Cancelling it (client gone) aborts the synthesis through
 * `abort`, which the route wired to the request's AbortController.
 */
export function byteStream<T>(
  rest: AsyncIterator<SpeechPart>,
  render: (part: SpeechPart) => T | undefined,
  abort: () => void,
  late: LateFailure<T>,
): ReadableStream<T> {
  return new ReadableStream<T>({
    async pull(controller) {
      try {
        for (;;) {
          const next = await rest.next();
          if (next.done) {
            controller.close();
            return;
          }
          const chunk = render(next.value);
          if (chunk !== undefined) {
            controller.enqueue(chunk);
            return;
          }
        }
      } catch (error) {
        late.report(error);
        if (late.render !== undefined) {
          controller.enqueue(late.render(asChorusError(error)));
          controller.close();
        } else if (late.cut()) {
          controller.close();
        } else {
          controller.error(error);
        }
      }
    },
    async cancel() {
      abort();
      await rest.return?.();
    },
  });
}

function asChorusError(error: unknown): ChorusError {
  return ChorusError.isInstance(error) ? error : new ChorusError({ code: 'internal', message: 'Internal server error.', cause: error });
}

/**
 * Node's response object, when the app runs on Node's HTTP server (not in `app.request()`). Its
 * `writableLength` counts what it holds back itself (Node 22+ gathers chunked writes) and what its
 * socket has not sent yet.
 */
export function nodeResponseOf(c: Context): Writable | undefined {
  return (c.env as { outgoing?: Writable } | undefined)?.outgoing;
}

/** Cuts the request's connection mid-body (see LateFailure); false without one. */
export function cutConnection(c: Context): boolean {
  const response = nodeResponseOf(c);
  if (response === undefined || response.destroyed) return false;
  // The stream writer's next write or end then fails on a destroyed response; that is expected.
  response.on('error', () => undefined);
  response.destroy();
  return true;
}
