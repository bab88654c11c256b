/**
 * `collect` callbacks (prom-client's, on every metric type) and `registry.registerCollector`:
 * run in each process before each of its flushes — on the interval, sampling per-process values,
 * and before the flush a scrape starts, in the scraping process — with failures and overruns
 * reported and never holding a flush up for longer than `flushIntervalMs`.
 */
import { describe, expect, it } from 'vitest';
import { CollectError, CommonGauge, Counter, Gauge, Histogram } from '../../src/index.js';
import { samples, until, useTestRegistries } from '../support/helpers.js';

const registries = useTestRegistries();

describe('collect', () => {
  it('each process samples its own per-process gauge on its interval, with the metric as `this`', async () => {
    const { prefix } = registries.make();
    const pools = [3, 8];
    for (const [i] of pools.entries()) {
      const { registry } = registries.make({ prefix, flushIntervalMs: 50 });
      new Gauge({
        name: 'pool_size',
        help: 'Connections in the pool',
        registry,
        collect() {
          this.set(pools[i]!);
        },
      });
    }
    const reader = registries.make({ prefix }).registry;
    const values = async (): Promise<number[]> =>
      [...samples(await reader.metrics())]
        .filter(([k]) => k.startsWith('pool_size{'))
        .map(([, v]) => v)
        .sort();
    // Nothing is ever recorded by hand: the interval alone samples and delivers.
    expect(await until(values, (v) => v.join() === '3,8', 'both processes to sample their pools')).toEqual([
      3, 8,
    ]);
    pools[1] = 5;
    expect(await until(values, (v) => v.join() === '3,5', 'the new sample')).toEqual([3, 5]);
  });

  it('runs before the flush a scrape starts, so the scraping process serves a fresh value', async () => {
    const { registry } = registries.make(); // 60 s interval: only the scrape's flush runs it
    let calls = 0;
    new CommonGauge({
      name: 'queue_depth',
      help: 'Jobs waiting',
      registry,
      async collect() {
        await new Promise((resolve) => setTimeout(resolve, 5));
        calls++;
        this.set(calls * 10);
      },
    });
    expect(samples(await registry.metrics()).get('queue_depth')).toBe(10);
    expect(samples(await registry.metrics()).get('queue_depth')).toBe(20);
    expect(calls).toBe(2);
  });

  it('a callback that throws is reported with the metric named; the flush delivers the rest', async () => {
    const { registry, errors } = registries.make();
    const jobs = new Counter({ name: 'jobs_total', help: 'j', registry });
    new Histogram({
      name: 'broken_seconds',
      help: 'b',
      registry,
      collect() {
        throw new Error('pool gone');
      },
    });
    jobs.inc(4);
    expect(samples(await registry.metrics()).get('jobs_total')).toBe(4);
    const reported = errors.filter((e) => e instanceof CollectError);
    expect(reported.map((e) => [e.message, e.metric])).toEqual([
      ['The collect callback of metric "broken_seconds" failed: pool gone', 'broken_seconds'],
    ]);
    // It is tried again at every flush: a sampler that fails once (at startup) is not given up.
    let calls = 0;
    registry.registerCollector(() => {
      calls++;
      throw new Error('sync');
    });
    for (let i = 0; i < 3; i++) await registry.flush();
    expect(calls).toBe(3);
  });

  it('a callback that never settles holds a flush flushIntervalMs at most, is reported once, and is not started again', async () => {
    const { registry, errors } = registries.make({ flushIntervalMs: 200 });
    let started = 0;
    registry.registerCollector(() => {
      started++;
      return new Promise<void>(() => {});
    });
    const jobs = new Counter({ name: 'stuck_total', help: 's', registry });
    jobs.inc();
    const t0 = performance.now();
    await registry.flush();
    expect(performance.now() - t0).toBeGreaterThanOrEqual(190);
    jobs.inc();
    const t1 = performance.now();
    await registry.flush(); // the hung one is not waited for again
    expect(performance.now() - t1).toBeLessThan(190);
    expect(samples(await registry.metrics()).get('stuck_total')).toBe(2);
    expect(started).toBe(1);
    const late = errors.filter((e) => e instanceof CollectError);
    expect(late).toHaveLength(1);
    expect(late[0]!.message).toMatch(
      /^A collector given to registerCollector\(\) did not settle within \d+ ms/,
    );
  });

  it('registerCollector samples several metrics at once, and the function it returns removes it', async () => {
    const { registry } = registries.make();
    const heap = new Gauge({ name: 'heap_bytes', help: 'h', aggregate: 'max', registry });
    const handles = new Gauge({ name: 'handles', help: 'h', aggregate: 'sum', registry });
    let n = 0;
    const remove = registry.registerCollector(() => {
      n++;
      heap.set(1000 * n);
      handles.set(n);
    });
    let text = await registry.metrics();
    expect([samples(text).get('heap_bytes'), samples(text).get('handles')]).toEqual([1000, 1]);
    remove();
    text = await registry.metrics();
    expect(samples(text).get('handles')).toBe(1);
    expect(n).toBe(1);
  });

  it('removeSingleMetric removes its callback; bad input is refused before anything is registered', async () => {
    const { registry } = registries.make();
    let calls = 0;
    new Gauge({ name: 'temp', help: 't', registry, collect: () => void calls++ });
    await registry.flush();
    registry.removeSingleMetric('temp');
    await registry.flush();
    expect(calls).toBe(1);

    expect(() => new Gauge({ name: 'bad', help: 'b', registry, collect: 5 as never })).toThrow(
      /Metric "bad": `collect` must be a function, got 5/,
    );
    expect(registry.getSingleMetric('bad')).toBeUndefined();
    expect(() => registry.registerCollector('x' as never)).toThrow(/given a function, got "x"/);
  });

  it('registerMetric accepts a metric of this registry and refuses any other, saying why', () => {
    const { registry } = registries.make();
    const other = registries.make().registry;
    const mine = new Counter({ name: 'mine_total', help: 'm', registry });
    const theirs = new Counter({ name: 'theirs_total', help: 't', registry: other });
    expect(() => registry.registerMetric(mine)).not.toThrow();
    expect(() => registry.registerMetric(theirs)).toThrow(/joins its registry when it is constructed/);
  });
});
