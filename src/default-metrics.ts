/**
 * `collectDefaultMetrics()`: the process metrics prom-client records (CPU, memory, handles,
 * event-loop lag, GC), under the same names, sampled on an unref()'d timer into a registry.
 */
import {
  constants,
  monitorEventLoopDelay,
  PerformanceObserver,
  type IntervalHistogram,
  type NodeGCPerformanceDetail,
} from 'node:perf_hooks';
import type { LabelValue } from './buffer/series-store.js';
import { Counter, type CounterChild } from './metrics/counter.js';
import { Gauge, type GaugeChild } from './metrics/gauge.js';
import { Histogram, type HistogramChild } from './metrics/histogram.js';
import { expectRegistry } from './core/registry-check.js';
import { describeValue, validatePositiveInteger } from './core/validate.js';
import type { Registry } from './registry.js';

/** Options of `collectDefaultMetrics()`. */
export interface DefaultMetricsOptions {
  /**
   * Prepended to every metric name, as prom-client's `prefix` (e.g. `"app_"`).
   * @default ""
   */
  readonly prefix?: string;
  /**
   * Static labels added to every series (e.g. `{ service: "api" }`). `kind`, `le` and
   * `gauge_index` are taken.
   * @default {}
   */
  readonly labels?: Readonly<Record<string, LabelValue>>;
  /**
   * How often CPU, memory, handles and the event-loop delay are sampled. The timer never keeps
   * the process alive. GC durations are recorded as they happen.
   * @default 10000
   */
  readonly intervalMs?: number;
  /**
   * Buckets of `nodejs_gc_duration_seconds` (prom-client's defaults).
   * @default [0.001, 0.01, 0.1, 1, 2, 5]
   */
  readonly gcDurationBuckets?: readonly number[];
  /**
   * Buckets of `nodejs_eventloop_lag_seconds`.
   * @default [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5]
   */
  readonly eventLoopLagBuckets?: readonly number[];
  /**
   * Sampling resolution of the event-loop delay monitor, in ms (prom-client's
   * `eventLoopMonitoringPrecision`).
   * @default 10
   */
  readonly eventLoopMonitoringPrecision?: number;
}

const GC_BUCKETS: readonly number[] = [0.001, 0.01, 0.1, 1, 2, 5];
const LAG_BUCKETS: readonly number[] = [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5];
const RESERVED_LABELS: ReadonlySet<string> = new Set(['kind', 'le', 'gauge_index']);

/** GC kinds by `perf_hooks` constant, named as prom-client names them. */
const GC_KINDS: Readonly<Record<number, string>> = {
  [constants.NODE_PERFORMANCE_GC_MAJOR]: 'major',
  [constants.NODE_PERFORMANCE_GC_MINOR]: 'minor',
  [constants.NODE_PERFORMANCE_GC_INCREMENTAL]: 'incremental',
  [constants.NODE_PERFORMANCE_GC_WEAKCB]: 'weakcb',
};

function resolveLabels(labels: unknown): Record<string, LabelValue> {
  if (labels === undefined) return {};
  if (typeof labels !== 'object' || labels === null || Array.isArray(labels)) {
    throw new TypeError(`Expected \`labels\` to be an object of label values, got ${describeValue(labels)}`);
  }
  for (const name of Object.keys(labels)) {
    if (RESERVED_LABELS.has(name)) {
      throw new TypeError(
        `Expected \`labels\` not to use the label name "${name}", which default metrics use`,
      );
    }
  }
  return { ...(labels as Record<string, LabelValue>) };
}

/**
 * Turns the event-loop delay monitor into histogram deltas. The monitor records the time between
 * runs of its own timer, so each delay includes the resolution: the lag is the delay minus it.
 * The monitor is never reset — a reset also forgets when its timer last ran, so a stall spanning
 * a reset would go unrecorded — and each sample reports the growth of its cumulative counts.
 * The count at or below a bound is exact at the monitor's (HDR histogram) precision: the k-th
 * smallest delay is `percentile(100 k / count)`, so a bisection over k finds it.
 */
class LagSampler {
  readonly #monitor: IntervalHistogram;
  readonly #limits: readonly number[];
  readonly #resolutionNs: number;
  #atOrBelow: number[];
  #count = 0;
  #totalNs = 0;

  constructor(monitor: IntervalHistogram, bounds: readonly number[], resolutionNs: number) {
    this.#monitor = monitor;
    this.#resolutionNs = resolutionNs;
    this.#limits = bounds.map((b) => b * 1e9 + resolutionNs);
    this.#atOrBelow = bounds.map(() => 0);
  }

  /** Bucket counts (the last one `+Inf`) and sum, in seconds, of the delays since the last call. */
  sample(): { counts: number[]; sum: number } {
    const monitor = this.#monitor;
    const count = monitor.count;
    const counts = new Array<number>(this.#limits.length + 1).fill(0);
    if (count <= this.#count) return { counts, sum: 0 };
    const atOrBelow = this.#limits.map((limit) => this.#countAtOrBelow(count, limit));
    let previous = 0;
    for (let b = 0; b < atOrBelow.length; b++) {
      const grown = Math.max(previous, atOrBelow[b]! - this.#atOrBelow[b]!);
      counts[b] = grown - previous;
      previous = grown;
    }
    counts[atOrBelow.length] = Math.max(0, count - this.#count - previous);
    const totalNs = monitor.mean * count;
    const sum = Math.max(0, totalNs - this.#totalNs - this.#resolutionNs * (count - this.#count)) / 1e9;
    this.#atOrBelow = atOrBelow;
    this.#count = count;
    this.#totalNs = totalNs;
    return { counts, sum };
  }

  /** How many recorded delays are at most `limit` ns: the largest k whose k-th smallest is. */
  #countAtOrBelow(count: number, limit: number): number {
    let lo = 0;
    let hi = count;
    while (lo < hi) {
      const k = Math.ceil((lo + hi) / 2);
      if (this.#monitor.percentile((100 * k) / count) <= limit) lo = k;
      else hi = k - 1;
    }
    return lo;
  }
}

/**
 * Record the process metrics prom-client's `collectDefaultMetrics()` records, under the same
 * names, into `registry` — so dashboards built for prom-client keep working — merged over every
 * process where merging makes sense:
 *
 * - counters, summed over the fleet (each process adds its own CPU time since it started):
 *   `process_cpu_user_seconds_total`, `process_cpu_system_seconds_total`, `process_cpu_seconds_total`;
 * - per-process gauges (one series per live process, `gauge_index`): `process_resident_memory_bytes`,
 *   `nodejs_heap_size_total_bytes`, `nodejs_heap_size_used_bytes`, `nodejs_external_memory_bytes`,
 *   `process_start_time_seconds`, `nodejs_active_handles_total`;
 * - histograms, merged: `nodejs_eventloop_lag_seconds` (event-loop delay beyond the monitor's
 *   resolution) and `nodejs_gc_duration_seconds{kind}`.
 *
 * Values are sampled at once and then every `intervalMs` on an unref()'d timer; GC durations are
 * recorded as collections happen. Nothing keeps the process alive or prints. Call the returned
 * function to stop collecting (the metrics stay registered); removing them from the registry
 * (`clear()`, or `removeSingleMetric('nodejs_eventloop_lag_seconds')`) stops it too, at the next
 * sample. Collecting twice into one registry throws, as registering any metric name twice does.
 */
export function collectDefaultMetrics(registry: Registry, options: DefaultMetricsOptions = {}): () => void {
  expectRegistry('registry', registry);
  if (typeof options !== 'object' || options === null) {
    throw new TypeError(`Expected \`options\` to be an object, got ${describeValue(options)}`);
  }
  const prefix = options.prefix ?? '';
  if (typeof prefix !== 'string') {
    throw new TypeError(`Expected \`prefix\` to be a string, got ${describeValue(prefix)}`);
  }
  const labels = resolveLabels(options.labels);
  const intervalMs = validatePositiveInteger('intervalMs', options.intervalMs ?? 10_000);
  const resolutionMs = validatePositiveInteger(
    'eventLoopMonitoringPrecision',
    options.eventLoopMonitoringPrecision ?? 10,
  );
  const labelNames = Object.keys(labels);

  const counter = (name: string, help: string): CounterChild =>
    new Counter({ name: prefix + name, help, labelNames, registry }).labels(labels);
  const gauge = (name: string, help: string): GaugeChild =>
    new Gauge({ name: prefix + name, help, labelNames, registry }).labels(labels);

  const cpuUser = counter('process_cpu_user_seconds_total', 'Total user CPU time spent in seconds.');
  const cpuSystem = counter('process_cpu_system_seconds_total', 'Total system CPU time spent in seconds.');
  const cpuTotal = counter('process_cpu_seconds_total', 'Total user and system CPU time spent in seconds.');
  const startTime = gauge(
    'process_start_time_seconds',
    'Start time of the process since unix epoch in seconds.',
  );
  const resident = gauge('process_resident_memory_bytes', 'Resident memory size in bytes.');
  const heapTotal = gauge('nodejs_heap_size_total_bytes', 'Process heap size from Node.js in bytes.');
  const heapUsed = gauge('nodejs_heap_size_used_bytes', 'Process heap size used from Node.js in bytes.');
  const external = gauge('nodejs_external_memory_bytes', 'Node.js external memory size in bytes.');
  const handles = gauge('nodejs_active_handles_total', 'Total number of active handles.');
  const lagBounds = options.eventLoopLagBuckets ?? LAG_BUCKETS;
  const lag = new Histogram({
    name: `${prefix}nodejs_eventloop_lag_seconds`,
    help: 'Lag of event loop in seconds.',
    labelNames,
    buckets: lagBounds,
    registry,
  });
  const lagChild = lag.labels(labels);
  const gc = new Histogram({
    name: `${prefix}nodejs_gc_duration_seconds`,
    help: 'Garbage collection duration by kind, one of major, minor, incremental or weakcb.',
    labelNames: ['kind', ...labelNames],
    buckets: options.gcDurationBuckets ?? GC_BUCKETS,
    registry,
  });

  startTime.set(Math.round(Date.now() / 1000 - process.uptime()));

  const monitor = monitorEventLoopDelay({ resolution: resolutionMs });
  monitor.enable();
  const lagSampler = new LagSampler(monitor, lag.buckets, resolutionMs * 1e6);

  // CPU time since the process started: every process adds all of its own, so the fleet total
  // is the sum, and a process that dies keeps what it had flushed (counters never go back).
  let lastCpu = { user: 0, system: 0 };
  const collect = (): void => {
    const cpu = process.cpuUsage();
    const user = Math.max(0, cpu.user - lastCpu.user) / 1e6;
    const system = Math.max(0, cpu.system - lastCpu.system) / 1e6;
    lastCpu = cpu;
    cpuUser.inc(user);
    cpuSystem.inc(system);
    cpuTotal.inc(user + system);
    const memory = process.memoryUsage();
    resident.set(memory.rss);
    heapTotal.set(memory.heapTotal);
    heapUsed.set(memory.heapUsed);
    external.set(memory.external);
    handles.set(process.getActiveResourcesInfo().length);
    const { counts, sum } = lagSampler.sample();
    lagChild.addBuckets(counts, sum);
  };

  const gcChildren = new Map<string, HistogramChild>();
  // Removed from the registry (`clear()` between tests, say): stop sampling into metrics that
  // are gone, rather than record into them and have every sample reported as dropped.
  const removed = (): boolean => registry.getSingleMetric(lag.name) !== lag;
  const observer = new PerformanceObserver((list) => {
    if (removed()) return stop();
    for (const entry of list.getEntries()) {
      // A gc entry carries `detail.kind` (Node >= 16); the type declares `detail` on marks only.
      const detail = (entry as { detail?: NodeGCPerformanceDetail }).detail;
      const kind = GC_KINDS[detail?.kind ?? -1];
      if (kind === undefined) continue;
      let child = gcChildren.get(kind);
      if (child === undefined) {
        child = gc.labels({ ...labels, kind });
        gcChildren.set(kind, child);
      }
      child.observe(entry.duration / 1000);
    }
  });
  observer.observe({ entryTypes: ['gc'] });

  collect();
  const timer = setInterval(() => {
    if (removed()) return stop();
    try {
      collect();
    } catch {
      // Sampling the process's own state cannot fail for the caller's reasons; if a runtime
      // refuses one read, skip this sample rather than take the background down.
    }
  }, intervalMs);
  timer.unref();

  let stopped = false;
  function stop(): void {
    if (stopped) return;
    stopped = true;
    clearInterval(timer);
    observer.disconnect();
    monitor.disable();
  }
  return stop;
}
