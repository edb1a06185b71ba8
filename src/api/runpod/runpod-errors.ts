import { z } from 'zod';
import { ChorusError, HTTP_STATUS, type ChorusErrorCode } from '../../errors.js';

/** The job API's error body (see toRunpodError); a missing or wrong key is `{"error": "Unauthorized"}`. */
export const runpodErrorSchema = z
  .object({
    error: z.string().describe('What went wrong and what is allowed.'),
    field: z.string().optional().describe('The request field at fault, when there is one.'),
  })
  .meta({ title: 'RunPodError' });

/** The Fish Speech agent's envelope of the same failure (toAgentError). */
export const agentErrorSchema = runpodErrorSchema
  .extend({
    id: z.string().nullable().describe('The FAILED job the refusal made, or null when no job was made.'),
    status: z.literal('error'),
  })
  .meta({ title: 'AgentError' });

// Spark-TTS documents 413 for text that is too long.
const STATUS: Record<ChorusErrorCode, number> = { ...HTTP_STATUS, text_too_long: 413 };

/**
 * The one place a Chorus error becomes a job-API answer. RunPod documents no error body; its
 * workers' documents show `{"error": "..."}`, so that is the shape, with the field when known.
 */
export function toRunpodError(error: unknown, retryAfterSeconds = 1): { status: number; body: Record<string, unknown>; headers: Record<string, string> } {
  const chorus = ChorusError.isInstance(error) ? error : new ChorusError({ code: 'internal', message: 'Internal server error.', cause: error });
  const status = STATUS[chorus.code];
  const headers: Record<string, string> = {};
  if (status === 429 || status === 503) headers['retry-after'] = String(retryAfterSeconds);
  const body: Record<string, unknown> = { error: chorus.message };
  if (chorus.param !== undefined) body['field'] = chorus.param;
  return { status, body, headers };
}

/**
 * The same failure in the Fish Speech agent document's envelope: `{"id", "status": "error",
 * "error"}` (`id` is null when no job was made).
 */
export function toAgentError(error: unknown, id: string | null): { status: number; body: Record<string, unknown>; headers: Record<string, string> } {
  const answer = toRunpodError(error);
  return { ...answer, body: { id, status: 'error', ...answer.body } };
}
