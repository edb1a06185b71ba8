/**
 * A single-consumer queue that turns pushed values into an async iterable. Used where values arrive
 * from callbacks (worker messages) and leave through `for await`.
 */
export class AsyncQueue<T> implements AsyncIterable<T> {
  #items: T[] = [];
  #waiting: ((result: IteratorResult<T>) => void) | undefined;
  #rejectWaiting: ((error: unknown) => void) | undefined;
  #ended = false;
  #error: unknown = undefined;

  push(item: T): void {
    if (this.#ended) return;
    if (this.#waiting !== undefined) {
      const resolve = this.#waiting;
      this.#clearWaiter();
      resolve({ value: item, done: false });
    } else {
      this.#items.push(item);
    }
  }

  end(): void {
    if (this.#ended) return;
    this.#ended = true;
    if (this.#waiting !== undefined) {
      const resolve = this.#waiting;
      this.#clearWaiter();
      resolve({ value: undefined, done: true });
    }
  }

  /** Ends the queue and drops what it still holds: nobody will take it. */
  discard(): void {
    this.#items = [];
    this.end();
  }

  fail(error: unknown): void {
    if (this.#ended) return;
    this.#ended = true;
    this.#error = error ?? new Error('queue failed');
    if (this.#rejectWaiting !== undefined) {
      const reject = this.#rejectWaiting;
      this.#clearWaiter();
      reject(this.#error);
    }
  }

  #clearWaiter(): void {
    this.#waiting = undefined;
    this.#rejectWaiting = undefined;
  }

  [Symbol.asyncIterator](): AsyncIterator<T> {
    return {
      next: (): Promise<IteratorResult<T>> => {
        if (this.#items.length > 0) return Promise.resolve({ value: this.#items.shift()!, done: false });
        if (this.#error !== undefined) return Promise.reject(this.#error);
        if (this.#ended) return Promise.resolve({ value: undefined, done: true });
        return new Promise((resolve, reject) => {
          this.#waiting = resolve;
          this.#rejectWaiting = reject;
        });
      },
      return: (): Promise<IteratorResult<T>> => {
        this.discard();
        return Promise.resolve({ value: undefined, done: true });
      },
    };
  }
}
