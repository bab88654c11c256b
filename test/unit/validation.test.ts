import { describe, expect, it } from 'vitest';
import {
  CommonGauge,
  Counter,
  DEFAULT_BUCKETS,
  exponentialBuckets,
  Gauge,
  Histogram,
  linearBuckets,
  Registry,
  RedisUnavailableError,
  Summary,
  UndeliveredDataError,
  type RegistryOptions,
} from '../../src/index.js';
import { localRegistry, seriesOf } from './local.js';

/** Pass a value the types forbid, as untyped JavaScript callers can. */
function untyped<T>(value: unknown): T {
  return value as T;
}

describe('metric names', () => {
  it.each(['a', '_a', 'A', 'a:b', ':a', 'http_requests_seconds', 'a1_B2:c3'])('accepts %j', (name) => {
    const { registry } = localRegistry();
    expect(new Gauge({ name, help: 'h', registry }).name).toBe(name);
  });

  it.each(['', '1a', 'a-b', 'a b', 'a.b', 'é', 'a\n', 'a{b}', 'a"'])(
    'rejects %j, quoting the name and the expected pattern',
    (name) => {
      const { registry } = localRegistry();
      expect(() => new Gauge({ name, help: 'h', registry })).toThrow(TypeError);
      expect(() => new Gauge({ name, help: 'h', registry })).toThrow(JSON.stringify(name));
      expect(() => new Gauge({ name, help: 'h', registry })).toThrow('[a-zA-Z_:][a-zA-Z0-9_:]*');
    },
  );

  it.each([undefined, null, 42, {}])('rejects a non-string name (%s)', (name) => {
    const { registry } = localRegistry();
    expect(() => new Counter({ name: untyped<string>(name), help: 'h', registry })).toThrow(TypeError);
  });

  it('rejects the reserved "__" prefix, naming the metric', () => {
    const { registry } = localRegistry();
    expect(() => new Counter({ name: '__internal', help: 'h', registry })).toThrow(
      /"__internal".*"__" prefix is reserved/,
    );
    // A single leading underscore is an ordinary name.
    expect(() => new Counter({ name: '_internal', help: 'h', registry })).not.toThrow();
  });

  it('rejects a help text that is not a string, naming the metric', () => {
    const { registry } = localRegistry();
    expect(() => new Counter({ name: 'c', help: untyped<string>(undefined), registry })).toThrow(
      /Metric "c": help must be a string, got undefined/,
    );
  });

  it('rejects metric options that are not an object', () => {
    expect(() => new Counter(untyped<{ name: string; help: string }>(null))).toThrow(TypeError);
  });

  it('stores a counter given as "x_total" under the family name "x"', () => {
    const { registry } = localRegistry();
    const c = new Counter({ name: 'requests_total', help: 'h', registry });
    expect(c.name).toBe('requests');
    expect(registry.getMetricNames()).toEqual(['requests']);
  });

  it('rejects a CommonGauge expireSeconds that is not a positive integer, naming the metric', () => {
    const { registry } = localRegistry();
    expect(() => new CommonGauge({ name: 'cg', help: 'h', expireSeconds: 0, registry })).toThrow(
      /`expireSeconds of "cg"`.*got 0/,
    );
    expect(() => new CommonGauge({ name: 'cg', help: 'h', expireSeconds: 1.5, registry })).toThrow(
      RangeError,
    );
    expect(new CommonGauge({ name: 'cg', help: 'h', expireSeconds: 30, registry }).expireSeconds).toBe(30);
  });

  it('rejects a unit the name does not end with, and a malformed unit', () => {
    const { registry } = localRegistry();
    expect(() => new Gauge({ name: 'latency', help: 'h', unit: 'seconds', registry })).toThrow(
      /Metric "latency".*_seconds/,
    );
    expect(() => new Gauge({ name: 'latency_s-x', help: 'h', unit: 's-x', registry })).toThrow(TypeError);
    expect(() => new Gauge({ name: 'latency_seconds', help: 'h', unit: 'seconds', registry })).not.toThrow();
  });
});

describe('label names', () => {
  it.each(['1a', 'a-b', 'a:b', '', 'a b', 'é'])('rejects %j, naming the metric and the label', (label) => {
    const { registry } = localRegistry();
    const create = (): unknown => new Counter({ name: 'c', help: 'h', labelNames: [label], registry });
    expect(create).toThrow(TypeError);
    expect(create).toThrow(`Metric "c": invalid label name ${JSON.stringify(label)}`);
  });

  it('rejects a label name that is not a string', () => {
    const { registry } = localRegistry();
    expect(() => new Counter({ name: 'c', help: 'h', labelNames: untyped<string[]>([1]), registry })).toThrow(
      /Metric "c": invalid label name 1/,
    );
  });

  it('rejects labelNames that is not an array', () => {
    const { registry } = localRegistry();
    expect(
      () => new Counter({ name: 'c', help: 'h', labelNames: untyped<string[]>('code'), registry }),
    ).toThrow(/Metric "c": labelNames must be an array/);
  });

  it('rejects the reserved "__" prefix in a label name', () => {
    const { registry } = localRegistry();
    expect(() => new Counter({ name: 'c', help: 'h', labelNames: ['__name'], registry })).toThrow(
      /Metric "c": label name "__name" uses the reserved "__" prefix/,
    );
  });

  it('rejects a label name given twice', () => {
    const { registry } = localRegistry();
    expect(() => new Counter({ name: 'c', help: 'h', labelNames: ['a', 'b', 'a'], registry })).toThrow(
      /Metric "c": label name "a" appears twice/,
    );
  });

  it('reserves "le" on a Histogram', () => {
    const { registry } = localRegistry();
    expect(() => new Histogram({ name: 'h', help: 'h', labelNames: ['le'], registry })).toThrow(
      /Metric "h": label name "le" is reserved/,
    );
  });

  it('reserves "quantile" on a Summary', () => {
    const { registry } = localRegistry();
    expect(() => new Summary({ name: 's', help: 'h', labelNames: ['quantile'], registry })).toThrow(
      /Metric "s": label name "quantile" is reserved/,
    );
  });

  it('reserves "gauge_index" on a per-process Gauge', () => {
    const { registry } = localRegistry();
    expect(() => new Gauge({ name: 'g', help: 'h', labelNames: ['gauge_index'], registry })).toThrow(
      /Metric "g": label name "gauge_index" is reserved/,
    );
  });

  it('keeps "le" and "quantile" usable on types that do not reserve them', () => {
    const { registry } = localRegistry();
    expect(
      () => new Counter({ name: 'c', help: 'h', labelNames: ['le', 'quantile'], registry }),
    ).not.toThrow();
    expect(() => new Gauge({ name: 'g', help: 'h', labelNames: ['le'], registry })).not.toThrow();
  });

  it('copies labelNames, so later changes to the caller array do not affect the metric', () => {
    const { registry } = localRegistry();
    const names = ['a', 'b'];
    const c = new Counter({ name: 'c', help: 'h', labelNames: names, registry });
    names.push('c');
    expect(c.labelNames).toEqual(['a', 'b']);
    expect(() => c.inc({ a: '1', b: '2' })).not.toThrow();
  });
});

describe('histogram buckets', () => {
  function histogram(buckets: readonly number[]): Histogram {
    return new Histogram({ name: 'h', help: 'h', buckets, registry: localRegistry().registry });
  }

  it.each([
    [[1, Number.NaN], 'NaN'],
    [[1, Number.NEGATIVE_INFINITY], '-Infinity'],
    [untyped<number[]>([1, '2']), '"2"'],
    [untyped<number[]>([1, null]), 'null'],
  ])('rejects a non-finite or non-number bound %j, naming it', (buckets, shown) => {
    expect(() => histogram(buckets)).toThrow(RangeError);
    expect(() => histogram(buckets)).toThrow(
      `Metric "h": bucket bounds must be finite numbers, got ${shown}`,
    );
  });

  it('rejects a bound given twice (1 and 1.0 are the same bound)', () => {
    expect(() => histogram([1, 2, 1.0])).toThrow(/Metric "h": bucket bound 1 appears twice/);
  });

  it('rejects an empty bucket list, and one holding only +Inf', () => {
    expect(() => histogram([])).toThrow(/Metric "h": at least one finite bucket bound is required/);
    expect(() => histogram([Number.POSITIVE_INFINITY])).toThrow(RangeError);
  });

  it('rejects buckets that are not an array', () => {
    expect(() => histogram(untyped<number[]>(5))).toThrow(/Metric "h": buckets must be an array/);
  });

  it('sorts unsorted bounds numerically without touching the caller array', () => {
    const given = [10, 2.5, 0.1, 1];
    const h = histogram(given);
    expect(h.buckets).toEqual([0.1, 1, 2.5, 10]);
    expect(given).toEqual([10, 2.5, 0.1, 1]);
  });

  it('drops a trailing +Inf (it is always implied)', () => {
    expect(histogram([1, 2, Number.POSITIVE_INFINITY]).buckets).toEqual([1, 2]);
  });

  it('uses the default buckets when none are given', () => {
    const h = new Histogram({ name: 'h', help: 'h', registry: localRegistry().registry });
    expect(h.buckets).toEqual(DEFAULT_BUCKETS);
  });

  it("counts an observation equal to a bound in that bound's bucket, numerically ordered", () => {
    const h = histogram([10, 2.5, 1]);
    h.observe(1);
    h.observe(2.5);
    h.observe(3);
    h.observe(11);
    expect(seriesOf(h).get('')).toEqual({ kind: 'histogram', counts: [1, 1, 1, 1], sum: 17.5 });
  });

  it('builds linear and exponential buckets and rejects invalid parameters', () => {
    expect(linearBuckets(1, 2, 3)).toEqual([1, 3, 5]);
    expect(exponentialBuckets(1, 10, 3)).toEqual([1, 10, 100]);
    expect(() => linearBuckets(0, 0, 3)).toThrow(RangeError);
    expect(() => linearBuckets(0, 1, 0)).toThrow(RangeError);
    expect(() => exponentialBuckets(0, 2, 3)).toThrow(RangeError);
    expect(() => exponentialBuckets(1, 1, 3)).toThrow(RangeError);
  });
});

describe('registration in one registry', () => {
  it('rejects a second metric with the same name', () => {
    const { registry } = localRegistry();
    new Counter({ name: 'x', help: 'h', registry });
    expect(() => new Gauge({ name: 'x', help: 'h', registry })).toThrow(/"x" is already registered/);
  });

  it('treats counters "x" and "x_total" as the same family', () => {
    const { registry } = localRegistry();
    new Counter({ name: 'x', help: 'h', registry });
    expect(() => new Counter({ name: 'x_total', help: 'h', registry })).toThrow(/"x" is already registered/);
  });

  it.each<[string, (r: Registry) => unknown, (r: Registry) => unknown, string]>([
    [
      'Counter x / Gauge x_total',
      (registry) => new Counter({ name: 'x', help: 'h', registry }),
      (registry) => new Gauge({ name: 'x_total', help: 'h', registry }),
      'x_total',
    ],
    [
      'Gauge x_total / Counter x',
      (registry) => new Gauge({ name: 'x_total', help: 'h', registry }),
      (registry) => new Counter({ name: 'x', help: 'h', registry }),
      'x_total',
    ],
    [
      'Summary x / Counter x_count',
      (registry) => new Summary({ name: 'x', help: 'h', registry }),
      (registry) => new Counter({ name: 'x_count', help: 'h', registry }),
      'x_count',
    ],
    [
      'Counter x_count / Summary x',
      (registry) => new Counter({ name: 'x_count', help: 'h', registry }),
      (registry) => new Summary({ name: 'x', help: 'h', registry }),
      'x_count',
    ],
    [
      'Summary x / Gauge x_count',
      (registry) => new Summary({ name: 'x', help: 'h', registry }),
      (registry) => new Gauge({ name: 'x_count', help: 'h', registry }),
      'x_count',
    ],
    [
      'Summary x / CommonGauge x_sum',
      (registry) => new Summary({ name: 'x', help: 'h', registry }),
      (registry) => new CommonGauge({ name: 'x_sum', help: 'h', registry }),
      'x_sum',
    ],
    [
      'Histogram h / Gauge h_bucket',
      (registry) => new Histogram({ name: 'h', help: 'h', registry }),
      (registry) => new Gauge({ name: 'h_bucket', help: 'h', registry }),
      'h_bucket',
    ],
    [
      'Gauge h_bucket / Histogram h',
      (registry) => new Gauge({ name: 'h_bucket', help: 'h', registry }),
      (registry) => new Histogram({ name: 'h', help: 'h', registry }),
      'h_bucket',
    ],
    [
      'Histogram h / Counter h_count',
      (registry) => new Histogram({ name: 'h', help: 'h', registry }),
      (registry) => new Counter({ name: 'h_count', help: 'h', registry }),
      'h_count',
    ],
  ])('rejects %s, whose series would collide on the sample name', (_, first, second, sample) => {
    const { registry } = localRegistry();
    first(registry);
    expect(() => second(registry)).toThrow(TypeError);
    expect(() => second(registry)).toThrow(`"${sample}"`);
  });

  it('leaves no trace of a rejected registration', () => {
    const { registry } = localRegistry();
    new Counter({ name: 'x', help: 'h', registry });
    expect(() => new Gauge({ name: 'x_total', help: 'h', registry })).toThrow(TypeError);
    expect(registry.getMetricNames()).toEqual(['x']);
    // Its name and sample names stay free for a compatible metric.
    expect(() => new Histogram({ name: 'x_total_seconds', help: 'h', registry })).not.toThrow();
  });

  it('allows names that only share a stem', () => {
    const { registry } = localRegistry();
    new Counter({ name: 'x', help: 'h', registry });
    expect(() => new Gauge({ name: 'x_count', help: 'h', registry })).not.toThrow();
    expect(() => new Gauge({ name: 'x_totals', help: 'h', registry })).not.toThrow();
    expect(() => new Histogram({ name: 'x_bucket_size', help: 'h', registry })).not.toThrow();
  });

  it('allows the same name in two registries', () => {
    new Counter({ name: 'x', help: 'h', registry: localRegistry().registry });
    expect(() => new Counter({ name: 'x', help: 'h', registry: localRegistry().registry })).not.toThrow();
  });
});

describe('Registry options', () => {
  it.each<[RegistryOptions, RegExp]>([
    [{ flushIntervalMs: 0 }, /`flushIntervalMs`.*got 0/],
    [{ flushIntervalMs: -5 }, /`flushIntervalMs`.*got -5/],
    [{ flushIntervalMs: 1.5 }, /`flushIntervalMs`.*got 1\.5/],
    [{ flushIntervalMs: untyped<number>('1000') }, /`flushIntervalMs`.*got "1000"/],
    [{ flushIntervalMs: Number.NaN }, /`flushIntervalMs`.*got NaN/],
    [{ flushThreshold: 0 }, /`flushThreshold`.*got 0/],
    [{ flushTimeoutMs: 0 }, /`flushTimeoutMs`.*got 0/],
    [{ closeTimeoutMs: -1 }, /`closeTimeoutMs`.*got -1/],
    [{ expireSeconds: 0 }, /`expireSeconds`.*got 0/],
    [{ expireSeconds: 2.5 }, /`expireSeconds`.*got 2\.5/],
    [{ tokenTtlSeconds: 0 }, /`tokenTtlSeconds`.*got 0/],
    [{ tokenTtlSeconds: 30, expireSeconds: 60 }, /`tokenTtlSeconds` \(30\).*`expireSeconds` \(60\)/],
    [{ maxSeriesPerMetric: 0 }, /`maxSeriesPerMetric`.*got 0/],
    [{ maxLabelValueLength: 0 }, /`maxLabelValueLength`.*got 0/],
    [{ maxLabelValueLength: 1.5 }, /`maxLabelValueLength`.*got 1\.5/],
    [{ maxBackoffMs: Number.POSITIVE_INFINITY }, /`maxBackoffMs`.*got Infinity/],
  ])('rejects %j, naming the option and the value', (options, message) => {
    expect(() => new Registry(options)).toThrow(RangeError);
    expect(() => new Registry(options)).toThrow(message);
  });

  it.each(['a{b', 'a}b', '', 'a\nb', 'a\u0000b', 'x'.repeat(201)])(
    'rejects the prefix %j, naming the option and the value',
    (prefix) => {
      expect(() => new Registry({ prefix })).toThrow(TypeError);
      expect(() => new Registry({ prefix })).toThrow(`\`prefix\``);
      expect(() => new Registry({ prefix })).toThrow(JSON.stringify(prefix));
    },
  );

  it('rejects a prefix that is not a string', () => {
    expect(() => new Registry({ prefix: untyped<string>(5) })).toThrow(/`prefix`.*got 5/);
  });

  it('rejects an unknown option, naming it', () => {
    expect(() => new Registry(untyped<RegistryOptions>({ flushInterval: 100 }))).toThrow(
      /Unknown Registry option `flushInterval`/,
    );
  });

  it('rejects an onError that is not a function, naming the option and the value', () => {
    expect(() => new Registry({ onError: untyped<() => void>('log') })).toThrow(
      /Expected `onError` to be a function, got "log"/,
    );
  });

  it('rejects selfMetrics that is not a boolean', () => {
    expect(() => new Registry({ selfMetrics: untyped<boolean>(1) })).toThrow(/`selfMetrics`.*got 1/);
  });

  it('rejects options that are not an object', () => {
    expect(() => new Registry(untyped<RegistryOptions>(null))).toThrow(TypeError);
    expect(() => new Registry(untyped<RegistryOptions>('redis://x'))).toThrow(TypeError);
  });

  it('rejects a redis option that is neither a URL nor an ioredis client', () => {
    expect(() => new Registry({ redis: 'localhost:6379' })).toThrow(/`redis`.*"localhost:6379"/);
    expect(() => new Registry({ redis: untyped<string>({}) })).toThrow(/`redis`/);
  });

  it('accepts closeTimeoutMs 0 (do not wait on close)', () => {
    expect(() => new Registry({ closeTimeoutMs: 0 })).not.toThrow();
  });

  it('records without Redis and reports that it cannot flush or scrape', async () => {
    const { registry } = localRegistry();
    const c = new Counter({ name: 'c', help: 'h', registry });
    c.inc();
    expect(registry.undeliveredSeries).toBeGreaterThan(0);
    await expect(registry.flush()).rejects.toBeInstanceOf(RedisUnavailableError);
    await expect(registry.metrics()).rejects.toBeInstanceOf(RedisUnavailableError);
  });

  it('rejects an unknown exposition format, naming it', async () => {
    const { registry } = localRegistry();
    await expect(registry.metrics({ format: untyped<'text'>('json') })).rejects.toThrow(/`format`.*"json"/);
  });
});

describe('a Registry without Redis', () => {
  it('close() reports the series it could not deliver, once, and is idempotent', async () => {
    const { registry, errors } = localRegistry();
    const c = new Counter({ name: 'c', help: 'h', labelNames: ['q'], registry });
    c.inc({ q: 'a' });
    c.inc({ q: 'b' });
    const closing = registry.close();
    expect(registry.close()).toBe(closing);
    await closing;
    await registry.close();
    expect(errors).toHaveLength(1);
    expect(errors[0]).toBeInstanceOf(UndeliveredDataError);
    expect((errors[0] as UndeliveredDataError).series).toBe(2);
  });

  it('close() with nothing recorded reports nothing', async () => {
    const { registry, errors } = localRegistry();
    new Counter({ name: 'c', help: 'h', labelNames: ['q'], registry });
    await registry.close();
    expect(errors).toEqual([]);
  });

  it('refuses setRedis() and flush() once closed', async () => {
    const { registry } = localRegistry();
    await registry.close();
    expect(() => registry.setRedis('redis://127.0.0.1:1')).toThrow(RedisUnavailableError);
    await expect(registry.flush()).rejects.toBeInstanceOf(RedisUnavailableError);
  });

  it('keeps recording after close() without throwing (the hot path never fails for I/O reasons)', async () => {
    const { registry } = localRegistry();
    const c = new Counter({ name: 'c', help: 'h', registry });
    await registry.close();
    expect(() => c.inc()).not.toThrow();
  });
});
