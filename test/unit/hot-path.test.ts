/**
 * Misuse on the hot path throws at the call — TypeError for a wrong type, RangeError for a number
 * out of range — with a message naming the metric and the bad value, and records nothing.
 */
import { describe, expect, it } from 'vitest';
import { CommonGauge, Counter, Gauge, Histogram, Summary } from '../../src/index.js';
import { localRegistry, seriesOf, storeOf, valueOf } from './local.js';

/** Pass a value the types forbid, as untyped JavaScript callers can. */
function untyped<T>(value: unknown): T {
  return value as T;
}

function expectError(
  call: () => unknown,
  type: typeof TypeError | typeof RangeError,
  ...parts: string[]
): void {
  let caught: unknown;
  try {
    call();
  } catch (error) {
    caught = error;
  }
  expect(caught, 'expected the call to throw').toBeInstanceOf(type);
  for (const part of parts) expect((caught as Error).message).toContain(part);
}

describe('Counter values', () => {
  it('rejects a negative increment naming the metric and the value', () => {
    const c = new Counter({ name: 'jobs', help: 'h', registry: localRegistry().registry });
    expectError(() => c.inc(-1), RangeError, 'Metric "jobs"', '-1');
    expectError(() => c.inc(-0.5), RangeError, 'Metric "jobs"', '-0.5');
    expect(valueOf(c)).toBe(0);
  });

  it.each([
    [Number.NaN, 'NaN'],
    [Number.POSITIVE_INFINITY, 'Infinity'],
    [Number.NEGATIVE_INFINITY, '-Infinity'],
  ])('rejects a non-finite increment (%s) naming the metric and the value', (value, shown) => {
    const c = new Counter({ name: 'jobs', help: 'h', registry: localRegistry().registry });
    expectError(() => c.inc(value), RangeError, 'Metric "jobs"', shown);
    expectError(() => c.labels().inc(value), RangeError, 'Metric "jobs"', shown);
    expect(valueOf(c)).toBe(0);
  });

  it.each([
    ['1', '"1"'],
    [null, 'null'],
    [true, 'true'],
    [10n, '10n'],
  ])('rejects an increment of type %s with a TypeError naming the value', (value, shown) => {
    const c = new Counter({ name: 'jobs', help: 'h', registry: localRegistry().registry });
    expectError(() => c.inc(untyped<number>(value)), TypeError, 'Metric "jobs"', shown);
    expectError(() => c.labels().inc(untyped<number>(value)), TypeError, 'Metric "jobs"', shown);
    expect(valueOf(c)).toBe(0);
  });

  it('rejects a bad increment given with labels, naming the metric and the value', () => {
    const c = new Counter({ name: 'jobs', help: 'h', labelNames: ['q'], registry: localRegistry().registry });
    expectError(() => c.inc({ q: 'a' }, -3), RangeError, 'Metric "jobs"', '-3');
    expectError(() => c.labels('a').inc(-3), RangeError, 'Metric "jobs"', '-3');
    expectError(() => c.inc({ q: 'a' }, untyped<number>('3')), TypeError, 'Metric "jobs"', '"3"');
  });

  it('rejects a negative or non-finite set() value', () => {
    const c = new Counter({ name: 'jobs', help: 'h', registry: localRegistry().registry });
    expectError(() => c.set(-1), RangeError, 'Metric "jobs"', '-1');
    expectError(() => c.set(Number.NaN), RangeError, 'Metric "jobs"', 'NaN');
    expectError(() => c.labels().set(Number.POSITIVE_INFINITY), RangeError, 'Metric "jobs"', 'Infinity');
  });

  it('accepts zero and fractional increments', () => {
    const c = new Counter({ name: 'jobs', help: 'h', registry: localRegistry().registry });
    c.inc(0);
    c.inc(0.25);
    c.labels().inc(0.25);
    c.inc();
    expect(valueOf(c)).toBe(1.5);
  });
});

describe.each([
  ['Gauge', (name: string) => new Gauge({ name, help: 'h', registry: localRegistry().registry })],
  ['CommonGauge', (name: string) => new CommonGauge({ name, help: 'h', registry: localRegistry().registry })],
])('%s values', (_, create) => {
  it.each([
    [Number.NaN, 'NaN'],
    [Number.POSITIVE_INFINITY, 'Infinity'],
    [Number.NEGATIVE_INFINITY, '-Infinity'],
  ])('rejects a non-finite value (%s) in set/inc/dec naming the metric and the value', (value, shown) => {
    const g = create('temp');
    g.set(3);
    expectError(() => g.set(value), RangeError, 'Metric "temp"', shown);
    expectError(() => g.inc(value), RangeError, 'Metric "temp"', shown);
    expectError(() => g.dec(value), RangeError, 'Metric "temp"');
    expectError(() => g.labels().set(value), RangeError, 'Metric "temp"', shown);
    expectError(() => g.labels().inc(value), RangeError, 'Metric "temp"', shown);
    expect(valueOf(g)).toBe(3);
  });

  it('rejects a string value with a TypeError naming the metric and the value', () => {
    const g = create('temp');
    expectError(() => g.set(untyped<number>('3')), TypeError, 'Metric "temp"', '"3"');
    expectError(() => g.inc(untyped<number>('3')), TypeError, 'Metric "temp"', '"3"');
    expectError(() => g.labels().set(untyped<number>('3')), TypeError, 'Metric "temp"', '"3"');
  });

  it('rejects set(labels) without a value', () => {
    const g = new Gauge({
      name: 'temp',
      help: 'h',
      labelNames: ['room'],
      registry: localRegistry().registry,
    });
    expectError(() => g.set(untyped<number>({ room: 'a' })), TypeError, 'Metric "temp"', 'undefined');
  });

  it('accepts negative values and decrements', () => {
    const g = create('temp');
    g.set(-2);
    g.dec(1.5);
    g.inc();
    expect(valueOf(g)).toBe(-2.5);
  });
});

describe.each([
  [
    'Histogram',
    (name: string, labelNames: string[] = []) =>
      new Histogram({ name, help: 'h', labelNames, buckets: [1], registry: localRegistry().registry }),
  ],
  [
    'Summary',
    (name: string, labelNames: string[] = []) =>
      new Summary({ name, help: 'h', labelNames, registry: localRegistry().registry }),
  ],
])('%s observations', (_, create) => {
  it.each([
    [Number.NaN, 'NaN'],
    [Number.POSITIVE_INFINITY, 'Infinity'],
    [Number.NEGATIVE_INFINITY, '-Infinity'],
  ])('rejects a non-finite observation (%s) without a partial update', (value, shown) => {
    const m = create('latency');
    m.observe(0.5);
    const before = seriesOf(m).get('');
    expectError(() => m.observe(value), RangeError, 'Metric "latency"', shown);
    expectError(() => m.labels().observe(value), RangeError, 'Metric "latency"', shown);
    expect(seriesOf(m).get('')).toEqual(before);
  });

  it('rejects a string observation with a TypeError naming the metric and the value', () => {
    const m = create('latency');
    expectError(() => m.observe(untyped<number>('0.5')), TypeError, 'Metric "latency"', '"0.5"');
    expectError(
      () => m.labels().observe(untyped<number>(undefined)),
      TypeError,
      'Metric "latency"',
      'undefined',
    );
  });

  it('rejects a bad observation given with labels', () => {
    const m = create('latency', ['route']);
    expectError(() => m.observe({ route: '/' }, Number.NaN), RangeError, 'Metric "latency"', 'NaN');
  });

  it('accepts negative and zero observations', () => {
    const m = create('latency');
    expect(() => {
      m.observe(-1);
      m.observe(0);
    }).not.toThrow();
  });
});

describe('a rejected call', () => {
  it('does not create the series it names', () => {
    const { registry } = localRegistry();
    const c = new Counter({ name: 'c', help: 'h', labelNames: ['code'], registry });
    const g = new Gauge({ name: 'g', help: 'h', labelNames: ['code'], registry });
    const h = new Histogram({ name: 'h', help: 'h', labelNames: ['code'], registry });
    expect(() => c.inc({ code: 'new' }, -1)).toThrow(RangeError);
    expect(() => g.set({ code: 'new' }, Number.NaN)).toThrow(RangeError);
    expect(() => h.observe({ code: 'new' }, Number.POSITIVE_INFINITY)).toThrow(RangeError);
    expect([seriesOf(c).size, seriesOf(g).size, seriesOf(h).size]).toEqual([0, 0, 0]);
    expect(registry.undeliveredSeries).toBe(0);
  });
});

describe('label sets on the hot path', () => {
  function counter(labelNames: string[]): Counter {
    return new Counter({ name: 'http', help: 'h', labelNames, registry: localRegistry().registry });
  }

  it('rejects an unknown label name, naming the metric and the label', () => {
    const c = counter(['code']);
    expectError(() => c.inc({ method: 'GET' }), TypeError, 'Metric "http"', '"method"');
    // Also when a series with the right label set already exists (the fast path).
    c.inc({ code: '200' });
    expectError(() => c.inc({ method: '200' }), TypeError, 'Metric "http"', '"method"');
  });

  it('rejects a missing label, naming it', () => {
    const c = counter(['code', 'method']);
    c.inc({ code: '200', method: 'GET' });
    expectError(
      () => c.inc(untyped<{ code: string; method: string }>({ code: '200' })),
      TypeError,
      'Metric "http"',
      '"method"',
    );
  });

  it('refuses a label value longer than maxLabelValueLength (4096 by default) with a RangeError naming it', () => {
    const c = counter(['code']);
    c.inc({ code: 'x'.repeat(4096) });
    expectError(
      () => c.inc({ code: 'y'.repeat(4097) }),
      RangeError,
      'Metric "http"',
      'label "code"',
      '4097 characters',
      'maxLabelValueLength (4096)',
    );
    expectError(() => c.labels('y'.repeat(4097)), RangeError, 'maxLabelValueLength (4096)');
    const { registry } = localRegistry({ maxLabelValueLength: 8 });
    const short = new Counter({ name: 'short', help: 'h', labelNames: ['path'], registry });
    short.inc({ path: '/1234567' });
    expectError(
      () => short.inc({ path: '/12345678' }),
      RangeError,
      'Metric "short"',
      'label "path"',
      '9 characters',
      '"/12345678"',
    );
    // Numbers are label values too; a refused call records nothing.
    expectError(() => short.labels(123456789), RangeError, '9 characters');
    expect(storeOf(short).size).toBe(1);
  });

  it('reads own labels only, for a new series and for one that exists alike', () => {
    const c = counter(['code', 'method']);
    const inherited = (): { code: string; method: string } => {
      const labels = Object.create({ method: 'GET' }) as { code: string; method: string };
      labels.code = '200';
      return labels;
    };
    // A new series: refused by the slow path.
    expectError(() => c.inc(inherited()), TypeError, 'Metric "http"', 'missing label "method"');
    // The same label set existing already: refused too (the fast path read `method` through
    // the prototype and counted it with for-in).
    c.inc({ code: '200', method: 'GET' });
    expectError(() => c.inc(inherited()), TypeError, 'Metric "http"', 'missing label "method"');
    expectError(() => c.labels(inherited()), TypeError, 'Metric "http"', 'missing label "method"');
    // A null-prototype object with its own labels is fine on both paths.
    const bare = Object.assign(Object.create(null) as object, { code: '200', method: 'GET' });
    c.inc(untyped<{ code: string; method: string }>(bare));
    c.inc(untyped<{ code: string; method: string }>(bare));
  });

  it('rejects an extra label, naming it', () => {
    const c = counter(['code']);
    c.inc({ code: '200' });
    expectError(
      () => c.inc(untyped<{ code: string }>({ code: '200', method: 'GET' })),
      TypeError,
      'Metric "http"',
      '"method"',
    );
  });

  it.each([
    [{}, 'an object'],
    [[], 'an array'],
    [undefined, 'undefined'],
    [null, 'null'],
    [true, 'true'],
    [Symbol('s'), 'Symbol(s)'],
  ])('rejects the label value %s, naming the metric, the label and the value', (value, shown) => {
    const c = counter(['code']);
    c.inc({ code: '200' });
    expectError(() => c.inc({ code: untyped<string>(value) }), TypeError, 'Metric "http"', '"code"', shown);
    expectError(() => c.labels({ code: untyped<string>(value) }), TypeError, 'Metric "http"', shown);
    // A single object argument is a label object; other values are positional.
    if (typeof value !== 'object' || value === null) {
      expectError(() => c.labels(untyped<string>(value)), TypeError, 'Metric "http"', '"code"', shown);
    }
    expect(seriesOf(c).size).toBe(1);
  });

  it.each(['\uD800', 'a\uDC00', '\uDBFFx', 'ok\uD83D'])(
    'rejects a label value with a lone surrogate (%j)',
    (value) => {
      const c = counter(['code']);
      expectError(() => c.inc({ code: value }), TypeError, 'Metric "http"', '"code"', 'lone surrogate');
      expectError(() => c.labels(value), TypeError, 'Metric "http"', 'lone surrogate');
      expect(seriesOf(c).size).toBe(0);
    },
  );

  it('accepts a well-formed surrogate pair', () => {
    const c = counter(['code']);
    c.inc({ code: '\uD83D\uDE00' });
    expect(valueOf(c, 'code="😀"')).toBe(1);
  });

  it('rejects a label object on a metric without labels', () => {
    const c = counter([]);
    expectError(
      () => c.inc(untyped<Record<string, never>>({ code: '200' })),
      TypeError,
      'Metric "http"',
      'no labels',
    );
    expectError(() => c.labels(untyped<Record<string, never>>({ code: '200' })), TypeError, 'Metric "http"');
    expectError(() => c.labels('200'), TypeError, 'Metric "http"');
    expect(valueOf(c)).toBe(0);
  });

  it('accepts an empty label object on a metric without labels', () => {
    const c = counter([]);
    c.inc({});
    c.labels({}).inc();
    expect(valueOf(c)).toBe(2);
  });

  it('rejects a call without labels on a metric that has labels, naming the label names', () => {
    const c = counter(['code', 'method']);
    expectError(() => c.inc(), TypeError, 'Metric "http"', 'code, method');
    expectError(() => c.inc(5), TypeError, 'Metric "http"');
    expectError(() => c.labels(), TypeError, 'Metric "http"', 'code, method');
    const h = new Histogram({
      name: 'lat',
      help: 'h',
      labelNames: ['r'],
      registry: localRegistry().registry,
    });
    expectError(() => h.observe(1), TypeError, 'Metric "lat"', 'r');
  });

  it('rejects the wrong number of positional label values', () => {
    const c = counter(['code', 'method']);
    expectError(() => c.labels('200'), TypeError, 'Metric "http"', 'expects 2 label value(s)', 'got 1');
    expectError(() => c.labels('200', 'GET', 'x'), TypeError, 'Metric "http"', 'got 3');
  });

  it('remove() accepts numbers for label values, like labels()', () => {
    const c = counter(['code']);
    c.inc({ code: '200' });
    c.inc({ code: '500' });
    c.remove(200);
    c.remove({ code: 500 });
    expect(seriesOf(c).size).toBe(0);
  });

  it('rejects bad arguments to remove()', () => {
    const c = counter(['code']);
    expectError(
      () => c.remove(untyped<{ code: string }>({ method: 'GET' })),
      TypeError,
      'Metric "http"',
      '"method"',
    );
    expectError(() => c.remove('200', '300'), TypeError, 'Metric "http"');
    const single = new Gauge({ name: 'single', help: 'h', registry: localRegistry().registry });
    expectError(() => single.remove(), TypeError, 'Metric "single"', 'reset()');
  });
});
