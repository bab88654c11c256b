/**
 * The targets of issues 3 and 13, evaluated on the figures the groups measured in this run. A target
 * whose figure the run did not measure (a group not run, smoke sizes) is reported as such.
 */
import { SHARED_WORKLOADS, type GroupName } from './config.js';
import type { GroupResult } from './lib/group.js';
import { formatValue, type Format } from './lib/table.js';

type Figures = Partial<Record<GroupName, GroupResult['figures']>>;

export interface TargetResult {
  readonly figure: string;
  readonly target: string;
  readonly measured: number | null;
  /** Formatted measurement (with context, e.g. the other figures it was taken from). */
  readonly shown: string;
  readonly met: boolean | null;
}

interface Target {
  readonly figure: string;
  readonly target: string;
  readonly group: GroupName;
  /** Figure keys; with several, the worst one is judged. */
  readonly keys: readonly string[];
  readonly op: '<=' | '>=' | '==';
  readonly limit: number;
  readonly format: Format;
  /** Extra context appended to the measured value. */
  readonly context?: (figures: GroupResult['figures']) => string;
}

const num = (value: unknown): number | null =>
  typeof value === 'number' && Number.isFinite(value) ? value : null;

export const TARGETS: readonly Target[] = [
  {
    figure: 'bound child `inc()` vs prom-client child `inc()`',
    target: '≤ 0.03× (within ~2× of a bare field add)',
    group: 'hot',
    keys: ['counter_child_inc.ratio'],
    op: '<=',
    limit: 0.03,
    format: 'ratio',
    context: (f) => `; ${formatValue(num(f['counter_child_inc.vs_floor']), 'ratio')} a field add`,
  },
  {
    figure: 'bytes allocated per bound-child call (counter, histogram, gauge, quantile summary)',
    target: '0',
    group: 'hot',
    keys: [
      'counter_child_inc.lib_bytes_per_call',
      'histogram_child_observe.lib_bytes_per_call',
      'gauge_child_set.lib_bytes_per_call',
      'summary_quantiles_child_observe.lib_bytes_per_call',
    ],
    // Below 0.01 B per call is a few KB over millions of calls: V8 bookkeeping, not the call.
    op: '<=',
    limit: 0.009,
    format: 'bytesPerCall',
  },
  {
    figure: '`inc({3 labels})` vs prom-client',
    target: '≤ 0.15×',
    group: 'hot',
    keys: ['counter_inc_labels.ratio'],
    op: '<=',
    limit: 0.15,
    format: 'ratio',
  },
  {
    figure: '`gauge.set({3 labels}, v)` vs prom-client',
    target: '≤ 0.15×',
    group: 'hot',
    keys: ['gauge_set_labels.ratio'],
    op: '<=',
    limit: 0.15,
    format: 'ratio',
  },
  {
    figure: 'histogram `observe`, bound, vs prom-client',
    target: '≤ 0.05×',
    group: 'hot',
    keys: ['histogram_child_observe.ratio'],
    op: '<=',
    limit: 0.05,
    format: 'ratio',
  },
  {
    // Issue 7: the quantile summary's bound observe stays within the bound-observe target.
    figure: 'summary-with-quantiles `observe`, bound, vs prom-client (percentiles, same window)',
    target: '≤ 0.05×',
    group: 'hot',
    keys: ['summary_quantiles_child_observe.ratio'],
    op: '<=',
    limit: 0.05,
    format: 'ratio',
  },
  {
    figure: 'histogram `observe` with labels vs prom-client',
    target: '≤ 0.2×',
    group: 'hot',
    keys: ['histogram_observe_labels.ratio'],
    op: '<=',
    limit: 0.2,
    format: 'ratio',
  },
  {
    figure: 'flush 100,000 dirty counter series vs naive ioredis `multi()`',
    target: '≥ 5× faster',
    group: 'flush',
    keys: ['counter.100000.speedup_vs_multi'],
    op: '>=',
    limit: 5,
    format: 'ratio',
    context: (f) =>
      ` (${formatValue(num(f['counter.100000.lib_ms']), 'ms')} vs ${formatValue(num(f['counter.100000.naive_ms']), 'ms')})`,
  },
  {
    figure: 'flush 100,000 dirty series: series/s vs the HINCRBYFLOAT server ceiling',
    target: '≥ 0.7×',
    group: 'flush',
    keys: ['counter.100000.vs_ceiling'],
    op: '>=',
    limit: 0.7,
    format: 'ratio',
    context: (f) =>
      ` (${formatValue(num(f['counter.100000.series_per_s']), 'rate')} vs ${formatValue(num(f.ceiling_hincrbyfloat_rps), 'rate')})`,
  },
  {
    figure: 'Node CPU per flushed series (100,000 counters)',
    target: '≤ 1 µs',
    group: 'flush',
    keys: ['counter.100000.cpu_us_per_series'],
    op: '<=',
    limit: 1,
    format: 'us',
  },
  {
    figure: 'Redis time per changed counter series (flush of 100,000)',
    target: '≤ 1 µs',
    group: 'flush',
    keys: ['counter.100000.redis_us_per_series'],
    op: '<=',
    limit: 1,
    format: 'us',
    context: (f) =>
      ` (one bare HINCRBY takes ${formatValue(num(f.hincrby_command_us), 'us')} of execution alone, redis-benchmark in this run)`,
  },
  {
    figure: 'longest event-loop stall while flushing 100,000 series',
    target: '≤ 20 ms',
    group: 'flush',
    keys: ['counter.100000.stall_ms', 'histogram.100000.stall_ms'],
    op: '<=',
    limit: 20,
    format: 'ms',
  },
  {
    figure: 'longest event-loop stall while scraping 100,000 series',
    target: '≤ 20 ms',
    group: 'scrape',
    keys: ['counter.100000.stall_ms'],
    op: '<=',
    limit: 20,
    format: 'ms',
  },
  {
    figure: "scrape 100,000 counter series from Redis vs prom-client's in-memory `metrics()`",
    target: '≤ 0.35× the time',
    group: 'scrape',
    keys: ['counter.100000.ratio'],
    op: '<=',
    limit: 0.35,
    format: 'ratio',
    context: (f) =>
      ` (${formatValue(num(f['counter.100000.lib_ms']), 'ms')} vs ${formatValue(num(f['counter.100000.peer_ms']), 'ms')}; a bare HSCAN of the family alone: ${formatValue(num(f['counter.100000.floor_ratio']), 'ratio')})`,
  },
  {
    figure: 'scrape 10,000 histogram series vs prom-client',
    target: '≤ 0.35× the time',
    group: 'scrape',
    keys: ['histogram.10000.ratio'],
    op: '<=',
    limit: 0.35,
    format: 'ratio',
    context: (f) =>
      ` (${formatValue(num(f['histogram.10000.lib_ms']), 'ms')} vs ${formatValue(num(f['histogram.10000.peer_ms']), 'ms')}; a bare HSCAN of the family alone: ${formatValue(num(f['histogram.10000.floor_ratio']), 'ratio')})`,
  },
  {
    figure: 'e2e requests/s with this library vs no metrics',
    target: '≥ 0.97×',
    group: 'e2e',
    keys: ['lib.vs_none'],
    op: '>=',
    limit: 0.97,
    format: 'ratio',
  },
  {
    figure: 'memory per buffered series (counter, 3 labels)',
    target: '≤ 120 bytes',
    group: 'hot',
    keys: ['memory_per_series_bytes'],
    op: '<=',
    limit: 120,
    format: 'int',
    context: (f) => ` B (prom-client ${formatValue(num(f.peer_memory_per_series_bytes), 'int')} B)`,
  },
  {
    figure: 'totals in Redis exact across the worker processes',
    target: 'exact',
    group: 'processes',
    keys: ['all_exact'],
    op: '==',
    limit: 1,
    format: 'bool',
  },
  ...sharedTargets(),
];

/** "N series" as the shared group's judged figures say it (null: not measured). */
function seriesAt(value: unknown): string {
  const n = num(value);
  return n === null ? 'no size measured' : `${n.toLocaleString('en-US')} series`;
}

/** Per workload: "flush counters (new series) 182 ms, …" from the shared group's `at<S>.<workload>.<figure>`. */
function perWorkload(f: GroupResult['figures'], at: string, figure: string): string {
  return Object.entries(SHARED_WORKLOADS)
    .map(([w, name]) => `${name} ${formatValue(num(f[`${at}.${w}.${figure}`]), 'ms')}`)
    .join(', ');
}

/**
 * Issue 13 (the shared group). Each is judged on the largest N ≤ its size that the run
 * measured (quick mode: 100,000), and the measured column says which N that was.
 */
function sharedTargets(): Target[] {
  const sizeNote = (f: GroupResult['figures'], at: string, size: number): string => {
    const n = num(f[`${at}.size`]);
    return n === size ? '' : ` — measured at ${seriesAt(n)}, not ${size.toLocaleString('en-US')}`;
  };
  const longest = (size: number, label: string): Target => ({
    figure: `longest single Redis command during a flush or a scrape of ${label} series`,
    target: '≤ 5 ms',
    group: 'shared',
    keys: [`at${size}.longest_ms`],
    op: '<=',
    limit: 5,
    format: 'ms',
    context: (f) => ` (${perWorkload(f, `at${size}`, 'longest_ms')})${sizeNote(f, `at${size}`, size)}`,
  });
  return [
    longest(200_000, '200k'),
    longest(1_000_000, '1M'),
    {
      figure: "an unrelated client's max wait during a flush then a scrape of 200k series",
      target: '≤ 25 ms',
      group: 'shared',
      keys: ['at200000.wait_max_ms'],
      op: '<=',
      limit: 25,
      format: 'ms',
      context: (f) => ` (${perWorkload(f, 'at200000', 'wait_max_ms')})${sizeNote(f, 'at200000', 200_000)}`,
    },
    {
      figure: '`BUSY` errors an unrelated client gets when 1M histogram series flush at once',
      target: '0',
      group: 'shared',
      keys: ['at1000000.histogram_flush.busy'],
      op: '<=',
      limit: 0,
      format: 'int',
      context: (f) => {
        const n = num(f['at1000000.histogram_flush.size']);
        return n === 1_000_000 ? '' : ` — measured at ${seriesAt(n)}, not 1,000,000`;
      },
    },
  ];
}

/**
 * Judge every target on this run's figures. With `judge` false (smoke mode: sizes and time
 * budgets far too small to mean anything) figures are shown but no target is judged.
 */
export function evaluateTargets(figures: Figures, judge = true): TargetResult[] {
  return TARGETS.map((t) => {
    const group = figures[t.group];
    const values = t.keys.map((k) => group?.[k]).filter((v) => v !== undefined && v !== null);
    if (group === undefined || values.length === 0) {
      const why = group === undefined ? `${t.group} not run` : 'not measured at these sizes';
      return { figure: t.figure, target: t.target, measured: null, shown: why, met: null };
    }
    const numbers = values.map((v) => (typeof v === 'boolean' ? (v ? 1 : 0) : v));
    const worst = t.op === '>=' || t.op === '==' ? Math.min(...numbers) : Math.max(...numbers);
    const met = t.op === '<=' ? worst <= t.limit : worst >= t.limit;
    const shown =
      t.keys.length > 1
        ? numbers.map((v) => formatValue(v, t.format)).join(' / ')
        : formatValue(t.format === 'bool' ? worst !== 0 : worst, t.format);
    const note = judge ? '' : ' (smoke: not judged)';
    return {
      figure: t.figure,
      target: t.target,
      measured: worst,
      shown: shown + (t.context?.(group) ?? '') + note,
      met: judge ? met : null,
    };
  });
}
