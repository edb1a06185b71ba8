import { ChorusError } from '../../errors.js';

/**
 * At most `limit` holders at once; the rest wait in line, first come first served, up to
 * `maxQueued`. A waiter whose signal aborts leaves the line.
 */
export class ConcurrencyGate {
  #active = 0;
  readonly #waiting: { grant: () => void; refuse: (error: Error) => void }[] = [];

  constructor(
    private readonly limit: number,
    private readonly maxQueued: number,
    private readonly describe: () => string,
  ) {}

  get active(): number {
    return this.#active;
  }

  get queued(): number {
    return this.#waiting.length;
  }

  /** Resolves with a release function once a slot is free. */
  async acquire(signal: AbortSignal): Promise<() => void> {
    if (signal.aborted) throw abortError();
    if (this.#active < this.limit) return this.#grant();
    if (this.#waiting.length >= this.maxQueued) {
      throw new ChorusError({ code: 'engine_unavailable', retryable: true, message: `${this.describe()} is busy: ${this.#active} requests running and ${this.#waiting.length} waiting; try again shortly.` });
    }
    await new Promise<void>((resolve, reject) => {
      const waiter = {
        grant: () => {
          signal.removeEventListener('abort', onAbort);
          resolve();
        },
        refuse: reject,
      };
      const onAbort = (): void => {
        const index = this.#waiting.indexOf(waiter);
        if (index >= 0) this.#waiting.splice(index, 1);
        reject(abortError());
      };
      signal.addEventListener('abort', onAbort, { once: true });
      this.#waiting.push(waiter);
    });
    // The slot was handed over by the release that woke this waiter.
    return this.#releaser();
  }

  /** Fails everyone in line (the engine went down while they waited). */
  refuseWaiting(error: Error): void {
    for (const waiter of this.#waiting.splice(0)) waiter.refuse(error);
  }

  #grant(): () => void {
    this.#active++;
    return this.#releaser();
  }

  #releaser(): () => void {
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const next = this.#waiting.shift();
      if (next !== undefined) next.grant();
      else this.#active--;
    };
  }
}

export type BreakerState = 'up' | 'down';

/**
 * Counts failures in a row; at `threshold` the engine is down: requests fail fast until a health
 * probe succeeds. One success resets the count.
 */
export class CircuitBreaker {
  #failures = 0;
  #state: BreakerState = 'up';
  #reason: string | undefined;
  #since = Date.now();

  constructor(
    private readonly threshold: number,
    private readonly onChange: (state: BreakerState, reason: string | undefined) => void,
  ) {}

  get state(): BreakerState {
    return this.#state;
  }

  isDown(): boolean {
    return this.#state === 'down';
  }

  get reason(): string | undefined {
    return this.#reason;
  }

  /** When the state last changed, ms since the epoch. */
  get since(): number {
    return this.#since;
  }

  succeeded(): void {
    this.#failures = 0;
    if (this.#state === 'down') this.#set('up', undefined);
  }

  failed(reason: string): void {
    this.#failures++;
    if (this.#state === 'up' && this.#failures >= this.threshold) this.#set('down', reason);
    else if (this.#state === 'down') this.#reason = reason;
  }

  /** Down at once (the server could not be reached at start). */
  trip(reason: string): void {
    this.#failures = this.threshold;
    if (this.#state === 'up') this.#set('down', reason);
    else this.#reason = reason;
  }

  #set(state: BreakerState, reason: string | undefined): void {
    this.#state = state;
    this.#reason = reason;
    this.#since = Date.now();
    this.onChange(state, reason);
  }
}

function abortError(): ChorusError {
  return new ChorusError({ code: 'aborted', message: 'The request was cancelled.' });
}
