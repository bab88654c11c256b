/**
 * The flusher's backoff while Redis fails: each failure doubles the wait from `flushIntervalMs`
 * up to `maxBackoffMs`, with jitter; a success ends it.
 */
import type { FlusherSettings } from './host.js';

export class Backoff {
  readonly #settings: Pick<FlusherSettings, 'flushIntervalMs' | 'maxBackoffMs'>;
  #failures = 0;
  #retryAt = 0;

  constructor(settings: Pick<FlusherSettings, 'flushIntervalMs' | 'maxBackoffMs'>) {
    this.#settings = settings;
  }

  /** Whether background flushes should wait (explicit `flush()` calls never do). */
  get waiting(): boolean {
    return Date.now() < this.#retryAt;
  }

  failed(): void {
    this.#failures++;
    const { flushIntervalMs, maxBackoffMs } = this.#settings;
    const ceiling = Math.min(maxBackoffMs, flushIntervalMs * 2 ** Math.min(this.#failures - 1, 20));
    // Full jitter over the upper half: processes that failed together do not retry together.
    this.#retryAt = Date.now() + ceiling * (0.5 + Math.random() / 2);
  }

  succeeded(): void {
    this.#failures = 0;
    this.#retryAt = 0;
  }
}
