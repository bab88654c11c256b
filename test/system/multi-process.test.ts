/**
 * Several real processes record into one prefix; a fresh registry in this process reads the
 * merged totals. Every number is derived from the shared workload, and every value is exact:
 * a lost or doubled flush anywhere shows up as a wrong total.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { Registry } from '../../src/index.js';
import { HISTOGRAM_VALUES, ROUTES, SUMMARY_VALUES, heapValue } from '../fixtures/workload.js';
import { purgePrefix, randomPrefix, redisClient, redisUrl } from '../support/helpers.js';
import { parseText, samplesOf, valueOf, type Exposition } from './exposition.js';
import { describeChild, runTs } from './processes.js';

const WORKERS = 4;
const ITERATIONS = 5000;
const BOUNDS = [0.125, 0.5, 1, 4];

const cleanups: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

/** Expected histogram state for one worker's `values(i)` sequence (non-cumulative counts). */
function histogramOf(value: (i: number) => number): { counts: number[]; sum: number } {
  const counts = new Array<number>(BOUNDS.length + 1).fill(0);
  let sum = 0;
  for (let i = 0; i < ITERATIONS; i++) {
    const v = value(i);
    const slot = BOUNDS.findIndex((b) => v <= b);
    counts[slot < 0 ? BOUNDS.length : slot]! += 1;
    sum += v;
  }
  return { counts, sum };
}

function expectHistogram(
  exposition: Exposition,
  name: string,
  labels: Record<string, string>,
  perWorker: { counts: number[]; sum: number },
): void {
  let cumulative = 0;
  const les = [...BOUNDS.map(String), '+Inf'];
  les.forEach((le, i) => {
    cumulative += perWorker.counts[i]! * WORKERS;
    expect(valueOf(exposition, `${name}_bucket`, { ...labels, le }), `${name} le=${le}`).toBe(cumulative);
  });
  expect(valueOf(exposition, `${name}_count`, labels)).toBe(ITERATIONS * WORKERS);
  expect(valueOf(exposition, `${name}_sum`, labels)).toBe(perWorker.sum * WORKERS);
}

describe('four worker processes sharing one prefix', () => {
  it('merge into exact totals for every metric type, with one gauge_index per process', async () => {
    const prefix = randomPrefix('mp');
    const admin = redisClient();
    cleanups.push(async () => {
      await purgePrefix(admin, prefix);
      await admin.quit();
    });

    const results = await Promise.all(
      Array.from({ length: WORKERS }, (_, id) =>
        runTs('test/fixtures/worker.ts', [redisUrl(), prefix, String(id), String(ITERATIONS)], {
          timeoutMs: 45_000,
        }),
      ),
    );
    for (const result of results) expect(result.code, describeChild(result)).toBe(0);
    const reports = results.map(
      (r) =>
        JSON.parse(r.stdout.trim()) as {
          workerId: number;
          processId: string;
          gaugeIndex: number;
          flushes: number;
        },
    );
    // The workload yields between slices with a 20 ms interval: data arrived over several flushes.
    expect(reports.reduce((n, r) => n + r.flushes, 0)).toBeGreaterThan(WORKERS);

    const reader = new Registry({ redis: redisUrl(), prefix, selfMetrics: false });
    cleanups.push(() => reader.close());
    const text = await reader.metrics();
    const exposition = parseText(text);

    // Counters: labelled (inline label objects), a bound child with 0.5 steps, unlabelled with 0.25.
    ROUTES.forEach((route, r) => {
      let perWorker = 0;
      for (let i = 0; i < ITERATIONS; i++) if (i % ROUTES.length === r) perWorker++;
      expect(valueOf(exposition, 'sys_requests_total', { route, code: '200' }), route).toBe(
        perWorker * WORKERS,
      );
    });
    expect(valueOf(exposition, 'sys_requests_total', { route: '/a', code: '500' })).toBe(
      0.5 * ITERATIONS * WORKERS,
    );
    expect(samplesOf(exposition, 'sys_requests_total')).toHaveLength(ROUTES.length + 1);
    expect(valueOf(exposition, 'sys_events_total')).toBe(
      (ITERATIONS + 0.25 * Math.ceil(ITERATIONS / 4)) * WORKERS,
    );
    for (let id = 0; id < WORKERS; id++) {
      expect(valueOf(exposition, 'sys_worker_ops_total', { worker: String(id) })).toBe(ITERATIONS);
    }

    // Histogram: buckets (inclusive upper bounds, cumulative), _count and _sum.
    const n = HISTOGRAM_VALUES.length;
    expectHistogram(
      exposition,
      'sys_latency_seconds',
      { op: 'write' },
      histogramOf((i) => HISTOGRAM_VALUES[i % n]!),
    );
    expectHistogram(
      exposition,
      'sys_latency_seconds',
      { op: 'read' },
      histogramOf((i) => HISTOGRAM_VALUES[(i + 3) % n]!),
    );

    // Summary: _count and _sum only (no merged quantiles).
    let summarySum = 0;
    for (let i = 0; i < ITERATIONS; i++) summarySum += SUMMARY_VALUES[i % SUMMARY_VALUES.length]!;
    expect(valueOf(exposition, 'sys_payload_bytes_count')).toBe(ITERATIONS * WORKERS);
    expect(valueOf(exposition, 'sys_payload_bytes_sum')).toBe(summarySum * WORKERS);
    expect(samplesOf(exposition, 'sys_payload_bytes')).toEqual([]);

    // CommonGauge: one value, the sum of every process's increments and decrements.
    expect(valueOf(exposition, 'sys_inflight')).toBe(
      (2 * ITERATIONS + 0.5 * Math.ceil(ITERATIONS / 2)) * WORKERS,
    );

    // Per-process gauge: one series per process, distinct gauge_index, each process's own value.
    const heap = samplesOf(exposition, 'sys_worker_heap_bytes');
    expect(heap, text).toHaveLength(WORKERS);
    const indexes = heap.map((s) => s.labels.gauge_index);
    expect(new Set(indexes).size).toBe(WORKERS);
    for (const s of heap) expect(s.labels.gauge_index).toMatch(/^\d+$/);
    expect(heap.map((s) => s.value).sort((a, b) => a - b)).toEqual(
      Array.from({ length: WORKERS }, (_, id) => heapValue(id)),
    );
    // Each worker's value sits under the index that worker reported holding.
    for (const report of reports) {
      expect(report.gaugeIndex).toBeGreaterThanOrEqual(0);
      expect(valueOf(exposition, 'sys_worker_heap_bytes', { gauge_index: String(report.gaugeIndex) })).toBe(
        heapValue(report.workerId),
      );
    }

    expect(exposition.type.get('sys_requests_total')).toBe('counter');
    expect(exposition.type.get('sys_latency_seconds')).toBe('histogram');
    expect(exposition.type.get('sys_payload_bytes')).toBe('summary');
    expect(exposition.type.get('sys_inflight')).toBe('gauge');
    expect(exposition.type.get('sys_worker_heap_bytes')).toBe('gauge');
  });
});
