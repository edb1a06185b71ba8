import { ChorusError, HTTP_STATUS } from '../../errors.js';

/** OpenAI's error envelope: all four keys always present, so OpenAI SDKs raise the right class. */
export interface OpenAIErrorBody {
  readonly error: { readonly message: string; readonly type: string; readonly param: string | null; readonly code: string | null };
}


/** The one place a Chorus error becomes an OpenAI-shaped HTTP answer. */
export function toOpenAIError(error: unknown): { status: number; body: OpenAIErrorBody; headers: Record<string, string> } {
  const chorus = ChorusError.isInstance(error)
    ? error
    : new ChorusError({ code: 'internal', message: 'Internal server error.', cause: error });
  const status = HTTP_STATUS[chorus.code];
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
