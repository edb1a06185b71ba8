import { ConfigError } from '../config/config-error.js';
import { ChorusError } from '../errors.js';

/** What the operator reads: the message of an error Chorus raised on purpose, the stack of a bug. */
export function errorMessage(error: unknown): string {
  return ChorusError.isInstance(error) || error instanceof ConfigError ? error.message : String((error as Error)?.stack ?? error);
}
