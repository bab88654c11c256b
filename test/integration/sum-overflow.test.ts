/**
 * Sums past the range of a double (#14 item 2): two finite observations of 1e308 make a sum no
 * double holds. The counts and buckets still apply, the sum is exported as +Inf (-Inf, NaN),
 * and the series is reported once, by metric and labels.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { Counter, Histogram, NonFiniteValueError, Summary, type Registry } from '../../src/index.js';
import { sample, samples, testRegistry } from '../support/helpers.js';

const open: Registry[] = [];
afterEach(async () => {
  for (const r of open.splice(0)) await r.close();
});

function made(): ReturnType<typeof testRegistry> {
  const m = testRegistry();
  open.push(m.registry);
  return m;
}

const pastRange = (errors: Error[]): NonFiniteValueError[] =>
  errors.filter((e): e is NonFiniteValueError => e instanceof NonFiniteValueError);

describe('a sum past the range of a double', () => {
  it('keeps every observation of a histogram, exports _sum +Inf and reports the series once', async () => {
    const { registry, errors } = made();
    const h = new Histogram({ name: 'big', help: 'h', labelNames: ['k'], buckets: [1, 10], registry });
    // In one flush: the process's own sum is Infinity.
    h.observe({ k: 'a' }, 1e308);
    h.observe({ k: 'a' }, 1e308);
    for (let i = 0; i < 1000; i++) h.observe({ k: 'a' }, 0.5);
    await registry.flush();
    let text = await registry.metrics();
    expect(sample(text, 'big_count{k="a"}')).toBe(1002);
    expect(sample(text, 'big_bucket{k="a",le="1"}')).toBe(1000);
    expect(sample(text, 'big_bucket{k="a",le="+Inf"}')).toBe(1002);
    expect(text).toContain('big_sum{k="a"} +Inf\n');
    expect(pastRange(errors).map((e) => [e.metric, e.series, e.what])).toEqual([['big', 'k="a"', 'sum']]);

    // More observations still count; the series is not reported again.
    h.observe({ k: 'a' }, 2);
    await registry.flush();
    text = await registry.metrics();
    expect(sample(text, 'big_count{k="a"}')).toBe(1003);
    expect(text).toContain('big_sum{k="a"} +Inf\n');
    expect(pastRange(errors)).toHaveLength(1);
  });

  it('across flushes (Redis adds two finite sums past a double), for a summary, with -Inf', async () => {
    const { registry, errors } = made();
    const s = new Summary({ name: 'lat', help: 'h', labelNames: ['k'], registry });
    s.observe({ k: 'b' }, -1.5e308);
    await registry.flush();
    s.observe({ k: 'b' }, -1.5e308);
    s.observe({ k: 'b' }, 3);
    await registry.flush();
    const text = await registry.metrics();
    expect(sample(text, 'lat_count{k="b"}')).toBe(3);
    expect(samples(text).get('lat_sum{k="b"}')).toBe(-Infinity);
    expect(pastRange(errors).map((e) => [e.metric, e.series])).toEqual([['lat', 'k="b"']]);
    expect(pastRange(errors)[0]!.message).toMatch(/"lat" \{k="b"\}: its sum went past the range of a double/);
  });

  it('a counter past a double exports +Inf (Prometheus accepts it) and is reported', async () => {
    const { registry, errors } = made();
    const c = new Counter({ name: 'huge', help: 'h', registry });
    c.inc(1.5e308);
    await registry.flush();
    c.inc(1.5e308);
    await registry.flush();
    expect(await registry.metrics()).toContain('huge_total +Inf\n');
    expect(pastRange(errors).map((e) => [e.metric, e.series, e.what])).toEqual([['huge', '', 'value']]);
  });

  it('other series and metrics of the same flush are unaffected', async () => {
    const { registry, errors } = made();
    const h = new Histogram({ name: 'mixed', help: 'h', labelNames: ['k'], buckets: [1], registry });
    const c = new Counter({ name: 'plain', help: 'h', registry });
    h.observe({ k: 'big' }, 1e308);
    h.observe({ k: 'big' }, 1e308);
    h.observe({ k: 'small' }, 0.25);
    c.inc(7);
    await registry.flush();
    const text = await registry.metrics();
    expect(sample(text, 'mixed_sum{k="small"}')).toBe(0.25);
    expect(sample(text, 'mixed_count{k="big"}')).toBe(2);
    expect(sample(text, 'plain_total')).toBe(7);
    expect(errors.filter((e) => !(e instanceof NonFiniteValueError))).toEqual([]);
  });
});
