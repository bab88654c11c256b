/**
 * Sizes and durations of each mode. `full` is what the README's table comes from; `quick` keeps
 * every target figure (100,000 series included) with fewer rounds, in under a minute; `smoke`
 * only proves that every group still runs (CI), with sizes far too small for the targets.
 */

export type Mode = 'full' | 'quick' | 'smoke';

export const GROUPS = ['hot', 'flush', 'scrape', 'e2e', 'processes', 'cluster', 'shared'] as const;
export type GroupName = (typeof GROUPS)[number];

/** The groups a run without group names runs: all of them, in every mode. */
export function defaultGroups(_mode: Mode): readonly GroupName[] {
  return GROUPS;
}

/**
 * The shared group's workloads (figure keys and labels). A flush is measured twice: the first
 * flush of N new series into a fresh prefix (every field created), then the same N series
 * changed again (fields exist: the steady state the flush group measures).
 */
export const SHARED_WORKLOADS = {
  flush_counter_new: 'flush counters (new series)',
  flush_counter: 'flush counters (changed again)',
  flush_histogram_new: 'flush histograms (new series)',
  flush_histogram: 'flush histograms (changed again)',
  scrape_counter: 'scrape counters',
  scrape_histogram: 'scrape histograms (N/10)',
} as const;
export type SharedWorkload = keyof typeof SHARED_WORKLOADS;

export interface SizedRounds {
  /** Series count. */
  readonly size: number;
  /** Measured rounds (after one unmeasured warm-up round). */
  readonly rounds: number;
}

export interface Config {
  readonly hot: {
    /** Calls per tinybench sample (ns/op = sample time / batch). */
    readonly batch: number;
    readonly timeMs: number;
    readonly warmupMs: number;
    /** Calls whose heap allocation is summed for bytes/call. */
    readonly allocCalls: number;
    /** Series created for the memory-per-series figure. */
    readonly memorySeries: number;
  };
  readonly flush: {
    readonly counters: readonly SizedRounds[];
    readonly histograms: readonly SizedRounds[];
    /** Rounds of the naive ioredis multi() per size (it is slow). */
    readonly naiveRounds: number;
    /** Requests redis-benchmark sends per ceiling measurement. */
    readonly ceilingRequests: number;
  };
  readonly scrape: {
    readonly counters: readonly SizedRounds[];
    readonly histograms: readonly SizedRounds[];
  };
  readonly e2e: {
    readonly durationS: number;
    readonly rounds: number;
    readonly connections: number;
    readonly warmupS: number;
  };
  readonly processes: {
    readonly workers: readonly number[];
    /** Length of each phase (this library, then prom-client) in every worker. */
    readonly phaseMs: number;
    readonly flushIntervalMs: number;
  };
  readonly cluster: {
    /** Counter families × series each, flushed into the local cluster in each `shardBy` mode. */
    readonly workloads: ReadonlyArray<{ families: number; seriesPerFamily: number; rounds: number }>;
  };
  readonly shared: {
    /** N of each workload round (the histogram scrape reads N/10 series). */
    readonly sizes: readonly number[];
    /** The N at which the histogram flushes run too (a subset of `sizes`). */
    readonly histogramFlushSizes: readonly number[];
  };
}

export const CONFIGS: Readonly<Record<Mode, Config>> = {
  full: {
    hot: { batch: 1000, timeMs: 600, warmupMs: 200, allocCalls: 1_000_000, memorySeries: 100_000 },
    flush: {
      counters: [
        { size: 1_000, rounds: 30 },
        { size: 10_000, rounds: 10 },
        { size: 100_000, rounds: 5 },
      ],
      histograms: [
        { size: 1_000, rounds: 20 },
        { size: 10_000, rounds: 6 },
        { size: 100_000, rounds: 3 },
      ],
      naiveRounds: 2,
      ceilingRequests: 2_000_000,
    },
    scrape: {
      counters: [
        { size: 1_000, rounds: 30 },
        { size: 10_000, rounds: 10 },
        { size: 100_000, rounds: 5 },
      ],
      histograms: [{ size: 10_000, rounds: 6 }],
    },
    e2e: { durationS: 2, rounds: 8, connections: 10, warmupS: 1 },
    processes: { workers: [1, 2, 4], phaseMs: 5000, flushIntervalMs: 100 },
    cluster: {
      workloads: [
        { families: 30, seriesPerFamily: 100, rounds: 20 },
        { families: 30, seriesPerFamily: 1_000, rounds: 10 },
        { families: 300, seriesPerFamily: 100, rounds: 10 },
      ],
    },
    shared: {
      sizes: [10_000, 100_000, 200_000, 1_000_000],
      histogramFlushSizes: [10_000, 100_000, 200_000, 1_000_000],
    },
  },
  quick: {
    hot: { batch: 1000, timeMs: 150, warmupMs: 50, allocCalls: 500_000, memorySeries: 100_000 },
    flush: {
      counters: [
        { size: 1_000, rounds: 5 },
        { size: 10_000, rounds: 3 },
        { size: 100_000, rounds: 2 },
      ],
      histograms: [
        { size: 1_000, rounds: 3 },
        { size: 10_000, rounds: 2 },
      ],
      naiveRounds: 1,
      ceilingRequests: 300_000,
    },
    scrape: {
      counters: [
        { size: 1_000, rounds: 5 },
        { size: 10_000, rounds: 3 },
        { size: 100_000, rounds: 2 },
      ],
      histograms: [{ size: 10_000, rounds: 2 }],
    },
    e2e: { durationS: 0.5, rounds: 2, connections: 10, warmupS: 0.5 },
    processes: { workers: [1, 2, 4], phaseMs: 1000, flushIntervalMs: 100 },
    cluster: {
      workloads: [
        { families: 30, seriesPerFamily: 100, rounds: 5 },
        { families: 30, seriesPerFamily: 1_000, rounds: 3 },
      ],
    },
    shared: { sizes: [10_000, 100_000], histogramFlushSizes: [10_000, 100_000] },
  },
  smoke: {
    hot: { batch: 100, timeMs: 5, warmupMs: 2, allocCalls: 10_000, memorySeries: 1_000 },
    flush: {
      counters: [{ size: 100, rounds: 2 }],
      histograms: [{ size: 100, rounds: 1 }],
      naiveRounds: 1,
      ceilingRequests: 10_000,
    },
    scrape: {
      counters: [{ size: 100, rounds: 2 }],
      histograms: [{ size: 100, rounds: 1 }],
    },
    e2e: { durationS: 0.3, rounds: 1, connections: 2, warmupS: 0 },
    processes: { workers: [1, 2], phaseMs: 300, flushIntervalMs: 50 },
    cluster: { workloads: [{ families: 6, seriesPerFamily: 20, rounds: 1 }] },
    shared: { sizes: [1_000], histogramFlushSizes: [1_000] },
  },
};
