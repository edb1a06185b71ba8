import type { Writable } from 'node:stream';
import type { Context } from 'hono';
import type { JobService } from '../../jobs/job-service.js';
import { isTerminal, type JobRecord } from '../../jobs/job.js';
import { jsonInMemory, parseOutput } from '../../jobs/job-output.js';
import { jsonBytesResponse, withOutput } from './job-view.js';
import { toAgentError } from './runpod-errors.js';
import { logServerError, type Logger } from '../../util/logger.js';
import { nodeResponseOf } from '../audio-response.js';

/**
 * `/run` for profiles whose document answers it with the result (the Fish Speech agent): the job
 * is queued like any other (so /status, /stream and /cancel see it), and the request waits for it.
 * Success is `{"id", "status": "success", "output"}`, failure `{"id", "status": "error", "error"}`.
 * A client that hangs up cancels the job: nobody else asked for it.
 *
 * Streamed (`stream`), the body is newline-delimited JSON, one message per HTTP chunk: each /stream
 * element as `{"id", "status": "success", "output": element}`, then `{"id", "status": "success",
 * "done": true, "output": summary}` (the final output without the text already streamed), or an
 * error message. The document's own readers parse every network read as one message, which holds
 * only while each message arrives whole and alone. So a long float array is sent as several
 * messages of WIRE_SAMPLES samples (well under one 64 KiB socket read), and messages leave apart:
 * at least MESSAGE_GAP_MS, and audio at most AUDIO_PACE times faster than it plays, time for a
 * reader that shares its machine with the engines to take each message before the next lands.
 * Audio still arrives well ahead of playback. Robust clients split on newlines and need neither.
 */

const WIRE_SAMPLES = 4096;
const MESSAGE_GAP_MS = 20;
const AUDIO_PACE = 4;
/** Beyond the job's own execution timeout, how long `/run` waits before answering with what there is. */
const WAIT_MARGIN_MS = 10_000;
const STREAM_POLL_MS = 30_000;
const NULL_JSON = jsonInMemory(Buffer.from('null'));

interface RunAnswerRequest {
  readonly jobs: JobService;
  readonly endpointId: string;
  readonly owner: string;
  readonly body: () => Promise<unknown>;
  readonly logger: Logger;
}

export async function answerRun(c: Context, { jobs, endpointId, owner, body, logger }: RunAnswerRequest): Promise<Response> {
  let job: JobRecord;
  try {
    const submitted = await jobs.submit(endpointId, owner, await body(), false);
    // The document answers bad parameters with an HTTP error; the FAILED job it made is named.
    if (submitted.refusal !== undefined) return errorResponse(c, logger, submitted.refusal, submitted.job.id);
    job = submitted.job;
  } catch (error) {
    return errorResponse(c, logger, error, null);
  }
  const signal = c.req.raw.signal;
  const cancel = (): void => void jobs.cancel(endpointId, owner, job.id).catch(() => undefined);
  signal.addEventListener('abort', cancel, { once: true });
  if (jobs.profile(endpointId).runAnswer?.(job.input) === 'stream') {
    return new Response(ndjson(messages(jobs, endpointId, owner, job.id, signal, (status, error) => logServerError(logger, c.req, status, error)), cancel, nodeResponseOf(c)), {
      headers: { 'content-type': 'application/x-ndjson; charset=utf-8', 'cache-control': 'no-store', 'x-job-id': job.id },
    });
  }
  try {
    const done = await jobs.waitForTerminal(endpointId, owner, job.id, job.policy.executionTimeoutMs + WAIT_MARGIN_MS, signal);
    if (done.state === 'completed') return await jsonBytesResponse(withOutput({ id: done.id, status: 'success' }, done.output ?? NULL_JSON, {}));
    if (!isTerminal(done.state)) return c.json({ id: done.id, status: 'error', error: `The job is still ${done.state}; poll /status/${done.id}.` }, 504);
    return c.json({ id: done.id, status: 'error', error: done.error ?? `The job ended ${done.state}.` }, 500);
  } catch (error) {
    return errorResponse(c, logger, error, job.id);
  } finally {
    signal.removeEventListener('abort', cancel);
  }
}

function errorResponse(c: Context, logger: Logger, error: unknown, id: string | null): Response {
  const { status, body, headers } = toAgentError(error, id);
  logServerError(logger, c.req, status, error);
  return c.json(body, status as 400, headers);
}

/** `report` hears a failure that ends the stream early (the HTTP status was sent long before). */
async function* messages(
  jobs: JobService,
  endpointId: string,
  owner: string,
  id: string,
  signal: AbortSignal,
  report: (status: number, error: unknown) => void,
): AsyncIterable<Record<string, unknown>> {
  try {
    while (!signal.aborted) {
      const { job, chunks } = await jobs.stream(endpointId, owner, id, STREAM_POLL_MS, signal);
      for (const output of joinTexts(chunks.map((chunk) => chunk.output))) {
        for (const piece of wirePieces(output)) yield { id, status: 'success', output: piece };
      }
      if (chunks.length > 0) continue;
      if (!isTerminal(job.state)) {
        if (!jobs.waitersReleased) continue;
        // Shutting down: the stream ends with where the job stands, not in the middle of nothing.
        yield { id, status: 'error', error: `The server is shutting down; the job is still ${job.state}: poll /status/${id}.` };
        return;
      }
      if (job.state === 'completed') {
        const { text: _streamed, ...summary } = ((await parseOutput(job.output)) ?? {}) as Record<string, unknown>;
        yield { id, status: 'success', done: true, output: summary };
      } else {
        yield { id, status: 'error', error: job.error ?? `The job ended ${job.state}.` };
      }
      return;
    }
  } catch (error) {
    if (signal.aborted) return;
    const answer = toAgentError(error, id);
    report(answer.status, error);
    yield answer.body;
  }
}

/** Text elements that waited side by side go out as one message: fewer messages, the same text. */
function joinTexts(outputs: readonly unknown[]): unknown[] {
  const joined: unknown[] = [];
  for (const output of outputs) {
    const previous = joined.at(-1);
    if (isText(output) && isText(previous)) joined[joined.length - 1] = { text: previous.text + output.text };
    else joined.push(output);
  }
  return joined;
}

function isText(output: unknown): output is { text: string } {
  return typeof output === 'object' && output !== null && Object.keys(output).length === 1 && typeof (output as { text?: unknown }).text === 'string';
}

/** A /stream element as wire messages: one, or one per WIRE_SAMPLES of a float `audio` array. */
function* wirePieces(output: unknown): Iterable<unknown> {
  const audio = (output as { audio?: unknown } | null)?.audio;
  if (!Array.isArray(audio) || audio.length <= WIRE_SAMPLES) {
    yield output;
    return;
  }
  for (let offset = 0; offset < audio.length; offset += WIRE_SAMPLES) {
    yield { ...(output as Record<string, unknown>), audio: audio.slice(offset, offset + WIRE_SAMPLES) };
  }
}

/** How long the audio a message carries plays, ms. */
function audioMs(message: Record<string, unknown>): number {
  const output = message['output'] as { audio?: unknown; sample_rate?: unknown } | undefined;
  const rate = typeof output?.sample_rate === 'number' ? output.sample_rate : 0;
  if (rate <= 0) return 0;
  if (Array.isArray(output?.audio)) return (output.audio.length / rate) * 1000;
  // A base64 WAV of 16-bit mono: 3 bytes per 4 characters, 44 of them header.
  if (typeof output?.audio === 'string') return ((((output.audio.length * 3) / 4 - 44) / 2 / rate) * 1000);
  return 0;
}

/**
 * Messages as an NDJSON byte stream; cancelling it (the client left) calls `onCancel`. The stream
 * holds nothing ahead (high-water mark 0), so a pull starts when the server has just written the
 * previous message: the gap is counted from there, even when the event loop was busy in between.
 */
function ndjson(source: AsyncIterable<Record<string, unknown>>, onCancel: () => void, response: Writable | undefined): ReadableStream<Uint8Array> {
  const iterator = source[Symbol.asyncIterator]();
  const encoder = new TextEncoder();
  let gapMs = 0;
  return new ReadableStream<Uint8Array>(
    {
      async pull(controller) {
        // Node sends a response's writes later than they are made (at the end of the tick; Node 22+
        // gathers chunked writes first), so a busy event loop can hold one back until the next is
        // written and the two leave as one. Count the gap from its leaving.
        while (response !== undefined && response.writableLength > 0 && !response.destroyed) await new Promise((resolve) => setTimeout(resolve, 1));
        const sendAt = performance.now() + gapMs;
        try {
          const next = await iterator.next();
          if (next.done) {
            controller.close();
            return;
          }
          const wait = sendAt - performance.now();
          if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
          gapMs = Math.max(MESSAGE_GAP_MS, audioMs(next.value) / AUDIO_PACE);
          controller.enqueue(encoder.encode(`${JSON.stringify(next.value)}\n`));
        } catch (error) {
          controller.error(error);
        }
      },
      async cancel() {
        onCancel();
        await iterator.return?.();
      },
    },
    { highWaterMark: 0 },
  );
}
