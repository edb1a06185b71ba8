/**
 * One error class for every failure Chorus reports. The `code` is stable and documented in
 * docs/errors.md; each API surface maps codes to its own HTTP shape in exactly one place.
 */
export type ChorusErrorCode =
  | 'invalid_request'
  | 'missing_parameter'
  | 'text_too_long'
  | 'payload_too_large'
  | 'unsupported_format'
  | 'voice_not_found'
  | 'model_not_found'
  | 'not_found'
  | 'conflict'
  | 'forbidden'
  | 'queue_full'
  | 'rate_limited'
  | 'unauthorized'
  | 'engine_unavailable'
  | 'store_unavailable'
  | 'storage_unavailable'
  | 'engine_failed'
  | 'download_failed'
  | 'aborted'
  | 'internal';

/** The usual HTTP status of each code; an API surface may override single entries. */
export const HTTP_STATUS: Readonly<Record<ChorusErrorCode, number>> = {
  invalid_request: 400,
  missing_parameter: 400,
  text_too_long: 400,
  unsupported_format: 400,
  voice_not_found: 400,
  model_not_found: 400,
  payload_too_large: 413,
  unauthorized: 401,
  not_found: 404,
  conflict: 409,
  forbidden: 403,
  queue_full: 429,
  rate_limited: 429,
  engine_unavailable: 503,
  store_unavailable: 503,
  storage_unavailable: 503,
  engine_failed: 500,
  download_failed: 502,
  aborted: 499,
  internal: 500,
};

const MARKER = Symbol.for('chorus.error');

export interface ChorusErrorOptions {
  readonly code: ChorusErrorCode;
  readonly message: string;
  /** The request field at fault, in the caller's spelling (`input`, `voice`, `speed`). */
  readonly param?: string;
  readonly retryable?: boolean;
  /** A finer machine-readable reason (`string_above_max_length`), where an API documents one. */
  readonly detail?: string;
  readonly cause?: unknown;
}

export class ChorusError extends Error {
  readonly [MARKER] = true;
  readonly code: ChorusErrorCode;
  readonly param: string | undefined;
  readonly retryable: boolean;
  readonly detail: string | undefined;

  constructor(options: ChorusErrorOptions) {
    super(options.message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'ChorusError';
    this.code = options.code;
    this.param = options.param;
    this.retryable = options.retryable ?? false;
    this.detail = options.detail;
  }

  /** Survives errors that crossed a worker boundary as plain objects or came from a second copy. */
  static isInstance(value: unknown): value is ChorusError {
    return typeof value === 'object' && value !== null && MARKER in value;
  }
}

export function invalidRequest(param: string, message: string): ChorusError {
  return new ChorusError({ code: 'invalid_request', param, message });
}
