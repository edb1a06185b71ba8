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
 * A byte stream for the HTTP edge. Cancelling it (client gone) aborts the synthesis through
 * `abort`, which the route wired to the request's AbortController.
 */
export function byteStream<T>(
  rest: AsyncIterator<SpeechPart>,
  render: (part: SpeechPart) => T | undefined,
  abort: () => void,
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
        controller.error(error);
      }
    },
    async cancel() {
      abort();
      await rest.return?.();
    },
  });
}
