/**
 * No torn series: a histogram's buckets, sum and count for one series are written in one call
 * and read in one call, so no scrape — however it interleaves with flushes from several
 * processes — shows a `_count` other than its `+Inf` bucket, cumulative buckets that go down, or
 * a `_sum` that its buckets' observations cannot add up to.
 * (Issue #13 splits flushes and reads into bounded pieces; this pins what the pieces must keep.)
 */
import { afterEach, describe, expect, it } from 'vitest';
import { Histogram, type Registry } from '../../src/index.js';
import { testRegistry } from '../support/helpers.js';

const open: Registry[] = [];
afterEach(async () => {
  for (const r of open.splice(0)) await r.close();
});

/** Per series (`id`): its `le` → cumulative count, its `_count` and `_sum`, from one exposition. */
function histograms(
  text: string,
): Map<string, { buckets: Map<string, number>; count?: number; sum?: number }> {
  const out = new Map<string, { buckets: Map<string, number>; count?: number; sum?: number }>();
  const entry = (id: string) => {
    let held = out.get(id);
    if (held === undefined) out.set(id, (held = { buckets: new Map() }));
    return held;
  };
  for (const line of text.split('\n')) {
    const bucket = /^lat_seconds_bucket\{id="(\d+)",le="([^"]+)"\} (\S+)$/.exec(line);
    if (bucket) entry(bucket[1]!).buckets.set(bucket[2]!, Number(bucket[3]));
    const count = /^lat_seconds_count\{id="(\d+)"\} (\S+)$/.exec(line);
    if (count) entry(count[1]!).count = Number(count[2]);
    const sum = /^lat_seconds_sum\{id="(\d+)"\} (\S+)$/.exec(line);
    if (sum) entry(sum[1]!).sum = Number(sum[2]);
  }
  return out;
}

describe('histogram series under concurrent flushing and scraping', () => {
  it('never shows _count apart from +Inf, buckets that go down, or a _sum its buckets cannot make', async () => {
    const buckets = [0.1, 0.5, 1, 5];
    const writers = [0, 1, 2].map(() => {
      const { registry } = testRegistry({ flushIntervalMs: 20, maxSeriesPerMetric: 10_000 });
      open.push(registry);
      return registry;
    });
    const { prefix } = { prefix: writers[0]!.prefix };
    const reader = testRegistry({ prefix }).registry;
    open.push(reader);
    const metrics = writers.map(
      (registry) => new Histogram({ name: 'lat_seconds', help: 'l', labelNames: ['id'], buckets, registry }),
    );
    const series = 2000;
    let stop = false;
    // Each writer observes into every series, in turns of the event loop, while its own
    // flusher (every 20 ms) sends what changed.
    let rounds = 0;
    const writing = metrics.map(async (h, w) => {
      for (let round = 0; !stop; round++, rounds++) {
        for (let id = 0; id < series; id++) h.observe({ id: String(id) }, ((id + round + w) % 7) * 0.3);
        await new Promise((resolve) => setTimeout(resolve, 5));
      }
    });
    let scrapes = 0;
    let checked = 0;
    const totals: number[] = [];
    // A number of scrapes, not a time: on a loaded machine each takes longer, never fewer run.
    while (scrapes < 8 || rounds < 30) {
      const seen = histograms(await reader.metrics());
      scrapes++;
      totals.push([...seen.values()].reduce((n, h) => n + (h.count ?? 0), 0));
      for (const [id, h] of seen) {
        const inf = h.buckets.get('+Inf');
        expect(h.count, `series ${id}: _count vs +Inf`).toBe(inf);
        let previous = 0;
        for (const le of ['0.1', '0.5', '1', '5', '+Inf']) {
          const value = h.buckets.get(le);
          expect(value, `series ${id} le=${le}`).toBeDefined();
          expect(value!, `series ${id}: bucket le=${le} below the one before`).toBeGreaterThanOrEqual(
            previous,
          );
          previous = value!;
        }
        // Every observed value is a multiple of 0.3 below 2: 0 in le=0.1, 0.3 in (0.1, 0.5],
        // 0.6 or 0.9 in (0.5, 1], 1.2 to 1.8 in (1, 5]. A _sum read from another flush than the
        // buckets falls outside what the buckets allow.
        const n = (le: string) => h.buckets.get(le)!;
        const [b2, b3, b4] = [n('0.5') - n('0.1'), n('1') - n('0.5'), n('5') - n('1')];
        const low = 0.3 * b2 + 0.6 * b3 + 1.2 * b4;
        const high = 0.3 * b2 + 0.9 * b3 + 1.8 * b4;
        expect(h.sum, `series ${id}: _sum`).toBeDefined();
        expect(h.sum!, `series ${id}: _sum below its buckets`).toBeGreaterThanOrEqual(low - 1e-6);
        expect(h.sum!, `series ${id}: _sum above its buckets`).toBeLessThanOrEqual(high + 1e-6);
        checked++;
      }
    }
    stop = true;
    await Promise.all(writing);
    // The scrapes really interleaved with the writers' flushes: they saw the series, and the
    // observation count grew between them.
    expect(checked).toBeGreaterThan(series);
    expect(new Set(totals).size, `totals seen: ${totals.join(', ')}`).toBeGreaterThan(2);
  });
});
