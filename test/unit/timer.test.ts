/**
 * Timers: `startTimer()` records a positive duration in seconds; `timeit` wraps sync and async
 * functions transparently and records on success and on failure. No timing windows: only > 0.
 */
import { performance } from 'node:perf_hooks';
import { describe, expect, expectTypeOf, it, vi } from 'vitest';
import { timeit } from '../../src/metrics/timer.js';
import { CommonGauge, Gauge, Histogram, Summary, type EndTimer } from '../../src/index.js';
import { localRegistry, seriesOf, valueOf } from './local.js';

/** Let the clock visibly advance, so a measured duration cannot round to zero. */
function spin(): void {
  const start = performance.now();
  while (performance.now() - start < 0.05);
}

function summaryOf(metric: object, key = ''): { count: number; sum: number } {
  const r = seriesOf(metric).get(key);
  if (r?.kind !== 'summary') throw new TypeError(`no summary series ${key}`);
  return { count: r.count, sum: r.sum };
}

function histogramOf(metric: object, key = ''): { count: number; sum: number } {
  const r = seriesOf(metric).get(key);
  if (r?.kind !== 'histogram') throw new TypeError(`no histogram series ${key}`);
  return { count: r.counts.reduce((a, b) => a + b, 0), sum: r.sum };
}

describe('startTimer()', () => {
  it('Histogram: observes the positive elapsed seconds it returns', () => {
    const h = new Histogram({ name: 'h', help: 'h', registry: localRegistry().registry });
    const end = h.startTimer();
    spin();
    const seconds = end();
    expect(seconds).toBeGreaterThan(0);
    expect(histogramOf(h)).toEqual({ count: 1, sum: seconds });
  });

  it('Histogram: merges labels given at the start and at the end', () => {
    const h = new Histogram({
      name: 'h',
      help: 'h',
      labelNames: ['route', 'code'],
      registry: localRegistry().registry,
    });
    const end = h.startTimer({ route: '/a' });
    spin();
    const seconds = end({ code: 200 });
    expect(histogramOf(h, 'route="/a",code="200"')).toEqual({ count: 1, sum: seconds });
  });

  it('Summary: observes the positive elapsed seconds', () => {
    const s = new Summary({ name: 's', help: 'h', labelNames: ['op'], registry: localRegistry().registry });
    const end = s.startTimer({ op: 'read' });
    spin();
    const seconds = end();
    expect(seconds).toBeGreaterThan(0);
    expect(summaryOf(s, 'op="read"')).toEqual({ count: 1, sum: seconds });
  });

  it('Gauge: sets the gauge to the positive elapsed seconds', () => {
    const g = new Gauge({ name: 'g', help: 'h', registry: localRegistry().registry });
    g.set(-1);
    const end = g.startTimer();
    spin();
    const seconds = end();
    expect(seconds).toBeGreaterThan(0);
    expect(valueOf(g)).toBe(seconds);
  });

  it('children: observe into their own series', () => {
    const { registry } = localRegistry();
    const h = new Histogram({ name: 'h', help: 'h', labelNames: ['q'], registry });
    const s = new Summary({ name: 's', help: 'h', labelNames: ['q'], registry });
    const g = new Gauge({ name: 'g', help: 'h', labelNames: ['q'], registry });
    const ends = [h.labels('a').startTimer(), s.labels('a').startTimer(), g.labels('a').startTimer()];
    spin();
    const [hs, ss, gs] = ends.map((end) => end());
    expect(histogramOf(h, 'q="a"')).toEqual({ count: 1, sum: hs });
    expect(summaryOf(s, 'q="a"')).toEqual({ count: 1, sum: ss });
    expect(valueOf(g, 'q="a"')).toBe(gs);
    expect(gs).toBeGreaterThan(0);
  });

  it('each started timer records once per end() call, independently', () => {
    const s = new Summary({ name: 's', help: 'h', registry: localRegistry().registry });
    const first = s.startTimer();
    const second = s.startTimer();
    spin();
    const a = first();
    const b = second();
    expect(summaryOf(s)).toEqual({ count: 2, sum: a + b });
  });

  it('throws at end() when the merged labels are incomplete, naming the metric', () => {
    const h = new Histogram({
      name: 'h',
      help: 'h',
      labelNames: ['route', 'code'],
      registry: localRegistry().registry,
    });
    const end = h.startTimer({ route: '/a' });
    expect(() => end()).toThrow(/Metric "h".*"code"/);
  });
});

describe('timers have the same shape on every timed type and child (as in prom-client)', () => {
  it('every startTimer(), on a metric or a child, returns an EndTimer over the label names', () => {
    const { registry } = localRegistry();
    const labelNames = ['q'] as const;
    const h = new Histogram({ name: 'h', help: 'h', labelNames, registry });
    const s = new Summary({ name: 's', help: 'h', labelNames, registry });
    const g = new Gauge({ name: 'g', help: 'h', labelNames, registry });
    const c = new CommonGauge({ name: 'c', help: 'h', labelNames, registry });
    for (const metric of [h, s, g, c]) {
      const ends = [metric.startTimer({ q: 'a' }), metric.labels('b').startTimer()];
      expectTypeOf(ends[0]!).toEqualTypeOf<EndTimer<'q'>>();
      expectTypeOf(ends[1]!).toEqualTypeOf<EndTimer<'q'>>();
      spin();
      const seconds = ends.map((end) => end());
      for (const elapsed of seconds) expect(elapsed).toBeGreaterThan(0);
      // Each timer recorded what it returned, into its own series.
      if (metric === h) expect(histogramOf(h, 'q="b"').sum).toBe(seconds[1]);
      if (metric === s) expect(summaryOf(s, 'q="b"').sum).toBe(seconds[1]);
      if (metric === g || metric === c) {
        expect(valueOf(metric, 'q="a"')).toBe(seconds[0]);
        expect(valueOf(metric, 'q="b"')).toBe(seconds[1]);
      }
    }
    expect(histogramOf(h, 'q="a"').count).toBe(1);
    expect(histogramOf(h, 'q="b"').count).toBe(1);
    expect(summaryOf(s, 'q="b"').count).toBe(1);
  });

  it('CommonGauge: sets the shared value to the positive elapsed seconds, labels at either end', () => {
    const c = new CommonGauge({
      name: 'c',
      help: 'h',
      labelNames: ['route', 'code'],
      registry: localRegistry().registry,
    });
    c.set({ route: '/a', code: 200 }, -1);
    const end = c.startTimer({ route: '/a' });
    spin();
    const seconds = end({ code: 200 });
    expect(seconds).toBeGreaterThan(0);
    expect(valueOf(c, 'route="/a",code="200"')).toBe(seconds);
  });

  it('a child timer given labels at the end records in the series of its labels merged with them', () => {
    const { registry } = localRegistry();
    const labelNames = ['route', 'code'];
    const h = new Histogram({ name: 'h', help: 'h', labelNames, registry });
    const s = new Summary({ name: 's', help: 'h', labelNames, registry });
    const g = new Gauge({ name: 'g', help: 'h', labelNames, registry });
    const c = new CommonGauge({ name: 'c', help: 'h', labelNames, registry });
    // Positional and object children alike: the end's labels win over the child's.
    const ends = [
      h.labels('/a', 0).startTimer(),
      s.labels({ route: '/a', code: 0 }).startTimer(),
      g.labels('/a', 0).startTimer(),
      c.labels({ code: 0, route: '/a' }).startTimer(),
    ];
    spin();
    const [hs, ss, gs, cs] = ends.map((end) => end({ code: 500 }));
    expect(histogramOf(h, 'route="/a",code="500"')).toEqual({ count: 1, sum: hs });
    expect(summaryOf(s, 'route="/a",code="500"')).toEqual({ count: 1, sum: ss });
    expect(valueOf(g, 'route="/a",code="500"')).toBe(gs);
    expect(valueOf(c, 'route="/a",code="500"')).toBe(cs);
    // The child's own series got nothing.
    expect(histogramOf(h, 'route="/a",code="0"').count).toBe(0);
    expect(valueOf(g, 'route="/a",code="0"')).toBe(0);
  });

  it("a child timer's end labels are checked like any label set, naming the metric", () => {
    const g = new Gauge({ name: 'g', help: 'h', labelNames: ['q'], registry: localRegistry().registry });
    const end = g.labels('a').startTimer();
    expect(() => end({ other: 'x' } as never)).toThrow(/Metric "g".*"other"/);
  });
});

describe('timeit', () => {
  it('wraps a sync function: passes arguments and this, returns its value, records once', () => {
    const record = vi.fn<(seconds: number) => void>();
    function multiply(this: { factor: number }, a: number, b: number): number {
      spin();
      return a * b * this.factor;
    }
    const target = { factor: 3 };
    const wrapped = timeit(multiply, record);
    expect(wrapped.call(target, 2, 5)).toBe(30);
    expect(record).toHaveBeenCalledTimes(1);
    expect(record.mock.calls[0]![0]).toBeGreaterThan(0);
  });

  it('keeps `this` when the wrapped function is installed as a method', () => {
    const record = vi.fn<(seconds: number) => void>();
    class Service {
      readonly name = 'svc';
      greet = timeit(function (this: Service, who: string): string {
        return `${this.name} greets ${who}`;
      }, record);
    }
    expect(new Service().greet('you')).toBe('svc greets you');
    expect(record).toHaveBeenCalledTimes(1);
  });

  it('wraps an async function: resolves to its value and has recorded by the time it resolves', async () => {
    const record = vi.fn<(seconds: number) => void>();
    const wrapped = timeit(async (a: number): Promise<number> => {
      await new Promise((resolve) => setTimeout(resolve, 2));
      return a + 1;
    }, record);
    const pending = wrapped(41);
    expect(pending).toBeInstanceOf(Promise);
    expect(record).not.toHaveBeenCalled();
    await expect(pending).resolves.toBe(42);
    expect(record).toHaveBeenCalledTimes(1);
    expect(record.mock.calls[0]![0]).toBeGreaterThan(0);
  });

  it('returns the same promise object the function returned', () => {
    const promise = Promise.resolve('x');
    const wrapped = timeit(
      () => promise,
      () => {},
    );
    expect(wrapped()).toBe(promise);
  });

  it('records when a sync function throws, and rethrows the same error', () => {
    const record = vi.fn<(seconds: number) => void>();
    const failure = new Error('boom');
    const wrapped = timeit((): never => {
      spin();
      throw failure;
    }, record);
    let caught: unknown;
    try {
      wrapped();
    } catch (error) {
      caught = error;
    }
    expect(caught).toBe(failure);
    expect(record).toHaveBeenCalledTimes(1);
    expect(record.mock.calls[0]![0]).toBeGreaterThan(0);
  });

  it('records when an async function rejects, and rejects with the same error', async () => {
    const record = vi.fn<(seconds: number) => void>();
    const failure = new Error('async boom');
    const wrapped = timeit(async (): Promise<never> => {
      await new Promise((resolve) => setTimeout(resolve, 2));
      throw failure;
    }, record);
    await expect(wrapped()).rejects.toBe(failure);
    expect(record).toHaveBeenCalledTimes(1);
    expect(record.mock.calls[0]![0]).toBeGreaterThan(0);
  });

  it('treats a non-promise object result as a plain value', () => {
    const record = vi.fn<(seconds: number) => void>();
    const value = { then: 'not a function' };
    expect(timeit(() => value, record)()).toBe(value);
    expect(record).toHaveBeenCalledTimes(1);
  });

  it('rejects something that is not a function', () => {
    expect(() => timeit(null as unknown as () => void, () => {})).toThrow(TypeError);
  });

  it('Histogram.timeit: observes every call, sync or async, success or failure', async () => {
    const h = new Histogram({ name: 'h', help: 'h', labelNames: ['op'], registry: localRegistry().registry });
    const ok = h.timeit(
      (x: number) => {
        spin();
        return x * 2;
      },
      { op: 'ok' },
    );
    const failing = h.timeit((): Promise<void> => Promise.reject(new Error('no')), { op: 'fail' });
    expect(ok(1)).toBe(2);
    expect(ok(2)).toBe(4);
    await expect(failing()).rejects.toThrow('no');
    expect(histogramOf(h, 'op="ok"').count).toBe(2);
    expect(histogramOf(h, 'op="ok"').sum).toBeGreaterThan(0);
    expect(histogramOf(h, 'op="fail"').count).toBe(1);
  });

  it('Summary.timeit and a child timeit preserve this, arguments and the return value', async () => {
    const s = new Summary({ name: 's', help: 'h', labelNames: ['op'], registry: localRegistry().registry });
    const obj = {
      base: 10,
      add: s.timeit(
        function (this: { base: number }, a: number): number {
          return this.base + a;
        },
        { op: 'add' },
      ),
      later: s.labels('later').timeit(async function (this: { base: number }): Promise<number> {
        await Promise.resolve();
        return this.base;
      }),
    };
    expect(obj.add(5)).toBe(15);
    await expect(obj.later()).resolves.toBe(10);
    expect(summaryOf(s, 'op="add"').count).toBe(1);
    expect(summaryOf(s, 'op="later"').count).toBe(1);
  });

  it('Gauge and CommonGauge timeit (and their children) set the gauge to each call duration', async () => {
    const { registry } = localRegistry();
    const g = new Gauge({ name: 'g', help: 'h', labelNames: ['op'], registry });
    const c = new CommonGauge({ name: 'c', help: 'h', registry });
    const timed = [
      g.timeit(() => spin(), { op: 'sync' }),
      g.labels('child').timeit(() => spin()),
      c.timeit(() => spin()),
    ];
    for (const fn of timed) fn();
    const later = c.labels().timeit(async (x: number): Promise<number> => {
      spin();
      await Promise.resolve();
      return x;
    });
    await expect(later(7)).resolves.toBe(7);
    expect(valueOf(g, 'op="sync"')).toBeGreaterThan(0);
    expect(valueOf(g, 'op="child"')).toBeGreaterThan(0);
    expect(valueOf(c)).toBeGreaterThan(0);
  });

  it('Histogram.timeit without labels on a labelled histogram throws when wrapping', () => {
    const h = new Histogram({ name: 'h', help: 'h', labelNames: ['op'], registry: localRegistry().registry });
    expect(() => h.timeit(() => 1)).toThrow(/Metric "h"/);
  });
});
