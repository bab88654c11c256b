/**
 * Fleet-wide default metrics: prom-client's names, merged where merging makes sense (CPU
 * counters, event-loop and GC histograms), per process elsewhere (gauges with gauge_index).
 */
import { spawnSync } from 'node:child_process';
import type { Redis } from 'ioredis';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { collectDefaultMetrics, type Registry } from '../../src/index.js';
import { purgePrefix, randomPrefix, redisUrl, useTestRegistries } from '../support/helpers.js';
import { parseText, type Exposition } from '../system/exposition.js';
import { pollUntil, run } from '../system/processes.js';

const registries = useTestRegistries();
/** A registry on the shared server, closed (and its keys purged) after the test. */
const make = registries.make;
let redis: Redis;
const stops: Array<() => void> = [];
beforeAll(() => {
  redis = registries.redis;
});
afterEach(() => {
  for (const stop of stops.splice(0)) stop();
});

const COUNTERS = [
  'process_cpu_user_seconds_total',
  'process_cpu_system_seconds_total',
  'process_cpu_seconds_total',
];
const PER_PROCESS = [
  'process_resident_memory_bytes',
  'nodejs_heap_size_total_bytes',
  'nodejs_heap_size_used_bytes',
  'nodejs_external_memory_bytes',
  'process_start_time_seconds',
  'nodejs_active_handles_total',
];
const HISTOGRAMS = ['nodejs_eventloop_lag_seconds', 'nodejs_gc_duration_seconds'];

/** Values of one sample name in an exposition, by rendered label set. */
function valuesOf(exposition: Exposition, name: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const s of exposition.samples) {
    if (s.name !== name) continue;
    const labels = Object.entries(s.labels)
      .map(([k, v]) => `${k}=${v}`)
      .sort()
      .join(',');
    out.set(labels, s.value);
  }
  return out;
}

const hasPromtool = spawnSync('promtool', ['--version'], { encoding: 'utf8' }).status === 0;

describe('collectDefaultMetrics', () => {
  it('exports every family with its type: counters summed, gauges per process, histograms merged', async () => {
    const prefix = randomPrefix('dm');
    const a = make({ prefix });
    const b = make({ prefix });
    const labels = { service: 'api' };
    // Each collector samples at once. Both run in this one process, so each reports this
    // process's whole CPU time: the merged counter is the sum of the two samples.
    // The interval is long: the counters hold exactly the first samples (GC durations are
    // recorded as they happen, independently of the interval).
    const lowA = process.cpuUsage();
    stops.push(collectDefaultMetrics(a.registry, { labels, intervalMs: 600_000 }));
    const highA = process.cpuUsage();
    const lowB = process.cpuUsage();
    stops.push(collectDefaultMetrics(b.registry, { labels, intervalMs: 600_000 }));
    const highB = process.cpuUsage();
    // Garbage for the GC histogram (minor collections are reported asynchronously).
    let keep: unknown[] = [];
    for (let i = 0; i < 200_000; i++) keep.push({ i, s: `x${i}` });
    keep = [];
    await a.registry.flush();
    await b.registry.flush();

    const text = await a.registry.metrics();
    const exposition = parseText(text);
    for (const name of COUNTERS) expect(exposition.type.get(name), name).toBe('counter');
    for (const name of PER_PROCESS) expect(exposition.type.get(name), name).toBe('gauge');
    for (const name of HISTOGRAMS) expect(exposition.type.get(name), name).toBe('histogram');

    const user = valuesOf(exposition, 'process_cpu_user_seconds_total').get('service=api')!;
    expect(user).toBeGreaterThanOrEqual((lowA.user + lowB.user) / 1e6 - 1e-9);
    expect(user).toBeLessThanOrEqual((highA.user + highB.user) / 1e6 + 1e-9);
    const system = valuesOf(exposition, 'process_cpu_system_seconds_total').get('service=api')!;
    const total = valuesOf(exposition, 'process_cpu_seconds_total').get('service=api')!;
    expect(total).toBeCloseTo(user + system, 9);

    const indexes = [String(a.registry.gaugeIndex), String(b.registry.gaugeIndex)].sort();
    for (const name of PER_PROCESS) {
      const series = valuesOf(exposition, name);
      expect([...series.keys()].sort(), name).toEqual(indexes.map((i) => `gauge_index=${i},service=api`));
      for (const value of series.values()) expect(value, name).toBeGreaterThan(0);
    }
    const start = [...valuesOf(exposition, 'process_start_time_seconds').values()];
    for (const s of start) expect(Math.abs(s - (Date.now() / 1000 - process.uptime()))).toBeLessThan(2);

    // The event-loop histogram exists from the first sample (one series, merged over processes).
    expect(valuesOf(exposition, 'nodejs_eventloop_lag_seconds_count').has('service=api')).toBe(true);
    // GC durations by kind, merged: both collectors saw this process's collections.
    const gc = await pollUntil(
      async () => {
        await a.registry.flush();
        await b.registry.flush();
        return valuesOf(parseText(await a.registry.metrics()), 'nodejs_gc_duration_seconds_count');
      },
      (counts) => (counts.get('kind=minor,service=api') ?? 0) >= 2,
      { timeoutMs: 10_000, what: 'minor GCs to be recorded' },
    );
    expect([...gc.keys()].every((k) => /^kind=(major|minor|incremental|weakcb),service=api$/.test(k))).toBe(
      true,
    );

    if (hasPromtool) {
      const result = spawnSync('promtool', ['check', 'metrics'], { input: text, encoding: 'utf8' });
      const problems = `${result.stdout}${result.stderr}`
        .split('\n')
        .filter((l) => l.trim() !== '')
        // prom-client's name, kept for dashboards; promtool's linter prefers no _total on gauges.
        .filter(
          (l) => !/^nodejs_active_handles_total non-counter metrics should not have "_total" suffix$/.test(l),
        );
      expect(problems, text).toEqual([]);
      expect([0, 3]).toContain(result.status);
    }
    expect(a.errors).toEqual([]);
    expect(b.errors).toEqual([]);
  });

  it('samples on its interval, with a name prefix, and records event-loop lag', async () => {
    const { registry, errors } = make();
    const stop = collectDefaultMetrics(registry, { prefix: 'app_', intervalMs: 50 });
    stops.push(stop);
    // Let the monitor's timer run once (its first run only starts the clock), then block the
    // event loop once: the lag histogram records it at one of the next samples.
    await new Promise((r) => setTimeout(r, 60));
    const until = Date.now() + 120;
    while (Date.now() < until) {
      // busy
    }
    // The 120 ms block is a sample above 0.1 s, recorded at one of the next samplings.
    const over = (e: Exposition): number =>
      (valuesOf(e, 'app_nodejs_eventloop_lag_seconds_count').get('') ?? 0) -
      (valuesOf(e, 'app_nodejs_eventloop_lag_seconds_bucket').get('le=0.1') ?? 0);
    const exposition = await pollUntil(
      async () => parseText(await registry.metrics()),
      (e) => over(e) >= 1,
      {
        timeoutMs: 10_000,
        what: 'the blocked event loop in the lag histogram',
      },
    );
    const buckets = valuesOf(exposition, 'app_nodejs_eventloop_lag_seconds_bucket');
    const count = valuesOf(exposition, 'app_nodejs_eventloop_lag_seconds_count').get('')!;
    expect(buckets.get('le=+Inf')).toBe(count);
    expect(count).toBeGreaterThan(1);
    expect(valuesOf(exposition, 'app_nodejs_eventloop_lag_seconds_sum').get('')).toBeGreaterThan(0.05);
    expect(exposition.type.has('app_process_cpu_seconds_total')).toBe(true);
    expect(exposition.type.has('process_cpu_seconds_total')).toBe(false);
    stop();
    stop(); // a second stop is harmless
    expect(errors).toEqual([]);
  });

  it('stops sampling once clear() removed its metrics, and can be collected again', async () => {
    const { registry, errors } = registries.make();
    collectDefaultMetrics(registry, { intervalMs: 20 });
    registry.clear();
    await new Promise((resolve) => setTimeout(resolve, 150));
    await registry.flush();
    expect(errors).toEqual([]); // nothing recorded into the removed metrics (RemovedMetricError)
    const stop = collectDefaultMetrics(registry, { intervalMs: 20 });
    expect(registry.getMetricNames()).toContain('nodejs_eventloop_lag_seconds');
    stop();
  });

  it('rejects bad options naming them, and a second collection into one registry', () => {
    const { registry } = make();
    expect(() => collectDefaultMetrics(registry, { intervalMs: 0 })).toThrow(/`intervalMs`.*got 0/);
    expect(() => collectDefaultMetrics(registry, { labels: { kind: 'x' } })).toThrow(/`labels`.*"kind"/);
    expect(() => collectDefaultMetrics(registry, { prefix: 'bad-' })).toThrow(/metric name/);
    expect(() => collectDefaultMetrics({} as Registry)).toThrow(/`registry`/);
    stops.push(collectDefaultMetrics(registry, { prefix: 'ok_' }));
    expect(() => collectDefaultMetrics(registry, { prefix: 'ok_' })).toThrow(/already registered/);
  });

  it('never keeps a process alive and never prints', async () => {
    const prefix = randomPrefix('dm');
    // The script neither stops the collector nor closes the registry: it must still end.
    const script = `
      import { Registry, collectDefaultMetrics } from './src/index.ts';
      const registry = new Registry({ redis: ${JSON.stringify(redisUrl())}, prefix: ${JSON.stringify(prefix)} });
      collectDefaultMetrics(registry, { intervalMs: 20 });
      await registry.flush();
      const seen = await registry.metrics();
      if (!seen.includes('nodejs_heap_size_used_bytes')) process.exitCode = 3;
    `;
    const child = await run(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
      timeoutMs: 20_000,
    });
    await purgePrefix(redis, prefix);
    expect(child.signal, 'the script did not exit on its own').toBeNull();
    expect(child.code, child.stderr).toBe(0);
    expect(child.stdout).toBe('');
    expect(child.stderr).toBe('');
  });
});
