/**
 * A worker's side of one synthesis's flow control. The worker may have up to `bytes` of audio sent
 * that the main thread's consumer has not taken yet; past that, `available()` waits until the main
 * thread grants credit back (as the consumer takes parts) or the synthesis is aborted. Waiting
 * pauses this synthesis alone: other jobs on the thread go on.
 */
export class SendCredit {
  #available: number;
  #wake: (() => void) | undefined;
  readonly #signal: AbortSignal;

  constructor(bytes: number, signal: AbortSignal) {
    this.#available = bytes;
    this.#signal = signal;
    signal.addEventListener('abort', () => this.#wakeUp(), { once: true });
  }

  /** Counts bytes just sent. A part larger than what is left still goes: credit may run below zero. */
  spend(bytes: number): void {
    this.#available -= bytes;
  }

  /** The consumer took `bytes`. */
  grant(bytes: number): void {
    this.#available += bytes;
    if (this.#available > 0) this.#wakeUp();
  }

  /** Resolves once there is credit to send more, or at once when the synthesis was aborted. */
  async available(): Promise<void> {
    while (this.#available <= 0 && !this.#signal.aborted) {
      await new Promise<void>((resolve) => {
        this.#wake = resolve;
      });
    }
  }

  #wakeUp(): void {
    const wake = this.#wake;
    this.#wake = undefined;
    wake?.();
  }
}
