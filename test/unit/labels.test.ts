/**
 * Label sets: one canonical series per label set whatever form the values come in, caller
 * objects are never mutated, children are reusable forever, and the cardinality limit refuses
 * new series without ever throwing.
 */
import { describe, expect, it } from 'vitest';
import { CardinalityLimitError, CommonGauge, Counter, Gauge, Histogram, Summary } from '../../src/index.js';
import { localRegistry, seriesOf, storeOf, valueOf } from './local.js';

describe('caller label objects', () => {
  it('are never mutated by any recording call (frozen objects are accepted)', async () => {
    const { registry } = localRegistry();
    const labels = Object.freeze({ route: '/a', code: '200' });
    const labelNames = ['route', 'code'] as const;
    const c = new Counter({ name: 'c', help: 'h', labelNames, registry });
    const g = new Gauge({ name: 'g', help: 'h', labelNames, registry });
    const cg = new CommonGauge({ name: 'cg', help: 'h', labelNames, registry });
    const h = new Histogram({ name: 'h', help: 'h', labelNames, registry });
    const s = new Summary({ name: 's', help: 'h', labelNames, registry });

    c.inc(labels);
    c.inc(labels, 2);
    c.set(labels, 5);
    c.labels(labels).inc();
    g.set(labels, 1);
    g.inc(labels);
    g.dec(labels);
    g.setToCurrentTime(labels);
    g.startTimer(labels)();
    g.labels(labels).set(2);
    cg.set(labels, 1);
    cg.inc(labels);
    cg.labels(labels).dec();
    h.observe(labels, 0.2);
    h.observe(labels, 0.2);
    h.startTimer(labels)();
    h.labels(labels).observe(1);
    h.timeit(() => 1, labels)();
    s.observe(labels, 1);
    s.startTimer(labels)();
    s.timeit(() => 1, labels)();
    await h.timeit(() => Promise.resolve(1), labels)();

    expect(labels).toEqual({ route: '/a', code: '200' });
    expect(Object.keys(labels)).toEqual(['route', 'code']);
    c.remove(labels);
    g.remove(labels);
    expect(labels).toEqual({ route: '/a', code: '200' });
  });

  it('are not mutated when a timer merges start and end labels', () => {
    const { registry } = localRegistry();
    const h = new Histogram({ name: 'h', help: 'h', labelNames: ['route', 'code'], registry });
    const start = Object.freeze({ route: '/a' });
    const end = Object.freeze({ code: '200' });
    h.startTimer(start)(end);
    expect(start).toEqual({ route: '/a' });
    expect(end).toEqual({ code: '200' });
    expect([...seriesOf(h).keys()]).toEqual(['route="/a",code="200"']);
  });
});

describe('one series per label set', () => {
  it('labels(200), labels("200") and {code: 200} hit the same series', () => {
    const { registry } = localRegistry();
    const c = new Counter({ name: 'c', help: 'h', labelNames: ['code'], registry });
    c.labels(200).inc();
    c.labels('200').inc();
    c.inc({ code: 200 });
    c.inc({ code: '200' });
    c.labels({ code: 200 }).inc();
    expect([...seriesOf(c).entries()]).toEqual([['code="200"', { kind: 'add', value: 5 }]]);
  });

  it('turns numbers into their canonical string form (1.5 and "1.5" are one series)', () => {
    const { registry } = localRegistry();
    const g = new Gauge({ name: 'g', help: 'h', labelNames: ['v'], registry });
    g.set({ v: 1.5 }, 1);
    g.labels('1.5').inc();
    expect([...seriesOf(g).entries()]).toEqual([['v="1.5"', { kind: 'gauge', value: 2 }]]);
  });

  it('positional and object labels() agree, whatever the key order of the object', () => {
    const { registry } = localRegistry();
    const c = new Counter({ name: 'c', help: 'h', labelNames: ['method', 'code'], registry });
    c.labels('GET', '200').inc();
    c.labels({ method: 'GET', code: '200' }).inc();
    c.labels({ code: '200', method: 'GET' }).inc();
    c.inc({ code: 200, method: 'GET' });
    expect([...seriesOf(c).entries()]).toEqual([['method="GET",code="200"', { kind: 'add', value: 4 }]]);
  });

  it('keeps label sets that differ only in which label holds a value apart', () => {
    const { registry } = localRegistry();
    const c = new Counter({ name: 'c', help: 'h', labelNames: ['a', 'b'], registry });
    c.inc({ a: 'x', b: '' });
    c.inc({ a: '', b: 'x' });
    c.inc({ a: 'x,b="', b: '' });
    expect(seriesOf(c).size).toBe(3);
  });

  it('renders the key with escaped values', () => {
    const { registry } = localRegistry();
    const c = new Counter({ name: 'c', help: 'h', labelNames: ['path'], registry });
    c.inc({ path: 'a"b\\c\nd' });
    expect([...seriesOf(c).keys()]).toEqual(['path="a\\"b\\\\c\\nd"']);
  });
});

describe('children', () => {
  it('are reusable forever', () => {
    const { registry } = localRegistry();
    const c = new Counter({ name: 'c', help: 'h', labelNames: ['q'], registry });
    const h = new Histogram({ name: 'h', help: 'h', labelNames: ['q'], buckets: [1], registry });
    const child = c.labels('a');
    const hchild = h.labels('a');
    for (let i = 0; i < 1000; i++) {
      child.inc();
      hchild.observe(i % 2);
      c.inc({ q: 'b' });
    }
    expect(valueOf(c, 'q="a"')).toBe(1000);
    expect(valueOf(c, 'q="b"')).toBe(1000);
    expect(seriesOf(h).get('q="a"')).toEqual({ kind: 'histogram', counts: [1000, 0], sum: 500 });
  });

  it('of the same label set share one series', () => {
    const { registry } = localRegistry();
    const g = new Gauge({ name: 'g', help: 'h', labelNames: ['q'], registry });
    const one = g.labels('a');
    const two = g.labels({ q: 'a' });
    one.set(10);
    two.inc(5);
    one.dec(1);
    expect(valueOf(g, 'q="a"')).toBe(14);
    expect(seriesOf(g).size).toBe(1);
  });
});

describe('remove() and reset()', () => {
  it('remove() drops one series and keeps the others', () => {
    const { registry } = localRegistry();
    const c = new Counter({ name: 'c', help: 'h', labelNames: ['q'], registry });
    c.inc({ q: 'a' });
    c.inc({ q: 'b' }, 2);
    c.remove({ q: 'a' });
    expect([...seriesOf(c).entries()]).toEqual([['q="b"', { kind: 'add', value: 2 }]]);
    c.remove('b');
    expect(seriesOf(c).size).toBe(0);
  });

  it('remove() of a label set never recorded here does not throw (another process may hold it)', () => {
    const { registry } = localRegistry();
    const c = new Counter({ name: 'c', help: 'h', labelNames: ['q', 'r'], registry });
    expect(() => c.remove({ q: 'never', r: 'seen' })).not.toThrow();
  });

  it('a held child keeps working after remove() of its series, for every type', () => {
    const { registry } = localRegistry();
    const labelNames = ['q'];
    const c = new Counter({ name: 'c', help: 'h', labelNames, registry }).labels('a');
    const g = new Gauge({ name: 'g', help: 'h', labelNames, registry });
    const cg = new CommonGauge({ name: 'cg', help: 'h', labelNames, registry });
    const h = new Histogram({ name: 'h', help: 'h', labelNames, registry });
    const s = new Summary({ name: 's', help: 'h', labelNames, registry });
    const children = { g: g.labels('a'), cg: cg.labels('a'), h: h.labels('a'), s: s.labels('a') };
    c.inc();
    children.g.set(1);
    for (const metric of [g, cg, h, s]) metric.remove('a');
    expect(() => {
      c.inc();
      children.g.set(2);
      children.g.inc();
      children.cg.set(3);
      children.h.observe(1);
      children.s.observe(1);
    }).not.toThrow();
  });

  it('after remove(), a held child and a new labels() call write the same series', () => {
    const { registry } = localRegistry();
    const g = new Gauge({ name: 'g', help: 'h', labelNames: ['q'], registry });
    const held = g.labels('a');
    held.set(1);
    g.remove('a');
    held.set(5);
    g.labels('a').inc();
    expect(valueOf(g, 'q="a"')).toBe(6);
    expect(seriesOf(g).size).toBe(1);
  });

  it('reset() drops every series; held children keep working', () => {
    const { registry } = localRegistry();
    const c = new Counter({ name: 'c', help: 'h', labelNames: ['q'], registry });
    const held = c.labels('a');
    held.inc();
    c.inc({ q: 'b' });
    c.reset();
    expect(seriesOf(c).size).toBe(0);
    expect(() => held.inc()).not.toThrow();
    c.inc({ q: 'b' });
    expect(valueOf(c, 'q="b"')).toBe(1);
  });

  it('reset() of a metric without labels restarts its one series from zero', () => {
    const { registry } = localRegistry();
    const c = new Counter({ name: 'c', help: 'h', registry });
    c.inc(5);
    c.reset();
    expect(valueOf(c)).toBe(0);
    c.inc();
    expect(valueOf(c)).toBe(1);
  });
});

describe('maxSeriesPerMetric', () => {
  it('refuses new label sets without throwing, reports once with a CardinalityLimitError and counts drops', () => {
    const { registry, errors } = localRegistry({ maxSeriesPerMetric: 2 });
    const c = new Counter({ name: 'c', help: 'h', labelNames: ['id'], registry });
    c.inc({ id: '1' });
    c.inc({ id: '2' });
    expect(() => c.inc({ id: '3' })).not.toThrow();
    expect(() => c.labels('4').inc(7)).not.toThrow();

    expect([...seriesOf(c).keys()]).toEqual(['id="1"', 'id="2"']);
    expect(valueOf(c, 'id="1"')).toBe(1);
    expect(valueOf(c, 'id="2"')).toBe(1);
    expect(storeOf(c).dropped).toBe(2);
    expect(errors).toHaveLength(1);
    const error = errors[0]!;
    expect(error).toBeInstanceOf(CardinalityLimitError);
    expect((error as CardinalityLimitError).metric).toBe('c');
    expect((error as CardinalityLimitError).limit).toBe(2);
    expect(error.message).toContain('Metric "c"');

    // Existing series keep recording; more refusals are counted but not reported again.
    c.inc({ id: '1' });
    c.inc({ id: '5' });
    expect(valueOf(c, 'id="1"')).toBe(2);
    expect(storeOf(c).dropped).toBe(3);
    expect(errors).toHaveLength(1);
  });

  it('applies per metric and reports each metric once', () => {
    const { registry, errors } = localRegistry({ maxSeriesPerMetric: 1 });
    const a = new Counter({ name: 'a', help: 'h', labelNames: ['id'], registry });
    const b = new Histogram({ name: 'b', help: 'h', labelNames: ['id', 'x'], registry });
    a.inc({ id: '1' });
    b.observe({ id: '1', x: 'y' }, 1);
    a.inc({ id: '2' });
    b.observe({ id: '2', x: 'y' }, 1);
    b.observe({ id: '1', x: 'z' }, 1);
    expect(errors.map((e) => (e as CardinalityLimitError).metric)).toEqual(['a', 'b']);
    expect(storeOf(b).dropped).toBe(2);
    expect(seriesOf(b).size).toBe(1);
  });

  it('accepts a new label set again once a series was removed', () => {
    const { registry } = localRegistry({ maxSeriesPerMetric: 1 });
    const c = new Counter({ name: 'c', help: 'h', labelNames: ['id'], registry });
    c.inc({ id: '1' });
    c.inc({ id: '2' });
    c.remove({ id: '1' });
    c.inc({ id: '3' });
    expect([...seriesOf(c).keys()]).toEqual(['id="3"']);
  });

  it('never throws for valid writes to refused label sets', () => {
    const { registry } = localRegistry({ maxSeriesPerMetric: 1 });
    const g = new Gauge({ name: 'g', help: 'h', labelNames: ['id'], registry });
    g.set({ id: '1' }, 1);
    expect(() => {
      g.inc({ id: '2' }, 1e308);
      g.inc({ id: '3' }, 1e308);
    }).not.toThrow();
  });
});
