import { ChorusError, type ChorusErrorCode } from '../../errors.js';

/** OpenAI's error envelope: all four keys always present, so OpenAI SDKs raise the right class. */
export interface OpenAIErrorBody {
  readonly error: { readonly message: string; readonly type: string; readonly param: string | null; readonly code: string | null };
}

const STATUS: Record<ChorusErrorCode, number> = {
  invalid_request: 400,
  missing_parameter: 400,
  text_too_long: 400,
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

/** The one place a Chorus error becomes an OpenAI-shaped HTTP answer. */
export function toOpenAIError(error: unknown): { status: number; body: OpenAIErrorBody; headers: Record<string, string> } {
  const chorus = ChorusError.isInstance(error)
    ? error
    : new ChorusError({ code: 'internal', message: 'Internal server error.', cause: error });
  const status = STATUS[chorus.code];
  const type =
    status === 401 ? 'invalid_request_error' : status >= 500 ? 'server_error' : 'invalid_request_error';
  const headers: Record<string, string> = {};
  // OpenAI's SDK retries 5xx by default; a deterministic failure should not be retried.
  if (status >= 500) headers['x-should-retry'] = chorus.retryable ? 'true' : 'false';
  if (status === 503) headers['retry-after'] = '1';
  return {
    status,
    headers,
    body: { error: { message: chorus.message, type, param: chorus.param ?? null, code: chorus.detail ?? chorus.code } },
  };
}
