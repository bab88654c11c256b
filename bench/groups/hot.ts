/**
 * hot: what one recording call costs, this library beside prom-client 15, in the same process.
 *
 * Every task is a loop of `batch` calls written out in its own function (a shared loop calling
 * `op(i)` would be one megamorphic call site and add more than the calls being measured).
 * tinybench times each batch; ns/op is batch time / batch size, so p99 is the p99 of batch
 * means. Label objects are fresh literals per call, cycling over 64 label sets, as in
 * application code. This library's metrics record into a registry without Redis: the hot path
 * never touches Redis, and a cell is put on the dirty list once per flush, not per call.
 */
import { getHeapStatistics, GCProfiler } from 'node:v8';
import * as prom from 'prom-client';
import { Bench } from 'tinybench';
import { CommonGauge, Counter, Gauge, Histogram, Registry, Summary } from '../../src/index.js';
import type { ChartBar, GroupContext, GroupResult } from '../lib/group.js';
import { forceGc } from '../lib/measure.js';
import type { Row, Table } from '../lib/table.js';

const ROUTES = ['/', '/login', '/api/users', '/api/orders', '/api/items', '/health', '/static', '/search'];
const METHODS = ['GET', 'POST'];
const STATUSES = ['200', '201', '404', '500'];
/** 64 observation values spread over the default buckets (0.005 … 10 s) and beyond. */
const VALUES = Array.from({ length: 64 }, (_, i) => 0.001 * 1.15 ** i);
const LABEL_NAMES = ['route', 'method', 'status'] as const;

type Loop = (n: number) => void;

interface HotCase {
  readonly id: string;
  readonly call: string;
  readonly lib: Loop;
  readonly peer: Loop | undefined;
  /** Bound-child calls must not allocate (a target). */
  readonly boundChild: boolean;
}

function buildCases(): { cases: HotCase[]; floor: Loop } {
  const registry = new Registry({ selfMetrics: false, flushIntervalMs: 3_600_000 });
  const labelNames = [...LABEL_NAMES];
  const counter = new Counter({ name: 'hot_requests_total', help: 'h', labelNames, registry });
  const histogram = new Histogram({ name: 'hot_latency_seconds', help: 'h', labelNames, registry });
  const summary = new Summary({ name: 'hot_payload_bytes', help: 'h', registry });
  const quantiles = new Summary({
    name: 'hot_payload_q_bytes',
    help: 'h',
    percentiles: [0.5, 0.9, 0.99],
    maxAgeSeconds: 600,
    ageBuckets: 5,
    registry,
  });
  const qChild = quantiles.labels();
  const gauge = new Gauge({ name: 'hot_queue_depth', help: 'h', labelNames, registry });
  const common = new CommonGauge({ name: 'hot_inflight', help: 'h', registry });

  const reg = new prom.Registry();
  const registers = [reg];
  const pCounter = new prom.Counter({ name: 'hot_requests_total', help: 'h', labelNames, registers });
  const pHistogram = new prom.Histogram({ name: 'hot_latency_seconds', help: 'h', labelNames, registers });
  const pSummary = new prom.Summary({ name: 'hot_payload_bytes', help: 'h', registers });
  const pQuantiles = new prom.Summary({
    name: 'hot_payload_q_bytes',
    help: 'h',
    percentiles: [0.5, 0.9, 0.99],
    maxAgeSeconds: 600,
    ageBuckets: 5,
    registers,
  });
  const pGauge = new prom.Gauge({ name: 'hot_queue_depth', help: 'h', labelNames, registers });
  const pCommon = new prom.Gauge({ name: 'hot_inflight', help: 'h', registers });

  const one = { route: '/api/users', method: 'GET', status: '200' };
  const cChild = counter.labels(one);
  const hChild = histogram.labels(one);
  const gChild = gauge.labels(one);
  const pcChild = pCounter.labels(one);
  const phChild = pHistogram.labels(one);
  const pgChild = pGauge.labels(one);

  const held = { v: 0 };
  const floor: Loop = (n) => {
    for (let i = 0; i < n; i++) held.v += 1;
  };

  const cases: HotCase[] = [
    {
      id: 'counter_child_inc',
      call: 'counter child inc()',
      boundChild: true,
      lib: (n) => {
        for (let i = 0; i < n; i++) cChild.inc();
      },
      peer: (n) => {
        for (let i = 0; i < n; i++) pcChild.inc();
      },
    },
    {
      id: 'counter_inc_labels',
      call: 'counter inc({3 labels})',
      boundChild: false,
      lib: (n) => {
        for (let i = 0; i < n; i++)
          counter.inc({
            route: ROUTES[i & 7]!,
            method: METHODS[(i >> 3) & 1]!,
            status: STATUSES[(i >> 4) & 3]!,
          });
      },
      peer: (n) => {
        for (let i = 0; i < n; i++)
          pCounter.inc({
            route: ROUTES[i & 7]!,
            method: METHODS[(i >> 3) & 1]!,
            status: STATUSES[(i >> 4) & 3]!,
          });
      },
    },
    {
      id: 'histogram_child_observe',
      call: 'histogram child observe(v)',
      boundChild: true,
      lib: (n) => {
        for (let i = 0; i < n; i++) hChild.observe(VALUES[i & 63]!);
      },
      peer: (n) => {
        for (let i = 0; i < n; i++) phChild.observe(VALUES[i & 63]!);
      },
    },
    {
      id: 'histogram_observe_labels',
      call: 'histogram observe({3 labels}, v)',
      boundChild: false,
      lib: (n) => {
        for (let i = 0; i < n; i++)
          histogram.observe(
            { route: ROUTES[i & 7]!, method: METHODS[(i >> 3) & 1]!, status: STATUSES[(i >> 4) & 3]! },
            VALUES[i & 63]!,
          );
      },
      peer: (n) => {
        for (let i = 0; i < n; i++)
          pHistogram.observe(
            { route: ROUTES[i & 7]!, method: METHODS[(i >> 3) & 1]!, status: STATUSES[(i >> 4) & 3]! },
            VALUES[i & 63]!,
          );
      },
    },
    {
      id: 'summary_observe',
      call: 'summary observe(v)',
      boundChild: false,
      lib: (n) => {
        for (let i = 0; i < n; i++) summary.observe(VALUES[i & 63]!);
      },
      peer: (n) => {
        for (let i = 0; i < n; i++) pSummary.observe(VALUES[i & 63]!);
      },
    },
    {
      id: 'summary_quantiles_child_observe',
      call: 'summary with quantiles, child observe(v)',
      boundChild: true,
      lib: (n) => {
        for (let i = 0; i < n; i++) qChild.observe(VALUES[i & 63]!);
      },
      peer: (n) => {
        for (let i = 0; i < n; i++) pQuantiles.observe(VALUES[i & 63]!);
      },
    },
    {
      id: 'gauge_child_set',
      call: 'gauge child set(v)',
      boundChild: true,
      lib: (n) => {
        for (let i = 0; i < n; i++) gChild.set(VALUES[i & 63]!);
      },
      peer: (n) => {
        for (let i = 0; i < n; i++) pgChild.set(VALUES[i & 63]!);
      },
    },
    {
      id: 'gauge_set_labels',
      call: 'gauge set({3 labels}, v)',
      boundChild: false,
      lib: (n) => {
        for (let i = 0; i < n; i++)
          gauge.set(
            { route: ROUTES[i & 7]!, method: METHODS[(i >> 3) & 1]!, status: STATUSES[(i >> 4) & 3]! },
            VALUES[i & 63]!,
          );
      },
      peer: (n) => {
        for (let i = 0; i < n; i++)
          pGauge.set(
            { route: ROUTES[i & 7]!, method: METHODS[(i >> 3) & 1]!, status: STATUSES[(i >> 4) & 3]! },
            VALUES[i & 63]!,
          );
      },
    },
    {
      id: 'common_gauge_inc',
      call: 'CommonGauge inc() (peer: Gauge inc())',
      boundChild: false,
      lib: (n) => {
        for (let i = 0; i < n; i++) common.inc();
      },
      peer: (n) => {
        for (let i = 0; i < n; i++) pCommon.inc();
      },
    },
  ];
  return { cases, floor };
}

/** Heap bytes allocated by one run of `loop(calls)`: heap growth plus everything collected meanwhile. */
function allocatedOnce(loop: Loop, calls: number): number {
  forceGc();
  const profiler = new GCProfiler();
  profiler.start();
  const before = getHeapStatistics().used_heap_size;
  loop(calls);
  const after = getHeapStatistics().used_heap_size;
  const { statistics } = profiler.stop();
  let collected = 0;
  for (const gc of statistics) {
    collected += gc.beforeGC.heapStatistics.usedHeapSize - gc.afterGC.heapStatistics.usedHeapSize;
  }
  return Math.max(0, after - before + collected);
}

/**
 * Bytes allocated per call. V8 allocates while it optimizes code — the measured loop, and the
 * measuring code itself (~15 KB per run until `allocatedOnce` is optimized, whatever the call
 * count) — so the measurement is warmed up on an empty loop first (see `run`), the loop is
 * invoked ten times, and the least of three runs is kept: a real per-call allocation shows in
 * every run, so the minimum cannot hide it.
 */
function allocatedPerCall(loop: Loop, calls: number): number {
  for (let i = 0; i < 10; i++) loop(Math.min(100_000, Math.ceil(calls / 10)));
  let least = Number.POSITIVE_INFINITY;
  for (let i = 0; i < 3; i++) least = Math.min(least, allocatedOnce(loop, calls));
  return least / calls;
}

/** Let V8 optimize the measuring code before anything is measured with it. */
function warmUpAllocationProbe(): void {
  const empty: Loop = (n) => {
    for (let i = 0; i < n; i++);
  };
  for (let i = 0; i < 12; i++) allocatedOnce(empty, 1000);
}

/**
 * Heap retained per series after creating `count` counter series with 3 labels. The label
 * value strings exist before and after (the application holds them), so only what the library
 * adds is counted: maps, cells, the rendered series key, the dirty list.
 */
function memoryPerSeries(count: number, create: () => (l: Record<string, string>) => void): number {
  const a = Array.from({ length: 50 }, (_, i) => `/route/${i}`);
  const b = Array.from({ length: 40 }, (_, i) => `method-${i}`);
  const perC = Math.ceil(count / (a.length * b.length));
  const c = Array.from({ length: perC }, (_, i) => String(200 + i));
  forceGc();
  const before = getHeapStatistics().used_heap_size;
  const record = create();
  let n = 0;
  outer: for (const x of a)
    for (const y of b)
      for (const z of c) {
        if (n++ >= count) break outer;
        record({ route: x, method: y, status: z });
      }
  forceGc();
  const after = getHeapStatistics().used_heap_size;
  // Keep everything alive until after the measurement.
  if (a.length + b.length + c.length === 0) record({});
  return (after - before) / count;
}

function measureHot(context: GroupContext): GroupResult {
  const { batch, timeMs, warmupMs, allocCalls, memorySeries } = context.config.hot;
  const { cases, floor } = buildCases();
  const bench = new Bench({
    time: timeMs,
    warmupTime: warmupMs,
    iterations: 20,
    warmupIterations: 20,
    throws: true,
  });
  bench.add('floor', () => floor(batch));
  for (const c of cases) {
    bench.add(`lib:${c.id}`, () => c.lib(batch));
    if (c.peer !== undefined) {
      const peer = c.peer;
      bench.add(`peer:${c.id}`, () => peer(batch));
    }
  }
  context.log(`hot: timing ${bench.tasks.length} tasks, ${timeMs} ms each`);
  bench.runSync();

  const perOp = (name: string): { p50: number; p99: number } => {
    const result = bench.getTask(name)?.result;
    if (result === undefined || !('latency' in result)) throw new Error(`hot: task ${name} has no result`);
    return { p50: (result.latency.p50 * 1e6) / batch, p99: (result.latency.p99 * 1e6) / batch };
  };

  context.log(`hot: allocation over ${allocCalls.toLocaleString('en-US')} calls per case`);
  warmUpAllocationProbe();
  const floorNs = perOp('floor').p50;
  const rows: Row[] = [];
  const chart: ChartBar[] = [];
  const figures: Record<string, number | boolean | null> = { floor_ns: floorNs };
  for (const c of cases) {
    const lib = perOp(`lib:${c.id}`);
    const peer = c.peer === undefined ? undefined : perOp(`peer:${c.id}`);
    const libBytes = allocatedPerCall(c.lib, allocCalls);
    const peerBytes = c.peer === undefined ? null : allocatedPerCall(c.peer, allocCalls);
    const ratio = peer === undefined ? null : lib.p50 / peer.p50;
    rows.push({
      ratio,
      vsFloor: lib.p50 / floorNs,
      call: c.call,
      libP50: lib.p50,
      libP99: lib.p99,
      peerP50: peer?.p50 ?? null,
      peerP99: peer?.p99 ?? null,
      libBytes,
      peerBytes,
    });
    if (peer !== undefined) chart.push({ label: c.call, lib: lib.p50, peer: peer.p50 });
    figures[`${c.id}.ratio`] = ratio;
    figures[`${c.id}.lib_ns`] = lib.p50;
    figures[`${c.id}.lib_p99_ns`] = lib.p99;
    figures[`${c.id}.peer_ns`] = peer?.p50 ?? null;
    figures[`${c.id}.vs_floor`] = lib.p50 / floorNs;
    figures[`${c.id}.lib_bytes_per_call`] = libBytes;
    figures[`${c.id}.peer_bytes_per_call`] = peerBytes;
  }
  rows.push({
    ratio: null,
    vsFloor: 1,
    call: 'floor: `cell.v += 1` on a held object',
    libP50: floorNs,
    libP99: perOp('floor').p99,
    peerP50: null,
    peerP99: null,
    libBytes: allocatedPerCall(floor, allocCalls),
    peerBytes: null,
  });
  figures.bound_child_max_bytes_per_call = Math.max(
    ...cases.filter((c) => c.boundChild).map((c) => figures[`${c.id}.lib_bytes_per_call`] as number),
  );

  context.log(`hot: memory per series over ${memorySeries.toLocaleString('en-US')} series`);
  const libMemory = memoryPerSeries(memorySeries, () => {
    const registry = new Registry({
      selfMetrics: false,
      flushIntervalMs: 3_600_000,
      maxSeriesPerMetric: memorySeries * 2,
    });
    const counter = new Counter({ name: 'mem_total', help: 'h', labelNames: [...LABEL_NAMES], registry });
    return (labels) => counter.inc(labels as Record<(typeof LABEL_NAMES)[number], string>);
  });
  const peerMemory = memoryPerSeries(memorySeries, () => {
    const counter = new prom.Counter({
      name: 'mem_total',
      help: 'h',
      labelNames: [...LABEL_NAMES],
      registers: [],
    });
    return (labels) => counter.inc(labels);
  });
  figures.memory_per_series_bytes = libMemory;
  figures.peer_memory_per_series_bytes = peerMemory;

  const timing: Table = {
    id: 'hot',
    title: 'hot — ns per call, this library vs prom-client',
    columns: [
      { key: 'ratio', header: 'ratio (lib/peer)', format: 'ratio' },
      { key: 'vsFloor', header: 'vs field add', format: 'ratio' },
      { key: 'call', header: 'call', format: 'text' },
      { key: 'libP50', header: 'lib median', format: 'ns' },
      { key: 'libP99', header: 'lib p99', format: 'ns' },
      { key: 'peerP50', header: 'prom-client median', format: 'ns' },
      { key: 'peerP99', header: 'prom-client p99', format: 'ns' },
      { key: 'libBytes', header: 'lib alloc/call', format: 'bytesPerCall' },
      { key: 'peerBytes', header: 'prom-client alloc/call', format: 'bytesPerCall' },
    ],
    rows,
    notes: [
      `ns/op = tinybench sample time / ${batch} calls in one loop; p99 is over those batch means.`,
      'Label objects are fresh literals per call over 64 label sets; histograms use the default 11 buckets.',
      "prom-client's Summary keeps a t-digest per process; this library's plain Summary keeps count and sum, and with percentiles a mergeable log-bucket sketch (quantiles merged over every process, ≤ 0.5% relative error).",
      `alloc/call = heap allocated (growth + collected, v8.GCProfiler) over ${allocCalls.toLocaleString('en-US')} calls; least of 3 runs after warming up the loop and the probe (V8 allocates while it optimizes code).`,
    ],
  };
  const memory: Table = {
    id: 'hot-memory',
    title: 'hot — memory per buffered series (counter, 3 labels)',
    columns: [
      { key: 'ratio', header: 'ratio (lib/peer)', format: 'ratio' },
      { key: 'series', header: 'series', format: 'int' },
      { key: 'lib', header: 'lib bytes/series', format: 'int' },
      { key: 'peer', header: 'prom-client bytes/series', format: 'int' },
    ],
    rows: [{ ratio: libMemory / peerMemory, series: memorySeries, lib: libMemory, peer: peerMemory }],
    notes: [
      'Retained heap after a full GC; label value strings are held by the application in both cases and not counted.',
      'Label shape 50 × 40 × N values; this includes the rendered series key and the dirty list entry.',
    ],
  };
  return { group: 'hot', tables: [timing, memory], figures, chart };
}

export function run(context: GroupContext): Promise<GroupResult> {
  return Promise.resolve(measureHot(context));
}
