/**
 * `collect` callbacks: functions that sample a value when it is needed (a pool's size, a queue's
 * depth) instead of where it changes. They run in each process before each of its flushes — every
 * `flushIntervalMs`, and before the flush that starts a scrape — all at once, and the flush waits
 * for them at most `flushIntervalMs` or 1 s, whichever is less. A callback still running from an
 * earlier flush is neither started again nor waited for. Failures and overruns are reported
 * (`CollectError`); the flush goes on.
 */
import { performance } from 'node:perf_hooks';
import { CollectError } from './core/errors.js';
import { describeValue } from './core/validate.js';

/** One callback: a metric's `collect` (run with the metric as `this`), or a registry collector. */
interface Collector {
  readonly metric: string | undefined;
  readonly run: () => unknown;
  /** Settles when the run in progress does. */
  running: Promise<void> | undefined;
  /** Whether the run in progress was reported as late (once per run). */
  late: boolean;
}

export class Collectors {
  readonly #all = new Set<Collector>();
  readonly #waitMs: number;
  readonly #report: (error: Error) => void;

  /** `flushIntervalMs`: a flush (a scrape's, close()'s too) waits this long at most, and 1 s. */
  constructor(flushIntervalMs: number, report: (error: Error) => void) {
    this.#waitMs = Math.min(flushIntervalMs, 1000);
    this.#report = report;
  }

  /** Whether there is any callback (then every interval flushes, to run them). */
  get size(): number {
    return this.#all.size;
  }

  /** Add a callback (checked to be a function); the function returned removes it. */
  add(metric: string | undefined, run: () => unknown): () => void {
    if (typeof run !== 'function') {
      throw new TypeError(`Expected registerCollector() to be given a function, got ${describeValue(run)}`);
    }
    const collector: Collector = { metric, run, running: undefined, late: false };
    this.#all.add(collector);
    return () => void this.#all.delete(collector);
  }

  /** Remove every callback of `metric`. */
  removeMetric(metric: string): void {
    for (const collector of this.#all) if (collector.metric === metric) this.#all.delete(collector);
  }

  /**
   * Start every callback not still running from an earlier flush (that one was reported late
   * already), and wait for those started now, `waitMs` at most.
   */
  async run(): Promise<void> {
    if (this.#all.size === 0) return;
    const started = performance.now();
    const idle = [...this.#all].filter((collector) => collector.running === undefined);
    const runs = idle.map((collector) => (collector.running = this.#start(collector)));
    if (runs.length === 0) return;
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<'late'>((resolve) => {
      timer = setTimeout(() => resolve('late'), this.#waitMs);
      timer.unref();
    });
    const outcome = await Promise.race([Promise.all(runs), late]);
    clearTimeout(timer);
    if (outcome !== 'late') return;
    for (const collector of idle) {
      if (collector.running === undefined || collector.late) continue;
      collector.late = true;
      const ms = Math.round(performance.now() - started);
      this.#report(
        new CollectError(
          collector.metric,
          `${describe(collector)} did not settle within ${ms} ms; the flush went on without waiting for it`,
        ),
      );
    }
  }

  async #start(collector: Collector): Promise<void> {
    collector.late = false;
    // Not before `running` is set: a callback that throws synchronously settles this at once,
    // and its `finally` must still find (and clear) the run it belongs to.
    await Promise.resolve();
    try {
      await collector.run();
    } catch (error) {
      const reason = error instanceof Error ? error.message : String(error);
      this.#report(
        new CollectError(collector.metric, `${describe(collector)} failed: ${reason}`, { cause: error }),
      );
    } finally {
      collector.running = undefined;
    }
  }
}

function describe(collector: Collector): string {
  return collector.metric === undefined
    ? 'A collector given to registerCollector()'
    : `The collect callback of metric "${collector.metric}"`;
}
