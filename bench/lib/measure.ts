/** Measuring helpers: medians, latency distributions (HdrHistogram), event-loop stalls, Node CPU. */
import { monitorEventLoopDelay, performance } from 'node:perf_hooks';
import { setImmediate as yieldToEventLoop } from 'node:timers/promises';
import { build, type Histogram } from 'hdr-histogram-js';
import type { Row } from './table.js';

export function median(values: readonly number[]): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

export function sum(values: readonly number[]): number {
  let total = 0;
  for (const v of values) total += v;
  return total;
}

/** p50 / p99 / p99.9 / max of a latency distribution, in milliseconds. */
export interface LatencySummary {
  readonly count: number;
  readonly p50: number;
  readonly p99: number;
  readonly p999: number;
  readonly max: number;
}

/**
 * A latency distribution recorded with HdrHistogram (microsecond resolution, 3 significant
 * digits), reported in milliseconds.
 */
export class Latencies {
  readonly #histogram: Histogram = build({
    lowestDiscernibleValue: 1,
    highestTrackableValue: 3_600_000_000,
    numberOfSignificantValueDigits: 3,
  });

  /** Record one duration given in milliseconds. */
  recordMs(ms: number): void {
    this.#histogram.recordValue(Math.max(1, Math.round(ms * 1000)));
  }

  get count(): number {
    return this.#histogram.totalCount;
  }

  summary(): LatencySummary {
    const h = this.#histogram;
    if (h.totalCount === 0)
      return { count: 0, p50: Number.NaN, p99: Number.NaN, p999: Number.NaN, max: Number.NaN };
    return {
      count: h.totalCount,
      p50: h.getValueAtPercentile(50) / 1000,
      p99: h.getValueAtPercentile(99) / 1000,
      p999: h.getValueAtPercentile(99.9) / 1000,
      max: h.maxValue / 1000,
    };
  }
}

/** A row of a "duration distribution" table: one kind and size of series, with its percentiles. */
export function distributionRow(kind: string, series: number, latencies: Latencies): Row {
  const s = latencies.summary();
  return { kind, series, rounds: s.count, p50: s.p50, p99: s.p99, p999: s.p999, max: s.max };
}

/** Sampling period of the stall probes (ms); a reported stall includes up to one period. */
export const STALL_RESOLUTION_MS = 1;

/** What one measured async operation cost. */
export interface Measured<T> {
  readonly value: T;
  /** Wall time, ms. */
  readonly ms: number;
  /** Node CPU (user + system, all threads of this process), ms. */
  readonly cpuMs: number;
  /**
   * Longest time the event loop could not run a 1 ms timer while the operation ran, ms: the
   * larger of `monitorEventLoopDelay`'s maximum and the longest gap seen by a 1 ms interval
   * (including the gaps from the start to its first tick and from its last tick to the end —
   * the monitor records nothing when the whole operation is one block). Either includes up to
   * one sampling period.
   */
  readonly stallMs: number;
}

/**
 * Run `operation` and measure its wall time, Node CPU and the longest event-loop stall during it.
 */
export async function measure<T>(operation: () => Promise<T>): Promise<Measured<T>> {
  const monitor = monitorEventLoopDelay({ resolution: STALL_RESOLUTION_MS });
  monitor.enable();
  let longest = 0;
  let last = performance.now();
  // Armed before the operation starts, so its first tick is not delayed by timer set-up.
  const probe = setInterval(() => {
    const now = performance.now();
    longest = Math.max(longest, now - last);
    last = now;
  }, STALL_RESOLUTION_MS);
  await new Promise((resolve) => setTimeout(resolve, 3));
  monitor.reset();
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  longest = 0;
  last = t0;
  const value = await operation();
  const end = performance.now();
  clearInterval(probe);
  const cpu = process.cpuUsage(cpu0);
  longest = Math.max(longest, end - last);
  await yieldToEventLoop();
  monitor.disable();
  const eld = monitor.count > 0 ? monitor.max / 1e6 : 0;
  return { value, ms: end - t0, cpuMs: (cpu.user + cpu.system) / 1000, stallMs: Math.max(longest, eld) };
}

/** The `global.gc` of `node --expose-gc`, or a clear error. */
export function forceGc(): void {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (gc === undefined) {
    throw new Error('This measurement needs `node --expose-gc` (bench/index.ts starts groups that way)');
  }
  gc();
  gc();
}

/**
 * The heap `operation` needs at its peak: heapUsed sampled every 5 ms (and once more when it
 * resolves, its result still held) above heapUsed when it starts, in bytes. Garbage not yet
 * collected counts: it is heap the process must have. Call forceGc() first (outside any timed
 * window: a full gc of a big heap is itself a long stall) for a baseline after gc.
 */
export async function peakHeap<T>(operation: () => Promise<T>): Promise<{ value: T; bytes: number }> {
  const base = process.memoryUsage().heapUsed;
  let peak = base;
  const sample = setInterval(() => (peak = Math.max(peak, process.memoryUsage().heapUsed)), 5);
  try {
    const value = await operation();
    peak = Math.max(peak, process.memoryUsage().heapUsed);
    return { value, bytes: peak - base };
  } finally {
    clearInterval(sample);
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
