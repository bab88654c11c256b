/**
 * A batch Redis refuses outright (#14 item 4): with `proto-max-bulk-len` at its 1 MB minimum,
 * an argument past it is a protocol error on every retry. Big flushes are cut so no argument
 * comes near it; a single series past it is found (its chunk taken apart, then its largest
 * series dropped), reported by metric and labels and counted, and everything else flows.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { Counter, Histogram, Registry, RefusedSeriesError } from '../../src/index.js';
import { randomPrefix, sample } from '../support/helpers.js';
import { startRedisServer, type RedisServer } from '../support/redis-server.js';

let server: RedisServer;
const open: Registry[] = [];
beforeAll(async () => {
  server = await startRedisServer(['--proto-max-bulk-len', '1mb']);
});
afterEach(async () => {
  for (const r of open.splice(0)) await r.close();
});
afterAll(async () => {
  await server.stop();
});

function registry(
  options: { maxLabelValueLength?: number; selfMetrics?: boolean; maxSeriesPerMetric?: number } = {},
): {
  registry: Registry;
  errors: Error[];
} {
  const errors: Error[] = [];
  const made = new Registry({
    redis: `redis://127.0.0.1:${server.port}`,
    prefix: randomPrefix('big'),
    flushIntervalMs: 60_000,
    selfMetrics: false,
    onError: (e) => errors.push(e),
    ...options,
  });
  open.push(made);
  return { registry: made, errors };
}

describe('Redis with proto-max-bulk-len 1mb', () => {
  it('takes two 700 KB label values (1.4 MB together) in one flush: both apply', async () => {
    const { registry: r, errors } = registry({ maxLabelValueLength: 1_000_000 });
    const c = new Counter({ name: 'wide', help: 'h', labelNames: ['v'], registry: r });
    const other = new Counter({ name: 'other', help: 'h', registry: r });
    c.inc({ v: 'a'.repeat(700_000) });
    c.inc({ v: 'b'.repeat(700_000) }, 2);
    other.inc();
    await r.flush();
    const text = await r.metrics();
    expect(sample(text, `wide_total{v="${'a'.repeat(700_000)}"}`)).toBe(1);
    expect(sample(text, `wide_total{v="${'b'.repeat(700_000)}"}`)).toBe(2);
    expect(sample(text, 'other_total')).toBe(1);
    expect(errors).toEqual([]);
  });

  it('2,000 series with four 3,500-character labels (28 MB in all) flush in arguments Redis takes', async () => {
    const { registry: r, errors } = registry();
    const c = new Counter({ name: 'many', help: 'h', labelNames: ['a', 'b', 'c', 'd'], registry: r });
    const pad = (l: string, i: number): string => `${l.repeat(3500 - String(i).length)}${i}`;
    const labels = (i: number) => ({ a: pad('a', i), b: pad('b', i), c: pad('c', i), d: pad('d', i) });
    c.inc(labels(0));
    await r.flush(); // connects
    for (let i = 0; i < 2000; i++) c.inc(labels(i));
    const admin = server.client();
    await admin.config('RESETSTAT');
    await r.flush();
    // Not one call refused (each would be an error reply: "Protocol error: invalid bulk length").
    expect(await admin.info('errorstats')).not.toMatch(/errorstat_/);
    admin.disconnect();
    const text = await r.metrics();
    const [a, b, cc, d] = Object.values(labels(1999));
    expect(sample(text, `many_total{a="${a}",b="${b}",c="${cc}",d="${d}"}`)).toBe(1);
    expect(text.split('\n').filter((l) => l.startsWith('many_total{')).length).toBe(2000);
    expect(errors).toEqual([]);
  });

  it('drops a series past the limit with an error naming it, counts it, and lets the rest flow', async () => {
    const { registry: r, errors } = registry({ maxLabelValueLength: 3_000_000, selfMetrics: true });
    const c = new Counter({ name: 'huge', help: 'h', labelNames: ['v'], registry: r });
    const h = new Histogram({ name: 'lat', help: 'h', labelNames: ['v'], buckets: [1], registry: r });
    const other = new Counter({ name: 'other', help: 'h', registry: r });
    const tooBig = 'z'.repeat(1_500_000);
    c.inc({ v: tooBig });
    c.inc({ v: 'small' }, 3);
    h.observe({ v: tooBig }, 0.5);
    h.observe({ v: 'small' }, 0.5);
    other.inc();
    const flushed = r.flush();
    await expect(flushed).rejects.toThrow(RefusedSeriesError);
    const refused = errors.filter((e): e is RefusedSeriesError => e instanceof RefusedSeriesError);
    expect(refused.map((e) => [e.metric, e.series.length])).toEqual(
      expect.arrayContaining([
        ['huge', 'v=""'.length + tooBig.length],
        ['lat', 'v=""'.length + tooBig.length],
      ]),
    );
    expect(refused[0]!.message).toMatch(
      /^Metric "(huge|lat)" \{v="z+…\}: Redis refused its \d+-byte argument outright/,
    );

    // Everything else applied, and goes on flowing.
    other.inc();
    await r.flush();
    const text = await r.metrics();
    expect(sample(text, 'huge_total{v="small"}')).toBe(3);
    expect(sample(text, 'lat_count{v="small"}')).toBe(1);
    expect(sample(text, 'other_total')).toBe(2);
    expect(text).not.toContain('zzzz');
    expect(sample(text, 'prometheus_redis_client_refused_series_total{metric="huge"}')).toBe(1);
    expect(sample(text, 'prometheus_redis_client_refused_series_total{metric="lat"}')).toBe(1);
    expect(r.undeliveredSeries).toBe(0);
  });
});
