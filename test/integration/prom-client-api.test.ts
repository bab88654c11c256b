/**
 * prom-client's registry and metric API over the merged Redis state: getSingleMetric and the
 * define-once guard, removeSingleMetric / clear / resetMetrics, `register`, metric.get() and
 * getMetricsAsJSON() — compared value for value with prom-client recording the same things.
 */
import client from 'prom-client';
import { describe, expect, it } from 'vitest';
import {
  Counter,
  Gauge,
  Histogram,
  REGISTRY,
  Registry,
  Summary,
  register,
  type RemovedMetricError,
  type MetricObject,
  type MetricValue,
} from '../../src/index.js';
import { samples, useTestRegistries } from '../support/helpers.js';

const registries = useTestRegistries();

/** Values without prom-client's extra keys (sharedLabels, exemplar), in a stable order. */
function comparable(
  values: readonly MetricValue[],
): Array<Pick<MetricValue, 'labels' | 'value' | 'metricName'>> {
  return values
    .map((v) => ({
      labels: Object.fromEntries(Object.entries(v.labels).sort(([a], [b]) => a.localeCompare(b))),
      value: v.value,
      ...(v.metricName === undefined ? {} : { metricName: v.metricName }),
    }))
    .sort((a, b) => JSON.stringify(a).localeCompare(JSON.stringify(b)));
}

describe('getSingleMetric, removeSingleMetric, clear, resetMetrics', () => {
  it('finds a metric by name (a counter also by its _total name), and nothing else', () => {
    const { registry } = registries.make();
    const jobs = new Counter({ name: 'jobs', help: 'j', registry });
    const latency = new Histogram({ name: 'latency_seconds', help: 'l', buckets: [1], registry });
    expect(registry.getSingleMetric('jobs')).toBe(jobs);
    expect(registry.getSingleMetric('jobs_total')).toBe(jobs);
    expect(registry.getSingleMetric('latency_seconds')).toBe(latency);
    expect(registry.getSingleMetric('latency_seconds_bucket')).toBeUndefined();
    expect(registry.getSingleMetric('nope')).toBeUndefined();
    expect(() => registry.getSingleMetric(7 as unknown as string)).toThrow(/metric name, got 7/);
  });

  it('the define-once guard returns the first metric when the code runs twice', () => {
    const { registry } = registries.make();
    const define = (): Counter =>
      (registry.getSingleMetric('reloads_total') as Counter | undefined) ??
      new Counter({ name: 'reloads_total', help: 'r', registry });
    const first = define();
    expect(define()).toBe(first);
    expect(registry.getMetricNames()).toEqual(['reloads']);
  });

  it('removeSingleMetric lets a metric be defined again; the old object is dropped, and says so', async () => {
    const { registry, errors } = registries.make();
    const old = new Counter({ name: 'hot_total', help: 'h', registry });
    old.inc(1);
    await registry.flush(); // delivered before the removal: stays in Redis
    old.inc(2); // not flushed when removed: dropped with the metric, as in prom-client
    registry.removeSingleMetric('hot_total');
    expect(registry.getSingleMetric('hot_total')).toBeUndefined();
    const fresh = new Counter({ name: 'hot_total', help: 'h', registry });
    fresh.inc(3);
    old.inc(10); // a closure of the old module still holds the old object
    await registry.flush();
    expect(samples(await registry.metrics()).get('hot_total')).toBe(4);
    expect(errors.map((e) => [e.name, (e as RemovedMetricError).metric])).toEqual([
      ['RemovedMetricError', 'hot'],
    ]);
    registry.removeSingleMetric('never_defined'); // nothing to forget: no error, as in prom-client
  });

  it('a metric removed before its first flush leaves no definition behind: another one of its name works', async () => {
    const { registry, errors } = registries.make();
    new Counter({ name: 'redef', help: 'h', registry }); // never recorded, never flushed
    registry.removeSingleMetric('redef');
    const other = new Counter({ name: 'redef', help: 'h', labelNames: ['a'], registry });
    other.inc({ a: 'x' });
    expect((await other.get()).values).toEqual([{ labels: { a: 'x' }, value: 1 }]);
    registry.clear();
    const summary = new Summary({ name: 'redef_s', help: 's', percentiles: [0.5], registry });
    registry.clear();
    const again = new Summary({ name: 'redef_s', help: 's', percentiles: [0.9], registry });
    again.observe(1);
    expect((await again.get()).values.map((v) => v.labels.quantile ?? v.metricName)).toEqual([
      0.9,
      'redef_s_sum',
      'redef_s_count',
    ]);
    expect(summary).toBeDefined();
    expect(errors).toEqual([]);
  });

  it('clear() forgets every metric and the default labels, so the same definitions can run again (afterEach)', async () => {
    const { registry } = registries.make({ selfMetrics: true });
    registry.setDefaultLabels({ env: 'test' });
    new Counter({ name: 'a_total', help: 'a', registry }).inc();
    new Gauge({ name: 'b', help: 'b', registry }).set(1);
    await registry.flush();
    registry.clear();
    expect(registry.getMetricNames()).toEqual([]);
    new Counter({ name: 'a_total', help: 'a', registry }).inc(4);
    new Gauge({ name: 'b', help: 'b', registry }).set(2);
    await registry.flush();
    const text = await registry.metrics();
    expect(samples(text).get('a_total')).toBe(5);
    expect(samples(text).get('b{gauge_index="0"}')).toBe(2);
    // The library's own metrics are not the user's to clear.
    expect(text).toContain('prometheus_redis_client_flushes_total');
  });

  it('resetMetrics() resets every metric in Redis, for every process', async () => {
    const { registry, prefix } = registries.make();
    const other = registries.make({ prefix }).registry;
    const here = new Counter({ name: 'r_total', help: 'r', labelNames: ['k'], registry });
    const there = new Counter({ name: 'r_total', help: 'r', labelNames: ['k'], registry: other });
    here.inc({ k: 'a' }, 2);
    there.inc({ k: 'b' }, 3);
    await Promise.all([registry.flush(), other.flush()]);
    expect(samples(await registry.metrics()).get('r_total{k="b"}')).toBe(3);
    registry.resetMetrics();
    await registry.flush();
    const after = await registry.metrics();
    expect(after).not.toContain('r_total{');
    here.inc({ k: 'a' });
    await registry.flush();
    expect(samples(await registry.metrics()).get('r_total{k="a"}')).toBe(1);
  });

  it('`register` is the default registry, under prom-client’s name', () => {
    expect(register).toBe(REGISTRY);
  });
});

describe('metric.get() and getMetricsAsJSON(), in prom-client’s shape', () => {
  it('a counter and a histogram give the values prom-client gives for the same recordings', async () => {
    const { registry, prefix } = registries.make();
    const worker = registries.make({ prefix }).registry;
    const theirs = new client.Registry();
    const define = (r: typeof registry) => ({
      requests: new Counter({ name: 'req_total', help: 'Requests', labelNames: ['route'], registry: r }),
      latency: new Histogram({
        name: 'lat_seconds',
        help: 'Latency',
        labelNames: ['route'],
        buckets: [0.1, 1],
        registry: r,
      }),
    });
    const here = define(registry);
    const there = define(worker);
    const pcRequests = new client.Counter({
      name: 'req_total',
      help: 'Requests',
      labelNames: ['route'],
      registers: [theirs],
    });
    const pcLatency = new client.Histogram({
      name: 'lat_seconds',
      help: 'Latency',
      labelNames: ['route'],
      buckets: [0.1, 1],
      registers: [theirs],
    });
    // Two processes here; one prom-client registry that sees everything.
    for (const [mine, route, n, seconds] of [
      [here, '/a', 2, 0.05],
      [there, '/a', 3, 0.5],
      [there, '/b', 1, 5],
    ] as const) {
      mine.requests.inc({ route }, n);
      pcRequests.inc({ route }, n);
      mine.latency.observe({ route }, seconds);
      pcLatency.observe({ route }, seconds);
    }
    await worker.flush();

    const counter = await here.requests.get();
    const expected = await pcRequests.get();
    expect({ ...counter, values: comparable(counter.values) }).toEqual({
      name: expected.name,
      help: expected.help,
      type: expected.type,
      aggregator: expected.aggregator,
      values: comparable(expected.values as MetricValue[]),
    });
    const histogram = await here.latency.get();
    const pcHistogram = await pcLatency.get();
    expect(histogram.type).toBe('histogram');
    expect(comparable(histogram.values)).toEqual(comparable(pcHistogram.values as MetricValue[]));
    expect(histogram.values).toContainEqual({
      labels: { route: '/b', le: '+Inf' },
      value: 1,
      metricName: 'lat_seconds_bucket',
    });

    // The whole registry: the same two families, in name order.
    const all: MetricObject[] = await registry.getMetricsAsJSON();
    expect(all.map((m) => m.name)).toEqual(['lat_seconds', 'req_total']);
    expect(comparable(all[1]!.values)).toEqual(comparable(counter.values));
    expect(await registry.getSingleMetricAsJSON('req_total')).toEqual(all[1]);
    expect(await registry.getSingleMetricAsString('req_total')).toBe(
      '# HELP req_total Requests\n# TYPE req_total counter\nreq_total{route="/a"} 5\nreq_total{route="/b"} 1\n',
    );
  });

  it('per-process gauges carry gauge_index and say how they merge; summaries give numeric quantiles', async () => {
    const { registry, prefix } = registries.make();
    const other = registries.make({ prefix }).registry;
    const depth = new Gauge({ name: 'depth', help: 'd', registry });
    new Gauge({ name: 'depth', help: 'd', registry: other }).set(5);
    depth.set(2);
    const summed = new Gauge({ name: 'pool', help: 'p', aggregate: 'sum', registry });
    new Gauge({ name: 'pool', help: 'p', aggregate: 'sum', registry: other }).set(4);
    summed.set(1);
    const sizes = new Summary({ name: 'size_bytes', help: 's', percentiles: [0.5, 0.99], registry });
    for (const v of [1, 2, 3, 4]) sizes.observe(v);
    await other.flush();

    const perProcess = await depth.get();
    expect(perProcess.aggregator).toBe('all');
    expect(perProcess.values.map((v) => v.value).sort()).toEqual([2, 5]);
    expect(perProcess.values.map((v) => Object.keys(v.labels))).toEqual([['gauge_index'], ['gauge_index']]);
    expect(await summed.get()).toEqual({
      name: 'pool',
      help: 'p',
      type: 'gauge',
      aggregator: 'sum',
      values: [{ labels: {}, value: 5 }],
    });

    const summary = await sizes.get();
    expect(summary.values.filter((v) => v.metricName === undefined).map((v) => v.labels.quantile)).toEqual([
      0.5, 0.99,
    ]);
    expect(summary.values).toContainEqual({ labels: {}, value: 4, metricName: 'size_bytes_count' });
    expect(summary.values).toContainEqual({ labels: {}, value: 10, metricName: 'size_bytes_sum' });
  });

  it('label values come back unescaped; a metric never flushed gives its head and no values', async () => {
    const { registry } = registries.make();
    const odd = new Counter({ name: 'odd_total', help: 'o', labelNames: ['v', 'le', 'quantile'], registry });
    odd.inc({ v: 'a "quoted"\\ line\nnext', le: 'high', quantile: '0.5' });
    // `le` and `quantile` are numbers only where they are a bucket's bound or a summary's quantile.
    expect((await odd.get()).values).toEqual([
      { labels: { v: 'a "quoted"\\ line\nnext', le: 'high', quantile: '0.5' }, value: 1 },
    ]);

    const { registry: unconnected } = registries.make({ redis: undefined });
    const later = new Histogram({ name: 'later_seconds', help: 'l', registry: unconnected });
    await expect(later.get()).rejects.toThrow(/No Redis connection/);
    expect(await registry.getSingleMetricAsJSON('absent')).toBeUndefined();
    expect(await registry.getSingleMetricAsString('absent')).toBe('');
  });
});

describe('setDefaultLabels, Histogram.zero, the object form of observe', () => {
  it('default labels go on every series the registry serves, also series of other processes', async () => {
    const { registry, prefix } = registries.make();
    const worker = registries.make({ prefix }).registry;
    new Counter({ name: 'def_total', help: 'd', labelNames: ['route'], registry: worker }).inc(
      { route: '/a' },
      2,
    );
    const own = new Gauge({
      name: 'def_level',
      help: 'l',
      labelNames: ['service'],
      aggregate: 'max',
      registry,
    });
    own.set({ service: 'own' }, 1);
    new Histogram({ name: 'def_seconds', help: 's', buckets: [1], registry }).observe(0.5);
    await worker.flush();
    registry.setDefaultLabels({ service: 'shop', zone: 3 });
    const text = await registry.metrics();
    expect(samples(text).get('def_total{service="shop",zone="3",route="/a"}')).toBe(2);
    // A family's own label wins over the default of the same name.
    expect(samples(text).get('def_level{zone="3",service="own"}')).toBe(1);
    expect(samples(text).get('def_seconds_bucket{service="shop",zone="3",le="+Inf"}')).toBe(1);
    expect(samples(text).get('def_seconds_sum{service="shop",zone="3"}')).toBe(0.5);
    const om = await registry.metrics({ format: 'openmetrics' });
    expect(om).toMatch(/^def_total\{service="shop",zone="3",route="\/a"\} 2$/m);
    const json = await registry.getSingleMetricAsJSON('def_total');
    expect(json?.values).toEqual([{ labels: { service: 'shop', zone: '3', route: '/a' }, value: 2 }]);
    // The worker sets none: it serves the same series without them.
    expect(samples(await worker.metrics()).get('def_total{route="/a"}')).toBe(2);
    registry.setDefaultLabels({});
    expect(samples(await registry.metrics()).get('def_total{route="/a"}')).toBe(2);

    expect(() => registry.setDefaultLabels({ le: 'x' })).toThrow(/"le" is not allowed/);
    expect(() => registry.setDefaultLabels({ 'bad-name': 'x' })).toThrow(/"bad-name" is not allowed/);
    expect(() => registry.setDefaultLabels({ ok: true as unknown as string })).toThrow(
      /Default label "ok": a value must be a string or a number, got true/,
    );
    expect(() => registry.setDefaultLabels(null as never)).toThrow(/got null/);
  });

  it('zero(labels) exports a histogram series with zero counts before its first observation', async () => {
    const { registry } = registries.make();
    const latency = new Histogram({
      name: 'z_seconds',
      help: 'z',
      labelNames: ['route'],
      buckets: [1],
      registry,
    });
    latency.zero({ route: '/a' });
    const text = await registry.metrics();
    expect(samples(text).get('z_seconds_bucket{route="/a",le="+Inf"}')).toBe(0);
    expect(samples(text).get('z_seconds_count{route="/a"}')).toBe(0);
  });

  it("observe({ value, labels, exemplarLabels }) is prom-client's exemplar form; counters refuse enableExemplars", async () => {
    const { registry } = registries.make();
    const latency = new Histogram({
      name: 'o_seconds',
      help: 'o',
      labelNames: ['route'],
      buckets: [1],
      enableExemplars: true,
      registry,
    });
    latency.observe({ value: 0.5, labels: { route: '/a' }, exemplarLabels: { traceId: 'abc' } });
    latency.observe({ value: 2, labels: { route: '/a' } });
    const bare = new Histogram({ name: 'o_bare_seconds', help: 'o', buckets: [1], registry });
    bare.observe({ value: 0.25 });
    const om = await registry.metrics({ format: 'openmetrics' });
    expect(om).toMatch(/^o_seconds_bucket\{route="\/a",le="1\.0"\} 1 # \{trace_id="abc"\} 0\.5 \d+/m);
    expect(om).toMatch(/^o_seconds_count\{route="\/a"\} 2$/m);
    expect(om).toMatch(/^o_bare_seconds_sum 0\.25$/m);
    expect(() => latency.observe({ value: 1 })).toThrow(/Metric "o_seconds".*route/);
    expect(() => new Counter({ name: 'ex_total', help: 'e', enableExemplars: true, registry })).toThrow(
      /counters take no exemplars here .* record them on a Histogram/,
    );
  });
});

describe('Registry.merge', () => {
  it('serves several prefixes as one exposition, and refuses a family name two of them hold', async () => {
    const shop = registries.make().registry;
    const jobs = registries.make().registry;
    new Counter({ name: 'orders_total', help: 'o', registry: shop }).inc(2);
    new Counter({ name: 'jobs_total', help: 'j', registry: jobs }).inc(5);
    const merged = Registry.merge([shop, jobs]);
    const text = await merged.metrics();
    expect(text).toBe((await shop.metrics()) + (await jobs.metrics()));
    const om = await merged.metrics({ format: 'openmetrics' });
    expect(om.match(/# EOF/g)).toHaveLength(1);
    expect(om.endsWith('# EOF\n')).toBe(true);
    expect((await merged.getMetricsAsJSON()).map((m) => m.name)).toEqual(['orders_total', 'jobs_total']);
    expect(merged.contentTypeFor('openmetrics')).toMatch(/^application\/openmetrics-text/);

    const clash = registries.make().registry;
    new Counter({ name: 'orders_total', help: 'o', registry: clash }).inc();
    await expect(Registry.merge([shop, clash]).metrics()).rejects.toThrow(
      'Registry.merge(): a family named "orders_total" is in more than one of the merged registries',
    );
    expect(() => Registry.merge([])).toThrow(/array of registries/);
    // With the library's own metrics in both (the default), the error says what to do.
    const a = registries.make({ selfMetrics: true }).registry;
    const b = registries.make({ selfMetrics: true }).registry;
    new Counter({ name: 'a_total', help: 'a', registry: a }).inc();
    new Counter({ name: 'b_total', help: 'b', registry: b }).inc();
    await Promise.all([a.flush(), b.flush()]);
    await expect(Registry.merge([a, b]).metrics()).rejects.toThrow(
      /one of the library's own metrics, which every registry exports — create all but one of the merged registries with `selfMetrics: false`/,
    );
    expect(() => Registry.merge([shop, {} as Registry])).toThrow(/is not a registry/);
  });
});

describe('setContentType', () => {
  it('sets the format metrics() answers in without one, and contentType with it', async () => {
    const { registry } = registries.make();
    new Counter({ name: 'ct_total', help: 'c', registry }).inc();
    expect(registry.contentType).toBe(Registry.PROMETHEUS_CONTENT_TYPE);
    registry.setContentType(Registry.OPENMETRICS_CONTENT_TYPE);
    expect(registry.contentType).toBe(Registry.OPENMETRICS_CONTENT_TYPE);
    const om = await registry.metrics();
    expect(om).toMatch(/^# TYPE ct counter$/m);
    expect(om.endsWith('# EOF\n')).toBe(true);
    expect(await registry.metrics({ format: 'text' })).toMatch(/^# TYPE ct_total counter$/m);
    registry.setContentType(Registry.PROMETHEUS_CONTENT_TYPE);
    expect(await registry.metrics()).toMatch(/^ct_total 1$/m);
    expect(() => registry.setContentType('application/json')).toThrow(
      /Registry\.PROMETHEUS_CONTENT_TYPE or Registry\.OPENMETRICS_CONTENT_TYPE, got "application\/json"/,
    );
  });
});
