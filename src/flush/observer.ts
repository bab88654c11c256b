/**
 * What the flusher tells about its work — each attempt's outcome, retries, the backlog before a
 * flush — for whoever listens (the registry's self-metrics), without the flush layer knowing them.
 */
import type { SeriesStore } from '../buffer/series-store.js';

/**
 * How a flush attempt ended. `partial`: applied, but Redis refused some of its writes (each
 * reported); `error`, `timeout`, `unavailable`: not applied (or not known to be), kept and retried.
 */
export type FlushOutcome = 'success' | 'duplicate' | 'partial' | 'error' | 'timeout' | 'unavailable';

/** What the flusher tells about its work (the registry's self-metrics listen). */
export interface FlushObserver {
  /** A flush attempt ended: how, after how long, carrying how many series. */
  flushed(outcome: FlushOutcome, seconds: number, series: number): void;
  /** A batch whose outcome was unknown is sent again. */
  retried(): void;
  /** A series of `metric` Redis refused outright (an argument too large) was dropped. */
  refused(metric: string): void;
  /** Before a flush takes the buffer: how many series wait, and every store (for dropped counts). */
  sample(undelivered: number, stores: Iterable<SeriesStore>): void;
}
