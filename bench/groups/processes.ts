/**
 * processes: N worker processes (bench/worker.ts) hammer metrics while this process scrapes the
 * merged state with `registry.metrics()` back to back. Each worker runs this library's phase and
 * then prom-client's (same calls, in memory) — the peer is measured in the same processes and
 * run — and the scraper runs through both phases, so the load around the workers is the same.
 * Reports total ops/s, the flush lag (a marker `inc()` to its visibility in `metrics()`), and
 * whether the totals in Redis are exact.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { performance } from 'node:perf_hooks';
import { createInterface } from 'node:readline';
import { Registry } from '../../src/index.js';
import type { GroupContext, GroupResult } from '../lib/group.js';
import { Latencies, sleep } from '../lib/measure.js';
import { ROOT } from '../lib/paths.js';
import {
  expectedTotals,
  OPS_PER_ITERATION,
  parseSamples,
  type WorkerReport,
} from '../lib/processes-workload.js';
import { benchPrefix, connect, deleteKeys, prefixPattern } from '../lib/redis.js';
import type { Row, Table } from '../lib/table.js';

/** Pause between two scrapes of the scraper loop. */
const SCRAPE_PAUSE_MS = 5;

interface Worker {
  readonly child: ChildProcess;
  readonly ready: Promise<void>;
  readonly report: Promise<WorkerReport>;
}

function startWorker(context: GroupContext, prefix: string, id: number): Worker {
  const { phaseMs, flushIntervalMs } = context.config.processes;
  const child = spawn(
    process.execPath,
    [
      '--import',
      'tsx',
      'bench/worker.ts',
      context.redisUrl,
      prefix,
      String(id),
      String(phaseMs),
      String(flushIntervalMs),
    ],
    { cwd: ROOT, stdio: ['pipe', 'pipe', 'pipe'] },
  );
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  const lines = createInterface({ input: child.stdout });
  let markReady: () => void = () => {};
  const ready = new Promise<void>((resolve) => (markReady = resolve));
  let last = '';
  lines.on('line', (line) => {
    if (line === 'ready') markReady();
    else last = line;
  });
  const report = once(child, 'exit').then(([code]) => {
    if (code !== 0) throw new Error(`worker ${id} exited with ${String(code)}:\n${stderr}`);
    return JSON.parse(last) as WorkerReport;
  });
  // Surface a worker that dies before it is ready instead of waiting forever.
  const readyOrDead = Promise.race([ready, report.then(() => {})]);
  return { child, ready: readyOrDead, report };
}

interface RunResult {
  readonly workers: number;
  readonly libOpsPerS: number;
  readonly peerOpsPerS: number;
  readonly lag: Latencies;
  readonly scrapes: number;
  readonly exact: boolean;
  readonly mismatches: readonly string[];
  readonly errors: readonly string[];
}

async function runWorkers(context: GroupContext, count: number): Promise<RunResult> {
  const prefix = benchPrefix('proc');
  const workers = Array.from({ length: count }, (_, i) => startWorker(context, prefix, i));
  await Promise.all(workers.map((w) => w.ready));
  const reader = new Registry({
    redis: context.redisUrl,
    prefix,
    selfMetrics: false,
    flushIntervalMs: 3_600_000,
  });
  /** Per worker: [value, wall time] each time the scraper saw its marker counter go up. */
  const seen = new Map<string, Array<[number, number]>>();
  let running = true;
  let scrapes = 0;
  const scraper = (async () => {
    while (running) {
      const text = await reader.metrics();
      const at = performance.timeOrigin + performance.now();
      scrapes++;
      for (const [key, value] of parseSamples(text)) {
        const match = /^bench_proc_marker_total\{worker="(\d+)"\}$/.exec(key);
        if (match === null) continue;
        const list = seen.get(match[1]!) ?? [];
        if (list.length === 0 || list[list.length - 1]![0] < value) list.push([value, at]);
        seen.set(match[1]!, list);
      }
      await sleep(SCRAPE_PAUSE_MS);
    }
  })();
  for (const w of workers) w.child.stdin!.end('go\n');
  let reports: WorkerReport[];
  try {
    reports = await Promise.all(workers.map((w) => w.report));
  } finally {
    running = false;
    await scraper;
  }

  const lag = new Latencies();
  for (const report of reports) {
    const list = seen.get(report.worker) ?? [];
    report.lib.markers.forEach((at, k) => {
      const visible = list.find(([value]) => value >= k + 1);
      if (visible !== undefined) lag.recordMs(Math.max(0, visible[1] - at));
    });
  }
  const final = parseSamples(await reader.metrics());
  const mismatches: string[] = [];
  for (const [key, value] of expectedTotals(reports)) {
    const got = final.get(key);
    if (got !== value) mismatches.push(`${key}: expected ${value}, got ${String(got)}`);
  }
  await reader.close();
  const admin = connect(context.redisUrl);
  await deleteKeys(admin, prefixPattern(prefix));
  admin.disconnect();
  const rate = (pick: (r: WorkerReport) => { iterations: number; ms: number }): number =>
    reports.reduce((total, r) => total + (pick(r).iterations * OPS_PER_ITERATION) / (pick(r).ms / 1000), 0);
  return {
    workers: count,
    libOpsPerS: rate((r) => r.lib),
    peerOpsPerS: rate((r) => r.peer),
    lag,
    scrapes,
    exact: mismatches.length === 0 && lag.count === reports.reduce((n, r) => n + r.lib.markers.length, 0),
    mismatches,
    errors: reports.flatMap((r) => r.errors),
  };
}

export async function run(context: GroupContext): Promise<GroupResult> {
  const { workers, phaseMs, flushIntervalMs } = context.config.processes;
  const results: RunResult[] = [];
  for (const count of workers) {
    context.log(`processes: ${count} worker(s), 2 phases × ${phaseMs} ms`);
    results.push(await runWorkers(context, count));
  }
  const single = results.find((r) => r.workers === 1)?.libOpsPerS;
  const figures: Record<string, number | boolean | null> = { flush_interval_ms: flushIntervalMs };
  const rows: Row[] = results.map((r) => {
    const s = r.lag.summary();
    const id = `workers_${r.workers}`;
    figures[`${id}.ratio`] = r.libOpsPerS / r.peerOpsPerS;
    figures[`${id}.lib_ops_per_s`] = r.libOpsPerS;
    figures[`${id}.peer_ops_per_s`] = r.peerOpsPerS;
    figures[`${id}.lag_p50_ms`] = s.p50;
    figures[`${id}.lag_p99_ms`] = s.p99;
    figures[`${id}.lag_p999_ms`] = s.p999;
    figures[`${id}.lag_max_ms`] = s.max;
    figures[`${id}.exact`] = r.exact;
    figures[`${id}.errors`] = r.errors.length;
    return {
      ratio: r.libOpsPerS / r.peerOpsPerS,
      workers: r.workers,
      lib: r.libOpsPerS,
      peer: r.peerOpsPerS,
      scaling: single === undefined ? null : r.libOpsPerS / single,
      p50: s.p50,
      p99: s.p99,
      p999: s.p999,
      max: s.max,
      scrapes: r.scrapes,
      exact: r.exact,
    };
  });
  figures.all_exact = results.every((r) => r.exact);
  const problems = results.flatMap((r) => [...r.mismatches.slice(0, 5), ...r.errors.slice(0, 5)]);
  const table: Table = {
    id: 'processes',
    title: `processes — N workers hammering metrics while one process scrapes (flushIntervalMs ${flushIntervalMs})`,
    columns: [
      { key: 'ratio', header: 'ratio (lib/peer ops/s)', format: 'ratio' },
      { key: 'workers', header: 'workers', format: 'int' },
      { key: 'lib', header: 'lib ops/s (total)', format: 'rate' },
      { key: 'peer', header: 'prom-client ops/s', format: 'rate' },
      { key: 'scaling', header: 'lib vs 1 worker', format: 'ratio' },
      { key: 'p50', header: 'lag p50', format: 'ms' },
      { key: 'p99', header: 'lag p99', format: 'ms' },
      { key: 'p999', header: 'lag p99.9', format: 'ms' },
      { key: 'max', header: 'lag max', format: 'ms' },
      { key: 'scrapes', header: 'scrapes', format: 'int' },
      { key: 'exact', header: 'totals exact', format: 'bool' },
    ],
    rows,
    notes: [
      `Each worker: ${phaseMs} ms with this library (flushing to Redis), then ${phaseMs} ms with prom-client (in memory, not shared); an op is one of: bound inc(), inc({3 labels}), observe({route}, v).`,
      `lag = time from a marker inc() in a worker to the first scrape (metrics() back to back, ${SCRAPE_PAUSE_MS} ms apart) that shows it; markers every 20 ms.`,
      'totals exact = every series in Redis equals what the workers recorded (and every marker was seen).',
      'The machine has 2 cores: beyond 2 workers they share them with Redis and the scraper.',
      ...problems,
    ],
  };
  return { group: 'processes', tables: [table], figures };
}
