/** JSON-lines logger on stderr. Request text never goes in a log line (it is user content). */
export type LogLevel = 'debug' | 'info' | 'warn' | 'error' | 'silent';
const ORDER: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40, silent: 100 };

export interface Logger {
  debug(message: string, fields?: Record<string, unknown>): void;
  info(message: string, fields?: Record<string, unknown>): void;
  warn(message: string, fields?: Record<string, unknown>): void;
  error(message: string, fields?: Record<string, unknown>): void;
}

export function createLogger(level: LogLevel): Logger {
  const threshold = ORDER[level];
  const write = (at: Exclude<LogLevel, 'silent'>) => (message: string, fields?: Record<string, unknown>) => {
    if (ORDER[at] < threshold) return;
    process.stderr.write(`${JSON.stringify({ time: new Date().toISOString(), level: at, message, ...fields })}\n`);
  };
  return { debug: write('debug'), info: write('info'), warn: write('warn'), error: write('error') };
}

/**
 * An error as log fields: message, code (a ChorusError's) and stack, then the same for each
 * `cause` it wraps, so the log says what really failed and where. Errors that crossed a worker
 * boundary are plain objects and are read the same way.
 */
export function errorFields(error: unknown): Record<string, unknown> {
  const chain: Record<string, unknown>[] = [];
  for (let current: unknown = error; current !== undefined && current !== null && chain.length < 5; ) {
    if (typeof current !== 'object') {
      chain.push({ message: String(current) });
      break;
    }
    const { message, code, stack, cause } = current as { message?: unknown; code?: unknown; stack?: unknown; cause?: unknown };
    chain.push({
      message: typeof message === 'string' ? message : String(current),
      ...(typeof code === 'string' ? { code } : {}),
      ...(typeof stack === 'string' ? { stack } : {}),
    });
    current = cause;
  }
  const [first, ...causes] = chain;
  if (first === undefined) return { error: String(error) };
  const { message, ...rest } = first;
  return { error: message, ...rest, ...(causes.length > 0 ? { causes } : {}) };
}

/**
 * The rule every API surface applies where it turns an error into an answer: a 5xx is a failure
 * of Chorus itself, so it is logged with its cause (4xx answers are the client's and are not).
 */
export function logServerError(logger: Logger, request: { method: string; path: string }, status: number, error: unknown): void {
  if (status < 500) return;
  logger.error('request failed', { method: request.method, path: request.path, status, ...errorFields(error) });
}
