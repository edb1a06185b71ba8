import type { Logger } from './logger.js';

/**
 * Warnings about a condition that repeats on every call while it lasts (a directory that cannot be
 * written, a queue that cannot be read): the first one is logged, then at most one per interval
 * per key, with how many were left out meanwhile, so an outage does not flood the log.
 */
export class ThrottledLog {
  readonly #logger: Logger;
  readonly #intervalMs: number;
  readonly #last = new Map<string, { at: number; skipped: number }>();

  constructor(logger: Logger, intervalMs = 60_000) {
    this.#logger = logger;
    this.#intervalMs = intervalMs;
  }

  warn(key: string, message: string, fields: Record<string, unknown> = {}): void {
    const now = Date.now();
    const last = this.#last.get(key);
    if (last !== undefined && now - last.at < this.#intervalMs) {
      last.skipped++;
      return;
    }
    this.#last.set(key, { at: now, skipped: 0 });
    this.#logger.warn(message, last === undefined || last.skipped === 0 ? fields : { ...fields, repeated: last.skipped });
  }
}

/** An error as one log field: its message, and its cause's (where the details are, such as an address). */
export function describeError(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  const cause = error.cause;
  return cause === undefined ? error.message : `${error.message} (${describeError(cause)})`;
}
