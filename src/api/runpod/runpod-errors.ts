import { ChorusError, type ChorusErrorCode } from '../../errors.js';

const STATUS: Record<ChorusErrorCode, number> = {
  invalid_request: 400,
  missing_parameter: 400,
  text_too_long: 413,
  unsupported_format: 400,
  voice_not_found: 400,
  model_not_found: 400,
  payload_too_large: 413,
  unauthorized: 401,
  not_found: 404,
  queue_full: 429,
  rate_limited: 429,
  engine_unavailable: 503,
  engine_failed: 500,
  aborted: 499,
  internal: 500,
};

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
