/**
 * flush: time and Node CPU to flush N dirty series (counters; histograms with 10 buckets), beside
 * a naive ioredis `multi()` of the same writes and redis-benchmark's pipelined ceiling for them
 * on the same server. Registries use a one-hour interval; every measured round dirties every
 * series and calls `registry.flush()` explicitly.
 */
import type { Redis } from 'ioredis';
import { Counter, Histogram, Registry } from '../../src/index.js';
import type { GroupContext, GroupResult } from '../lib/group.js';
import { Latencies, distributionRow, measure, median, type Measured } from '../lib/measure.js';
import {
  benchPrefix,
  ceiling,
  connect,
  commandUsec,
  deleteKeys,
  prefixPattern,
  scriptUsec,
  type Ceiling,
} from '../lib/redis.js';
import type { Row, Table } from '../lib/table.js';
import { LABEL_NAMES, labelSet, renderedKey, TEN_BUCKETS, THREE_OBSERVATIONS } from '../lib/workload.js';

type Kind = 'counter' | 'histogram';

/** Redis writes per dirty series: one HINCRBYFLOAT; or the sum plus three bucket HINCRBYs. */
const WRITES: Record<Kind, number> = { counter: 1, histogram: 4 };

/** Bucket slots of THREE_OBSERVATIONS in TEN_BUCKETS (what the script's HINCRBYs touch). */
const SLOTS = THREE_OBSERVATIONS.map((v) => TEN_BUCKETS.findIndex((b) => v <= b));

interface Series {
  /** Make every series dirty (one round of recording). */
  dirty(): void;
  readonly fields: readonly string[];
}

function createSeries(kind: Kind, registry: Registry, size: number): Series {
  const fields: string[] = [];
  const labelNames = [...LABEL_NAMES];
  if (kind === 'counter') {
    const counter = new Counter({
      name: 'bench_flush_total',
      help: 'Flush benchmark.',
      labelNames,
      registry,
    });
    const children = Array.from({ length: size }, (_, i) => {
      const labels = labelSet(i);
      fields.push(renderedKey(labels));
      return counter.labels(labels);
    });
    return {
      fields,
      dirty: () => {
        for (const child of children) child.inc();
      },
    };
  }
  const histogram = new Histogram({
    name: 'bench_flush_seconds',
    help: 'Flush benchmark.',
    labelNames,
    buckets: TEN_BUCKETS,
    registry,
  });
  const children = Array.from({ length: size }, (_, i) => {
    const labels = labelSet(i);
    fields.push(renderedKey(labels));
    return histogram.labels(labels);
  });
  return {
    fields,
    dirty: () => {
      for (const child of children) for (const v of THREE_OBSERVATIONS) child.observe(v);
    },
  };
}

/** The same writes as one flush, as a naive application would send them: one multi(). */
function naiveFlush(redis: Redis, kind: Kind, key: string, fields: readonly string[]): Promise<unknown> {
  const multi = redis.multi();
  if (kind === 'counter') {
    for (const field of fields) multi.hincrbyfloat(key, field, 1);
  } else {
    const sum = THREE_OBSERVATIONS.reduce((a, b) => a + b, 0);
    for (const field of fields) {
      multi.hincrbyfloat(key, `${field}|s`, sum);
      for (const slot of SLOTS) multi.hincrby(key, `${field}|${slot}`, 1);
    }
  }
  return multi.exec();
}

interface SizeResult {
  readonly kind: Kind;
  readonly size: number;
  readonly lib: readonly Measured<void>[];
  readonly naive: readonly Measured<unknown>[];
  readonly redisMsPerFlush: number;
  readonly durations: Latencies;
}

async function measureSize(
  context: GroupContext,
  admin: Redis,
  kind: Kind,
  size: number,
  rounds: number,
  naiveRounds: number,
): Promise<SizeResult> {
  const prefix = benchPrefix('flush');
  const errors: Error[] = [];
  const registry = new Registry({
    redis: context.redisUrl,
    prefix,
    flushIntervalMs: 3_600_000,
    flushThreshold: 1_000_000_000,
    maxSeriesPerMetric: size,
    onError: (error) => errors.push(error),
  });
  const series = createSeries(kind, registry, size);
  // Warm-up: registers the metadata, creates every field in Redis, lets V8 optimize the encoder.
  series.dirty();
  await registry.flush();

  const lib: Measured<void>[] = [];
  const durations = new Latencies();
  const usecBefore = await scriptUsec(admin);
  for (let r = 0; r < rounds; r++) {
    series.dirty();
    const m = await measure(() => registry.flush());
    if (registry.flushStats.lastSeries < size) {
      throw new Error(`flush carried ${registry.flushStats.lastSeries} series, expected ${size}`);
    }
    lib.push(m);
    durations.recordMs(m.ms);
  }
  const redisMsPerFlush = (await scriptUsec(admin)) / 1000 - usecBefore / 1000;
  await registry.close();
  if (errors.length > 0) throw errors[0]!;

  // The naive multi() writes into fields that exist already, as the library's rounds did.
  const naiveKey = `{${prefix}}:naive`;
  await naiveFlush(admin, kind, naiveKey, series.fields.slice(0, 1000));
  await naiveFlush(admin, kind, naiveKey, series.fields);
  const naive: Measured<unknown>[] = [];
  for (let r = 0; r < naiveRounds; r++) {
    naive.push(await measure(() => naiveFlush(admin, kind, naiveKey, series.fields)));
  }
  await deleteKeys(admin, prefixPattern(prefix));
  return { kind, size, lib, naive, redisMsPerFlush: redisMsPerFlush / rounds, durations };
}

export async function run(context: GroupContext): Promise<GroupResult> {
  const { counters, histograms, naiveRounds, ceilingRequests } = context.config.flush;
  const admin = connect(context.redisUrl);
  context.log(`flush: redis-benchmark ceilings (${ceilingRequests.toLocaleString('en-US')} requests each)`);
  const ceilings: Partial<Record<'HINCRBYFLOAT' | 'HINCRBY', Ceiling>> = {};
  /** Execution time of one bare command in the ceiling runs (commandstats), µs. */
  const perCallUs: Partial<Record<'HINCRBYFLOAT' | 'HINCRBY', number>> = {};
  for (const command of ['HINCRBYFLOAT', 'HINCRBY'] as const) {
    const before = await commandUsec(admin, command);
    const c = await ceiling(context.redisUrl, command, ceilingRequests);
    const after = await commandUsec(admin, command);
    if (c !== undefined) ceilings[command] = c;
    if (after.calls > before.calls)
      perCallUs[command] = (after.usec - before.usec) / (after.calls - before.calls);
  }
  const floatRps = ceilings.HINCRBYFLOAT?.rps;
  const intRps = ceilings.HINCRBY?.rps;
  /** Writes/s the server reaches for a kind's mix of writes. */
  const ceilingFor = (kind: Kind): number | undefined => {
    if (floatRps === undefined) return undefined;
    if (kind === 'counter') return floatRps;
    if (intRps === undefined) return undefined;
    return WRITES.histogram / (1 / floatRps + (WRITES.histogram - 1) / intRps);
  };

  const results: SizeResult[] = [];
  for (const [kind, list] of [
    ['counter', counters],
    ['histogram', histograms],
  ] as const) {
    for (const { size, rounds } of list) {
      context.log(`flush: ${size.toLocaleString('en-US')} ${kind} series × ${rounds} rounds`);
      results.push(await measureSize(context, admin, kind, size, rounds, naiveRounds));
    }
  }
  admin.disconnect();

  const figures: Record<string, number | boolean | null> = {
    ceiling_hincrbyfloat_rps: floatRps ?? null,
    ceiling_hincrby_rps: intRps ?? null,
    hincrby_command_us: perCallUs.HINCRBY ?? null,
    hincrbyfloat_command_us: perCallUs.HINCRBYFLOAT ?? null,
  };
  const rows: Row[] = [];
  const distribution: Row[] = [];
  for (const r of results) {
    const libMs = median(r.lib.map((m) => m.ms));
    const naiveMs = median(r.naive.map((m) => m.ms));
    const libCpuUs = (median(r.lib.map((m) => m.cpuMs)) * 1000) / r.size;
    const naiveCpuUs = (median(r.naive.map((m) => m.cpuMs)) * 1000) / r.size;
    const seriesPerS = r.size / (libMs / 1000);
    const writesPerS = seriesPerS * WRITES[r.kind];
    const server = ceilingFor(r.kind);
    const vsCeiling = server === undefined ? null : writesPerS / server;
    const libStall = Math.max(...r.lib.map((m) => m.stallMs));
    const naiveStall = Math.max(...r.naive.map((m) => m.stallMs));
    rows.push({
      speedup: naiveMs / libMs,
      vsCeiling,
      kind: r.kind,
      series: r.size,
      libMs,
      naiveMs,
      seriesPerS,
      libCpuUs,
      naiveCpuUs,
      libStall,
      naiveStall,
      redisMs: r.redisMsPerFlush,
    });
    distribution.push(distributionRow(r.kind, r.size, r.durations));
    const id = `${r.kind}.${r.size}`;
    figures[`${id}.speedup_vs_multi`] = naiveMs / libMs;
    figures[`${id}.vs_ceiling`] = vsCeiling;
    figures[`${id}.lib_ms`] = libMs;
    figures[`${id}.naive_ms`] = naiveMs;
    figures[`${id}.series_per_s`] = seriesPerS;
    figures[`${id}.cpu_us_per_series`] = libCpuUs;
    figures[`${id}.naive_cpu_us_per_series`] = naiveCpuUs;
    figures[`${id}.stall_ms`] = libStall;
    figures[`${id}.naive_stall_ms`] = naiveStall;
    figures[`${id}.redis_ms`] = r.redisMsPerFlush;
    figures[`${id}.redis_us_per_series`] = (r.redisMsPerFlush * 1000) / r.size;
  }

  const main: Table = {
    id: 'flush',
    title:
      'flush — N dirty series (in chunks of flushChunkUpdates) vs a naive ioredis multi() of the same writes',
    columns: [
      { key: 'speedup', header: 'speed-up vs multi()', format: 'ratio' },
      { key: 'vsCeiling', header: 'vs server ceiling', format: 'ratio' },
      { key: 'kind', header: 'series kind', format: 'text' },
      { key: 'series', header: 'series', format: 'int' },
      { key: 'libMs', header: 'lib flush', format: 'ms' },
      { key: 'naiveMs', header: 'multi()', format: 'ms' },
      { key: 'seriesPerS', header: 'lib series/s', format: 'rate' },
      { key: 'libCpuUs', header: 'lib CPU/series', format: 'us' },
      { key: 'naiveCpuUs', header: 'multi() CPU/series', format: 'us' },
      { key: 'libStall', header: 'lib max stall', format: 'ms' },
      { key: 'naiveStall', header: 'multi() max stall', format: 'ms' },
      { key: 'redisMs', header: 'Redis script time', format: 'ms' },
    ],
    rows,
    notes: [
      'speed-up = multi() time / library flush time (median of rounds); both write the same fields of one hash.',
      `vs server ceiling = library writes/s ÷ redis-benchmark writes/s (pipeline 1000, 50 clients) on the same server: HINCRBYFLOAT ${floatRps === undefined ? 'n/a' : Math.round(floatRps).toLocaleString('en-US')}/s, HINCRBY ${intRps === undefined ? 'n/a' : Math.round(intRps).toLocaleString('en-US')}/s; a histogram series is 1 HINCRBYFLOAT + 3 HINCRBY.`,
      'CPU = process.cpuUsage() of this Node process (all threads) during the flush; stall = longest event-loop gap (monitorEventLoopDelay, 1 ms resolution).',
      'Redis script time = server-side EVALSHA time per flush, all its chunks together (INFO commandstats).',
      'A stall also counts time the OS gave both cores to other processes: compare the load average in the environment table.',
    ],
  };
  const dist: Table = {
    id: 'flush-latency',
    title: 'flush — duration distribution of the library flush (HdrHistogram)',
    columns: [
      { key: 'kind', header: 'series kind', format: 'text' },
      { key: 'series', header: 'series', format: 'int' },
      { key: 'rounds', header: 'rounds', format: 'int' },
      { key: 'p50', header: 'p50', format: 'ms' },
      { key: 'p99', header: 'p99', format: 'ms' },
      { key: 'p999', header: 'p99.9', format: 'ms' },
      { key: 'max', header: 'max', format: 'ms' },
    ],
    rows: distribution,
  };
  return { group: 'flush', tables: [main, dist], figures };
}
