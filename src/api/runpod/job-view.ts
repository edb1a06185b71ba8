import { z } from 'zod';
import type { JobRecord, JobState, JsonBytes } from '../../jobs/job.js';
import { jsonInMemory, readJsonBytes } from '../../jobs/job-output.js';

const STATUS: Record<JobState, string> = {
  queued: 'IN_QUEUE',
  running: 'IN_PROGRESS',
  completed: 'COMPLETED',
  failed: 'FAILED',
  cancelled: 'CANCELLED',
  'timed-out': 'TIMED_OUT',
};

/** A job as runpodJobJson writes it, for the API document. */
export const runpodJobSchema = z.object({
  id: z.string(),
  status: z.enum(Object.values(STATUS) as [string, ...string[]]),
  delayTime: z.number().optional().describe('Queued for this long before it started, ms.'),
  executionTime: z.number().optional().describe('Ran for this long, ms.'),
  output: z.unknown().optional().describe("The worker's output, in its document's shape (docs/job-api.md)."),
  error: z.string().optional().describe('Why the job FAILED (a refused input says which field and what is allowed).'),
  workerId: z.string().optional(),
  retries: z.number().int().optional(),
});

export function runpodStatus(state: JobState): string {
  return STATUS[state];
}

/** A job as RunPod's /status, /runsync and webhooks show it: the stored output spliced in as it is. */
export function runpodJobJson(job: JobRecord): JsonBytes {
  const head: Record<string, unknown> = { id: job.id, status: STATUS[job.state] };
  if (job.startedAt !== undefined) head['delayTime'] = job.startedAt - job.createdAt;
  if (job.finishedAt !== undefined && job.startedAt !== undefined) head['executionTime'] = job.finishedAt - job.startedAt;
  const tail: Record<string, unknown> = {};
  if (job.error !== undefined) tail['error'] = job.error;
  if (job.workerId !== undefined) tail['workerId'] = job.workerId;
  if (job.retries > 0) tail['retries'] = job.retries;
  const output = job.state !== 'queued' && job.state !== 'cancelled' ? job.output : undefined;
  return withOutput(head, output, tail);
}

/**
 * `{...head, "output": <output>, ...tail}` as JSON bytes, without parsing or re-stringifying the
 * output: only the small envelope is stringified, and the output's stored bytes go between its
 * halves. Without an output the key is left out.
 */
export function withOutput(head: Record<string, unknown>, output: JsonBytes | undefined, tail: Record<string, unknown>): JsonBytes {
  if (output === undefined) return jsonInMemory(Buffer.from(JSON.stringify({ ...head, ...tail }), 'utf8'));
  const headJson = JSON.stringify(head);
  const tailJson = JSON.stringify(tail);
  const before = Buffer.from(`${headJson.slice(0, -1)}${headJson === '{}' ? '' : ','}"output":`, 'utf8');
  const after = Buffer.from(tailJson === '{}' ? '}' : `,${tailJson.slice(1)}`, 'utf8');
  return {
    byteLength: before.byteLength + output.byteLength + after.byteLength,
    async *chunks() {
      yield before;
      yield* output.chunks();
      yield after;
    },
  };
}

/** Below this an answer is gathered into one buffer: a small body goes out as one piece. */
const SMALL_BODY_BYTES = 64 * 1024;

/**
 * The HTTP answer for JSON bytes. A big body is streamed as its pieces are read (a file-backed
 * output in 1 MB reads), never assembled into one string; the client's pace sets the reads.
 */
export async function jsonBytesResponse(json: JsonBytes, status = 200): Promise<Response> {
  const headers = { 'content-type': 'application/json', 'content-length': String(json.byteLength) };
  if (json.byteLength <= SMALL_BODY_BYTES) return new Response(await readJsonBytes(json), { status, headers });
  return new Response(ReadableStream.from(json.chunks()), { status, headers });
}
