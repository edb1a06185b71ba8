import { z } from 'zod';
import { ChorusError, HTTP_STATUS } from '../../errors.js';

/** OpenAI's error envelope: all four keys always present, so OpenAI SDKs raise the right class. */
export const openAIErrorSchema = z
  .object({
    error: z.object({
      message: z.string().describe('What went wrong and what is allowed.'),
      type: z.string().describe('`invalid_request_error`, or `server_error` for 5xx.'),
      param: z.string().nullable().describe('The request field at fault, when there is one.'),
      code: z.string().nullable().describe('A stable code: `invalid_value`, `model_not_found`, `rate_limit_exceeded`, … (docs/errors.md).'),
    }),
  })
  .meta({ title: 'OpenAIError' });
export type OpenAIErrorBody = z.infer<typeof openAIErrorSchema>;

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
