import { EventEmitter } from 'node:events';

/**
 * The in-process half of a queue's notifications (job changes, cancels, new work), shared by the
 * backends: SQLite raises them directly, Redis also for what other processes announce.
 */
export class JobEvents {
  readonly #emitter = new EventEmitter();
  readonly #waiters = new Set<() => void>();

  constructor() {
    this.#emitter.setMaxListeners(0);
  }

  changed(id: string): void {
    this.#emitter.emit(`change:${id}`);
  }

  cancelled(id: string): void {
    this.#emitter.emit('cancel', id);
  }

  queued(): void {
    this.#emitter.emit('queued');
  }

  /**
   * Events may have been missed (the Redis subscriber was reconnecting): every waiter wakes and
   * reads its job again, and runners look for work.
   */
  missed(): void {
    this.#emitter.emit('missed');
    this.queued();
  }

  /** Resolves when job `id` changes, after `timeoutMs`, or when `signal` aborts. */
  waitForChange(id: string, timeoutMs: number, signal?: AbortSignal): Promise<void> {
    return new Promise((resolve) => {
      const done = (): void => {
        this.#waiters.delete(done);
        clearTimeout(timer);
        this.#emitter.off(`change:${id}`, done);
        this.#emitter.off('missed', done);
        signal?.removeEventListener('abort', done);
        resolve();
      };
      const timer = setTimeout(done, Math.max(0, timeoutMs));
      this.#emitter.on(`change:${id}`, done);
      this.#emitter.on('missed', done);
      signal?.addEventListener('abort', done, { once: true });
      this.#waiters.add(done);
    });
  }

  onCancel(listener: (id: string) => void): () => void {
    this.#emitter.on('cancel', listener);
    return () => this.#emitter.off('cancel', listener);
  }

  onQueued(listener: () => void): () => void {
    this.#emitter.on('queued', listener);
    return () => this.#emitter.off('queued', listener);
  }

  /** The queue is closing: waiters wake now (their timers would otherwise hold the process open). */
  clear(): void {
    for (const wake of [...this.#waiters]) wake();
    this.#emitter.removeAllListeners();
  }
}
